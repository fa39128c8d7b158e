"""Drawing primitives for the report's figures: curves over seeds in small multiples, a paired
difference with its band and margin, the bias-correction ablation, a confusion matrix and an
image grid. At most six series per panel, in Okabe and Ito's colour-blind-safe colours, legends
in 11-point type with the runs' names in words, and every data point inside the axes."""

import matplotlib

matplotlib.use("Agg")  # no screen: render straight to files

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from fashion_pipeline.files import atomic_path  # noqa: E402

# Okabe and Ito, without yellow (too pale on white): told apart with every common colour-vision
# deficiency, and as many as a panel may hold.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#000000")
MOST_SERIES = len(PALETTE)
# 7.5 in at 110 dpi is 825 px: printed on A4 (about 720 px of text width) an 11-point legend
# stays above 11 px.
WIDTH_INCHES, DPI, FONT_POINTS = 7.5, 110, 11
plt.rcParams.update({"font.size": FONT_POINTS, "legend.fontsize": FONT_POINTS, "axes.titlesize": FONT_POINTS + 1})
SPLIT_WORDS = {"train": "training", "val": "validation", "gap": "test minus training"}


def save(figure, path):
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=DPI, bbox_inches="tight")
    plt.close(figure)


def _mean_and_band(histories, column):
    """Epochs, the mean over seeds, the lowest and highest seed, and the seed count."""
    frames = [history for history in histories.values() if column in history]
    if not frames:
        return None
    length = min(len(frame) for frame in frames)
    stacked = np.stack([frame[column].to_numpy(float)[:length] for frame in frames])
    return frames[0]["epoch"].to_numpy()[:length], stacked.mean(axis=0), stacked.min(axis=0), stacked.max(axis=0), len(frames)


def _scale(axis, arrays):
    """Every point in view; a log scale when the data spans more than a factor of five (a first
    epoch's spike), so neither the spike nor the rest is lost."""
    values = np.concatenate([np.ravel(array) for array in arrays]) if arrays else np.array([])
    values = values[np.isfinite(values)]
    if values.size and values.min() > 0 and values.max() / values.min() > 5:
        axis.set_yscale("log")
        # Plain numbers (0.3, 0.5, 1, 2) rather than powers of ten.
        axis.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axis.yaxis.set_minor_formatter(ticker.NullFormatter())


def curves(groups, title, panels, marks=None):
    """Small multiples, one panel per (column, split), two to a row, with one legend for all:
    groups is label -> {seed: history}, each drawn as its mean over seeds with a band from the
    lowest to the highest seed; `marks` (label -> {column: value}) puts the coursework's final
    values as crosses, a little apart so that none hides another."""
    if len(groups) > MOST_SERIES:
        raise ValueError(f"{title}: {len(groups)} series in a panel; at most {MOST_SERIES}")
    columns = 1 if len(panels) == 1 else 2
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(WIDTH_INCHES, 2.6 * rows + 1.0), squeeze=False,
                                layout="constrained")
    handles = {}
    for axis, (measure, split) in zip(axes.flat, panels):
        column, drawn = f"{split}_{measure}", []
        for index, (label, histories) in enumerate(groups.items()):
            found = _mean_and_band(histories, column)
            if found is None:
                continue
            epochs, mean, low, high, count = found
            colour = PALETTE[index]
            (line,) = axis.plot(epochs, mean, color=colour)
            handles[f"{label} ({count} seed{'s' if count > 1 else ''})"] = line
            if count > 1:
                axis.fill_between(epochs, low, high, color=colour, alpha=0.18, linewidth=0)
            drawn += [low, high]
            value = (marks or {}).get(label, {}).get(column)
            if value is not None:
                axis.plot([epochs[-1] + 0.015 * len(epochs) * (index + 1)], [value], "x", color=colour, markersize=8,
                          mew=2)
                drawn.append(np.array([value]))
        _scale(axis, drawn)
        axis.set_title(f"{SPLIT_WORDS.get(split, split)} {measure.replace('_', ' ')}", loc="left")
        axis.grid(alpha=0.3)
    for axis in axes.flat[len(panels):]:
        axis.set_visible(False)
    for axis in axes[-1]:
        axis.set_xlabel("epoch")
    # The title is the caption's; the figure keeps the legend for itself.
    figure.legend(handles.values(), handles.keys(), loc="outside upper center", ncols=2, frameon=False)
    return figure


def difference(epochs, differences, title, ylabel, margin):
    """A paired difference over epochs (seeds x epochs): its mean, the band from the lowest to
    the highest seed, zero, and the +-margin inside which a difference counts as none."""
    differences = np.asarray(differences, float)
    figure, axis = plt.subplots(figsize=(WIDTH_INCHES, 3.2))
    if margin:
        axis.axhspan(-margin, margin, color="#999999", alpha=0.25, linewidth=0, label=f"±{margin:g}: too small to matter")
    axis.axhline(0, color="#000000", linewidth=0.8)
    axis.fill_between(epochs, differences.min(axis=0), differences.max(axis=0), color=PALETTE[0], alpha=0.25,
                      linewidth=0, label=f"lowest to highest of {len(differences)} seeds")
    axis.plot(epochs, differences.mean(axis=0), color=PALETTE[0], label="mean over seeds")
    axis.set_xlabel("epoch")
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    axis.set_title(title, loc="left")
    return figure


def ablation(step_table, histories, epochs):
    """Adam with and without bias correction: the step length (measured, and the ratio the
    equations predict) and the training loss over the first `epochs` epochs."""
    figure, axes = plt.subplots(3, 1, figsize=(WIDTH_INCHES, 8.5))
    axes[0].plot(step_table["epoch"], step_table["step_with_correction"], label="with correction", color=PALETTE[0])
    axes[0].plot(step_table["epoch"], step_table["step_without_correction"], label="without correction",
                 color=PALETTE[1])
    axes[0].set_title("step length in weight space", loc="left")
    axes[1].plot(step_table["epoch"], step_table["measured_ratio"], label="measured", color=PALETTE[0])
    axes[1].plot(step_table["epoch"], step_table["predicted_ratio"], "--", label="(1 − β₁ᵗ) / √(1 − β₂ᵗ)",
                 color=PALETTE[1])
    axes[1].set_title("step without / with correction", loc="left")
    for index, (label, history) in enumerate(histories.items()):
        first = history[history["epoch"] <= epochs]
        axes[2].plot(first["epoch"], first["train_loss"], label=label, color=PALETTE[index])
    axes[2].set_title("training loss", loc="left")
    for axis in axes:
        axis.set_xlabel("epoch (one full-batch step each)")
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return figure


def confusion(actual, predicted, class_names, title):
    figure, axis = plt.subplots(figsize=(WIDTH_INCHES, 6.8))
    ConfusionMatrixDisplay.from_predictions(
        actual, predicted, labels=list(class_names), display_labels=class_names,
        ax=axis, colorbar=False, xticks_rotation=45,
    )
    axis.set_title(title)
    return figure


def image_grid(images, titles, title, columns=8):
    """28x28 images in a grid, each with its title (up to three short lines), grey on white."""
    rows = max(1, -(-len(images) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(10.0, 2.0 * rows + 0.4), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, text in zip(axes.flat, images, titles):
        axis.imshow(np.asarray(image).reshape(28, 28), cmap="gray_r")
        axis.set_title(text, fontsize=7.5)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
