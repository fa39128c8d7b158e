"""Stage `report`: gather every experiment into reports/report.md and a self-contained
reports/report.html, with figures under reports/figures and tables (CSV) under reports/tables.
The report is also logged to MLflow as a run of its own."""

import argparse
import platform
import shutil
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd

from fashion_pipeline import analysis, cli, document, figures, files, optimizer_report, tracking
from fashion_pipeline.keras_models import load_model
from fashion_pipeline.params import load_params
from fashion_pipeline.seed_reference import SEED_CLAIMS, SEED_STARTING_TOTAL_LOSS

TITLE = "Fashion-MNIST MLP experiments: the coursework reproduced"
PART_B_ARCHITECTURES = ["keras_softmax", "keras_2l", "keras_3l", "keras_4l", "keras_5l"]
CORRECTIONS = """- Each layer has its own bias; the seed reused one `b` for every layer.
- Softmax cross-entropy is computed as log-softmax (logits minus logsumexp): no overflow, no log(0), no clipping. The seed divided exponentials and clipped, and its L1/L2 loss skipped the clipping it computed.
- Accuracy is by argmax. The seed's rounded element-wise metric is computed beside it (see the section on the seed's note 2)."""


def load_results(results_dir, names):
    """name -> {"train", "evaluate", "run", "history"}, or None when the experiment has no
    results, so the report shows it as 'not run' rather than leaving a silent gap."""
    results = {}
    for name in names:
        folder = Path(results_dir) / name
        parts = {"train": "train.json", "evaluate": "evaluate.json", "run": "mlflow_run.json", "history": "history.csv"}
        if not all((folder / filename).is_file() for filename in parts.values()):
            results[name] = None
            continue
        results[name] = {key: files.read_json(folder / filename) for key, filename in parts.items() if key != "history"}
        results[name]["history"] = pd.read_csv(folder / parts["history"])
    return results


def summary_table(experiments, results):
    rows = []
    for name, spec in experiments.items():
        row = {"experiment": name, "kind": spec["kind"], "hidden_units": str(spec["hidden_units"])}
        if results.get(name) is None:
            rows.append({**row, "status": analysis.NOT_RUN})
            continue
        values = analysis.measures(results[name])
        rows.append({**row, "status": "done", **{key: values[key] for key in (
            "parameter_count", "epochs", "train_loss", "val_loss", "train_accuracy", "val_accuracy",
            "test_accuracy", "train_seconds", "stage_seconds", "evaluate_seconds")},
            "mlflow_run_id": results[name]["run"]["run_id"]})
    return pd.DataFrame(rows)


def protocol(params, manifest, data_summary, stage_seconds):
    versions = ", ".join(f"{package} {metadata.version(package)}" for package in ("tensorflow-cpu", "keras", "mlflow", "dvc"))
    return "\n".join([
        f"- Data: Fashion-MNIST, {data_summary['train_count']:,} training / {data_summary['val_count']:,} validation / "
        f"{data_summary['test_count']:,} test images. Validation set: {data_summary['validation']}. "
        f"Pixels scaled to [0, 1]: {data_summary['scale']}.",
        *[f"- `{name}` from `{entry['source']}`, SHA-256 `{entry['sha256']}` verified." for name, entry in sorted(manifest.items())],
        f"- Seed {params['seed']} for initialisation, shuffling and dropout; TensorFlow op determinism on. Versions: {versions}.",
        f"- Git commit `{tracking.git_commit()}`. Machine: {platform.machine()}, {_cpu_name()}, Python {platform.python_version()}.",
        f"- Wall time of the training, evaluation and optimizer stages together: {stage_seconds.sum() / 60:.1f} min on "
        "this machine (each stage from its start to its last output; table `stage_times`). Per experiment below: "
        "`train_seconds` (the training loop), `stage_seconds` (the whole train stage) and `evaluate_seconds`.",
        f"- MLflow experiment `{params['mlflow']['experiment_name']}`: one run per experiment, its id in the table below.",
        "- 'Within noise' means a difference smaller than two standard errors of the difference due to the finite "
        "evaluation set (binomial for accuracies, the per-image loss's standard error for losses). "
        "Run-to-run training noise comes on top of it.",
    ])


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _histories(results, names):
    return {name: results[name]["history"] for name in names if results.get(name) is not None}


