"""Matplotlib figures shared by the train, evaluate and report stages."""

import matplotlib

matplotlib.use("Agg")  # no screen: render straight to files

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from fashion_pipeline.files import atomic_path  # noqa: E402


def save(figure, path):
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, bbox_inches="tight")
    plt.close(figure)


def curves(histories, title, columns=("loss", "accuracy")):
    """One panel per measure; every history (label -> DataFrame) drawn train dashed, val solid."""
    figure, axes = plt.subplots(1, len(columns), figsize=(5.5 * len(columns), 4), squeeze=False)
    for axis, measure in zip(axes[0], columns):
        for index, (label, history) in enumerate(histories.items()):
            color = f"C{index % 10}"
            for split, style in (("train", "--"), ("val", "-")):
                column = f"{split}_{measure}"
                if column in history:
                    axis.plot(history["epoch"], history[column], style, color=color, label=f"{label} {split}")
        axis.set_xlabel("epoch")
        axis.set_ylabel(measure.replace("_", " "))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(title)
    return figure


def ablation(step_table, histories, epochs):
    """Adam with and without bias correction: the step length (measured, and the ratio the
    equations predict) and the training loss over the first `epochs` epochs."""
    figure, axes = plt.subplots(1, 3, figsize=(16, 4))
    axes[0].plot(step_table["epoch"], step_table["step_with_correction"], label="with correction")
    axes[0].plot(step_table["epoch"], step_table["step_without_correction"], label="without correction")
    axes[0].set_ylabel("step length in weight space")
    axes[1].plot(step_table["epoch"], step_table["measured_ratio"], label="measured")
    axes[1].plot(step_table["epoch"], step_table["predicted_ratio"], "--", label="(1 - b1^t) / sqrt(1 - b2^t)")
    axes[1].set_ylabel("step without / with correction")
    for label, history in histories.items():
        first = history[history["epoch"] <= epochs]
        axes[2].plot(first["epoch"], first["train_loss"], label=label)
    axes[2].set_ylabel("train loss")
    for axis in axes:
        axis.set_xlabel("epoch (one full-batch step each)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle("Bias correction in Adam")
    return figure


def confusion(actual, predicted, class_names, title):
    figure, axis = plt.subplots(figsize=(7.5, 6.5))
    ConfusionMatrixDisplay.from_predictions(
        actual, predicted, labels=list(range(len(class_names))), display_labels=class_names,
        ax=axis, colorbar=False, xticks_rotation=45,
    )
    axis.set_title(title)
    return figure
