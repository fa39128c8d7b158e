"""The report's front and back: the summary that answers the coursework's questions, the table
of the coursework's conclusions, the registration, how to read the report, its limitations and
the appendix. The sections in between are sections.py's, essay.py's and training_setup.py's."""

import platform
from importlib import metadata

import pandas as pd

from fashion_pipeline.document import answers, sections
from fashion_pipeline.judging.conclusions import NOT_REPRODUCED, REPRODUCED
from fashion_pipeline.judging.statistics import percent
from fashion_pipeline.tracking import mlflow_runs


def summary(questions, picks, confirmatory=()):
    """A short paragraph per question (its primary claim, in the coursework's words where it
    tests one of its conclusions, and its verdict on the seeds it was blind to where that
    differs), then the best model."""
    again = {finding.claim.name: finding for finding in confirmatory}
    lines = [f"**{question.name}, {question.words}.** {answers.paragraph(question)}"
             + blind_words(question.head, again.get(question.head.claim.name)) + qualifier_words(question)
             for question in questions.values() if question.primary]
    if picks is not None:
        lines.append(f"**The best model.** {sections.picks_answer(picks)}")
    return "\n\n".join(lines)


REPRODUCTION_INTRO = (
    "Every conclusion the coursework states about its experiments, quoted as it wrote it (\"...\" where words are "
    "left out) with its numbers and how we read it, beside what "
    "we measure over the seeds. **Reproduced**: our interval agrees with it. **Not reproduced**: the difference is "
    "too small to matter, or the seeds do not settle it. **Reversed**: our interval says the opposite. **Could not "
    "be tested here**: no run of this project measures it. Claims we added ourselves are not the coursework's and "
    "are not in this table; they are marked *(ours)* in their sections.")


def registration_table(questions, confirmatory, blind_seeds):
    """Each primary claim judged on every seed and on the seeds it was blind to alone."""
    again = {finding.claim.name: finding for finding in confirmatory}
    rows = []
    for question in questions.values():
        for finding in question.primary:
            name = finding.claim.name
            blind = again.get(name)
            rows.append({
                "question": question.name, "primary claim": finding.claim.statement,
                "blind to seeds": ", ".join(map(str, blind_seeds.get(name, []))) or "none",
                "all seeds": estimate_cell(finding), "the blind seeds alone": estimate_cell(blind) if blind else
                "no confirmatory test (fewer than two blind seeds)"})
    return pd.DataFrame(rows)


def estimate_cell(finding):
    """"-0.129 [-0.219, -0.039] at 98.75%, 5 seeds: holds"."""
    found = finding.found
    if found is None:
        return "not run"
    digits = 0 if finding.claim.margin == "epochs" else 3
    return f"{found.text(digits)} at {percent(found.confidence)}, {found.count} seeds: {finding.verdict.value}"


REGISTRATION_INTRO = (
    "The primary claims were not fixed before any result. Each has stood, as it stands today, since after the "
    "results of seed 42 of this grid were committed, and an earlier version of the grid had shown results of seeds 42 "
    "and 43 before that. So each is judged again below on the seeds whose "
    "results took their numbers after it stood (`report.blind_seeds` in params.yaml, which a test holds to the git "
    "history), as one Holm family: that is the confirmatory test, and the five-seed estimate stays beside it. "
    "The rates of the essay's claim were chosen seed by seed, and the statistics changed (the exact sign test, "
    "S − 1 degrees of freedom), after every result was seen. From now on a new primary claim is committed before "
    "the seeds that confirm it are trained.")


def measure_in_words(measure):
    return measure.replace("val_", "validation ").replace("train_", "training ").replace("_", " ")


def blind_words(finding, blind):
    """" On the 4 seeds it was blind to alone, it is inconclusive." where that verdict differs."""
    if blind is None or blind.found is None or blind.verdict is finding.verdict:
        return ""
    return (f" Judged on the {blind.found.count} seeds it was blind to alone (the registration section), the "
            f"verdict is {blind.verdict.value}.")


def qualifier_words(question):
    """The claims that qualify the question's answer, each in a sentence after it."""
    found = [finding for finding in question.findings if finding.claim.qualifies == question.head.claim.name]
    return "".join(f" Read another way, {answers.effect(finding)}. {answers.verdict_words(finding)}" for finding in found)


def reproduction_table(reproductions, coursework_misses, labels):
    """Each conclusion of the coursework with ours and a verdict (judging.conclusions); then its
    reported numbers, counted inside and outside our intervals (tables.coursework_misses), the
    farthest named first."""
    rows = [answers.reproduction_row(reproduction) for reproduction in reproductions]
    judged, misses = coursework_misses
    if judged:
        rows.append({
            "question": "all", "the coursework": f"its {judged} final losses and accuracies of Parts A and B",
            "ours": f"{judged - len(misses)} of {judged} lie inside our intervals, each of ours measured "
                    "as the coursework's was (the appendix lists each)",
            "verdict": NOT_REPRODUCED if misses else REPRODUCED,
            "why": "Outside: " + "; ".join(
                f"{labels.get(name, name)}, {measure_in_words(measure)} {value:g} against ours {mean:.3f}"
                for name, measure, value, mean in misses[:4]) + ("; and more" if len(misses) > 4 else "") + "."
            if misses else ""})
    return pd.DataFrame(rows)


