"""What the git history shows, read from it: params.yaml's `report.blind_seeds` never states a seed
the history does not show a primary claim blind to, and results/training_cpus.csv names the CPU kind
of the machine whose stretch of the history holds each run's training, on this repository and on
small ones made here."""

import os
import shutil
import subprocess

import yaml
from conftest import ROOT

from fashion_pipeline.judging.claims import CLAIMS
from fashion_pipeline.params import load_params
from fashion_pipeline.judging.results import load_experiments
from fashion_pipeline.tools import registration, training_cpus


def test_the_stated_blind_seeds_are_ones_the_git_history_shows():
    params = load_params(ROOT / "params.yaml")
    stated = params["report"]["blind_seeds"]
    assert set(stated) == set(params["report"]["primary_claims"])
    shown = registration.blind_seeds(ROOT, params)
    for name, seeds in stated.items():
        assert set(seeds) <= set(shown[name]), (name, seeds, shown[name])


def test_todays_claims_read_from_their_source_as_they_are_defined():
    source = (ROOT / registration.CLAIM_FILES[0]).read_text()
    found = registration.signatures(source)
    assert found == {claim.name: registration.current_signature(claim) for claim in CLAIMS}


def commit_at(folder, second):
    """Everything in `folder` committed at 00:00:<second> of a fixed day (git times are whole seconds)."""
    stamp = f"2026-01-01T00:00:{second:02d}"
    subprocess.run(["git", "add", "-A"], cwd=folder, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", str(second)], cwd=folder,
                   check=True, env={**os.environ, "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp})


def test_a_claim_is_blind_to_the_seeds_whose_results_came_after_it(tmp_path, project_params):
    """Seed 42's results, then the claim among the primary ones, then seed 43's: blind to 43
    only. Seed 42's run.json rewritten later (where and how long, no number) changes nothing;
    its history rewritten later makes it blind to 42 too."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "src/fashion_pipeline/judging").mkdir(parents=True)
    shutil.copy(ROOT / registration.CLAIM_FILES[0], tmp_path / registration.CLAIM_FILES[0])
    params = {**project_params, "seeds": [42, 43], "report": {**project_params["report"], "primary_claims": []}}
    claim, runs = "b_beats_a", ("lowlevel_net_a", "lowlevel_net_b")

    def results(seed, loss="1"):
        for run in runs:
            folder = tmp_path / f"results/seed_{seed}/{run}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "history.csv").write_text(f"epoch,val_loss\n1,{loss}\n")
            (folder / "run.json").write_text("{}")

    def primary(names):
        params["report"]["primary_claims"] = names
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

    primary([])
    results(42)
    commit_at(tmp_path, 0)
    primary([claim])
    commit_at(tmp_path, 1)
    results(43)
    commit_at(tmp_path, 2)
    assert registration.blind_seeds(tmp_path, params) == {claim: [43]}
    (tmp_path / f"results/seed_42/{runs[0]}/run.json").write_text('{"seconds": 1}')
    commit_at(tmp_path, 3)
    assert registration.blind_seeds(tmp_path, params) == {claim: [43]}
    results(42, "2")
    commit_at(tmp_path, 4)
    assert registration.blind_seeds(tmp_path, params) == {claim: [42, 43]}


def test_the_committed_training_cpus_are_what_the_history_shows(tmp_path):
    params = load_params(ROOT / "params.yaml")
    committed = (ROOT / training_cpus.TABLE).read_text().splitlines()
    training_cpus.write(training_cpus.training_cpus(ROOT, params), tmp_path / "training_cpus.csv")
    assert committed == (tmp_path / "training_cpus.csv").read_text().splitlines()
    trained = subprocess.run(["git", "ls-files", "results/seed_*/**/train.json"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert len(committed) - 1 == len(trained)


def test_a_run_takes_the_cpu_of_the_commit_that_wrote_its_training(tmp_path, project_params):
    """Seed 42 trained in the first machine's stretch, seed 43 after it: each gets its machine's
    kind. Seed 42 evaluated again later, elsewhere (metrics.json, run.json) keeps its kind; its
    history written again later takes the later machine's; the report's runs carry the kind."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)

    def trained(seed, loss="1"):
        folder = tmp_path / f"results/seed_{seed}/keras_2l"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "history.csv").write_text(f"epoch,val_loss,train_loss_running\n1,{loss},1\n")
        (folder / "train.json").write_text("{}")
        (folder / "run.json").write_text("{}")

    trained(42)
    commit_at(tmp_path, 0)
    first = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tmp_path, capture_output=True, text=True,
                           check=True).stdout.strip()
    trained(43)
    commit_at(tmp_path, 1)
    params = {**project_params, "report": {**project_params["report"], "training_machines": [
        {"cpu": "Intel Xeon", "through": first}, {"cpu": "AMD EPYC", "through": "HEAD"}]}}

    def kinds():
        return {row["folder"]: row["cpu"] for row in training_cpus.training_cpus(tmp_path, params)}

    assert kinds() == {"seed_42/keras_2l": "Intel Xeon", "seed_43/keras_2l": "AMD EPYC"}
    (tmp_path / "results/seed_42/keras_2l/metrics.json").write_text("{}")
    (tmp_path / "results/seed_42/keras_2l/run.json").write_text('{"seconds": 1}')
    commit_at(tmp_path, 2)
    assert kinds()["seed_42/keras_2l"] == "Intel Xeon"
    trained(42, "2")
    commit_at(tmp_path, 3)
    assert kinds()["seed_42/keras_2l"] == "AMD EPYC"
    training_cpus.write(training_cpus.training_cpus(tmp_path, params), tmp_path / training_cpus.TABLE)
    for seed in (42, 43):
        for name in ("metrics.json", "evaluation.json"):
            (tmp_path / f"results/seed_{seed}/keras_2l/{name}").write_text("{}")
    runs = load_experiments(tmp_path / "results", ["keras_2l"], [42, 43])["keras_2l"]
    assert {seed: run.cpu for seed, run in runs.items()} == {42: "AMD EPYC", 43: "AMD EPYC"}
