"""params.yaml validation and the model builder: every bad value is refused with one line that
names the key, the value and what is allowed; every spec builds its exact layer stack (the
builder itself trusts the validated spec)."""

import copy

import numpy as np
import pytest
from conftest import ROOT
from keras import layers

from fashion_pipeline.keras.training import compile_model
from fashion_pipeline.models import build_model
from fashion_pipeline.params import ParamsError, all_experiments, experiment_spec, load_params, validate_params

PARAMETER_COUNTS = {
    "keras_softmax": 7_850, "keras_2l": 159_010, "keras_3l": 396_210,
    "keras_4l": 793_610, "keras_5l": 1_431_210,
}


def test_every_adam_here_uses_the_installed_keras_defaults(project_params):
    """The report's table of Adam's defaults reads them from params.yaml: they must be the ones
    the installed Keras gives every Part B model (and Part A's Adam, and the optimizer study's)."""
    import keras

    defaults = keras.optimizers.Adam().get_config()
    adam = project_params["optimizers"]["runs"]["adam"]
    assert [adam[key] for key in ("learning_rate", "beta_1", "beta_2", "epsilon")] == pytest.approx(
        [defaults[key] for key in ("learning_rate", "beta_1", "beta_2", "epsilon")])
    rates = [spec["learning_rate"] for group in project_params["experiments"].values() for spec in group.values()]
    assert rates == pytest.approx([defaults["learning_rate"]] * len(rates))


