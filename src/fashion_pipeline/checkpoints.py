"""Checkpoints of a training stage, so an interrupted run can resume when `training.resume`
asks for it. They live in checkpoints/<stage>/ (git-ignored, not a DVC output) and are deleted
when the stage finishes.

A checkpoint holds the history rows so far and every variable training changes, as arrays (no
pickle): the weights, the optimizer's slots and its step counter, and the dropout state (on Part
B's compiled path the batch counter that names the masks, on plain fit the dropout layers' seed
state). A fingerprint of the params and of the code that can change the numbers
(`dependencies.numbers_files`) guards against resuming under changed params or code.
"""

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from fashion_pipeline import dependencies, files
from fashion_pipeline.errors import DataFileError


def fingerprint(shaping, modules):
    """A digest of everything that shapes the numbers of one run: the params it reads
    (`shaping`, a JSON-able dict) and the code of `modules` that can change them."""
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode())
    digest.update(dependencies.code_digest(modules).encode())
    return digest.hexdigest()


class Checkpoint:
    def __init__(self, folder, digest, resume):
        self.folder, self.digest = Path(folder), digest
        meta = self.folder / "meta.json"
        try:
            usable = resume and meta.is_file() and files.read_json(meta).get("fingerprint") == digest
        except (DataFileError, AttributeError):
            usable = False
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

    def restore(self, state, recorder):
        """Put the saved arrays into the state variables and replay the saved rows to the
        recorder; return the epochs done (0 when there is nothing to resume). A damaged
        checkpoint is reported in one line and training starts afresh: every array is checked
        before any variable is touched."""
        try:
            saved, rows = self.arrays(), self.rows()
            if saved is None or not rows:
                return 0
            shapes = [tuple(variable.shape) for variable in state]
            if [array.shape for array in saved] != shapes or any("epoch" not in row for row in rows):
                raise ValueError(f"{len(saved)} arrays that do not fit the {len(shapes)} variables of this run")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, pd.errors.ParserError) as error:
            print(f"checkpoint {self.folder}: damaged ({type(error).__name__}: {error}); starting afresh", flush=True)
            self.clear()
            return 0
        for variable, array in zip(state, saved, strict=True):
            variable.assign(array)
        recorder.resume(rows, self.folder)
        return len(rows)

    def save_state(self, recorder, state):
        """The history so far and every state variable, after an epoch or a chunk of epochs."""
        self.save(recorder.rows, [variable.numpy() for variable in state])

    def clear(self):
        shutil.rmtree(self.folder, ignore_errors=True)
