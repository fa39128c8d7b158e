"""Load params.yaml and reject bad values before any work starts.

Every error names the key, the value found and what is allowed, in one line.
"""

import re
from pathlib import Path

import yaml

from fashion_pipeline.errors import ParamsError, ParamsFileError, StageError
from fashion_pipeline.runs import NAME
from fashion_pipeline.value_checks import (boolean, choice, distinct_list, integer, mapping_of, number, section_of,
                                          text, validate_section)

# Part A's hand-written networks and Part B's Keras models: the groups of `experiments`, each
# with a package of its own (src/fashion_pipeline/<kind>/).
KINDS = ("lowlevel", "keras")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu")
OPTIMIZERS = ("adam",)
REGULARIZERS = ("none", "l1", "l2")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal")
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _sources(key, value):
    if not isinstance(value, list) or not value:
        raise ParamsError(key, value, "a non-empty list of directories or https:// URLs")
    for index, source in enumerate(value):
        if not isinstance(source, str) or source.startswith("http://") or not source.strip():
            raise ParamsError(f"{key}[{index}]", source, "a directory path or an https:// URL")


def _hashes(key, value):
    if not isinstance(value, dict) or sorted(value) != sorted(IDX_FILES):
        found = sorted(value) if isinstance(value, dict) else value
        raise ParamsError(key, found, "a mapping with exactly the keys " + ", ".join(IDX_FILES))
    for name, digest in value.items():
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ParamsError(f"{key}.{name}", digest, "64 lowercase hex digits (SHA-256)")


def _hidden_units(key, value):
    if not isinstance(value, list):
        raise ParamsError(key, value, "a list of positive integers (empty for softmax only)")
    for index, units in enumerate(value):
        integer(1)(f"{key}[{index}]", units)


def _dropout(key, value):
    rates = value if isinstance(value, list) else [value]
    for index, rate in enumerate(rates):
        where = f"{key}[{index}]" if isinstance(value, list) else key
        number(0.0, 1.0)(where, rate)


SCHEMA = {
    "seeds": distinct_list(integer(0), "integers >= 0"),
    "data": {
        "sources": _sources,
        "download_timeout_seconds": number(0, 600, include_low=False, include_high=True),
        "sha256": _hashes,
        "scale": boolean,
        "val_fraction": number(0.0, 1.0),
        "held_out_fraction": number(0.0, 0.5, include_low=False, include_high=True),
        "limit_train": integer(0),
        "limit_test": integer(0),
        "split_seed": integer(0),
    },
    "mlflow": {
        "experiment_name": text,
        "connect_timeout_seconds": number(0, 120, include_low=False, include_high=True),
    },
    "evaluate": {"near_zero_weight": number(0.0, 1.0, include_low=False)},
    "report": {
        "confidence": number(0.5, 1.0, include_low=True),
        # Their names are checked against judging/claims.py by the report stage.
        "margins": mapping_of(number(0.0, 100.0), "a number >= 0"),
        "primary_claims": distinct_list(text, "claim names"),
        "blind_seeds": mapping_of(distinct_list(integer(0), "seeds", empty=True), "a list of seeds"),
        "regularization_target_val_loss": number(0.0, 10.0, include_low=False), "stagnation_epoch": integer(1),
        "mistakes_shown": integer(1),
        "training_machines": distinct_list(section_of({"cpu": text, "through": text}, "{cpu: <kind>, through: <commit>}"), "machines"),
    },
    "questions": mapping_of(text, "a section title"),
    "labels": mapping_of(text, "a name in words"),
    "studies": None,  # checked by validate_studies
    "training": {
        "threads": integer(1),
        "train_eval_images": integer(0),
        "progress_every_epochs": integer(1),
        "checkpoint_every_epochs": integer(1),
        "keras_progress_every_epochs": integer(1),
        "jit_compile": boolean,
        "steps_per_execution": integer(1),
        "resume": boolean,
    },
    "champion": {"registered_model": text},
    "verify": {"seed": integer(0), "level": number(0.5, 1.0), "experiments": distinct_list(text, "experiment names"),
               "optimizer_runs": distinct_list(text, "optimizer run names")},  # names checked in validate_params
    "demo": {"experiments": distinct_list(text, "experiment names"),  # names checked in validate_params
             "optimizer_runs": distinct_list(text, "optimizer run names"),
             "seeds": distinct_list(integer(0), "integers >= 0"), "epochs": integer(1),
             "limit_train": integer(1), "limit_test": integer(1)},
    "bench": {"slice": distinct_list(text, "stage names"),  # checked by tools/grid_bench.py
              "breakdown": distinct_list(text, "stage names"),  # the same, and within `slice`
              "server_writers": distinct_list(integer(1), "integers >= 1"), "server_epochs": integer(1)},
    "experiments": None,  # checked by validate_experiment, one spec at a time, per kind
    "holdout": {"experiments": None},  # Keras experiment names, checked in validate_params
    "optimizers": {
        "network": text,  # an experiment name, checked in validate_params
        "epochs": integer(1),
        "target_val_loss": number(0.0, 10.0, include_low=False),
        "ablation_epochs": integer(1),
        "early_epochs": integer(1),
        "rate_grids": None,  # checked by validate_rate_grids
        "runs": None,  # checked by validate_optimizer_run
    },
}