def change(params, path, value):
    """Set (or, with value None, delete) a dotted key in a copy of params."""
    params = copy.deepcopy(params)
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return params


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("data.colour", True, "'data.colour' is True; allowed: known keys: sources"),
        # A section under an unknown key is named by its keys, not printed whole.
        ("benchmark", {"slice": ["a", "b"], "rounds": 3},
         "'benchmark' is '<a section with keys slice, rounds>'; allowed: known keys: seeds, data"),
        ("experiments.torch", {"mlp": {"hidden_units": [10]}},
         "'experiments' is '<a section with keys lowlevel, keras, torch>'; allowed: a mapping with the groups"),
        ("seeds", 42, "'seeds' is 42; allowed: a non-empty list of distinct integers >= 0"),
        ("seeds", [42, 42], "'seeds' is [42, 42]; allowed: a non-empty list of distinct integers >= 0"),
        ("seeds", [42, -1], "'seeds[1]' is -1; allowed: an integer >= 0"),
        ("seeds", None, "'seeds' is '<missing>'; allowed: a value must be set"),
        ("data.scale", "yes", "'data.scale' is 'yes'; allowed: true or false"),
        ("data.val_fraction", 1.0, "'data.val_fraction' is 1.0; allowed: a number in [0.0, 1.0)"),
        ("data.sources", ["http://example.org"], "'data.sources[0]' is 'http://example.org'; allowed: a directory path or an https:// URL"),
        ("data.sha256.t10k-labels-idx1-ubyte", "abc", "'data.sha256.t10k-labels-idx1-ubyte' is 'abc'; allowed: 64 lowercase hex digits"),
        ("experiments.keras.keras_2l.epochs", 0, "'experiments.keras.keras_2l.epochs' is 0; allowed: an integer >= 1"),
        ("experiments.keras.keras_2l.epochs", -3, "'experiments.keras.keras_2l.epochs' is -3; allowed: an integer >= 1"),
        ("experiments.keras.keras_2l.epochs", 2.5, "'experiments.keras.keras_2l.epochs' is 2.5; allowed: an integer >= 1"),
        ("experiments.keras.keras_2l.batch_size", True, "'experiments.keras.keras_2l.batch_size' is True; allowed: an integer >= 1"),
        ("experiments.keras.keras_2l.activation", "swish", "'experiments.keras.keras_2l.activation' is 'swish'; allowed: one of relu, tanh, sigmoid, elu"),
        ("experiments.keras.keras_2l.optimizer", "sgd", "'experiments.keras.keras_2l.optimizer' is 'sgd'; allowed: one of adam"),
        ("experiments.keras.keras_2l.learning_rate", 0, "'experiments.keras.keras_2l.learning_rate' is 0; allowed: a number in (0.0, 10.0)"),
        ("experiments.keras.keras_2l.dropout", 1.0, "'experiments.keras.keras_2l.dropout' is 1.0; allowed: a number in [0.0, 1.0)"),
        ("experiments.keras.keras_4l.dropout", [0.2, 0.2], "'experiments.keras.keras_4l.dropout' is [0.2, 0.2]; allowed: one rate or a list of 3 rates"),
        ("experiments.keras.keras_4l.dropout", [0.2, 1.5, 0.1], "'experiments.keras.keras_4l.dropout[1]' is 1.5; allowed: a number in [0.0, 1.0)"),
        ("experiments.keras.keras_2l.hidden_units", [200, 0], "'experiments.keras.keras_2l.hidden_units[1]' is 0; allowed: an integer >= 1"),
        ("experiments.keras.keras_2l.hidden_units", [200.5], "'experiments.keras.keras_2l.hidden_units[0]' is 200.5; allowed: an integer >= 1"),
        ("experiments.keras.keras_2l.hidden_units", 200, "'experiments.keras.keras_2l.hidden_units' is 200; allowed: a list of positive integers"),
        ("experiments.keras.keras_2l.kind", "keras", "'experiments.keras.keras_2l.kind' is 'keras'; allowed: known keys: hidden_units"),
        ("experiments.keras.keras_2l.regularizer", "l2", "'experiments.keras.keras_2l.regularizer' is 'l2'; allowed: known keys: hidden_units"),
        ("experiments.torch", {}, "'experiments' is"),
        ("experiments.lowlevel.lowlevel_net_b_l1.regularizer", "l3", "'experiments.lowlevel.lowlevel_net_b_l1.regularizer' is 'l3'; allowed: one of none, l1, l2"),
        ("experiments.lowlevel.lowlevel_net_b.initializer", "zeros", "'experiments.lowlevel.lowlevel_net_b.initializer' is 'zeros'; allowed: one of glorot_uniform"),
        ("experiments.keras.Bad-Name", {}, "'experiments.keras.Bad-Name' is 'Bad-Name'; allowed: a name matching [a-z0-9_]+"),
        ("experiments.keras.optimizers", {}, "'experiments.keras.optimizers' is 'optimizers'; allowed: a name matching [a-z0-9_]+, other than 'optimizers'"),
        ("experiments.keras.lowlevel_net_b", {"hidden_units": [], "activation": "relu", "dropout": 0.0, "optimizer": "adam",
                                              "learning_rate": 0.001, "epochs": 1, "batch_size": 32}, "'experiments.keras.lowlevel_net_b' is 'lowlevel_net_b'; allowed: a name not already used"),
        ("report.training_machines", [{"cpu": "Intel Xeon"}],
         "'report.training_machines[0].through' is '<missing>'; allowed: a value must be set"),
        ("report.training_machines", ["AMD EPYC"],
         "'report.training_machines[0]' is 'AMD EPYC'; allowed: a mapping {cpu: <kind>, through: <commit>}"),
        ("optimizers.runs.x;touch", {"rule": "sgd"}, "'optimizers.runs.x;touch' is 'x;touch'; allowed: a name matching [a-z0-9_]+"),
    ],
)
def test_bad_params_are_refused_in_one_line(project_params, path, value, message):
    with pytest.raises(ParamsError) as error:
        validate_params(change(project_params, path, value))
    text = str(error.value)
    assert text.startswith("params.yaml: " + message)
    assert "\n" not in text


def test_unknown_experiment_name_lists_the_known_ones(project_params):
    with pytest.raises(ParamsError, match="'experiments' is 'keras_9l'; allowed: one of lowlevel_softmax"):
        experiment_spec(project_params, "keras_9l")
    with pytest.raises(ParamsError, match="'experiments.keras' is 'lowlevel_net_b'; allowed: one of keras_softmax"):
        experiment_spec(project_params, "lowlevel_net_b", "keras")


