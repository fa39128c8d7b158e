"""A run's measures (judging/measures.py) and what the report says of where runs were trained,
on runs built by hand."""

import math

import numpy as np
import pandas as pd

from fashion_pipeline.document import answers, sections
from fashion_pipeline.judging import analysis, measures, results, statistics
from fashion_pipeline.judging.claims import Claim
from fashion_pipeline.judging.statistics import Verdict


def run(seed=42, cpu="", epochs=(1, 2, 3), val_loss=(0.5, 0.4, 0.3), weights=()):
    history = pd.DataFrame({"epoch": list(epochs), "val_loss": list(val_loss)})
    return results.Run("net", seed, None, {}, {}, history, {}, {"weights": list(weights)}, cpu)


def test_weight_sizes_read_as_each_penalty_counts_them():
    """Two layers: 4 weights of |w| 1 and 2 of |w| 4. Mean |w| counts them alike (12 / 6 = 2); the
    root mean square weighs the large ones more (sqrt((4 + 32) / 6)); the output layer's alone is 4."""
    layers = [{"shape": "2x2", "sum_abs": 4.0, "sum_squares": 4.0}, {"shape": "2x1", "sum_abs": 8.0, "sum_squares": 32.0}]
    trained = run(weights=layers)
    assert measures.measure_value(trained, "mean_abs_weight") == 2.0
    assert math.isclose(measures.measure_value(trained, "rms_weight"), math.sqrt(6.0))
    assert measures.measure_value(trained, "output_rms_weight") == 4.0


def test_the_fall_after_an_epoch_is_read_at_that_epoch_and_a_shorter_run_has_none():
    trained = run(epochs=(1, 2, 3, 4), val_loss=(0.9, 0.6, 0.5, 0.45))
    assert math.isclose(measures.measure_value(trained, "val_loss_fall_after", 2), 0.15)
    assert math.isnan(measures.measure_value(trained, "val_loss_fall_after", 4))
    assert math.isnan(measures.measure_value(run(epochs=(1, 2), val_loss=(0.5, 0.4)), "val_loss_fall_after", 350))
    # A claim no run can measure has not run: not 'the same in all seeds'.
    claim = Claim("stagnates", "A 1-1", "It stagnates", "val_loss_fall_after", statistics.NEGLIGIBLE, "loss", "net",
                  target="report.stagnation_epoch")
    params = {"report": {"confidence": 0.95, "primary_claims": [], "margins": {"loss": 0.02}, "stagnation_epoch": 350}}
    short = {"net": {seed: run(seed, epochs=(1, 2), val_loss=(0.5, 0.4)) for seed in (42, 43)}}
    (finding,) = analysis.judge_all(short, {}, params, [claim])
    assert finding.found is None and finding.verdict is Verdict.NOT_RUN


def test_a_comparison_says_which_seeds_set_two_cpu_kinds_or_an_unrecorded_one_against_each_other():
    first = {42: run(42, "Intel Xeon"), 43: run(43, "AMD EPYC"), 44: run(44, "AMD EPYC"), 45: run(45, "")}
    second = {42: run(42, "Intel Xeon"), 43: run(43, "Intel Xeon"), 44: run(44, "AMD EPYC"), 45: run(45, "AMD EPYC")}
    assert results.cpu_kinds(first, second) == (("AMD EPYC", "Intel Xeon"), (43,), (45,))
    assert results.cpu_kinds(first, None) == (("AMD EPYC", "Intel Xeon"), (), (45,))
    claim = Claim("b_beats_a", "A 1-2-1, 1-2-2", "Network B beats Network A", "test_loss", statistics.LOWER, "loss",
                  "net_b", "net_a")
    finding = analysis.Finding(claim, ("net_b", "net_a"), ("B", "A"), None, 0.02, False, 1.0, Verdict.NOT_RUN, None,
                               None, *results.cpu_kinds(first, second))
    sentence = sections.cpu_sentence([finding])
    assert "compared in some seeds: Network B beats Network A (seed 43)" in sentence
    assert "not recorded for Network B beats Network A (seed 45)" in sentence
    single = Claim("settles", "A 1-1", "It settles", "val_loss_rise", statistics.NEGLIGIBLE, "loss", "net")
    alone = analysis.Finding(single, ("net", None), ("net", None), None, 0.02, False, 1.0, Verdict.NOT_RUN, None, None,
                             ("Intel Xeon",))
    assert sections.cpu_sentence([alone]) == "Each claim here reads one run."


def test_an_interval_end_never_prints_as_the_margin_it_is_not():
    """The ends -0.0197 and +0.0128 at two significant digits of the half-width would print as
    -0.020 beside "within ±0.020": one more decimal tells them apart; an end that is the margin
    keeps its digits."""
    found = statistics.Interval(-0.0035, -0.0197, 0.0128, 5, seed_variance=1e-4, confidence=0.95)
    assert answers.how_sure(found, "loss")[2] == "(95% interval -0.020 to +0.013, 5 seeds)"
    assert answers.how_sure(found, "loss", margin=0.02)[2] == "(95% interval -0.0197 to +0.0128, 5 seeds)"
    exact = statistics.Interval(0.0, -0.02, 0.01, 5, seed_variance=1e-4, confidence=0.95)
    assert answers.how_sure(exact, "loss", margin=0.02)[2] == "(95% interval -0.020 to +0.010, 5 seeds)"
    assert np.isfinite(answers.how_sure(found, "epochs", margin=10)[0])
