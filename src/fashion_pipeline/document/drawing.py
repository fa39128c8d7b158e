"""Drawing primitives for the report's figures: curves over seeds in small multiples, a paired
difference with its band and margin, the bias-correction ablation, a confusion matrix and an
image grid. At most six series per panel, in Okabe and Ito's colour-blind-safe colours, legends
in 11-point type with the runs' names in words, and every data point inside the axes."""

import textwrap

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


def panels(figure):
    """What figures.json says of each panel: its title, its y scale and how many series (lines of
    more than two points, by colour) it draws."""
    found = []
    for axis in figure.axes:
        if not axis.get_visible() or not (axis.get_lines() or axis.get_images()):
            continue
        colours = {line.get_color() for line in axis.get_lines() if len(line.get_xdata()) > 2}
        found.append({"title": axis.get_title(loc="left") or axis.get_title(), "y_scale": axis.get_yscale(),
                      "series": len(colours), "image": bool(axis.get_images())})
    return found


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


def _scale(axis, arrays, log=True):
    """Every point in view; a log scale when the data spans more than a factor of five (a loss's
    first-epoch spike), so neither the spike nor the rest is lost. Without `log` (accuracies),
    a linear axis zoomed to the data."""
    values = np.concatenate([np.ravel(array) for array in arrays]) if arrays else np.array([])
    values = values[np.isfinite(values)]
    if not log:
        if values.size:
            pad = 0.05 * (values.max() - values.min()) or 0.01
            axis.set_ylim(values.min() - pad, values.max() + pad)
        return
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
        _scale(axis, drawn, log="accuracy" not in measure)
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
    figure, axis = plt.subplots(figsize=(WIDTH_INCHES, 3.6))
    if margin:
        axis.axhspan(-margin, margin, color="#999999", alpha=0.25, linewidth=0, label=f"±{margin:g}: too small to matter")
    axis.axhline(0, color="#000000", linewidth=0.8)
    axis.fill_between(epochs, differences.min(axis=0), differences.max(axis=0), color=PALETTE[0], alpha=0.25,
                      linewidth=0, label=f"lowest to highest of {len(differences)} seeds")
    axis.plot(epochs, differences.mean(axis=0), color=PALETTE[0], label="mean over seeds")
    axis.set_xlabel("epoch")
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    clip_spikes(axis, differences, margin)
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=3, frameon=False)
    # Wrapped, so that a long title never widens the figure past the page.
    axis.set_title(textwrap.fill(title, 75), loc="left")
    return figure


def clip_spikes(axis, values, margin):
    """A few epochs far outside the rest (one seed's spike) would flatten everything else: the axis
    keeps the 1st to 99th percentile of the values (with zero and the margin), and says what it
    leaves out."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return
    low, high = np.percentile(finite, [1, 99])
    low, high = min(low, -(margin or 0), 0.0), max(high, margin or 0, 0.0)
    pad = 0.08 * (high - low) or 0.01
    if finite.min() < low - pad or finite.max() > high + pad:
        axis.set_ylim(low - pad, high + pad)
        axis.text(0.99, 0.97, f"axis clipped: values reach {finite.min():.3g} to {finite.max():.3g}",
                  transform=axis.transAxes, ha="right", va="top", fontsize=FONT_POINTS - 1, color="#555555")


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
        axis.legend(loc="best")
    figure.tight_layout()
    return figure


def confusion(actual, predicted, class_names, title):
    figure, axis = plt.subplots(figsize=(WIDTH_INCHES, 6.8))
    ConfusionMatrixDisplay.from_predictions(
        actual, predicted, labels=list(class_names), display_labels=class_names,
        ax=axis, colorbar=False, xticks_rotation=45,
    )
    axis.set_title(title)
    return figure


def image_grid(images, titles, title, columns=4):
    """28x28 images in a grid, each with its title (up to three short lines), grey on white, at the
    page's width so that the titles print at the report's type size."""
    rows = max(1, -(-len(images) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(WIDTH_INCHES, 2.3 * rows + 0.4), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, text in zip(axes.flat, images, titles):
        axis.imshow(np.asarray(image).reshape(28, 28), cmap="gray_r")
        axis.set_title(text, fontsize=FONT_POINTS - 1)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
