"""The report's front and back: the summary that answers the coursework's questions, the
scorecard, how to read the report, its limitations and the appendix. The sections in between are
sections.py's and essay.py's."""

import platform
from importlib import metadata

import pandas as pd

from fashion_pipeline.document import answers
from fashion_pipeline.document.markdown import anchor
from fashion_pipeline.tracking import mlflow_runs


def summary(questions, best):
    """Five to eight sentences: each question's primary claim, then the best model."""
    lines = [f"- **{question.name}** ({question.words}). " + answers.sentence(question.primary[0])
             for question in questions.values() if question.primary]
    if best:
        found = best.accuracy
        lines.append(f"- **Best model**: {best.label}, test accuracy {found.mean:.4f} "
                     f"({found.confidence:.0%} interval {found.low:.4f} to {found.high:.4f}), picked on the test set.")
    return "\n".join(lines)


def scorecard(questions):
    """One row per question: its primary claim, what is compared, what was measured, the verdict;
    and the verdicts of its exploratory claims."""
    rows = []
    for question in questions.values():
        head = question.head
        if head is None:
            continue
        rows.append({
            "question": f"[{question.name}](#{anchor(question.title)})",
            "the coursework's claim": head.claim.statement,
            "the coursework's numbers": head.claim.coursework_says,
            "measured": answers.effect(head),
            "verdict": head.verdict.value,
            "exploratory claims": answers.counts([finding for finding in question.findings if finding is not head])})
    return pd.DataFrame(rows)


def how_to_read(method):
    """The method (judging.findings.Method), the versions and the machine."""
    versions = ", ".join(f"{package} {metadata.version(package)}" for package in ("tensorflow-cpu", "keras", "mlflow", "dvc"))
    margins, primary = method.margins, method.primary_count
    return "\n".join([
        f"- **Data.** Fashion-MNIST: {method.train_count:,} training and {method.test_count:,} test images. As in the "
        "coursework, Parts A and B validate on the test set; the optimizer study and the protocol check validate on "
        f"a held-out {method.held_out_fraction:.0%} of the training set instead.",
        f"- **Seeds.** Each experiment and optimizer run is trained once per seed ({', '.join(map(str, method.seeds))}"
        f"); a seed draws the initial weights, the batch order and the dropout masks. Done: {method.runs_done}. "
        f"TensorFlow runs with {method.threads} thread and op determinism on. {versions}; git commit "
        f"`{mlflow_runs.git_commit()}`; {platform.machine()}, Python {platform.python_version()}.",
        "- **An interval** is where the mean over seeds lies, at the stated level. For a number measured on the test "
        "images (final test loss and accuracy) it covers two sources of noise: the seeds, and the draw of the 10,000 "
        "test images, which is the same for every seed; more seeds shrink only the first. For other numbers it "
        "covers the seeds. A comparison is paired: the same seed and the same images for both models.",
        f"- **Verdicts.** A difference whose whole interval lies within its margin (±{margins['loss']} "
        f"loss, ±{margins['accuracy'] * 100:g} accuracy points, ±{margins['epochs']} epochs) is "
        "**alike**: too small to matter, whatever its sign. Otherwise a claimed difference **holds** when the interval "
        "excludes zero on the claimed side, is **reversed** when it excludes zero on the other side, and is "
        "**inconclusive** when it includes zero; the seeds column says how many seeds would settle it. A claim that "
        "two models are alike holds when the interval lies within the margin.",
        f"- **Primary and exploratory claims.** The {primary} primary claims, one per question, were committed to "
        "params.yaml after seed 42's results had been read and before any result of seeds 43 to 46 was committed: "
        "they are blind to those four seeds only. Judged together, they use Holm's method: each interval is drawn at the "
        "level that keeps the chance of any false 'holds' among them at "
        f"{1 - method.confidence:.0%}. The other claims are exploratory, each at {method.confidence:.0%}: "
        "with this many, one or two may exclude zero by chance, so they are leads, not findings.",
        "- **These numbers replace earlier ones.** The whole grid was re-run once with one TensorFlow thread (the "
        "thread count alone moved a final loss by 0.06), training metrics measured in inference mode at each "
        "epoch's final weights, five seeds, three learning rates per optimizer rule and a held-out split for every "
        "choice: every number changed.",
    ])


def limitations(method):
    return "\n".join([
        "- One set of library versions, but not always one machine: the grid's stages may run on several, and "
        "another CPU kind rounds differently. A run repeated there can leave the committed history after some "
        "epochs; `make verify` retrains a sample and says where, and whether its final numbers stay inside the "
        "seeds' prediction interval.",
        "- Parts A and B validate on the test set, as the coursework did: a best epoch or a best model picked there is "
        "optimistic. The protocol check measures by how much.",
        f"- {len(method.seeds)} seeds: 'inconclusive' often means 'not enough seeds', not 'no effect'.",
        "- The optimizer study trains one network, full batch, at three rates per rule for Adam and SGD with momentum "
        "and one for the others.",
    ])


def appendix(report, shown):
    """The appendix: `shown` is judging.findings.appendix's tables and values."""
    report.heading("Appendix: every experiment, the coursework's numbers, times")
    report.table(shown["summary"], "summary")
    report.text("The coursework's numbers beside ours (mean [interval] over seeds; `coursework inside`: its value "
                "lies in our interval). Its Part A accuracies are its rounded metric; its L1/L2 losses include the "
                "penalty.")
    report.table(shown["coursework_comparison"], "coursework_comparison")
    times = shown["stage_times"]
    by_part = times.groupby("stages", as_index=False, sort=False)["minutes"].sum()
    by_part["minutes"] = by_part["minutes"].map(lambda minutes: f"{minutes:.0f}")  # whole minutes suffice here
    # A grid may run in pieces, on several machines: each stage keeps only its last run's time.
    report.text(f"Stage times as each stage's last run recorded them, on the machine it ran on (a stage resumed "
                f"from its checkpoint counts what it ran after resuming), {times['minutes'].sum() / 60:.1f} h in "
                "all; seed by seed in `tables/stage_times.csv`:")
    report.table(by_part, "stage_times_by_part")
    report.save_table(times, "stage_times")
    report.save_table(shown["mlflow_runs"], "mlflow_runs")
    report.text("MLflow: a run is named `<experiment>-seed<n>`, an optimizer run `optimizer_<run>-seed<n>` and a "
                "held-out run `<experiment>-holdout-seed<n>` (`tables/mlflow_runs.csv` lists them); `make ui` serves "
                "the store and prints its address. Raw files, SHA-256:")
    report.text("\n".join(f"- `{name}`: `{entry['sha256']}`" for name, entry in sorted(shown["raw_files"].items())))
