"""What the grid runner (tools/grid.py) reads of DVC: the graph of dvc.yaml's stages, what is
stale in it, the order to run it in, and the record of a finished stage in dvc.lock."""

import functools
import shlex
import time
from pathlib import Path

from fashion_pipeline import runs
from fashion_pipeline.errors import StageError
from fashion_pipeline.params import load_params
from fashion_pipeline.tools.stage_costs import Recorded, fill_estimates, training_cost

# The stage that reads its models through `results/` rather than as deps (dvc.yaml says why):
# the runner cannot see from DVC's graph that it needs them.
REGISTER = "register"


class Grid:
    """DVC's graph (its edges run from a stage to the stages it needs), what is stale in it,
    and the order the grid runs it in: seed by seed, so that each seed's results are complete
    early; within a seed the longest stages first (by their last recorded time, or for a stage
    never run by its arithmetic; then in dvc.yaml's order), so that a long stage started last
    does not keep one worker busy alone."""

    def __init__(self, targets):
        import networkx
        from dvc.repo import Repo

        self.repo = Repo()
        graph = self.repo.index.graph
        self.every_stage = stages = {stage.addressing: stage for stage in graph.nodes}
        wanted = set(stages)
        if targets:
            unknown = [target for target in targets if target not in stages]
            if unknown:
                raise StageError(f"grid: no stage {unknown[0]!r} in dvc.yaml; stages look like train_keras@keras_4l-42")
            wanted = set().union(*({target} | {stage.addressing for stage in networkx.descendants(graph, stages[target])}
                                   for target in targets))
        listing = list(stages)
        params, recorded = load_params(), Recorded()
        seconds = fill_estimates({address: recorded.seconds(address, params) for address in wanted},
                                 {address: training_cost(address, params) for address in wanted})
        needed_first = graph.subgraph([stages[address] for address in wanted]).reverse()
        self.order = [stage.addressing for stage in networkx.lexicographical_topological_sort(
            needed_first, key=lambda stage: (runs.seed_of(stage.addressing), -seconds[stage.addressing],
                                             listing.index(stage.addressing)))]
        self.stages = {address: stages[address] for address in self.order}
        self.needs = {address: {stage.addressing for stage in graph.successors(stages[address])} & wanted
                      for address in self.order}
        # Stages planned because a stage to run reads their outputs, which are nowhere here.
        self.remade = set()
        # Stages left out of the plan: address -> the stages whose outputs they need and lack.
        self.left_out = {}

    def locked(self, action):
        """`action()` under the repository's lock, as every DVC command runs; wait while
        another DVC command holds it."""
        from dvc.lock import LockError
        from dvc.repo import lock_repo

        for _ in range(60):
            try:
                with lock_repo(self.repo):
                    return action()
            except LockError:
                time.sleep(2)
        raise StageError("grid: another DVC command kept the repository locked for 2 minutes")

    def is_stale(self, address):
        """What `dvc repro --allow-missing` would run: changed code, params or inputs, or
        outputs that differ from dvc.lock; outputs only missing here (they live in another
        machine's cache) are not a change."""
        return self.locked(lambda: self.stages[address].changed(allow_missing=True))

    def restored(self, out):
        """Whether a stage's output is here, after checking it out from the cache if it holds
        it, as `dvc checkout` would. An output missing from both was made on another machine."""
        from dvc.exceptions import CheckoutError

        def checkout():
            if not out.exists and out.use_cache and out.hash_info and out.cache.exists(out.hash_info.value):
                try:
                    out.checkout()
                except CheckoutError:  # a folder whose files are not all in the cache
                    pass
            return out.exists
        return self.locked(checkout)

    def read_by(self, address, need):
        """The outputs of `need` that the stage `address` reads: those inside its deps."""
        deps = [Path(dep.fs_path) for dep in self.stages[address].deps]
        return [out for out in self.stages[need].outs
                if any(Path(out.fs_path).is_relative_to(dep) or dep.is_relative_to(out.fs_path) for dep in deps)]

    def plan(self):
        """The stages to run: the stale ones, those that made an input of a stage to run that
        neither this folder nor the cache holds, and every stage after them; but `register` when
        any of the champion's held-out models is nowhere here and the plan without `register`
        would not train it (a clone of a grid trained elsewhere): `make register` trains them
        first. (A held-out stage planned after a stale stage may still find nothing to do; then
        `register` runs, and fails in one line on the missing model.)"""
        is_stale, restored = functools.cache(self.is_stale), functools.cache(self.restored)
        planned, self.remade = self.grown(is_stale, restored, left_out=set())
        if REGISTER in planned:
            without, remade = self.grown(is_stale, restored, left_out={REGISTER})
            lacking = self.lacking_models(without, restored)
            if lacking:
                self.left_out, planned, self.remade = {REGISTER: lacking}, without, remade
        return [address for address in self.order if address in planned]

    def grown(self, is_stale, restored, left_out):
        """(the stages to run, none of `left_out` among them; those of them planned to make an
        input again)."""
        remade, planned, grown = set(), set(), True
        while grown:
            before = len(planned)
            for address in self.order:
                if address not in left_out and (self.needs[address] & planned or is_stale(address)):
                    planned.add(address)
            # From the last stage back, so that a stage brought in brings in its own inputs.
            for address in reversed(self.order):
                if address in planned:
                    missing = {need for need in self.needs[address] - planned
                               if not all(restored(out) for out in self.read_by(address, need))}
                    remade |= missing
                    planned |= missing
            grown = len(planned) > before
        return planned, remade

    def lacking_models(self, planned, restored):
        """The held-out training stages whose models `register` reads (tools/serve.py's champion
        candidates) that neither this folder nor the cache holds and that are not `planned`."""
        from fashion_pipeline.tools.serve import champion_candidates

        candidates, _ = champion_candidates(load_params())
        return [run.stage for run in candidates if run.stage not in planned
                and not all(restored(out) for out in self.every_stage[run.stage].outs)]

    def needs_run(self, address):
        """Whether a planned stage still needs its run once the stages it needs have ended:
        they may have left its inputs as they were."""
        return address in self.remade or self.is_stale(address)

    def argv(self, address):
        return shlex.split(self.stages[address].cmd)

    def watched(self, address):
        """What can change the stage's numbers besides other stages' outputs (which nothing
        changes meanwhile): its code files and its params keys, for `fingerprint`."""
        from dvc.dependency import ParamsDependency

        deps = self.stages[address].deps
        files = [dep.def_path for dep in deps if dep.def_path.startswith("src/") and Path(dep.def_path).is_file()]
        keys = [key for dep in deps if isinstance(dep, ParamsDependency) for key in dep.params]
        return files, keys

    def record(self, address):
        """Write the finished stage to dvc.lock and its cached outputs to the cache, as `dvc
        repro` does after a stage; return None, or DVC's reason in one line when it refuses (an
        output that git tracks, say), so that the other stages go on. (The runner notes Ctrl-C
        meanwhile and acts on it after, so dvc.lock is written whole.)"""
        from dvc.exceptions import DvcException

        try:
            self.locked(lambda: self.repo.commit(address, force=True))
        except DvcException as error:
            return " ".join(str(error).split())
        return None