EXPERIMENT_SCHEMA = {
    "common": {
        "hidden_units": _hidden_units,
        "activation": choice(ACTIVATIONS),
        "optimizer": choice(OPTIMIZERS),
        "learning_rate": number(0.0, 10.0, include_low=False),
        "epochs": integer(1),
    },
    "keras": {"dropout": _dropout, "batch_size": integer(1)},
    "lowlevel": {
        "initializer": choice(INITIALIZERS),
        "regularizer": choice(REGULARIZERS),
        "regularization_rate": number(0.0, 10.0),
    },
}
_rate = number(0.0, 1.0)
_epsilon = number(0.0, 1.0, include_low=False)
# The hyperparameters each optimizer rule of the optimizer comparison needs (optimizers.py).
OPTIMIZER_RULES = {
    "sgd": {},
    "sgd_momentum": {"momentum": _rate},
    "rmsprop": {"rho": _rate, "epsilon": _epsilon},
    "adagrad": {"initial_accumulator_value": number(0.0, 10.0), "epsilon": _epsilon},
    "adamax": {"beta_1": _rate, "beta_2": _rate, "epsilon": _epsilon},
    "adam": {"beta_1": _rate, "beta_2": _rate, "epsilon": _epsilon, "bias_correction": boolean},
}
# Keys an experiment may set to depart from the data section: `scale` overrides data.scale.
OPTIONAL_EXPERIMENT_KEYS = {"scale": boolean}


def _check_name(key, name, reserved=()):
    # Names become stage names and folder names; nothing outside [a-z0-9_] is let through.
    if not isinstance(name, str) or not NAME.fullmatch(name) or name in reserved:
        other_than = "".join(f", other than {word!r}" for word in reserved)
        raise ParamsError(key, name, f"a name matching [a-z0-9_]+{other_than}")


def validate_experiment(kind, name, spec):
    """Check one experiment spec of the group `experiments.<kind>`; its keys depend on the kind."""
    prefix = f"experiments.{kind}.{name}."
    # results/seed_<n>/optimizers and .../holdout hold the optimizer comparison and the held-out runs.
    _check_name(f"experiments.{kind}.{name}", name, reserved=("optimizers", "holdout"))
    schema = {**EXPERIMENT_SCHEMA["common"], **EXPERIMENT_SCHEMA[kind]}
    validate_section(prefix, spec, schema, OPTIONAL_EXPERIMENT_KEYS)
    if kind == "keras" and isinstance(spec["dropout"], list):
        if len(spec["dropout"]) != len(spec["hidden_units"]):
            raise ParamsError(
                prefix + "dropout",
                spec["dropout"],
                f"one rate or a list of {len(spec['hidden_units'])} rates (one per hidden layer)",
            )


def validate_optimizer_run(name, spec):
    """Check one run of the optimizer comparison; the keys it needs depend on its rule."""
    prefix = f"optimizers.runs.{name}."
    _check_name(f"optimizers.runs.{name}", name)
    rule = spec.get("rule") if isinstance(spec, dict) else None
    choice(tuple(OPTIMIZER_RULES))(prefix + "rule", rule)
    schema = {
        "rule": None,
        "learning_rate": number(0.0, 10.0, include_low=False),
        "decay_rate": number(0.0, 10.0),
        **OPTIMIZER_RULES[rule],
    }
    validate_section(prefix, spec, schema)


def validate_rate_grids(grids, runs):
    """rule -> the names of at least three runs of that rule, alike but for their learning rates
    (none at all in a study that compares no rates)."""
    if not isinstance(grids, dict):
        raise ParamsError("optimizers.rate_grids", grids, "a mapping of rule -> a list of optimizer run names")
    for rule, names in grids.items():
        key = f"optimizers.rate_grids.{rule}"
        if not isinstance(names, list) or len(names) < 3 or any(name not in runs for name in names):
            raise ParamsError(key, names, "a list of at least three names of optimizers.runs")
        settings = [{setting: value for setting, value in runs[name].items() if setting != "learning_rate"}
                    for name in names]
        rates = [runs[name]["learning_rate"] for name in names]
        if any(setting != {**settings[0], "rule": rule} for setting in settings) or len(set(rates)) != len(rates):
            raise ParamsError(key, names, f"runs of rule {rule!r} that differ in their learning rate alone")