def how_to_read(method):
    """The method (judging.findings.Method), the versions and the machine."""
    versions = ", ".join(f"{package} {metadata.version(package)}" for package in ("tensorflow-cpu", "keras", "mlflow", "dvc"))
    margins, primary = method.margins, method.primary_count
    return "\n".join([
        f"- **Runs.** Done: {method.runs_done}. {versions}; git commit `{mlflow_runs.git_commit()}`; "
        f"{platform.machine()}, Python {platform.python_version()}. The setup section below gives every setting.",
        f"- **Machines.** {machines_words(method.cpu_counts)}",
        "- **An interval** is where the mean over seeds lies, at the stated level. For a final test loss or accuracy of "
        "Parts A and B, whose runs keep their predictions image by image, it covers two sources of noise: the seeds, "
        "and the draw of the 10,000 test images, which is the same for every seed; more seeds shrink only the first. "
        "For other numbers, the optimizer study's among them, it covers the seeds (the tables say which). A comparison is paired: the same seed and the same images for both models. The level is "
        "printed as computed (95%, or a primary claim's own, such as 97.5%). A value that is the same in every seed "
        "has no spread to draw an interval from: it is judged by an exact sign test, and n seeds that all agree "
        "reach no level above 1 − 2/2ⁿ (93.75% with five).",
        f"- **Verdicts.** A difference whose whole interval lies within its margin (±{margins['loss']} "
        f"loss, ±{margins['accuracy'] * 100:g} accuracy points, ±{margins['epochs']} epochs) is "
        "**alike**: too small to matter, whatever its sign. Otherwise a claimed difference **holds** when the interval "
        "excludes zero on the claimed side, is **reversed** when it excludes zero on the other side, and is "
        "**inconclusive** when it includes zero; the seeds column says how many seeds would settle it. A claim that "
        "two models are alike holds when the interval lies within the margin.",
        f"- **Primary and exploratory claims.** The {primary} primary claims, one per question, are judged together "
        "with Holm's method: each interval is drawn at the level that keeps the chance of any false 'holds' among them "
        f"at {1 - method.confidence:.0%}, so their levels are {method.confidence:.0%} or above. Which seeds each was "
        "blind to, and its verdict on those seeds alone, are in the registration section below. The other claims are "
        f"exploratory, each at {method.confidence:.0%}: with this many, one or two may exclude zero by chance, so "
        "they are leads, not findings.",
        "- **These numbers replace earlier ones.** The whole grid was re-run once with one TensorFlow thread (the "
        "thread count alone moved a final loss by 0.06), training metrics measured in inference mode at each "
        "epoch's final weights, five seeds, three learning rates per optimizer rule and a held-out split for every "
        "choice: every number changed.",
    ])


def machines_words(counts):
    """Where the runs were trained, from results/training_cpus.csv (the git history)."""
    known = {kind: count for kind, count in counts.items() if kind}
    if not known:
        return "The CPU each run was trained on is not recorded here."
    where = " and ".join(f"{count} runs on {kind}" for kind, count in sorted(known.items(), key=lambda item: -item[1]))
    unknown = f"; {counts['']} not recorded" if counts.get("") else ""
    return (f"Trained on {len(known)} CPU kind{'s' * (len(known) > 1)}: {where}"
            f"{unknown} (`results/training_cpus.csv`, read from the git history). Another CPU kind rounds float "
            "sums differently, so under each question's verdicts the report says which comparisons set runs of the "
            "two kinds against each other, and in which seeds.")


def limitations(method):
    return "\n".join([
        "- One set of library versions, but not one machine: the runs were trained on the CPU kinds 'How to read' "
        "counts, and another CPU kind rounds differently. A run repeated there can part from the committed history after some "
        "epochs; `make verify` retrains a sample and says where, and whether its final numbers stay inside the "
        "seeds' prediction interval.",
        "- Parts A and B validate on the test set, as the coursework did: a best epoch or a best model picked there is "
        "optimistic. The protocol check measures by how much.",
        f"- {len(method.seeds)} seeds: 'inconclusive' often means 'not enough seeds', not 'no effect'.",
        "- The optimizer study trains one network, full batch, at a few rates per rule for Adam and SGD with momentum "
        "and one for the others.",
    ])


def appendix(report, shown):
    """The appendix: `shown` is judging.findings.appendix's tables and values."""
    report.heading("Appendix: every experiment, the coursework's numbers, times")
    report.table(shown["summary"], "summary")
    report.text("The coursework's numbers beside ours, each of ours measured as the coursework's was (mean "
                "[interval]; `coursework inside`: its value lies in our interval). Its validation numbers are on the "
                "test set: ours beside them are the final test loss and accuracy, with the interval over the seeds "
                "and the test images every table gives them. Its Part B training numbers are what Keras's fit prints, "
                "the mean over the epoch's batches with dropout on: ours beside them are measured the same way (the "
                "running loss and accuracy), not in inference mode. Its Part A accuracies are its rounded metric; its "
                "L1/L2 losses include the penalty.")
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
