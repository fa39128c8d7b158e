"""The real pipeline end to end: real DVC, real MLflow (SQLite), real TensorFlow, on a small
stratified subset of the real Fashion-MNIST files, over two seeds."""

import json
import platform
import sqlite3
import subprocess
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from conftest import EPOCHS, EXPERIMENTS, OPTIMIZER_RUNS, ROOT, SEEDS, ran, run

from fashion_pipeline.tracking import mlflow_runs

pytestmark = pytest.mark.slow

def test_every_stage_runs_for_every_seed_and_writes_sane_metrics(pipeline):
    project, first = pipeline
    for name, kind in EXPERIMENTS.items():
        for seed in SEEDS:
            assert ran(first.stdout, f"train_{kind}@{name}-{seed}")
            assert ran(first.stdout, f"evaluate_{kind}@{name}-{seed}")
            folder = project / "results" / f"seed_{seed}" / name
            metrics = json.loads((folder / "metrics.json").read_text())
            assert set(metrics) == {"train_loss", "train_accuracy", "best_val_loss", "best_val_epoch", "test_loss",
                                    "test_accuracy"}
            assert 0.1 < metrics["test_accuracy"] <= 1.0
            # One loss: evaluate's test loss is training's last validation loss (validation = test).
            training = json.loads((folder / "train.json").read_text())
            assert metrics["test_loss"] == pytest.approx(training["val_loss"], abs=1e-5)
            history = pd.read_csv(folder / "history.csv")
            assert list(history["epoch"]) == list(range(1, EPOCHS + 1))
            assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
            predictions = pd.read_csv(folder / "predictions.csv")
            assert len(predictions) == 300 and (predictions["loss"] >= 0).all()
            assert (project / "models" / f"seed_{seed}" / f"{name}.keras").is_file()
    # Different seeds, different initial weights: the first epoch differs.
    first_epochs = [pd.read_csv(project / "results" / f"seed_{seed}" / "keras_softmax" / "history.csv")["train_loss"][0]
                    for seed in SEEDS]
    assert first_epochs[0] != first_epochs[1]
    # One registration row per primary claim.
    registration = pd.read_csv(project / "reports" / "tables" / "registration.csv")
    assert len(registration) == 6
    html = (project / "reports" / "report.html").read_text()
    assert "data:image/png;base64," in html


def test_optimizer_comparison_runs_each_optimizer_from_the_same_weights(pipeline):
    project, first = pipeline
    for seed in SEEDS:
        histories = {}
        for name in OPTIMIZER_RUNS:
            assert ran(first.stdout, f"compare_optimizers@{name}-{seed}")
            histories[name] = pd.read_csv(project / "results" / f"seed_{seed}" / "optimizers" / name / "history.csv")
            assert (histories[name]["update_norm"] > 0).all()
        # Same weights and data within a seed: the first update's forward pass gives the same loss.
        first_losses = [histories[name]["train_loss_running"].iloc[0] for name in ("adam", "adam_no_bias_correction")]
        assert first_losses[0] == first_losses[1]
        # The uncorrected first step is longer, as the equations predict.
        assert histories["adam_no_bias_correction"]["update_norm"].iloc[0] > 2 * histories["adam"]["update_norm"].iloc[0]
    table = pd.read_csv(project / "reports" / "tables" / "optimizers.csv")
    assert list(table["run"]) == OPTIMIZER_RUNS and set(table["seeds"]) == {len(SEEDS)}
    assert (project / "reports" / "figures" / "bias_correction.png").stat().st_size > 10_000


def test_the_cpu_tag_names_the_model_and_its_widest_vectors(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse2 avx avx2 fma\n\n"
                       "processor\t: 1\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse2 avx avx2 fma\n")
    assert mlflow_runs.cpu_name(cpuinfo) == "AMD EPYC 9R14, AVX2"
    cpuinfo.write_text(cpuinfo.read_text().replace("avx2", "avx2 avx512f avx512bw"))
    assert mlflow_runs.cpu_name(cpuinfo) == "AMD EPYC 9R14, AVX-512"
    assert mlflow_runs.cpu_name(tmp_path / "absent") == platform.machine()


