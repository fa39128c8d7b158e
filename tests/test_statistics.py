"""The report's statistics on constructed data with known answers: intervals over seeds and
test images, the verdict rules, Holm's method and the seeds a claim needs. Every random draw
has a fixed seed and the arithmetic is float64 NumPy, so the numbers are the same on any CPU."""

import math

import numpy as np
import pytest

from fashion_pipeline.judging import statistics
from fashion_pipeline.judging.statistics import NOT_DECIDABLE, SeedsNeeded, Verdict

ALIKE, HOLDS, INCONCLUSIVE, NOT_RUN, REVERSED = (Verdict.ALIKE, Verdict.HOLDS, Verdict.INCONCLUSIVE, Verdict.NOT_RUN,
                                                 Verdict.REVERSED)


def test_interval_is_the_t_interval_of_the_mean():
    found = statistics.interval([1.0, 2.0, 3.0], 0.95)
    half = 4.302653 * 1.0 / math.sqrt(3)  # t(0.975, 2 degrees of freedom) * sd / sqrt(n)
    assert (found.mean, found.seed_variance, found.count, found.covers) == (2.0, 1.0, 3, statistics.SEEDS)
    assert found.low == pytest.approx(2.0 - half, abs=1e-5) and found.high == pytest.approx(2.0 + half, abs=1e-5)
    single = statistics.interval([0.4], 0.95)
    assert single.count == 1 and "1 seed" in single.text()
    # No spread: an exact sign test, whose three agreeing seeds reach 75 % at most.
    same = statistics.interval([201.0, 201.0, 201.0], 0.95)
    assert same.text(2) == "201.00 (the same in every seed; 3 seeds are too few for an exact test at this level)"
    assert (same.low, same.high) == (-math.inf, math.inf)
    assert (same.at(0.75).low, same.at(0.75).high) == (201.0, 201.0)
    assert same.at(0.75).text(2) == "201.00 (the same in every seed)"


def test_a_value_the_same_in_every_seed_is_judged_by_an_exact_sign_test():
    """Five seeds that all agree give a two-sided p of 2 / 2**5 = 1/16, never 0: not enough at 95 %
    (the verdict waits for six seeds); six agreeing seeds decide it."""
    five, six = statistics.interval([0.0] * 5, 0.95), statistics.interval([0.0] * 6, 0.95)
    assert statistics.p_value(five, statistics.NEGLIGIBLE, 0.02) == pytest.approx(1 / 16)
    assert statistics.verdict(five, statistics.NEGLIGIBLE, 0.02) is INCONCLUSIVE
    assert statistics.seeds_needed(five, statistics.NEGLIGIBLE, 0.02).count == 6
    assert statistics.verdict(six, statistics.NEGLIGIBLE, 0.02) is HOLDS
    assert statistics.p_value(six, statistics.NEGLIGIBLE, 0.02) == pytest.approx(1 / 32)
    # A value on the boundary the test reads decides nothing, however many seeds.
    assert statistics.p_value(statistics.interval([0.0] * 8, 0.95), statistics.LOWER, 0.02) == 1.0
    assert statistics.seeds_for_sign_test(0.95) == 6 and statistics.seeds_for_sign_test(1 - 0.05 / 6) == 8


def test_paired_interval_uses_the_seeds_both_runs_have():
    found = statistics.paired_interval({42: 1.0, 43: 2.0, 44: 9.0}, {42: 0.5, 43: 2.5}, 0.95)
    assert (found.mean, found.count) == (0.0, 2) and found.low < -0.5 and found.high > 0.5
    assert statistics.paired_interval({42: 1.0}, {43: 1.0}, 0.95) is None


def test_two_way_interval_without_image_effects_is_the_seed_interval():
    # Every image of a seed has that seed's value: the images add no noise.
    seed_values = np.array([0.3, 0.5, 0.4, 0.6])
    table = np.repeat(seed_values[:, None], 50, axis=1)
    found, plain = statistics.two_way_interval(table, 0.95), statistics.interval(seed_values, 0.95)
    assert found.image_variance < 1e-20
    assert (found.low, found.high) == pytest.approx((plain.low, plain.high), rel=1e-9)


def simulated(generator, seeds, images, seed_sd=0.02, image_sd=0.5, noise_sd=0.3, mean=0.01):
    """Paired per-image differences: mean + seed effect + image effect + residual."""
    return (mean + generator.normal(0, seed_sd, (seeds, 1)) + generator.normal(0, image_sd, (1, images))
            + generator.normal(0, noise_sd, (seeds, images)))