def test_every_experiment_carries_its_kind(project_params):
    experiments = all_experiments(project_params)
    assert {spec["kind"] for spec in experiments.values()} == {"lowlevel", "keras"}
    assert experiments["lowlevel_net_b"]["kind"] == "lowlevel" and "dropout" in experiments["keras_4l"]


def test_missing_params_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="params.yaml: params file not found"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("name", sorted(PARAMETER_COUNTS))
def test_builder_parameter_counts_match_the_coursework_architectures(project_params, name):
    spec = project_params["experiments"]["keras"][name]
    assert build_model(spec["hidden_units"], spec["activation"], spec["dropout"]).count_params() == PARAMETER_COUNTS[name]


@pytest.mark.parametrize(
    ("hidden_units", "dropout", "expected"),
    [
        ([], 0.0, [("dense", 10, "softmax")]),
        ([600, 400, 200], 0.0, [("dense", 600, "relu"), ("dense", 400, "relu"), ("dense", 200, "relu"), ("dense", 10, "softmax")]),
        ([600, 400, 200], 0.2, [("dense", 600, "relu"), ("dropout", 0.2), ("dense", 400, "relu"), ("dropout", 0.2),
                                ("dense", 200, "relu"), ("dropout", 0.2), ("dense", 10, "softmax")]),
        ([800, 600, 400, 200], [0.4, 0.3, 0.2, 0.1],
         [("dense", 800, "relu"), ("dropout", 0.4), ("dense", 600, "relu"), ("dropout", 0.3),
          ("dense", 400, "relu"), ("dropout", 0.2), ("dense", 200, "relu"), ("dropout", 0.1), ("dense", 10, "softmax")]),
        ([300, 100], [0.5, 0.0], [("dense", 300, "relu"), ("dropout", 0.5), ("dense", 100, "relu"), ("dense", 10, "softmax")]),
    ],
)
def test_builder_makes_the_exact_layer_stack(hidden_units, dropout, expected):
    stack = []
    for layer in build_model(hidden_units, "relu", dropout).layers:
        if isinstance(layer, layers.Dropout):
            stack.append(("dropout", layer.rate))
        else:
            stack.append(("dense", layer.units, layer.activation.__name__))
    assert stack == expected


def test_short_fit_lowers_loss_and_dropout_is_off_at_evaluation():
    generator = np.random.default_rng(0)
    features = generator.random((256, 784), dtype=np.float32)
    targets = np.eye(10, dtype=np.float32)[generator.integers(0, 10, 256)]
    model = compile_model(build_model([64, 32], "relu", 0.5), 0.001, 1)
    history = model.fit(features, targets, epochs=5, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    first = model.predict(features[:16], verbose=0)
    second = model.predict(features[:16], verbose=0)
    assert np.array_equal(first, second)
    # In training mode the same inputs give different outputs: dropout is really there.
    assert not np.allclose(model(features[:16], training=True), model(features[:16], training=True))


@pytest.mark.parametrize("override", ["experiments.keras.keras_4l.dropout=0.1", "optimizers.runs.adam.learning_rate=0.002",
                                      "training.threads=2"])
def test_dvc_exp_run_set_param_changes_one_line_of_params_yaml(override, tmp_path):
    """`dvc exp run -S` rewrites params.yaml with DVC's own YAML writer (through
    dvc.utils.hydra.apply_overrides): the file is kept in the form it writes, with every comment
    where it keeps them, so a change is one line and nothing else moves."""
    from dvc.utils.hydra import apply_overrides

    copy = tmp_path / "params.yaml"
    original = (ROOT / "params.yaml").read_text()
    copy.write_text(original)
    apply_overrides(copy, [override])
    changed = [(before, after) for before, after in zip(original.splitlines(), copy.read_text().splitlines())
               if before != after]
    assert len(original.splitlines()) == len(copy.read_text().splitlines()) and len(changed) == 1
    assert changed[0][1].endswith(override.split("=")[1])