def test_mlflow_store_holds_each_run_with_its_curves_params_and_tags(pipeline):
    project, _ = pipeline
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["fashion-mnist-mlp"])
    report_runs = runs[runs["tags.dvc_stage"] == "report"]
    assert len(report_runs) == 1
    client = mlflow.MlflowClient()
    assert {artifact.path for artifact in client.list_artifacts(report_runs["run_id"].iloc[0])} >= {"report.md", "report.html"}
    optimizer_runs = runs[runs["tags.dvc_stage"].str.startswith("compare_optimizers@")]
    assert len(optimizer_runs) == len(OPTIMIZER_RUNS) * len(SEEDS)
    assert set(optimizer_runs["params.optimizer"]) == {"adam"}
    # Only what the run uses: the optimizer's learning rate, not Part A's beside it.
    adam = yaml.safe_load((project / "params.yaml").read_text())["optimizers"]["runs"]["adam"]
    assert set(optimizer_runs["params.learning_rate"]) == {str(adam["learning_rate"])}
    training = runs[runs["tags.dvc_stage"].str.startswith("train_")]
    assert len(training) == len(EXPERIMENTS) * len(SEEDS)
    assert set(training["status"]) == {"FINISHED"}
    for _, row in training.iterrows():
        name, seed = row["tags.experiment"], int(row["tags.seed"])
        assert row["tags.mlflow.runName"] == f"{name}-seed{seed}"
        for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
            steps = [point.step for point in client.get_metric_history(row["run_id"], key)]
            assert steps == list(range(1, EPOCHS + 1)), (name, key)
        assert 0 < row["metrics.test_accuracy"] <= 1
        kind = EXPERIMENTS[name]
        # Every run logs what it shares with others under one name, so MLflow's compare view
        # lines a study up param by param; params.json keeps each value's params.yaml path.
        assert row["params.epochs"] == str(EPOCHS)
        assert row["params.threads"] == "1" and row["params.seed"] == str(seed)
        # The CPU kind, because runs compare exactly only within one.
        assert row["tags.cpu"] == mlflow_runs.cpu_name() and row["tags.cpu"].endswith(("AVX-512", "AVX2", "no AVX2"))
        shared = ("dropout", "batch_size", "jit_compile") if kind == "keras" else ("regularizer", "regularization_rate")
        assert all(isinstance(row[f"params.{key}"], str) for key in ("hidden_units", "learning_rate", *shared))
        paths = json.loads((Path(client.download_artifacts(row["run_id"], "params.json"))).read_text())
        assert paths[f"experiments.{kind}.{name}.epochs"] == EPOCHS and paths["training.threads"] == 1
        record = json.loads((project / "results" / f"seed_{seed}" / name / "run.json").read_text())
        assert record["mlflow_run_id"] == row["run_id"]
        # evaluate adds to the run without reopening it: its end is the training's.
        assert (row["end_time"] - row["start_time"]).total_seconds() < record["stage_seconds"] + 1
        assert {dataset.dataset.name for dataset in client.get_run(row["run_id"]).inputs.dataset_inputs} == {
            "fashion-mnist-train", "fashion-mnist-train_eval", "fashion-mnist-validation"}
    with sqlite3.connect(project / "mlflow.db") as connection:
        duplicates = connection.execute(
            "SELECT COUNT(*) FROM (SELECT run_uuid, key, step, COUNT(*) AS n FROM metrics "
            "GROUP BY run_uuid, key, step HAVING n > 1)"
        ).fetchone()[0]
    assert duplicates == 0
    # The held-out runs: their own study, so no coursework study's search string finds them.
    holdout = runs[runs["tags.dvc_stage"].str.startswith("holdout_keras@")]
    candidates = yaml.safe_load((project / "params.yaml").read_text())["holdout"]["experiments"]
    assert len(holdout) == len(candidates) * len(SEEDS) and set(holdout["tags.studies"]) == {"holdout"}
    assert set(holdout["params.held_out_fraction"]) == {"0.1"} and (holdout["metrics.test_accuracy"] > 0).all()
    models = mlflow.search_logged_models(experiment_ids=[runs["experiment_id"].iloc[0]], output_format="list")
    assert sorted(model.name for model in models) == sorted(
        [f"{name}-seed{seed}" for name in EXPERIMENTS for seed in SEEDS]
        + [f"{name}-holdout-seed{seed}" for name in candidates for seed in SEEDS] + ["champion"])


