"""Fashion-MNIST MLP experiments as a reproducible DVC pipeline tracked in MLflow."""

import os

# TensorFlow's and MLflow's own log lines (oneDNN notices, XLA start-up, schema migrations) drown
# the stage's progress lines; FASHION_PIPELINE_VERBOSE=1 keeps them. Set before either is imported.
if not os.environ.get("FASHION_PIPELINE_VERBOSE"):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
