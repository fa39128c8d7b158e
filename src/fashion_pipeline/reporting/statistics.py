"""Statistics a reviewer accepts, as pure functions of arrays and dicts.

- A metric over seeds: mean, standard deviation and a 95 % t-interval of the mean.
- A comparison of two models is paired: same seed, same images. Its interval is the t-interval
  of the per-seed differences, which carries the training noise from seed to seed; beside it, a
  test on the images pooled over seeds (McNemar's exact test for accuracy, a paired bootstrap of
  the mean per-image loss) says whether the two differ on these images.
- A verdict follows from the interval and an equivalence margin, by the rules of `verdict`.
"""

import dataclasses
import math

import numpy as np
from scipy import stats

HOLDS, REVERSED, ALIKE, INCONCLUSIVE, NOT_RUN = "holds", "reversed", "alike", "inconclusive", "not run"
# The direction a claim states for `first - second` (or for a single value): POSITIVE, above
# zero; for a measure bounded at zero (how far the validation loss rises from its minimum),
# NEGLIGIBLE, below the margin, or MATERIAL, beyond it.
LOWER, HIGHER, SIMILAR, POSITIVE = "lower", "higher", "similar", "positive"
NEGLIGIBLE, MATERIAL = "negligible", "material"


@dataclasses.dataclass(frozen=True)
class Interval:
    mean: float
    sd: float
    low: float
    high: float
    count: int

    def text(self, digits=4):
        if self.count < 2:
            return f"{self.mean:.{digits}f} (1 seed, no interval)"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def interval(values, confidence=0.95):
    """Mean, sd and the two-sided t-interval of the mean; with one value, the interval is that
    value and its width unknown (count 1)."""
    values = np.asarray(list(values), dtype=float)
    if values.size == 0:
        raise ValueError("no values")
    mean = float(values.mean())
    if values.size < 2:
        return Interval(mean, math.nan, mean, mean, 1)
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, values.size - 1)) * sd / math.sqrt(values.size)
    return Interval(mean, sd, mean - half, mean + half, int(values.size))


def paired_interval(first, second, confidence=0.95):
    """The interval of first[seed] - second[seed] over the seeds both have, or None."""
    seeds = sorted(set(first) & set(second))
    if not seeds:
        return None
    return interval([first[seed] - second[seed] for seed in seeds], confidence)


def mcnemar(first_correct, second_correct):
    """McNemar's exact test on paired right/wrong outcomes (pooled over seeds by the caller):
    (images only the first gets right, images only the second gets right, two-sided p)."""
    first_correct, second_correct = np.asarray(first_correct, bool), np.asarray(second_correct, bool)
    only_first = int(np.sum(first_correct & ~second_correct))
    only_second = int(np.sum(~first_correct & second_correct))
    discordant = only_first + only_second
    if discordant == 0:
        return only_first, only_second, 1.0
    p_value = stats.binomtest(only_first, discordant, 0.5).pvalue
    return only_first, only_second, float(p_value)


def paired_bootstrap(first_losses, second_losses, rounds, seed, confidence=0.95):
    """The mean over seeds of the mean per-image loss difference, and its percentile interval
    from resampling the images (the same images for both models, within each seed).
    `first_losses` and `second_losses` are lists of per-image arrays, one pair per seed."""
    generator = np.random.default_rng(seed)
    differences = [np.asarray(first, float) - np.asarray(second, float)
                   for first, second in zip(first_losses, second_losses, strict=True)]
    observed = float(np.mean([difference.mean() for difference in differences]))
    resampled = np.zeros(rounds)
    for difference in differences:
        picks = generator.integers(0, difference.size, size=(rounds, difference.size))
        resampled += difference[picks].mean(axis=1)
    resampled /= len(differences)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return observed, float(low), float(high)


def verdict(found, direction, margin):
    """The verdict on a claim about `first - second` (or one value, for POSITIVE), given the
    interval `found` of it over seeds and the equivalence margin. The margin comes first: a
    difference too small to matter is no difference, whatever its sign.

    - A claimed difference (LOWER, HIGHER, or a value claimed POSITIVE): alike when the whole
      interval lies inside +-margin; otherwise it holds when the interval excludes zero on the
      claimed side, is reversed when it excludes zero on the other, and is inconclusive when it
      does neither.
    - A claim that two runs are alike (SIMILAR): holds when the whole interval lies inside
      +-margin, is reversed only when it lies wholly outside, inconclusive otherwise.
    - A measure bounded at zero is read against the margin on its one side: claimed NEGLIGIBLE,
      it holds when the interval lies below the margin and is reversed when it lies above it;
      claimed MATERIAL, the other way round.
    - Always inconclusive with fewer than two seeds.
    """
    if found is None:
        return NOT_RUN
    if found.count < 2:
        return INCONCLUSIVE
    inside_margin = -margin < found.low and found.high < margin
    if direction in (NEGLIGIBLE, MATERIAL):
        below, above = found.high < margin, found.low > margin
        if not (below or above):
            return INCONCLUSIVE
        return HOLDS if below == (direction == NEGLIGIBLE) else REVERSED
    if direction == SIMILAR:
        if inside_margin:
            return HOLDS
        return REVERSED if found.low > margin or found.high < -margin else INCONCLUSIVE
    if inside_margin:
        return ALIKE
    claimed_below = direction == LOWER  # HIGHER and POSITIVE claim the interval above zero
    if (found.high < 0) if claimed_below else (found.low > 0):
        return HOLDS
    if (found.low > 0) if claimed_below else (found.high < 0):
        return REVERSED
    return INCONCLUSIVE
