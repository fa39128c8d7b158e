"""Fashion-MNIST MLP experiments as a reproducible DVC pipeline tracked in MLflow."""

import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

# Log lines that TensorFlow's native libraries write while they load, before absl's logging is
# set up, so no level setting reaches them: absl's notice about that, and oneDNN's and the CPU
# feature guard's notes (which differ by CPU).
LOAD_NOISE = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\)|"
                        r"^[IW]\d{4} [\d:.]+ +\d+ (port|cpu_feature_guard|cpu_utils)\.cc:\d+\]|"
                        r"^To enable the following instructions:")


class _QuietTensorFlowLoad(importlib.abc.MetaPathFinder):
    """On the first `import tensorflow` (Keras's too), sends what the native code writes to
    file descriptor 2 while it loads to a file, and passes on every line but LOAD_NOISE."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def exec_module(module):
                with tempfile.TemporaryFile() as captured:
                    saved = os.dup(2)
                    os.dup2(captured.fileno(), 2)
                    try:
                        load(module)
                    finally:
                        os.dup2(saved, 2)
                        os.close(saved)
                        captured.seek(0)
                        kept = [line for line in captured.read().decode(errors="replace").splitlines(True)
                                if not LOAD_NOISE.search(line)]
                        sys.stderr.write("".join(kept))

            spec.loader.exec_module = exec_module
        return spec


# TensorFlow's and MLflow's own log lines (XLA start-up, schema migrations) drown the stage's
# progress lines; FASHION_PIPELINE_VERBOSE=1 keeps them. Set before either is imported.
if not os.environ.get("FASHION_PIPELINE_VERBOSE"):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    if "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietTensorFlowLoad())