def test_second_repro_does_nothing(pipeline):
    project, _ = pipeline
    again = run(["dvc", "repro"], project)
    assert "Running stage" not in again.stdout
    assert json.loads(run(["dvc", "status", "--json"], project).stdout) == {}


def test_adding_a_seed_trains_only_the_new_replicates(pipeline):
    project, _ = pipeline
    params = yaml.safe_load((project / "params.yaml").read_text())
    original = (project / "params.yaml").read_text()
    params["seeds"] = [*SEEDS, 7]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        status = json.loads(run(["dvc", "status", "--json"], project).stdout)
    finally:
        (project / "params.yaml").write_text(original)
    # The figures, the report, the sample of mistakes and the champion read every seed's results;
    # nothing else old re-runs.
    stale = {stage for stage in status if stage not in ("figures", "report", "mistakes", "register")}
    assert stale and all(stage.endswith("-7") for stage in stale), sorted(stale)
    assert {"holdout_keras@keras_4l_drop_taper-7", "train_keras@keras_softmax-7"} <= stale


def test_holdout_runs_validate_on_a_held_out_part_of_the_training_set(pipeline):
    """The protocol check: each candidate trained again per seed, validated on a held-out part of
    the training set (not the test set), scored once on the test set; the report picks on it."""
    project, first = pipeline
    candidate = "keras_4l_drop_taper"
    for seed in SEEDS:
        assert ran(first.stdout, f"holdout_keras@{candidate}-{seed}")
        folder = project / "results" / f"seed_{seed}" / "holdout" / candidate
        metrics = json.loads((folder / "metrics.json").read_text())
        history = pd.read_csv(folder / "history.csv")
        assert metrics["held_out_loss"] == pytest.approx(history["val_loss"].iloc[-1])
        # Validation and test are different images here, unlike the main run's.
        assert abs(metrics["held_out_loss"] - metrics["test_loss"]) > 1e-4
        assert 0.1 < metrics["test_accuracy"] <= 1.0
    table = pd.read_csv(project / "reports" / "tables" / "holdout.csv").set_index("experiment")
    assert table.loc[candidate, "seeds"] == len(SEEDS)
    choice = pd.read_csv(project / "reports" / "tables" / "holdout_choice.csv")
    assert choice["on the held-out split"].str.startswith(candidate).all()
    # The mistakes stage drew the best model's confident mistakes from the test images.
    mistakes = pd.read_csv(project / "reports" / "mistakes" / "confident_mistakes.csv")
    assert 0 < len(mistakes) <= 16 and (mistakes["actual"] != mistakes["predicted"]).all()
    assert "mistakes/confident_mistakes.png" in (project / "reports" / "report.md").read_text()


def test_dvc_shows_compact_metrics(pipeline):
    project, _ = pipeline
    metrics = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)
    text = json.dumps(metrics)
    for name in EXPERIMENTS:
        assert f"results/seed_42/{name}/metrics.json" in text
    assert "stage_seconds" not in text and "train_seconds" not in text


def test_dvc_plots_page_draws_every_chart_offline(pipeline):
    """`dvc plots show` with the template `make setup` writes: Vega is inlined, so the page
    draws in headless Chromium without the internet; one canvas per chart, each run its colour."""
    project, _ = pipeline
    template = ROOT / ".venv" / "plots_template.html"
    assert template.is_file(), "run make setup: it writes the offline plots template"
    run(["dvc", "config", "--local", "plots.html_template", str(template)], project)
    run(["dvc", "plots", "show"], project, check=False)
    page = project / "dvc_plots" / "index.html"
    html = page.read_text()
    charts = html.count("vegaEmbed('#")
    assert charts >= 3 and "cdn.jsdelivr" not in html
    # Every study with a run here is drawn with the project's template: one colour per run.
    studies = [next(iter(plot.values())) for plot in yaml.safe_load((project / "dvc.yaml").read_text())["plots"]
               if isinstance(plot, dict)]
    drawn = [study for study in studies if any((project / path).is_file() for path in study["y"])]
    assert len(drawn) >= 3 and html.count('"color": {"field": "run"') == len(drawn)
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<canvas") == charts
