"""The numbers and conclusions of the coursework, to put beside ours in the report.

Values are copied from the coursework's text (Part A at 500 full-batch epochs, Part B at 30 epochs).
Its Part A accuracies are the rounded element-wise metric, so they sit beside our
*_rounded_accuracy columns; its L1/L2 losses include the penalty (total loss).
"""

COURSEWORK_VALUES = {
    "lowlevel_softmax": {"train_loss": 0.4861, "val_loss": 0.5208},
    "lowlevel_net_a": {"train_loss": 0.2177, "val_loss": 0.3302,
                       "train_rounded_accuracy": 0.9850, "val_rounded_accuracy": 0.9775},
    "lowlevel_net_b": {"train_loss": 0.2094, "val_loss": 0.3329,
                       "train_rounded_accuracy": 0.9856, "val_rounded_accuracy": 0.9775},
    "lowlevel_net_b_l2": {"train_total_loss": 0.48, "val_total_loss": 0.42},
    "lowlevel_net_b_l1": {"train_total_loss": 0.82, "val_total_loss": 0.84},
    "keras_2l": {"train_loss": 0.1413, "val_loss": 0.6409},
    "keras_3l": {"train_loss": 0.1189, "train_accuracy": 0.9622, "val_loss": 0.7409, "val_accuracy": 0.8999},
    "keras_4l": {"train_loss": 0.1482, "train_accuracy": 0.9526, "val_loss": 0.5939, "val_accuracy": 0.9049},
    "keras_5l": {"train_loss": 0.1503, "train_accuracy": 0.9535, "val_loss": 0.5802, "val_accuracy": 0.9071},
    "keras_4l_drop20": {"train_loss": 0.2937, "train_accuracy": 0.9102, "val_loss": 0.3848, "val_accuracy": 0.9003},
    "keras_4l_drop30": {"train_loss": 0.3661, "train_accuracy": 0.8904, "val_loss": 0.3781, "val_accuracy": 0.8911},
    "keras_4l_drop_taper": {"train_loss": 0.3054, "train_accuracy": 0.9069, "val_loss": 0.3443, "val_accuracy": 0.9034},
    "keras_5l_drop20": {"train_loss": 0.3411, "train_accuracy": 0.9008, "val_loss": 0.4044, "val_accuracy": 0.8888},
    "keras_5l_drop30": {"train_loss": 0.4286, "train_accuracy": 0.8799, "val_loss": 0.3963, "val_accuracy": 0.8853},
    "keras_5l_drop_taper": {"train_loss": 0.3744, "train_accuracy": 0.8913, "val_loss": 0.3469, "val_accuracy": 0.8982},
}

# The coursework's Keras training numbers are what `fit` prints: the mean over the epoch's batches,
# dropout on. Ours beside them are measured the same way, not in inference mode.
RUNNING = {"train_loss": "train_loss_running", "train_accuracy": "train_accuracy_running"}
# Its validation numbers are on the test set: ours are the final test loss and accuracy, with the
# interval every table gives them (over the seeds and the test images).
ON_TEST_IMAGES = {"val_loss": "test_loss", "val_accuracy": "test_accuracy"}


def like_measure(measure, running_mean):
    """The measure of ours that is measured as the coursework's `measure` was."""
    if running_mean and measure in RUNNING:
        return RUNNING[measure]
    return ON_TEST_IMAGES.get(measure, measure)


# The loss each regularized run starts from, read off the coursework's curves ("in L1, loss starts to
# descend from 12 and in L2 the loss starts to descend from 3.0").
COURSEWORK_STARTING_TOTAL_LOSS = {"lowlevel_net_b_l1": 12.0, "lowlevel_net_b_l2": 3.0}

# Adam's defaults: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
# Algorithm 1; and the two sets the coursework's essay gives.
ADAM_DEFAULTS_PAPER = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8}
ADAM_DEFAULTS_COURSEWORK = {
    "the coursework, on the update rule": {"epsilon": 1e-9},
    "the coursework, \"the best part\"": {"beta_1": 0.9, "beta_2": 0.99, "epsilon": 1e-8},
}
