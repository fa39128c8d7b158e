"""Part A: the hand-written network, its full-batch training, and the optimizers written out
from their update rules."""

from fashion_pipeline.lowlevel.trainer import train_experiment

__all__ = ["train_experiment"]
