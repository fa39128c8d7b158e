"""The report's setup section: data, splits and every run's training settings, written from
params.yaml alone, so the page can never state a setting the runs did not use."""

import pandas as pd

from fashion_pipeline.judging.inputs import RULE_NAMES

PENALTIES = {"none": "none", "l1": "L1", "l2": "L2"}


def hidden_layers(units):
    return "-".join(map(str, units)) if units else "none (softmax)"


def dropout_words(dropout):
    if isinstance(dropout, list):
        return "-".join(f"{rate:g}" for rate in dropout)
    return f"{dropout:g}" if dropout else "none"


def experiments_table(params, labels):
    """One row per experiment of Parts A and B, as it trains."""
    rows = []
    for kind, group in params["experiments"].items():
        for name, spec in group.items():
            penalty = PENALTIES.get(spec.get("regularizer", "none"), spec.get("regularizer"))
            rows.append({
                "run": labels.get(name, name), "part": "A" if kind == "lowlevel" else "B",
                "hidden layers": hidden_layers(spec["hidden_units"]),
                "dropout": dropout_words(spec.get("dropout", 0.0)),
                "penalty": penalty if penalty == "none" else f"{penalty}, {spec['regularization_rate']:g}",
                "optimizer": f"{RULE_NAMES.get(spec['optimizer'], spec['optimizer'])}, rate {spec['learning_rate']:g}",
                "batch": "full (all training images)" if kind == "lowlevel" else str(spec["batch_size"]),
                "epochs": spec["epochs"],
                "pixels": "raw 0-255" if spec.get("scale") is False else "scaled to [0, 1]"})
    return pd.DataFrame(rows)


def optimizers_table(study, labels):
    """One row per optimizer run: its rule and the settings that differ from Keras's defaults."""
    rows = []
    for name, spec in study["runs"].items():
        settings = {key: value for key, value in spec.items() if key not in ("rule", "learning_rate", "decay_rate")}
        rows.append({"run": labels.get(name, name), "rule": RULE_NAMES.get(spec["rule"], spec["rule"]),
                     "rate": f"{spec['learning_rate']:g}",
                     "decay": f"rate / (1 + {spec['decay_rate']:g} (epoch − 1))" if spec.get("decay_rate") else "none",
                     "other settings": ", ".join(f"{key} {value}" for key, value in settings.items()) or "defaults"})
    return pd.DataFrame(rows)


# The settings every run of a part may share, said once in a sentence when they do.
SHARED = ("optimizer", "batch", "epochs", "pixels")


def shared_words(table):
    """"Every Part A run has optimizer Adam, rate 0.001; batch full; epochs 500." for each part, of
    the settings all its runs share; the columns every part shares then leave the table."""
    sentences, varying = [], set()
    for part, runs in table.groupby("part", sort=False):
        same = [column for column in SHARED if runs[column].nunique() == 1]
        varying |= set(SHARED) - set(same)
        sentences.append(f"Every Part {part} run has " + "; ".join(f"{column} {runs[column].iloc[0]}" for column in same) + ".")
    return " ".join(sentences), [column for column in table.columns if column not in SHARED or column in varying]


def section(report, params, data_summary, labels):
    """The setup section: its sentences and the runs' settings, from params.yaml."""
    report.heading("Setup")
    report.text(text(params, data_summary, labels))
    table = experiments_table(params, labels)
    shared, columns = shared_words(table)
    report.text(f"The runs of Parts A and B (ReLU hidden layers, Glorot-uniform weights, Adam with Keras's defaults besides "
                f"the rate, dropout after every hidden layer, one rate per layer where several are given). {shared}")
    report.table(table[columns], "setup_experiments")
    report.text("The optimizer study's runs (every other setting at Keras's default for the rule):")
    report.table(optimizers_table(params["optimizers"], labels), "setup_optimizers")


def text(params, data_summary, labels):
    """Data, splits, seeds, threads and the targets the claims read, in sentences."""
    data, training, study = params["data"], params["training"], params["optimizers"]
    return "\n".join([
        f"- **Data.** Fashion-MNIST, {data_summary['train_count']:,} training and {data_summary['test_count']:,} test "
        "images of 28 × 28 pixels, 10 classes. Parts A and B validate on the test set, as the coursework did. The "
        f"optimizer study and the protocol check hold out a stratified {data['held_out_fraction']:.0%} of the training "
        f"set (the same images for every seed, drawn with split seed {data['split_seed']}), validate on it and record "
        "the test set beside it.",
        f"- **Seeds.** Every run is trained once per seed ({', '.join(map(str, params['seeds']))}); a seed draws the "
        f"initial weights, the batch order and the dropout masks. TensorFlow runs on {training['threads']} thread "
        "with op determinism on, so a run repeats exactly on one machine.",
        "- **Training metrics.** After every epoch, the training loss and accuracy are measured as the validation ones "
        f"are: in inference mode (no dropout), at the epoch's final weights, on a fixed stratified "
        f"{training['train_eval_images']:,} training images. The loss as training saw it, during the epoch and with "
        "dropout on, is recorded beside it as the running loss.",
        f"- **Targets.** A 3's convergence claim counts the epochs Network B needs to bring its validation data loss "
        f"to {params['report']['regularization_target_val_loss']:g}; the essay's, the epochs each optimizer needs to "
        f"bring its held-out loss to {study['target_val_loss']:g}. The bias-correction claim compares the mean step "
        f"length over the first {study['early_epochs']} epochs.",
        f"- **The optimizer study** trains {labels.get(study['network'], study['network'])} full batch for "
        f"{study['epochs']} epochs from the same initial weights per seed, with each update rule written out; Adam "
        f"and SGD with momentum are each tried at {len(study['rate_grids'].get('adam', []))} rates.",
    ])
