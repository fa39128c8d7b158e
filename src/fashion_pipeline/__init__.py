"""Fashion-MNIST MLP experiments as a reproducible DVC pipeline tracked in MLflow."""
