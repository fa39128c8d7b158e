"""Checkpoints of a training stage, so an interrupted run can resume when `training.resume`
asks for it. They live in checkpoints/<stage>/ (git-ignored, not a DVC output) and are deleted
when the stage finishes.

A checkpoint holds the history rows so far and every variable training changes, as arrays (no
pickle): the weights, the optimizer's slots and its step counter (and, on Part B's compiled path,
the batch counter that names the dropout masks). A fingerprint of the params and the code it was
made with guards against resuming under changed params.
"""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from fashion_pipeline import files
from fashion_pipeline.params import PREPARED_DATA_KEYS


def fingerprint(params, spec):
    """A digest of everything that shapes the numbers of one run: its params and the code."""
    shaping = {"seed": params["seed"], "spec": spec, "data": {key: params["data"][key] for key in PREPARED_DATA_KEYS}}
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


class Checkpoint:
    def __init__(self, folder, digest, resume):
        self.folder, self.digest = Path(folder), digest
        meta = self.folder / "meta.json"
        usable = resume and meta.is_file() and files.read_json(meta).get("fingerprint") == digest
        if not usable:
            if resume and self.folder.exists():
                print(f"checkpoint {self.folder}: made with other params; starting afresh", flush=True)
            self.clear()

    def rows(self):
        """The saved history rows (dicts)."""
        path = self.folder / "state" / "history.csv"
        return pd.read_csv(path).to_dict("records") if path.is_file() else []

    def arrays(self):
        """The saved state arrays in order, or None."""
        path = self.folder / "state" / "state.npz"
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as saved:
            return [saved[f"array_{index}"] for index in range(len(saved.files))]

    def save(self, rows, arrays=()):
        """The rows and the state arrays in one folder that replaces the last one whole, so
        an interruption mid-save leaves the previous checkpoint intact."""
        files.write_json(self.folder / "meta.json", {"fingerprint": self.digest})
        with files.atomic_directory(self.folder / "state") as folder:
            pd.DataFrame(rows).to_csv(folder / "history.csv", index=False)
            if arrays:
                np.savez(folder / "state.npz", **{f"array_{index}": array for index, array in enumerate(arrays)})

    def clear(self):
        shutil.rmtree(self.folder, ignore_errors=True)
