"""`make bench` keeps working: its code runs whole, on the real images, at a small size."""

import json
import subprocess
import sys

import pytest
from conftest import copy_project, pipeline_env, run, small_params

pytestmark = pytest.mark.slow

# The benchmark's training-loop measurements read these experiments; its grids run the demo's
# grid and `bench.slice`, both cut here to a few stages of one epoch.
MEASURED = ["lowlevel_softmax", "lowlevel_net_b", "keras_softmax", "keras_2l", "keras_4l", "keras_5l"]
SLICE = ["train_keras@keras_softmax-42"]


def ratio_of_rounded(ratio, top, bottom):
    """`ratio` is top / bottom, all three rounded to the file's four decimals."""
    return abs(ratio - top / bottom) <= 5e-5 + 5e-5 * (1 + ratio) / bottom


def test_the_benchmark_runs_on_the_demo_grid_and_writes_every_figure(tmp_path, project_params, real_data):
    params = small_params(project_params, MEASURED, epochs=1, limit_train=300, limit_test=100, seeds=(42,))
    params["demo"].update(experiments=["lowlevel_softmax", "keras_softmax"], optimizer_runs=["adam"], seeds=[42],
                          epochs=1)
    params["bench"].update(slice=SLICE, breakdown=SLICE, server_writers=[1, 3], server_epochs=4)
    project = copy_project(tmp_path / "project", params)
    run(["dvc", "repro", "prepare"], project)
    result = subprocess.run([sys.executable, "-m", "fashion_pipeline.tools.benchmark", "--out", "bench.json"],
                            cwd=project, env=pipeline_env(project), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads((project / "bench.json").read_text())
    assert {"machine", "matmul_gflops", "lowlevel_seconds_per_epoch", "lowlevel_gflops", "lowlevel_matmul_ratio",
            "fit_paths", "keras_speedup_vs_default_fit", "mlflow_overhead_fraction", "full_grid_minutes", "team_server",
            "grid"} <= set(figures)
    # Each training path a Keras user would pick, on the same model, weights and batches: XLA
    # where it was asked for, its speed over plain fit's, and how far its weights moved.
    for paths in figures["fit_paths"].values():
        assert set(paths) == {"project_epoch", "fit_default", "fit_xla_steps_32", "fit_xla_steps_256",
                              "fit_xla_steps_epoch"}
        assert [path for path, timed in paths.items() if not timed["xla"]] == ["fit_default"]
        assert paths["project_epoch"]["max_weight_difference"] == 0 and paths["project_epoch"]["same_numbers"]
        for timed in paths.values():
            assert timed["speedup_vs_default_fit"] == pytest.approx(
                timed["samples_per_second"] / paths["fit_default"]["samples_per_second"], rel=1e-3)
            # Four decimals in the file: a difference may round to 0, never the other way.
            assert timed["max_weight_difference"] == 0 or not timed["same_numbers"]
    # Each Keras slice stage's compiled epoch alone, against the roofline its stage is set against.
    assert set(figures["compiled_epochs"]) == {"keras_softmax"}
    for name, timed in figures["compiled_epochs"].items():
        assert ratio_of_rounded(timed["over_roofline"], timed["seconds_per_epoch"], timed["roofline_seconds_per_epoch"])
        roofline = figures["grid"]["slice_stages"][f"train_keras@{name}-42"]["roofline"]
        assert timed["roofline_seconds_per_epoch"] == pytest.approx(roofline["roofline_seconds"] / roofline["epochs"],
                                                                    abs=1e-4)
        assert timed["elementwise_seconds_per_epoch"] == roofline["elementwise_seconds_per_epoch"]
    # keras_4l on scaled and raw pixels, epoch by epoch in turn: a ratio of the two timings, and
    # the subnormal floats each leaves (none, where TensorFlow flushes them to zero).
    pixels = figures["pixel_scale"]
    assert ratio_of_rounded(pixels["raw_over_scaled"], pixels["raw"]["seconds_per_epoch"],
                            pixels["scaled"]["seconds_per_epoch"])
    # TensorFlow's CPU kernels flush subnormals to zero (as they do on x86-64): no compiled step
    # leaves one in the weights, Adam's state or the activations.
    assert pixels["flushes_subnormals"]
    for scale in ("scaled", "raw"):
        assert pixels[scale]["subnormal_state"] == pixels[scale]["subnormal_activations"] == 0
    # No stage-times table in a fresh project: the full grid's minutes are unknown, not zero.
    assert figures["full_grid_minutes"] is None
    grid = figures["grid"]
    for label in ("subset", "slice"):
        assert min(grid[f"{label}_{way}_seconds"] for way in ("sequential", "cold_runner", "runner")) > 0
        assert grid[f"{label}_runner_speedup"] == pytest.approx(
            grid[f"{label}_sequential_seconds"] / grid[f"{label}_runner_seconds"], rel=1e-3)
        assert grid[f"{label}_warm_speedup"] == pytest.approx(
            grid[f"{label}_cold_runner_seconds"] / grid[f"{label}_runner_seconds"], rel=1e-3)
        # The runner's own work is a part of its time, and it recorded each stage it ran.
        own_work = grid[f"{label}_runner_own_work"]
        assert own_work["recording"] > 0 and own_work["planning"] > 0
        assert 0 < own_work["share_of_runner_seconds"] < 1
    assert grid["slice_runner_own_work"]["stages_run"] == len(SLICE)
    assert set(grid["slice_stages"]) == set(SLICE)
    for rates in grid["slice_stages"].values():
        # The stage forked warm by the runner wrote dvc repro's numbers, to the bit.
        assert rates["runner_history_equals_sequential"] is True
        # At 300 images an epoch, start-up dominates: a share of the bound far below 1 that the
        # file's four decimals may round to 0.
        roofline = rates["roofline"]
        assert set(roofline["seconds_per_epoch"]) == {"products", "optimizer", "dropout", "measurement"}
        # The roofline is its parts times the epochs, to the file's four decimals.
        assert roofline["roofline_seconds"] == pytest.approx(
            roofline["epochs"] * sum(roofline["seconds_per_epoch"].values()), abs=5e-4)
        # The rest of a step, timed beside the roofline, lowers the ratio it is counted in.
        for way in ("sequential", "runner"):
            assert rates[f"{way}_over_roofline_and_elementwise"] <= rates[f"{way}_over_roofline"]
            assert rates[f"{way}_samples_per_second"] > 0 and 0 <= rates[f"{way}_share_of_bound"] < 1
            assert rates[f"{way}_over_roofline"] == pytest.approx(
                rates[f"{way}_train_seconds"] / roofline["roofline_seconds"], rel=0.05)
    # A Keras stage's breakdown; test_a_stages_breakdown_... checks a Part A one's.
    # Each as its own process, and forked warm as the runner starts it.
    assert set(grid["breakdown"]) == set(grid["breakdown_warm"]) == set(SLICE)
    for address in SLICE:
        check_breakdown(grid["breakdown"][address], kind="keras", decimals=4)
        check_breakdown(grid["breakdown_warm"][address], kind="keras", decimals=4, warm=True)
    # The keras stage's evaluation, whole, as its own process and forked warm; no committed grid
    # in a fresh project to estimate an overhead of.
    evaluation = grid["evaluation"]
    assert set(evaluation["stages"]) == {"evaluate_keras@keras_softmax-42"}
    for way in ("cold", "warm"):
        timed = evaluation["stages"]["evaluate_keras@keras_softmax-42"]
        assert 0 < timed[f"{way}_evaluate_seconds"] < timed[f"{way}_seconds"]
        assert evaluation[f"{way}_outside_seconds"] == pytest.approx(
            timed[f"{way}_seconds"] - timed[f"{way}_evaluate_seconds"], abs=1e-3)
    assert grid["grid_overhead"] is None
    assert 0 < figures["mlflow_overhead_fraction"] < 1
    # The team server's latency at each number of writers, every request of every writer timed.
    assert set(figures["team_server"]) == {"1_writers", "3_writers"}
    for writers, latency in figures["team_server"].items():
        assert 0 < latency["p50"] <= latency["p99"] and latency["requests"] == int(writers.split("_")[0]) * 4
    # The subset grid's champion, served: latency percentiles in order, rates above zero.
    serving = grid["serving"]
    for way in ("served", "in_process"):
        latency = serving[f"{way}_one_image_seconds"]
        assert 0 < latency["p50"] <= latency["p99"]
        assert serving[f"{way}_images_per_second_in_batches"] > 0
    assert serving["flop_bound_images_per_second"] > serving["served_images_per_second_in_batches"]


def test_the_full_grid_minutes_add_up_the_reports_stage_times(tmp_path):
    from fashion_pipeline.tools.benchmark import full_grid_minutes

    table = tmp_path / "stage_times.csv"
    table.write_text("stages,seed,minutes\nPart A and B training,42,100.5\nevaluation,42,1.5\n")
    assert full_grid_minutes(table) == pytest.approx(102.0)
    assert full_grid_minutes(tmp_path / "missing.csv") is None


def test_a_step_has_three_products_a_layer_but_the_first_layers_input_gradient():
    from fashion_pipeline.tools.roofline import product_flops, product_shapes

    sizes, batch = [784, 300, 100, 10], 32
    forward = product_flops(product_shapes(sizes, batch, backward=False))
    assert forward == 2 * batch * (784 * 300 + 300 * 100 + 100 * 10)
    assert product_flops(product_shapes(sizes, batch, backward=True)) == 3 * forward - 2 * batch * 784 * 300


def test_the_rooflines_products_read_their_operands_as_tensorflows_gradient_does():
    import tensorflow as tf

    from fashion_pipeline.tools.roofline import product_shapes

    sizes, rows = [6, 5, 4, 3], 7
    weights = [tf.Variable(tf.random.normal([fan_in, fan_out])) for fan_in, fan_out in zip(sizes[:-1], sizes[1:])]
    features = tf.random.normal([rows, sizes[0]])

    @tf.function
    def gradients():
        with tf.GradientTape() as tape:
            outputs = features
            for weight in weights:
                outputs = tf.nn.relu(tf.matmul(outputs, weight))
            loss = tf.reduce_sum(outputs)
        return tape.gradient(loss, weights)

    # Every product the traced step runs, as (rows, inner, columns, the operand read transposed).
    products = []
    for operation in gradients.get_concrete_function().graph.get_operations():
        if operation.type == "MatMul":
            (left_rows, left_columns), (right_rows, right_columns) = (tensor.shape for tensor in operation.inputs)
            transpose_left, transpose_right = operation.get_attr("transpose_a"), operation.get_attr("transpose_b")
            products.append(((left_columns, left_rows) if transpose_left else (left_rows, left_columns))
                            + (right_rows if transpose_right else right_columns,
                               "left" if transpose_left else "right" if transpose_right else None))
    assert sorted(products, key=str) == sorted(product_shapes(sizes, rows, backward=True), key=str)


@pytest.mark.parametrize(("name", "kind"), [("keras_4l_drop20", "keras"), ("keras_2l", "keras"),
                                            ("lowlevel_softmax", "lowlevel")])
def test_a_roofline_is_its_parts_times_the_epochs_and_masks_only_where_there_is_dropout(name, kind, project_params):
    from fashion_pipeline.params import all_experiments
    from fashion_pipeline.tools.roofline import stage_roofline

    spec = all_experiments(project_params)[name]
    roofline = stage_roofline(spec, kind, 640, [200, 100], epochs=3, repeats=5, rounds=1)
    parts = roofline["seconds_per_epoch"]
    assert roofline["roofline_seconds"] == pytest.approx(3 * sum(parts.values()))
    assert (parts["dropout"] > 0) == (spec.get("dropout", 0) > 0)
    assert parts["products"] > 0 and parts["optimizer"] > 0 and parts["measurement"] > 0
    assert roofline["pretransposed_products_seconds_per_epoch"] > 0


def test_part_as_compiled_epoch_alone_and_under_xla_are_set_against_its_roofline(project_params):
    import numpy as np

    from fashion_pipeline.params import all_experiments
    from fashion_pipeline.tools.benchmark import lowlevel_compiled_epoch

    spec = all_experiments(project_params)["lowlevel_net_a"]
    generator = np.random.default_rng(0)

    def images(count):
        return (generator.random((count, 784), dtype=np.float32),
                np.eye(10, dtype=np.float32)[generator.integers(0, 10, count)])

    roofline = {"seconds_per_epoch": {"products": 0.15, "optimizer": 0.03, "dropout": 0.0, "measurement": 0.02}}
    timed = lowlevel_compiled_epoch(spec, images(640), {"train_eval": images(200), "val": images(100)}, roofline,
                                    epochs=2, rounds=2)
    assert timed["roofline_seconds_per_epoch"] == pytest.approx(0.2)
    for path in ("graph", "xla"):
        assert timed[path]["over_roofline"] == pytest.approx(timed[path]["seconds_per_epoch"] / 0.2)
    # The same 5 Adam steps from the same weights: XLA's fused sums round in another order, which
    # moves a weight by float32 roundings, far below the 0.005 the steps can move it at this rate.
    assert 0 <= timed["xla_max_weight_difference"] < 1e-4


def test_every_experiment_is_timed_on_its_own_pixel_scale_against_its_roofline(project_params, monkeypatch):
    import numpy as np

    from fashion_pipeline.params import all_experiments
    from fashion_pipeline.tools import experiment_epochs

    generator = np.random.default_rng(0)

    def images(count, scale):
        return (scale * generator.random((count, 784), dtype=np.float32),
                np.eye(10, dtype=np.float32)[generator.integers(0, 10, count)])

    data_by_scale = {scale: (images(640, 1.0 if scale else 255.0), {"val": images(100, 1.0 if scale else 255.0)})
                     for scale in (True, False)}
    specs = all_experiments(project_params)
    chosen = {"lowlevel": {"lowlevel_softmax": specs["lowlevel_softmax"]},
              "keras": {name: specs[name] for name in ("keras_softmax", "keras_3l_raw")}}
    assert specs["keras_3l_raw"]["scale"] is False and "scale" not in specs["keras_softmax"]
    # Each experiment gets the data of its own scale.
    given = {}
    monkeypatch.setattr(experiment_epochs, "experiment_epoch",
                        lambda spec, kind, train, sets, **timing: given.setdefault(kind, []).append(train) or {})
    experiment_epochs.experiment_epochs(chosen, data_by_scale, default_scale=True)
    assert [train is data_by_scale[True][0] for train in given["lowlevel"]] == [True]
    assert [train is data_by_scale[True][0] for train in given["keras"]] == [True, False]
    monkeypatch.undo()
    # Each timed for real at a small size: its ratio is its two timings'.
    for kind, name in (("lowlevel", "lowlevel_softmax"), ("keras", "keras_softmax")):
        timed = experiment_epochs.experiment_epoch({**specs[name], "epochs": 2}, kind, *data_by_scale[True], epochs=2,
                                                   rounds=1)
        assert timed["kind"] == kind and timed["epochs"] == 2
        assert timed["over_roofline"] == pytest.approx(timed["seconds_per_epoch"] / timed["roofline_seconds_per_epoch"])
        assert timed["roofline_seconds_per_epoch"] == pytest.approx(sum(timed["roofline"]["seconds_per_epoch"].values()))


def test_a_grids_overhead_is_each_stages_time_beyond_its_arithmetic_summed(tmp_path, project_params):
    from fashion_pipeline.tools.grid_bench import committed_grid, costliest_by_code, grid_overhead
    from fashion_pipeline.tools.stage_breakdown import PARTS

    # Two committed runs of each code and an evaluation, as the results folder holds them.
    for folder, seconds in (("seed_42/keras_2l", 100.0), ("seed_42/holdout/keras_2l", 50.0),
                            ("seed_42/lowlevel_softmax", 60.0), ("seed_42/optimizers/adam", 40.0)):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "run.json").write_text(json.dumps({"train_seconds": seconds}))
    (tmp_path / "seed_42/keras_2l/evaluation.json").write_text(json.dumps({"evaluate_seconds": 2.0}))
    trained, evaluated = committed_grid(tmp_path, project_params)
    assert sorted(trained) == [("keras", 50.0), ("keras", 100.0), ("lowlevel", 40.0), ("lowlevel", 60.0)]
    assert evaluated == [2.0] and committed_grid(tmp_path / "none", project_params) is None
    # Beyond train_seconds: imports and exit; inside it: compile, and the arithmetic.
    parts = {code: {**dict.fromkeys(PARTS, 0.0), **timed} for code, timed in (
        ("keras", {"imports": 5.0, "exit": 1.0, "compile": 2.0, "training": 90.0, "measurement": 8.0}),
        ("lowlevel", {"imports": 7.0, "exit": 1.0, "compile": 1.0, "training": 50.0, "measurement": 0.0}))}
    # Of two Keras stages broken down, the one with more time outside its arithmetic stands for all.
    cheaper = {**parts["keras"], "imports": 1.0}
    assert costliest_by_code({"train_keras@keras_softmax-42": {"parts": cheaper},
                              "train_keras@keras_2l-42": {"parts": parts["keras"]},
                              "train_lowlevel@lowlevel_softmax-42": {"parts": parts["lowlevel"]}}) == parts
    estimate = grid_overhead(trained, evaluated, parts, evaluation_outside=4.0)
    seconds = (150 + 2 * 6) + (100 + 2 * 8) + (2 + 4)
    overhead = 2 * 8 + 2 * 9 + 4
    assert estimate["stage_hours"] == pytest.approx(seconds / 3600)
    assert estimate["overhead_hours"] == pytest.approx(overhead / 3600)
    assert estimate["overhead_share"] == pytest.approx(overhead / seconds)
    assert (estimate["training_stages"], estimate["evaluations"]) == (4, 1)


