"""The report builder on small fabricated results: tables, gaps, verdicts, 'not run' rows."""

import json

import numpy as np
import pandas as pd
import pytest

from fashion_pipeline import analysis, document, optimizer_report, optimizers
from fashion_pipeline.report import build_report, load_results


def fabricated(train_loss, val_loss, train_accuracy=0.9, val_accuracy=0.88, epochs=4, loss_error=0.004):
    """One experiment's results: a history falling to the given final values, bottoming out early."""
    history = pd.DataFrame({
        "epoch": range(1, epochs + 1),
        "train_loss": np.linspace(2 * train_loss, train_loss, epochs),
        "val_loss": [val_loss + 0.1, val_loss - 0.05, val_loss - 0.02, val_loss][:epochs],
        "train_accuracy": np.linspace(0.5, train_accuracy, epochs),
        "val_accuracy": np.linspace(0.5, val_accuracy, epochs),
    })
    best = int(history["val_loss"].idxmin())
    return {
        "train": {"train_loss": train_loss, "val_loss": val_loss, "train_accuracy": train_accuracy,
                  "val_accuracy": val_accuracy, "best_val_loss": float(history["val_loss"][best]),
                  "best_val_epoch": best + 1, "epochs": epochs, "train_seconds": 1.5, "stage_seconds": 9.0,
                  "parameter_count": 100},
        "evaluate": {"test_loss": val_loss, "test_loss_standard_error": loss_error,
                     "test_accuracy": val_accuracy, "test_count": 10_000, "evaluate_seconds": 2.0},
        "run": {"run_id": "abc123"},
        "history": history,
    }


def test_gaps_and_rise():
    values = analysis.measures(fabricated(0.2, 0.5, 0.95, 0.9))
    assert values["gap_loss"] == pytest.approx(0.3)
    assert values["gap_accuracy"] == pytest.approx(0.05)
    assert values["val_loss_rise"] == pytest.approx(0.05)


def test_seed_comparison_differences_and_not_run_rows():
    seed_values = {"keras_3l": {"val_loss": 0.74, "val_accuracy": 0.90}, "keras_4l": {"val_loss": 0.59}}
    table = analysis.seed_comparison({"keras_3l": fabricated(0.1, 0.5, val_accuracy=0.89), "keras_4l": None}, seed_values)
    rows = {(row.experiment, row.measure): row for row in table.itertuples()}
    assert rows[("keras_3l", "val_loss")].difference == pytest.approx(0.5 - 0.74)
    assert rows[("keras_3l", "val_accuracy")].ours == pytest.approx(0.89)
    assert rows[("keras_4l", "val_loss")].ours == analysis.NOT_RUN


@pytest.mark.parametrize(
    ("first_val", "second_val", "relation", "expected"),
    [
        (0.40, 0.50, "lower", analysis.HOLDS),
        (0.50, 0.40, "lower", analysis.FAILS),
        (0.400, 0.405, "lower", analysis.NOISE),   # noise: 2 * sqrt(2) * 0.004 = 0.0113
        (0.400, 0.405, "similar", analysis.HOLDS),
        (0.40, 0.50, "similar", analysis.FAILS),
    ],
)
def test_verdicts_use_the_noise_of_the_evaluation_set(first_val, second_val, relation, expected):
    results = {"a": fabricated(0.1, first_val), "b": fabricated(0.1, second_val)}
    verdict, evidence = analysis.judge(("claim", "a", "b", "val_loss", relation), results)
    assert verdict == expected
    assert "noise ±0.0113" in evidence


def test_accuracy_noise_is_binomial():
    first = analysis.measures(fabricated(0.1, 0.4, val_accuracy=0.9))
    # 2 * sqrt(2 * 0.9 * 0.1 / 10000) = 0.00849
    assert analysis.noise("val_accuracy", first, first) == pytest.approx(0.008485, abs=1e-6)


def test_a_claim_on_a_missing_experiment_is_not_run():
    verdict, evidence = analysis.judge(("claim", "a", "b", "val_loss", "lower"), {"a": fabricated(0.1, 0.4), "b": None})
    assert verdict == analysis.NOT_RUN and "b" in evidence


def test_single_experiment_claim_on_val_loss_rise():
    results = {"a": fabricated(0.1, 0.4)}
    verdict, evidence = analysis.judge(("overfits", "a", None, "val_loss_rise", "positive"), results)
    assert verdict == analysis.HOLDS and "0.0500" in evidence