def test_two_way_interval_covers_the_true_mean_where_a_seeds_only_interval_does_not():
    # The test images are one draw shared by every seed: their effect does not average out over
    # seeds. Here its share of the mean's error (1 / sqrt(2000) = 0.022) is twice the seeds'.
    generator = np.random.default_rng(7)
    ours = naive = 0
    trials = 400
    for _ in range(trials):
        table = simulated(generator, seeds=5, images=2000, image_sd=1.0)
        found = statistics.two_way_interval(table, 0.95)
        ours += found.low <= 0.01 <= found.high
        seeds_only = statistics.interval(table.mean(axis=1), 0.95)
        naive += seeds_only.low <= 0.01 <= seeds_only.high
    # 400 trials: a 95 % interval covers 380 +- 9 (binomial sd 4.4). With S - 1 degrees of freedom
    # the coverage is at least that, and above it where the images' share dominates, as here.
    assert ours / trials >= 0.93
    assert naive / trials < 0.75


def hierarchical_bootstrap(table, rounds, generator):
    """The reference the analytic interval stands for: resample seeds and images jointly, the
    same images for every seed, and take the standard deviation of the grand mean."""
    seeds, images = table.shape
    means = [table[generator.integers(0, seeds, seeds)][:, generator.integers(0, images, images)].mean()
             for _ in range(rounds)]
    return float(np.std(means))


def test_two_way_standard_error_agrees_with_a_hierarchical_bootstrap():
    generator = np.random.default_rng(3)
    table = simulated(generator, seeds=40, images=400, seed_sd=0.05, image_sd=0.4, noise_sd=0.1)
    found = statistics.two_way_interval(table, 0.95)
    # The bootstrap counts the residual twice (once per resampled factor) and the seed and image
    # variances with (n - 1) / n; with the residual small, the two agree within 10 %.
    assert hierarchical_bootstrap(table, 1500, generator) == pytest.approx(found.standard_error, rel=0.1)
    assert found.covers == statistics.SEEDS_AND_IMAGES and found.count == 40


@pytest.mark.parametrize(
    ("values", "direction", "expected"),
    [
        ([-0.30, -0.25, -0.35], statistics.LOWER, HOLDS),
        ([0.30, 0.25, 0.35], statistics.LOWER, REVERSED),
        ([0.30, 0.25, 0.35], statistics.HIGHER, HOLDS),
        ([0.001, -0.001, 0.0005], statistics.LOWER, ALIKE),  # inside the 0.02 margin both ways
        ([0.10, -0.10, 0.05], statistics.LOWER, INCONCLUSIVE),  # wide, and crosses zero
        ([0.001, -0.001, 0.0005], statistics.SIMILAR, HOLDS),
        ([0.30, 0.25, 0.35], statistics.SIMILAR, REVERSED),
        ([0.10, -0.10, 0.05], statistics.SIMILAR, INCONCLUSIVE),
        ([0.2, 0.3, 0.25], statistics.POSITIVE, HOLDS),
        ([0.001, -0.001, 0.0005], statistics.POSITIVE, ALIKE),
        ([0.0] * 6, statistics.NEGLIGIBLE, HOLDS),  # bounded at zero, no rise at all in six seeds
        ([0.30, 0.25, 0.35], statistics.NEGLIGIBLE, REVERSED),
        ([0.0, 0.05, 0.01], statistics.NEGLIGIBLE, INCONCLUSIVE),  # [-0.046, 0.086] straddles the margin
        # No worse: a difference clearly below +margin holds, even a large negative one.
        ([-0.30, -0.25, -0.35], statistics.NEGLIGIBLE, HOLDS),
        ([0.30, 0.25, 0.35], statistics.MATERIAL, HOLDS),
        # No spread: three agreeing seeds are too few for an exact test at 95 %; six are not.
        ([0.0, 0.0, 0.0], statistics.MATERIAL, INCONCLUSIVE),
        ([0.0] * 6, statistics.MATERIAL, REVERSED),
        # Margins first: [0.0085, 0.0135] excludes zero but lies inside +-0.02, so no difference.
        ([0.010, 0.012, 0.011], statistics.LOWER, ALIKE),
        # [0.0076, 0.0324] excludes zero but not wholly outside the margin: alikeness is not refuted.
        ([0.015, 0.025, 0.020], statistics.SIMILAR, INCONCLUSIVE),
        ([-0.30], statistics.LOWER, INCONCLUSIVE),  # one seed: no interval, no verdict
    ],
)
def test_verdict_rules(values, direction, expected):
    assert statistics.verdict(statistics.interval(values, 0.95), direction, 0.02) is expected
    assert statistics.verdict(None, direction, 0.02) is NOT_RUN


