"""The end-to-end project when things go wrong: a stage stopped by SIGTERM, a stage that fails
under `dvc repro` for three causes, and what a stage prints on any CPU."""

import shutil
import signal
import subprocess

import mlflow
import pytest
import yaml
from conftest import pipeline_env, run

pytestmark = pytest.mark.slow


@pytest.fixture
def project(pipeline, tmp_path):
    """A copy of the end-to-end project for a test that breaks it on purpose, so the tests of the
    other files never see what these leave behind."""
    copied = tmp_path / "project"
    shutil.copytree(pipeline[0], copied, symlinks=True)
    return copied


@pytest.mark.reliability
def test_sigterm_during_training_ends_the_run_killed_and_leaves_no_finished_output(project):
    original = (project / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["experiments"]["keras"]["keras_softmax"]["epochs"] = 10_000
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    results = project / "results" / "seed_43" / "keras_softmax"
    shutil.rmtree(results)
    process = subprocess.Popen(
        ["python", "-m", "fashion_pipeline.stages.train", "--stage", "train_keras@keras_softmax-43"],
        cwd=project, env=pipeline_env(project), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    for line in process.stdout:
        if "epoch 2/" in line:
            break
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    (project / "params.yaml").write_text(original)
    assert process.returncode == 130, output
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["fashion-mnist-mlp"],
                              filter_string="tags.dvc_stage = 'train_keras@keras_softmax-43'")
    assert sorted(runs["status"]) == ["FINISHED", "KILLED"]
    assert not (results / "run.json").exists() and not (results / "train.json").exists()
    assert not list(project.rglob(".*.*.keras")), "a temporary model was left behind"


@pytest.mark.parametrize("cause", ["an unusable tracking store", "the wrong interpreter", "missing prepared data"])
def test_a_stage_that_fails_under_dvc_repro_leaves_its_committed_outputs_byte_for_byte(project, cause, tmp_path):
    """DVC removes a stage's outputs before it runs it, unless they persist: here they do, and the
    stage replaces each atomically only when it succeeds."""
    stage, folder = "train_keras@keras_4l_drop_taper-42", project / "results" / "seed_42" / "keras_4l_drop_taper"
    outputs = [*sorted(folder.iterdir()), project / "models" / "seed_42" / "keras_4l_drop_taper.keras"]
    before = {path: path.read_bytes() for path in outputs}
    env = pipeline_env(project)
    dvc = [shutil.which("dvc", path=env["PATH"]), "repro", "--single-item", "--force", stage]
    prepared = project / "data" / "prepared"
    if cause == "an unusable tracking store":
        env["MLFLOW_TRACKING_URI"] = "bogus://nowhere"
    elif cause == "the wrong interpreter":
        # A `python` that is not the project's: DVC runs the stage's command with whatever is first.
        (tmp_path / "python").write_text("#!/bin/sh\necho 'No module named fashion_pipeline' >&2\nexit 1\n")
        (tmp_path / "python").chmod(0o755)
        env["PATH"] = f"{tmp_path}:{env['PATH']}"
    else:
        prepared.rename(tmp_path / "prepared")
    try:
        result = subprocess.run(dvc, cwd=project, env=env, capture_output=True, text=True)
    finally:
        if not prepared.exists():
            (tmp_path / "prepared").rename(prepared)
    assert result.returncode != 0, result.stdout
    assert {path: path.read_bytes() for path in outputs} == before
    # What DVC recorded still describes those files: nothing is stale, nothing is lost.
    assert "up to date" in run(["dvc", "status", stage], project).stdout


def test_stages_print_only_their_own_lines_on_any_cpu(project):
    """Nothing from TensorFlow, XLA, absl or oneDNN reaches the terminal: not while TensorFlow's
    native code loads (where no log level reaches), nor while a stage trains, nor when it fails."""
    env = {key: value for key, value in pipeline_env(project).items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    original = (project / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["experiments"]["keras"]["keras_softmax"]["epochs"] = 1
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # Plain `model.fit` (jit_compile: false) feeds its batches through tf.data, whose native
    # code has its own log lines.
    params["training"]["jit_compile"] = False
    (project / "plain.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stages = {"compiled": ("train_keras@keras_softmax-42", "params.yaml"),
              "plain": ("train_keras@keras_softmax-42", "plain.yaml"),
              "refused": ("train_keras@no_such_experiment-42", "params.yaml")}
    try:
        runs = {name: subprocess.run(["python", "-m", "fashion_pipeline.stages.train", "--stage", stage,
                                      "--params", params_file], cwd=project, env=env, capture_output=True, text=True)
                for name, (stage, params_file) in stages.items()}
    finally:
        (project / "params.yaml").write_text(original)
    refused = runs.pop("refused")
    assert refused.returncode == 2
    for trained in runs.values():
        assert trained.returncode == 0 and trained.stderr == "", trained.stderr
        assert trained.stdout.splitlines()[0].startswith("train_keras@keras_softmax-42: epoch 1/1")
        assert all(line.startswith("train_keras@keras_softmax-42: ") for line in trained.stdout.splitlines())
    assert refused.stdout == "" and len(refused.stderr.splitlines()) == 1
    assert refused.stderr.startswith("error: params.yaml: 'experiments.keras' is 'no_such_experiment'")