def test_dropout_table_pairs_each_variant_with_its_baseline():
    experiments = {
        "base": {"kind": "keras", "hidden_units": [8, 4], "dropout": 0.0},
        "drop": {"kind": "keras", "hidden_units": [8, 4], "dropout": 0.2},
        "taper": {"kind": "keras", "hidden_units": [8, 4], "dropout": [0.2, 0.0]},
        "orphan": {"kind": "keras", "hidden_units": [16], "dropout": 0.3},
        "lowlevel": {"kind": "lowlevel", "hidden_units": [8, 4]},
    }
    results = {"base": fabricated(0.1, 0.6), "drop": fabricated(0.3, 0.45), "taper": None, "orphan": fabricated(0.2, 0.3)}
    table = analysis.dropout_table(experiments, results).set_index("experiment")
    assert list(table.index) == ["drop", "taper", "orphan"]
    assert table.loc["drop", "baseline"] == "base"
    assert table.loc["drop", "gap_removed"] == pytest.approx(0.5 - 0.15)
    assert table.loc["taper", "status"] == analysis.NOT_RUN
    assert table.loc["orphan", "baseline"] == "none" and table.loc["orphan", "status"] == analysis.NOT_RUN


def test_weight_summary_on_known_kernels():
    summary = analysis.weight_summary([np.array([[0.0, -2.0], [0.0005, 4.0]]), np.array([[1.0], [-1.0]])])
    assert summary.loc[0, "sum_abs"] == pytest.approx(6.0005)
    assert summary.loc[0, "share_near_zero"] == pytest.approx(0.5)
    assert summary.loc[1, "sum_squares"] == pytest.approx(2.0)
    assert list(summary["shape"]) == ["2x2", "2x1"]


def write_results(folder, name, result):
    folder = folder / name
    folder.mkdir(parents=True)
    for key in ("train", "evaluate", "run"):
        filename = {"train": "train.json", "evaluate": "evaluate.json", "run": "mlflow_run.json"}[key]
        (folder / filename).write_text(json.dumps(result[key]))
    result["history"].to_csv(folder / "history.csv", index=False)
    pd.DataFrame({"class": ["a"], "precision": [0.5], "recall": [0.5], "f1": [0.5], "support": [10]}).to_csv(
        folder / "per_class.csv", index=False)
    (folder / "confusion.png").write_bytes(b"\x89PNG\r\n\x1a\n")