class Report:
    """Collects blocks, and writes figures and tables as it goes."""

    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        self.blocks = []
        for folder in ("figures", "tables"):
            shutil.rmtree(self.out_dir / folder, ignore_errors=True)
            (self.out_dir / folder).mkdir(parents=True)

    def heading(self, text, level=2):
        self.blocks.append(("heading", level, text))

    def text(self, text):
        self.blocks.append(("text", text))

    def table(self, frame, name):
        with files.atomic_path(self.out_dir / "tables" / f"{name}.csv") as temporary:
            frame.to_csv(temporary, index=False)
        self.blocks.append(("table", frame))

    def curves(self, histories, name, caption, columns=("loss", "accuracy")):
        if not histories:
            self.text(f"*{caption}: not run.*")
            return
        path = self.out_dir / "figures" / f"{name}.png"
        figures.save(figures.curves(histories, caption, columns), path)
        self.blocks.append(("figure", path, caption + " (dashed: train, solid: validation)"))

    def figure(self, figure, name, caption):
        path = self.out_dir / "figures" / f"{name}.png"
        figures.save(figure, path)
        self.blocks.append(("figure", path, caption))

    def image(self, source, name, caption):
        path = self.out_dir / "figures" / f"{name}.png"
        shutil.copyfile(source, path)
        self.blocks.append(("figure", path, caption))

    def write(self):
        files.write_text(self.out_dir / "report.md", document.to_markdown(self.blocks, self.out_dir))
        files.write_text(self.out_dir / "report.html", document.to_html(self.blocks, TITLE))


def regularization_sections(report, results, models_dir):
    names = ["lowlevel_net_b", "lowlevel_net_b_l1", "lowlevel_net_b_l2"]
    report.heading("Part A: L1 vs L2 regularization of Network B")
    report.curves(_histories(results, names[1:]), "l1_vs_l2", "Network B with L1 and L2: data loss and loss with penalty",
                  columns=("loss", "total_loss"))
    starts = [{"experiment": name, "seed_starting_total_loss": seed,
               "our_starting_total_loss": results[name]["history"]["train_total_loss"].iloc[0] if results.get(name) else analysis.NOT_RUN}
              for name, seed in SEED_STARTING_TOTAL_LOSS.items()]
    report.table(pd.DataFrame(starts), "regularization_starting_loss")
    weights = []
    for name in names:
        path = Path(models_dir) / f"{name}.keras"
        if path.is_file():
            model = load_model(path)
            kernels = [layer.get_weights()[0] for layer in model.layers]
            weights.append(analysis.weight_summary(kernels).assign(experiment=name))
    if weights:
        report.text("Weight magnitudes after training (weight matrices only; `share_near_zero`: |w| < 0.001):")
        report.table(pd.concat(weights, ignore_index=True), "regularization_weights")


def rounded_accuracy_section(report, results):
    report.heading("The seed's note 2: why its accuracy looked too high")
    report.text(
        "The seed rounded each of the 10 softmax outputs to 0 or 1 and compared them element-wise with the one-hot "
        "label, averaging over all 10 entries of every image. At most one probability can exceed 0.5, so at most two "
        "of an image's ten entries can disagree: the metric never falls below **0.8**, even for a model that is always "
        "wrong. A model whose outputs are near-uniform rounds every entry to 0 and matches 9 of 10: **0.9**, the "
        "seed's \"0.89999\" at the start of training. True (argmax) accuracy of such a model is chance, 0.1. "
        "Our Part A runs log both metrics every epoch:")
    lowlevel = [name for name in results if name.startswith("lowlevel_")]
    report.curves(_histories(results, lowlevel), "rounded_vs_true_accuracy",
                  "Part A: true (argmax) accuracy vs the seed's rounded accuracy", columns=("accuracy", "rounded_accuracy"))


def scale_section(report, experiments, results, data_scaled):
    report.heading("A hypothesis: were the seed's inputs unscaled?")
    report.text(
        "The seed's validation losses for three to five layers (0.59-0.74) are higher than scaled inputs usually "
        "give. The same architectures were run again on the other pixel scale (raw 0-255 when `data.scale` is on); "
        "the hypothesis holds if every such run lands closer to the seed's validation loss than its twin.")
    table, verdict, evidence = analysis.scale_hypothesis(experiments, results, data_scaled)
    report.table(table, "scale_hypothesis")
    report.text(f"**Verdict: {verdict}.** {evidence}.")
    twins = [name for name in table.get("experiment", [])] + [name for name in table.get("twin", []) if name != "none"]
    report.curves(_histories(results, twins), "scale_hypothesis", "Scaled vs raw pixels", columns=("loss",))