def validate_studies(questions, studies, experiments):
    """studies: name -> its question (one of `questions`) and the experiments it compares."""
    if not isinstance(studies, dict) or not studies:
        raise ParamsError("studies", studies, "a mapping of name -> question and experiments")
    for name, study in studies.items():
        _check_name(f"studies.{name}", name)
        validate_section(f"studies.{name}.", study, {"question": choice(tuple(questions)), "experiments": None})
        if not isinstance(study["experiments"], list) or not study["experiments"] or any(
                experiment not in experiments for experiment in study["experiments"]):
            raise ParamsError(f"studies.{name}.experiments", study["experiments"],
                              "a non-empty list of experiment names: " + ", ".join(experiments))


def validate_params(params):
    """Raise ParamsError on the first bad value; return params unchanged otherwise."""
    if not isinstance(params, dict):
        raise ParamsError("(top level)", type(params).__name__, "a mapping of sections")
    validate_section("", params, SCHEMA)
    groups = params["experiments"]
    if not isinstance(groups, dict) or set(groups) - set(KINDS) or not any(groups.values()):
        raise ParamsError("experiments", groups, "a mapping with the groups " + ", ".join(KINDS) + ", each name -> spec")
    seen = {}
    for kind, experiments in groups.items():
        if not isinstance(experiments, dict):
            raise ParamsError(f"experiments.{kind}", experiments, "a mapping of name -> spec")
        for name, spec in experiments.items():
            validate_experiment(kind, name, spec)
            if name in seen:
                raise ParamsError(f"experiments.{kind}.{name}", name, f"a name not already used in experiments.{seen[name]}")
            seen[name] = kind
    candidates, keras = params["holdout"]["experiments"], groups.get("keras") or {}
    allowed = "a non-empty list of distinct keras experiments: " + ", ".join(keras)
    if not isinstance(candidates, list) or not candidates or len(set(map(repr, candidates))) != len(candidates):
        raise ParamsError("holdout.experiments", candidates, allowed)
    for index, name in enumerate(candidates):
        if name not in keras:
            raise ParamsError(f"holdout.experiments[{index}]", name, allowed)
    study = params["optimizers"]
    lowlevel = groups.get("lowlevel") or {}
    if study["network"] not in lowlevel:
        raise ParamsError("optimizers.network", study["network"], "one of the lowlevel experiments: " + ", ".join(lowlevel))
    if not isinstance(study["runs"], dict) or not study["runs"]:
        raise ParamsError("optimizers.runs", study["runs"], "a mapping of name -> optimizer spec")
    for name, spec in study["runs"].items():
        validate_optimizer_run(name, spec)
    validate_rate_grids(study["rate_grids"], study["runs"])
    validate_studies(params["questions"], params["studies"], seen)
    for section in ("verify", "demo"):
        for key, known in (("experiments", seen), ("optimizer_runs", study["runs"])):
            unknown = [name for name in params[section][key] if name not in known]
            if unknown:
                raise ParamsError(f"{section}.{key}", unknown[0], "one of " + ", ".join(known))
    return params


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ParamsFileError(self.name, f"key {key!r} is given twice, on lines {seen[key]} and {line}; "
                                                 "keep one")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_params(path="params.yaml"):
    """Read and validate the params file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: params file not found (run from the project root)")
    try:
        with path.open() as handle:
            params = yaml.load(handle, Loader=_UniqueKeyLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        advice = ("only plain YAML values are allowed, no tags such as !!python" if "tag" in problem
                  else "fix the syntax there")
        raise ParamsFileError(path, f"not valid YAML{line} ({problem}); {advice}") from None
    except UnicodeDecodeError as error:
        raise ParamsFileError(path, f"not UTF-8 text ({error.reason})") from None
    return validate_params(params)


def all_experiments(params):
    """name -> spec over both groups, each spec with its `kind` added."""
    return {name: {"kind": kind, **spec}
            for kind, experiments in params["experiments"].items() for name, spec in experiments.items()}


def experiment_spec(params, name, kind=None):
    """The spec of one experiment (with its `kind`), with a clear error for an unknown name."""
    experiments = all_experiments(params)
    known = [other for other, spec in experiments.items() if kind in (None, spec["kind"])]
    if name not in known:
        group = f"experiments.{kind}" if kind else "experiments"
        raise ParamsError(group, name, "one of " + ", ".join(known))
    return experiments[name]


def check_seed(params, seed):
    """A seed of a stage must be one that params.yaml lists."""
    if seed not in params["seeds"]:
        raise StageError(f"stage seed {seed} is not one of params.yaml's seeds; add it there to train it")
    return seed
