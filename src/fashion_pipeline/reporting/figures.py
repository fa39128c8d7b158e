"""The report's figures: curves over seeds, the bias-correction ablation, a confusion matrix.
Colour-blind-safe colours (Okabe and Ito), one colour per run name in every figure, legends
outside the data, y-limits that leave out a first epoch's spike."""

import matplotlib

matplotlib.use("Agg")  # no screen: render straight to files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from fashion_pipeline.files import atomic_path  # noqa: E402

# Paul Tol's "muted" scheme and black: told apart with every common colour-vision deficiency.
PALETTE = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499", "#000000")
WIDTH_INCHES, DPI = 10.0, 110  # 1,100 px at the page's width
_COLOURS = {}


def assign_colours(*name_lists):
    """Give each run name its colour for every figure: within each list (one kind of run, in the
    order of params.yaml), neighbours get different colours."""
    for names in name_lists:
        _COLOURS.update({name: PALETTE[index % len(PALETTE)] for index, name in enumerate(names)})


def colour(name):
    return _COLOURS.get(name, PALETTE[-1])


def save(figure, path):
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=DPI, bbox_inches="tight")
    plt.close(figure)


def _limits(axis, arrays):
    """Lower limit at the data's minimum, upper at the highest point after the first tenth of the
    epochs, so one early spike (raw pixels, a large first step) does not squash the rest."""
    arrays = [array for array in arrays if len(array)]
    if not arrays:
        return
    low = float(min(np.nanmin(array) for array in arrays))
    high = float(max(np.nanmax(array[len(array) // 10:]) for array in arrays))
    pad = (high - low) * 0.05 or 0.01
    axis.set_ylim(low - pad, high + pad)


def curves(groups, title, columns=("loss", "accuracy"), splits=("train", "val"), marks=None, styles=("--", "-")):
    """One panel per measure. groups: label -> {seed: history DataFrame}. Each label is drawn
    as its mean over seeds (train dashed, validation solid) with a band from the lowest to the
    highest seed; `marks` (label -> {column: value}) puts the coursework's final values as crosses."""
    figure, axes = plt.subplots(len(columns), 1, figsize=(WIDTH_INCHES, 3.6 * len(columns)), squeeze=False)
    for axis, measure in zip(axes[:, 0], columns):
        drawn = []
        for label, histories in groups.items():
            for split, style in zip(splits, styles):
                column = f"{split}_{measure}"
                frames = [history for history in histories.values() if column in history]
                if not frames:
                    continue
                length = min(len(frame) for frame in frames)
                stacked = np.stack([frame[column].to_numpy()[:length] for frame in frames])
                epochs = frames[0]["epoch"].to_numpy()[:length]
                mean = stacked.mean(axis=0)
                axis.plot(epochs, mean, style, color=colour(label), label=f"{label} {split} ({len(frames)} seed{'s' if len(frames) > 1 else ''})")
                if len(frames) > 1:
                    axis.fill_between(epochs, stacked.min(axis=0), stacked.max(axis=0), color=colour(label), alpha=0.15)
                drawn.append(mean)
                coursework_value = (marks or {}).get(label, {}).get(column)
                if coursework_value is not None:
                    axis.plot([epochs[-1]], [coursework_value], "x", color=colour(label), markersize=9, mew=2)
                    drawn.append(np.array([coursework_value]))  # the coursework's value stays in view
        _limits(axis, drawn)
        axis.set_xlabel("epoch")
        axis.set_ylabel(measure.replace("_", " "))
        axis.grid(alpha=0.3)
        if drawn:
            axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    figure.suptitle(title)
    return figure


def ablation(step_table, histories, epochs):
    """Adam with and without bias correction: the step length (measured, and the ratio the
    equations predict) and the training loss over the first `epochs` epochs."""
    figure, axes = plt.subplots(3, 1, figsize=(WIDTH_INCHES, 10))
    axes[0].plot(step_table["epoch"], step_table["step_with_correction"], label="with correction", color=PALETTE[0])
    axes[0].plot(step_table["epoch"], step_table["step_without_correction"], label="without correction", color=PALETTE[3])
    axes[0].set_ylabel("step length in weight space")
    axes[1].plot(step_table["epoch"], step_table["measured_ratio"], label="measured", color=PALETTE[0])
    axes[1].plot(step_table["epoch"], step_table["predicted_ratio"], "--", label="(1 - b1^t) / sqrt(1 - b2^t)", color=PALETTE[1])
    axes[1].set_ylabel("step without / with correction")
    for label, history in histories.items():
        first = history[history["epoch"] <= epochs]
        axes[2].plot(first["epoch"], first["train_loss"], label=label, color=colour(label))
    axes[2].set_ylabel("train loss")
    for axis in axes:
        axis.set_xlabel("epoch (one full-batch step each)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    figure.suptitle("Bias correction in Adam (seed 42)")
    return figure


def confusion(actual, predicted, class_names, title):
    figure, axis = plt.subplots(figsize=(9, 8))
    ConfusionMatrixDisplay.from_predictions(
        actual, predicted, labels=list(class_names), display_labels=class_names,
        ax=axis, colorbar=False, xticks_rotation=45,
    )
    axis.set_title(title)
    return figure


def image_grid(images, titles, title, columns=8):
    """28x28 images in a grid, each with its title (up to three short lines), grey on white."""
    rows = max(1, -(-len(images) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(WIDTH_INCHES, 2.0 * rows + 0.4), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, text in zip(axes.flat, images, titles):
        axis.imshow(np.asarray(image).reshape(28, 28), cmap="gray_r")
        axis.set_title(text, fontsize=7.5)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