def best_model_section(report, results, results_dir):
    done = {name: result for name, result in results.items() if result}
    if not done:
        return
    best = max(done, key=lambda name: done[name]["train"]["val_accuracy"])
    report.heading(f"The best model: {best}")
    report.text(f"Chosen by validation accuracy ({done[best]['train']['val_accuracy']:.4f}); "
                f"test accuracy {done[best]['evaluate']['test_accuracy']:.4f}.")
    report.table(pd.read_csv(Path(results_dir) / best / "per_class.csv"), "best_model_per_class")
    report.image(Path(results_dir) / best / "confusion.png", "best_model_confusion", f"{best}: test confusion matrix")


def build_report(params, results_dir, models_dir, out_dir, manifest, data_summary):
    experiments = params["experiments"]
    results = load_results(results_dir, experiments)
    optimizer_runs = optimizer_report.load_runs(results_dir, params["optimizers"]["runs"])
    times = analysis.stage_times(results, optimizer_runs)
    report = Report(out_dir)
    report.heading(TITLE, level=1)
    report.heading("Protocol")
    report.text(protocol(params, manifest, data_summary, times["seconds"]))
    report.heading("All experiments")
    report.table(summary_table(experiments, results), "summary")

    report.heading("The seed's numbers beside ours")
    report.table(analysis.seed_comparison(results), "seed_comparison")
    report.heading("The seed's conclusions, checked")
    verdicts = [dict(zip(("claim", "verdict", "evidence"), (claim[0], *analysis.judge(claim, results)))) for claim in SEED_CLAIMS]
    report.table(pd.DataFrame(verdicts), "verdicts")
    report.heading("Corrections to the seed's Part A code")
    report.text(CORRECTIONS)

    report.heading("Part A: softmax classifier (500 full-batch epochs)")
    report.curves(_histories(results, ["lowlevel_softmax"]), "lowlevel_softmax", "Softmax classifier")
    report.heading("Part A: Network A (300) vs Network B (300-100)")
    report.table(analysis.overfitting_table(results, ["lowlevel_net_a", "lowlevel_net_b"]), "network_a_vs_b")
    report.curves(_histories(results, ["lowlevel_net_a", "lowlevel_net_b"]), "network_a_vs_b", "Network A vs Network B")
    regularization_sections(report, results, models_dir)
    rounded_accuracy_section(report, results)

    report.heading("Part B: overfitting from softmax to five layers (30 epochs)")
    report.text("`gap_loss` = validation minus training loss at the last epoch; `gap_accuracy` = training minus "
                "validation accuracy; `val_loss_rise` = how far validation loss ended above its minimum.")
    report.table(analysis.overfitting_table(results, PART_B_ARCHITECTURES), "overfitting")
    report.curves(_histories(results, PART_B_ARCHITECTURES), "architectures", "Keras architectures", columns=("loss",))
    report.heading("Part B: dropout")
    report.text("`gap_removed` = the baseline's loss gap minus the variant's: how much of the overfitting dropout removes.")
    report.table(analysis.dropout_table(experiments, results), "dropout")
    for depth in ("4l", "5l"):
        names = [name for name in experiments if name.startswith(f"keras_{depth}")]
        report.curves(_histories(results, names), f"dropout_{depth}", f"{depth.upper()} with and without dropout", columns=("loss",))
    scale_section(report, experiments, results, params["data"]["scale"])
    best_model_section(report, results, results_dir)
    optimizer_report.section(report, params, optimizer_runs, results.get(params["optimizers"]["network"]))
    report.heading("Stage times")
    report.table(times, "stage_times")
    report.write()
    return report


def log_report(params, out_dir):
    """The report as artifacts of an MLflow run named 'report'."""
    experiment_id = tracking.experiment_id(params["mlflow"], tracking.connect(params["mlflow"]))
    tags = {"dvc_stage": "report", "git_commit": tracking.git_commit()}
    with mlflow.start_run(experiment_id=experiment_id, run_name="report", tags=tags):
        for name in ("report.md", "report.html"):
            mlflow.log_artifact(str(Path(out_dir) / name))
        mlflow.log_artifacts(str(Path(out_dir) / "tables"), artifact_path="tables")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", default="results")
    parser.add_argument("--models", default="models")
    parser.add_argument("--out", default="reports")
    parser.add_argument("--raw", default="data/raw")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    params = load_params(arguments.params)
    manifest = files.read_json(Path(arguments.raw) / "manifest.json")
    data_summary = files.read_json(Path(arguments.prepared) / "summary.json")
    build_report(params, arguments.results, arguments.models, arguments.out, manifest, data_summary)
    log_report(params, arguments.out)
    print(f"report: {Path(arguments.out) / 'report.html'}")


if __name__ == "__main__":
    cli.run(main)
