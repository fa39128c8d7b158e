"""Part B: the Keras MLPs' training loop, compiled per epoch or as plain `model.fit`."""

from fashion_pipeline.keras.training import train_experiment

__all__ = ["train_experiment"]