def check_breakdown(timed, kind, decimals, warm=False):
    from fashion_pipeline.tools.stage_breakdown import PARTS

    parts = timed["parts"]
    assert set(parts) == set(PARTS)
    # Each part is a time of its own; together they are the process, from its start to its exit
    # (to the rounding of each part to `decimals`).
    assert all(seconds >= 0 for seconds in parts.values()), parts
    assert sum(parts.values()) == pytest.approx(timed["seconds"], abs=len(parts) * 10 ** -decimals)
    assert sum(timed["shares"].values()) == pytest.approx(1.0, abs=len(parts) * 10 ** -decimals)
    # What only a stage's own steps can take: its imports (but where a warm server made them
    # before the stage began), its data, its epochs, its model.
    for part in ("python_start", *(() if warm else ("imports",)), "data", "training", "model_save", "model_logging",
                 "exit"):
        assert parts[part] > 0, part
    # Part A measures its sets inside its compiled epochs.
    assert parts["measurement"] > 0 if kind == "keras" else parts["measurement"] == 0


def test_a_stages_breakdown_adds_up_to_its_process_from_start_to_exit(tmp_path, project_params, real_data):
    from fashion_pipeline.tools.stage_breakdown import breakdown

    params = small_params(project_params, ["keras_2l", "lowlevel_softmax"], epochs=4, limit_train=300,
                          limit_test=100, seeds=(42,))
    project = copy_project(tmp_path / "project", params)
    run(["dvc", "repro", "prepare"], project)
    check_breakdown(breakdown(project, "train_lowlevel@lowlevel_softmax-42", pipeline_env(project)), kind="lowlevel",
                    decimals=15)
    # The stage ran as a stage does: its results are there.
    assert (project / "results" / "seed_42" / "lowlevel_softmax" / "train.json").is_file()