def test_build_report_marks_missing_experiments_as_not_run(tmp_path, params):
    names = list(params["experiments"])
    done = {"keras_4l": fabricated(0.15, 0.59), "keras_5l": fabricated(0.15, 0.58)}
    for name, result in done.items():
        write_results(tmp_path / "results", name, result)
    # A half-written result (no evaluate.json) counts as not run, not as a crash or a gap.
    (tmp_path / "results" / "keras_3l").mkdir()
    (tmp_path / "results" / "keras_3l" / "train.json").write_text("{}")
    assert load_results(tmp_path / "results", names)["keras_3l"] is None

    manifest = {"train-images-idx3-ubyte": {"source": "/here", "sha256": "0" * 64}}
    summary = {"train_count": 60000, "val_count": 10000, "test_count": 10000, "validation": "the test set", "scale": True}
    build_report(params, tmp_path / "results", tmp_path / "models", tmp_path / "reports", manifest, summary)

    table = pd.read_csv(tmp_path / "reports" / "tables" / "summary.csv").set_index("experiment")
    assert list(table.index) == names
    assert table.loc["keras_4l", "status"] == "done"
    assert (table.drop(index=list(done))["status"] == analysis.NOT_RUN).all()
    verdicts = pd.read_csv(tmp_path / "reports" / "tables" / "verdicts.csv").set_index("claim")
    assert verdicts.loc["4L and 5L perform alike (validation accuracy)", "verdict"] == analysis.HOLDS
    assert verdicts.loc["Network B reaches a lower validation loss than Network A", "verdict"] == analysis.NOT_RUN
    markdown = (tmp_path / "reports" / "report.md").read_text()
    assert "## The seed's conclusions, checked" in markdown
    assert "![Keras architectures" in markdown
    html = (tmp_path / "reports" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2
    times = pd.read_csv(tmp_path / "reports" / "tables" / "stage_times.csv")
    assert sorted(times["stage"]) == ["evaluate@keras_4l", "evaluate@keras_5l", "train@keras_4l", "train@keras_5l"]
    assert times["seconds"].sum() == pytest.approx(2 * (9.0 + 2.0))
    optimizers_table = pd.read_csv(tmp_path / "reports" / "tables" / "optimizers.csv")
    assert list(optimizers_table["run"]) == list(params["optimizers"]["runs"])
    assert set(optimizers_table["status"]) == {analysis.NOT_RUN}
    claims = pd.read_csv(tmp_path / "reports" / "tables" / "optimizer_claims.csv")
    assert set(claims["verdict"]) <= {analysis.NOT_RUN, optimizer_report.NOT_TESTED}


def test_scale_hypothesis_pairs_twins_and_judges_closeness_to_the_seed():
    base = {"kind": "keras", "hidden_units": [8], "dropout": 0.0}
    experiments = {"a": base, "a_raw": {**base, "scale": False}, "b": {**base, "hidden_units": [4]},
                   "b_raw": {**base, "hidden_units": [4], "scale": False}}
    seed_values = {"a": {"val_loss": 0.70}, "b": {"val_loss": 0.60}}
    results = {"a": fabricated(0.2, 0.35), "a_raw": fabricated(0.2, 0.65),
               "b": fabricated(0.2, 0.33), "b_raw": fabricated(0.2, 0.55)}
    table, verdict, evidence = analysis.scale_hypothesis(experiments, results, True, seed_values)
    assert list(table["twin"]) == ["a", "b"]
    assert verdict == analysis.HOLDS and "seed 0.7000" in evidence
    results["b_raw"] = fabricated(0.2, 0.2)
    assert analysis.scale_hypothesis(experiments, results, True, seed_values)[1] == analysis.FAILS
    results["b_raw"] = None
    table, verdict, _ = analysis.scale_hypothesis(experiments, results, True, seed_values)
    assert verdict == analysis.NOT_RUN and table.set_index("experiment").loc["b_raw", "status"] == analysis.NOT_RUN


def test_dropout_baseline_must_share_the_pixel_scale():
    base = {"kind": "keras", "hidden_units": [8], "dropout": 0.0}
    experiments = {"raw": {**base, "scale": False}, "plain": base, "drop": {**base, "dropout": 0.3}}
    table = analysis.dropout_table(experiments, {}).set_index("experiment")
    assert table.loc["drop", "baseline"] == "plain"


def optimizer_run(val_losses, update_norms=None, target=0.4):
    """One optimizer run's results from its per-epoch validation losses."""
    epochs = len(val_losses)
    history = pd.DataFrame({"epoch": range(1, epochs + 1), "train_loss": val_losses, "val_loss": val_losses,
                            "update_norm": update_norms if update_norms is not None else [0.1] * epochs})
    reached = history.loc[history["val_loss"] <= target, "epoch"]
    final = {"train_loss": val_losses[-1], "val_loss": val_losses[-1], "train_accuracy": 0.9, "val_accuracy": 0.88,
             "best_val_loss": min(val_losses), "best_val_epoch": int(np.argmin(val_losses)) + 1,
             "epochs_to_target": int(reached.iloc[0]) if len(reached) else -1, "train_seconds": 3.0, "stage_seconds": 5.0}
    return {"train": final, "history": history, "run": {"run_id": "run"}}


def test_optimizer_claims_compare_epochs_to_target_and_step_lengths(params):
    study = params["optimizers"]
    spec = study["runs"]["adam"]
    corrected = [0.1] * 12
    uncorrected = [0.1 * optimizers.bias_correction_factor(step, spec["beta_1"], spec["beta_2"]) for step in range(1, 13)]
    runs = {
        "adam": optimizer_run([0.9, 0.5, 0.39, 0.35] * 3, corrected),
        "sgd_momentum": optimizer_run([0.9, 0.8, 0.7, 0.6] * 3),
        "rmsprop": optimizer_run([0.9, 0.38, 0.36, 0.35] * 3),
        "adam_decay": optimizer_run([0.9, 0.5, 0.39, 0.35] * 3),
        "adam_no_bias_correction": optimizer_run([0.9, 0.5, 0.39, 0.35] * 3, uncorrected),
    }
    claims = optimizer_report.claims(study, runs).set_index("claim")["verdict"].tolist()
    # Adam reaches 0.4 at epoch 3, SGD-M never, RMSprop at epoch 2; decay ties with Adam.
    assert claims[:3] == [analysis.HOLDS, analysis.FAILS, analysis.NOISE]
    # Uncorrected steps larger than corrected ones: the seed's "too small" reading does not hold.
    assert claims[3] == analysis.FAILS
    assert claims[4] == optimizer_report.NOT_TESTED
    table = optimizer_report.step_size_table(runs["adam"], runs["adam_no_bias_correction"], 10, spec["beta_1"], spec["beta_2"])
    np.testing.assert_allclose(table["measured_ratio"], table["predicted_ratio"])
    runs["sgd_momentum"] = None
    assert optimizer_report.claims(study, runs)["verdict"].iloc[0] == analysis.NOT_RUN


def test_optimizer_table_marks_missing_runs_and_unreached_targets(params):
    study = params["optimizers"]
    runs = {name: None for name in study["runs"]}
    runs["sgd"] = optimizer_run([0.9, 0.8, 0.7])
    table = optimizer_report.comparison_table(study, runs).set_index("run")
    assert table.loc["sgd", "status"] == "done"
    assert table.loc["sgd", f"epochs_to_val_loss_{study['target_val_loss']}"] == "not reached"
    assert (table.drop(index="sgd")["status"] == analysis.NOT_RUN).all()


def test_tables_show_small_values_such_as_epsilon(tmp_path):
    frame = pd.DataFrame({"source": ["keras"], "learning_rate": [0.001], "epsilon": [1e-07], "beta_1": [0.9]})
    blocks = [("table", frame)]
    markdown, page = document.to_markdown(blocks, tmp_path), document.to_html(blocks, "t")
    for text in (markdown, page):
        assert "1e-07" in text and "0.0010" in text and "0.9000" in text
        assert "0.0000" not in text
