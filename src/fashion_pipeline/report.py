"""Stage `report`: gather every experiment's results into reports/report.md and report.html,
with figures under reports/figures and machine-readable tables under reports/tables."""

import argparse
import platform
import shutil
from importlib import metadata
from pathlib import Path

import pandas as pd

from fashion_pipeline import document, figures, files, tracking
from fashion_pipeline.params import load_params

NOT_RUN = "not run"


def load_results(results_dir, names):
    """name -> {"train", "evaluate", "run", "history"} for experiments with results; others
    map to None so the report shows them as 'not run' instead of leaving a silent gap."""
    results = {}
    for name in names:
        folder = Path(results_dir) / name
        needed = [folder / part for part in ("train.json", "evaluate.json", "mlflow_run.json", "history.csv")]
        if not all(path.is_file() for path in needed):
            results[name] = None
            continue
        results[name] = {
            "train": files.read_json(needed[0]),
            "evaluate": files.read_json(needed[1]),
            "run": files.read_json(needed[2]),
            "history": pd.read_csv(needed[3]),
        }
    return results


def summary_table(experiments, results):
    """One row per experiment: its architecture, final and best metrics, test scores, run id."""
    rows = []
    for name, spec in experiments.items():
        row = {"experiment": name, "kind": spec["kind"], "hidden_units": str(spec["hidden_units"])}
        result = results.get(name)
        if result is None:
            rows.append({**row, "status": NOT_RUN})
            continue
        train, evaluation = result["train"], result["evaluate"]
        rows.append({
            **row,
            "status": "done",
            "parameters": train["parameter_count"],
            "epochs": train["epochs"],
            "train_loss": train["train_loss"],
            "val_loss": train["val_loss"],
            "train_accuracy": train["train_accuracy"],
            "val_accuracy": train["val_accuracy"],
            "gap_loss": train["val_loss"] - train["train_loss"],
            "best_val_loss": train["best_val_loss"],
            "best_val_epoch": train["best_val_epoch"],
            "test_accuracy": evaluation["test_accuracy"],
            "train_seconds": train["train_seconds"],
            "mlflow_run_id": result["run"]["run_id"],
        })
    return pd.DataFrame(rows)


def protocol(params, manifest, data_summary, results):
    versions = {package: metadata.version(package) for package in ("tensorflow-cpu", "keras", "mlflow", "dvc")}
    seconds = sum(result["train"]["train_seconds"] for result in results.values() if result)
    lines = [
        f"- Data: Fashion-MNIST, {data_summary['train_count']:,} training / {data_summary['val_count']:,} "
        f"validation / {data_summary['test_count']:,} test images; validation set: {data_summary['validation']}; "
        f"pixels scaled to [0, 1]: {data_summary['scale']}.",
        *[f"- `{name}` from `{entry['source']}`, SHA-256 `{entry['sha256']}` verified." for name, entry in manifest.items()],
        f"- Seed: {params['seed']}. Versions: " + ", ".join(f"{key} {value}" for key, value in versions.items()) + ".",
        f"- Git commit: `{tracking.git_commit()}`. CPU: {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}.",
        f"- Training wall time, all experiments: {seconds / 60:.1f} min.",
        f"- MLflow experiment `{params['mlflow']['experiment_name']}`; run ids in the table below.",
    ]
    return "\n".join(lines)


def build_report(params, results_dir, out_dir, manifest, data_summary):
    """Write the tables, figures, report.md and report.html; return the blocks."""
    out_dir = Path(out_dir)
    experiments = params["experiments"]
    results = load_results(results_dir, experiments)
    for folder in (out_dir / "figures", out_dir / "tables"):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    summary = summary_table(experiments, results)
    with files.atomic_path(out_dir / "tables" / "summary.csv") as temporary:
        summary.to_csv(temporary, index=False)

    blocks = [
        ("heading", 1, "Fashion-MNIST MLP experiments"),
        ("heading", 2, "Protocol"),
        ("text", protocol(params, manifest, data_summary, results)),
        ("heading", 2, "All experiments"),
        ("table", summary),
    ]
    for name, result in results.items():
        if result is None:
            continue
        path = out_dir / "figures" / f"{name}_curves.png"
        figures.save(figures.curves({name: result["history"]}, name), path)
        blocks.append(("figure", path, f"{name}: train (dashed) vs validation (solid)"))

    files.write_text(out_dir / "report.md", document.to_markdown(blocks, out_dir))
    files.write_text(out_dir / "report.html", document.to_html(blocks, "Fashion-MNIST MLP experiments"))
    return blocks


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", default="results")
    parser.add_argument("--out", default="reports")
    parser.add_argument("--raw", default="data/raw")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--params", default="params.yaml")
    arguments = parser.parse_args()
    params = load_params(arguments.params)
    manifest = files.read_json(Path(arguments.raw) / "manifest.json")
    data_summary = files.read_json(Path(arguments.prepared) / "summary.json")
    build_report(params, arguments.results, arguments.out, manifest, data_summary)
    print(f"report: {Path(arguments.out) / 'report.html'}")


if __name__ == "__main__":
    main()