def test_holm_adjusts_step_down_and_keeps_the_order():
    # Sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> 0.06 (monotone).
    adjusted = statistics.holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert statistics.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize(
    ("values", "direction"),
    [([-0.05, -0.03, -0.06, -0.02], statistics.LOWER), ([0.001, -0.002, 0.003, 0.0], statistics.SIMILAR),
     ([0.004, 0.006, 0.001, 0.012], statistics.NEGLIGIBLE), ([0.06, 0.09, 0.05, 0.04], statistics.MATERIAL)],
)
def test_p_value_decides_as_the_interval_at_the_same_level(values, direction):
    """The interval at confidence 1 - alpha decides (holds or reversed, against inconclusive) as
    p <= alpha does: the basis of drawing a primary claim's interval at Holm's level."""
    found = statistics.interval(values, 0.95)
    p_value = statistics.p_value(found, direction, 0.02)
    assert 0 < p_value < 1
    decided = {HOLDS, REVERSED}
    assert statistics.verdict(found.at(1 - p_value * 1.02), direction, 0.02) in decided
    assert statistics.verdict(found.at(1 - p_value * 0.98), direction, 0.02) not in decided


def test_seeds_needed_at_the_observed_spread():
    # Seed variance 1, mean 0.5: t(n - 1) / sqrt(n) < 0.5 first at n = 18 (2.110 / 4.243 = 0.497).
    found = statistics.Interval(0.5, -1.0, 2.0, 3, seed_variance=1.0, degrees_of_freedom=2.0, confidence=0.95)
    assert statistics.seeds_needed(found, statistics.LOWER, 0.02).count == 18
    # The test images' share of the error does not shrink with seeds: 2 x 0.3 > 0.5 whatever n.
    floored = statistics.Interval(0.5, -1.0, 2.0, 3, seed_variance=1.0, image_variance=0.09, degrees_of_freedom=2.0,
                                  confidence=0.95)
    floor = statistics.seeds_needed(floored, statistics.LOWER, 0.02)
    assert floor == SeedsNeeded(None, NOT_DECIDABLE) and floor.text() == NOT_DECIDABLE
    # Past the cap is another answer than the floor: more seeds would do, but more than counted.
    wide = statistics.Interval(0.05, -1.0, 2.0, 3, seed_variance=1.0, degrees_of_freedom=2.0, confidence=0.95)
    assert statistics.seeds_needed(wide, statistics.LOWER, 0.02).reason == "more than 200 seeds would be needed"
    # The spread is itself estimated from the seeds: the count comes with the counts at its ends.
    spread = statistics.seeds_needed(found, statistics.LOWER, 0.02)
    assert spread.fewest < 18 and spread.most is None
    assert spread.text() == f"18 ({spread.fewest} to more than 200 within the spread's uncertainty)"
    one_seed = statistics.seeds_needed(statistics.interval([0.4], 0.95), statistics.LOWER, 0.02)
    assert one_seed.count is None and one_seed.reason.startswith("unknown")
    assert SeedsNeeded(18).text() == "18"


def test_a_verdict_is_an_enum_whose_value_is_the_word_the_tables_print():
    assert [verdict.value for verdict in Verdict] == ["holds", "reversed", "alike", "inconclusive", "not run"]
    assert statistics.verdict(statistics.interval([-0.3, -0.25, -0.35], 0.95), statistics.LOWER, 0.02) is Verdict.HOLDS
    assert Verdict("holds") is Verdict.HOLDS and Verdict.HOLDS != "holds"


def test_verify_judges_a_new_run_by_the_prediction_interval_of_the_committed_seeds():
    from fashion_pipeline.tools.verify import judge

    committed = {42: 0.30, 43: 0.32, 44: 0.31, 45: 0.33, 46: 0.29}
    assert judge(0.30, committed, 42, 0.95) == (True, "0.3000, the committed seed 42's exactly")
    # Mean 0.31, sd 0.0158; the 95 % prediction interval for one more seed is
    # 0.31 +- 2.776 * 0.0158 * sqrt(1.2) = [0.262, 0.358].
    inside, words = judge(0.34, committed, 42, 0.95)
    assert inside and "[0.2619, 0.3581]" in words and "+1.9 sd" in words
    outside, words = judge(0.40, committed, 42, 0.95)
    assert not outside and "OUTSIDE" in words


def test_verify_finds_the_epoch_where_two_histories_part():
    import pandas as pd

    from fashion_pipeline.tools.verify import parting_epoch

    committed = pd.DataFrame({"epoch": [1, 2, 3, 4], "val_loss": [0.9, 0.7, 0.6, 0.55]})
    assert parting_epoch(committed.copy(), committed) is None
    # A difference in float32's last digit is no parting; one in the fourth digit is.
    rounded = committed.assign(val_loss=[0.9, 0.7 + 1e-8, 0.6, 0.5501])
    assert parting_epoch(rounded, committed) == 4
