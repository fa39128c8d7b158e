"""Statistics a reviewer accepts, as pure functions of arrays and dicts.

- A measure over seeds: its mean and a t-interval of the mean. Measured on the test images, the
  interval carries two sources of noise: the seeds (initial weights, batch order, dropout masks)
  and the sampling of the 10,000 test images, which is the same for every seed. `two_way_interval`
  estimates both from the seeds-by-images table of per-image values (or paired differences).
- A comparison is paired: the same seed and the same images for both models.
- A verdict follows from the interval and an equivalence margin, margin first (`verdict`).
- The primary claims are judged together: Holm's method sets each one's level (`holm`).
- A measure with no spread over the seeds (the same value in every seed) has no t-interval; it is
  judged by an exact sign test over the seeds, which with n seeds that all agree can reach no
  level above 1 - 2 / 2**n (93.75 % at five seeds).
"""

import dataclasses
import enum
import math

import numpy as np
from scipy import stats



class Verdict(enum.Enum):
    """What the interval says of a claim; the value is the word the tables print."""
    HOLDS = "holds"
    REVERSED = "reversed"
    ALIKE = "alike"
    INCONCLUSIVE = "inconclusive"
    NOT_RUN = "not run"


# What a table prints where a run has no result yet.
NOT_RUN_TEXT = Verdict.NOT_RUN.value
# The direction a claim states for `first - second` (or for a single value): LOWER or HIGHER than
# zero, POSITIVE (a single value above zero), SIMILAR (inside +-margin); for a measure bounded at
# zero or a no-worse claim, NEGLIGIBLE (below +margin) or MATERIAL (beyond it).
LOWER, HIGHER, SIMILAR, POSITIVE = "lower", "higher", "similar", "positive"
NEGLIGIBLE, MATERIAL = "negligible", "material"
# Which noise an interval carries.
SEEDS, SEEDS_AND_IMAGES = "seeds", "seeds and test images"
NOT_DECIDABLE = "no number of seeds would decide it: the test images' own noise is wider than the effect"
ONE_SEED = "unknown: one seed has no spread"
# The most seeds seeds_needed counts to.
MOST_SEEDS = 200


def percent(confidence):
    """A level as computed, with the digits it has: "95%", "97.5%", "98.75%"."""
    return f"{confidence * 100:.4g}%"


def sign_test_level(count):
    """The highest two-sided level an exact sign test reaches with `count` seeds that all agree."""
    return 1 - 2 * 0.5 ** count


def seeds_for_sign_test(confidence):
    """The fewest seeds, all agreeing, with which an exact sign test reaches `confidence`."""
    return math.ceil(math.log2(2 / (1 - confidence)) - 1e-12)


@dataclasses.dataclass(frozen=True)
class SeedsNeeded:
    """How many seeds would decide an inconclusive claim: a count, or None with the reason none
    can be given (one seed has no spread; more than MOST_SEEDS; the test images' noise alone is
    too wide). `fewest` and `most` are the counts at the ends of the spread's own 95 % interval
    (the spread is estimated from a few seeds); None beyond MOST_SEEDS."""
    count: int | None
    reason: str = ""
    fewest: int | None = None
    most: int | None = None

    def text(self):
        if self.count is None:
            return self.reason
        if self.fewest is None or (self.fewest, self.most) == (self.count, self.count):
            return str(self.count)
        most = f"more than {MOST_SEEDS}" if self.most is None else str(self.most)
        return f"{self.count} ({self.fewest} to {most} within the spread's uncertainty)"


@dataclasses.dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    count: int  # seeds
    # The standard error of the mean split in two: the part that shrinks with more seeds and the
    # part that does not (the test images are always the same 10,000).
    seed_variance: float = math.nan  # of one seed's value; the mean's share is this / count
    image_variance: float = 0.0  # of the mean, from sampling the test images
    degrees_of_freedom: float = math.nan
    confidence: float = math.nan  # the level it was computed at (report.confidence)
    covers: str = SEEDS  # the sources of noise the interval carries

    @property
    def standard_error(self):
        return math.sqrt(self.seed_variance / self.count + self.image_variance)

    def text(self, digits=4):
        if math.isnan(self.mean):
            return "diverged (not a number)"
        if self.count < 2:
            return f"{self.mean:.{digits}f} (1 seed, no interval)"
        if self.standard_error == 0:
            reached = "" if self.low == self.high else f"; {self.count} seeds are too few for an exact test at this level"
            return f"{self.mean:.{digits}f} (the same in every seed{reached})"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    def at(self, confidence):
        """The same estimate at another confidence level."""
        if self.count < 2:
            return dataclasses.replace(self, confidence=confidence)
        if self.standard_error == 0:
            # No spread: the exact sign test's interval, the value itself up to the level that
            # all n seeds agreeing can reach, and unbounded beyond it.
            bound = 0.0 if confidence <= sign_test_level(self.count) else math.inf
            return dataclasses.replace(self, low=self.mean - bound, high=self.mean + bound, confidence=confidence)
        half = float(stats.t.ppf(0.5 + confidence / 2, self.degrees_of_freedom)) * self.standard_error
        return dataclasses.replace(self, low=self.mean - half, high=self.mean + half, confidence=confidence)


def interval(values, confidence):
    """Mean and two-sided t-interval of the mean over seeds; with one value, the interval is
    that value and its width unknown (count 1)."""
    values = np.asarray(list(values), dtype=float)
    if values.size == 0:
        raise ValueError("no values")
    mean = float(values.mean())
    if values.size < 2:
        return Interval(mean, mean, mean, 1, confidence=confidence)
    found = Interval(mean, mean, mean, int(values.size), seed_variance=float(values.var(ddof=1)),
                     degrees_of_freedom=values.size - 1.0)
    return found.at(confidence)


def paired_interval(first, second, confidence):
    """The interval of first[seed] - second[seed] over the seeds both have, or None."""
    seeds = sorted(set(first) & set(second))
    if not seeds:
        return None
    return interval([first[seed] - second[seed] for seed in seeds], confidence)


def two_way_interval(table, confidence):
    """The mean of a seeds-by-images table (per-image values, or paired differences on the same
    images) and its t-interval, with both the seeds and the test images as sources of noise.

    The table is read as a two-way random-effects layout without replication: value = mean +
    seed effect + image effect + residual. From its mean squares (seeds MS_s, images MS_i,
    residual MS_e, with S seeds and N images) the variance of the grand mean is estimated without
    bias as MS_s / (S N) + (MS_i - MS_e) / (S N): the first term is a seed's variance over S (it
    shrinks with more seeds), the second the images' share (it does not, the test set being
    fixed). The t quantile has S - 1 degrees of freedom. This is the analytic form of a bootstrap
    that resamples seeds and images jointly (tests compare the two).
    """
    table = np.asarray(table, dtype=float)
    seeds, images = table.shape
    mean = float(table.mean())
    if seeds < 2:
        return Interval(mean, mean, mean, seeds, confidence=confidence, covers=SEEDS_AND_IMAGES)
    seed_means, image_means = table.mean(axis=1), table.mean(axis=0)
    mean_square_seeds = images * float(seed_means.var(ddof=1))
    mean_square_images = seeds * float(image_means.var(ddof=1))
    residuals = table - seed_means[:, None] - image_means[None, :] + mean
    mean_square_error = float((residuals ** 2).sum()) / ((seeds - 1) * (images - 1))
    seed_variance = mean_square_seeds / images  # one seed's value: its own noise and its residuals
    image_variance = max(mean_square_images - mean_square_error, 0.0) / (seeds * images)
    seed_part = seed_variance / seeds
    total = seed_part + image_variance
    if total == 0:
        return Interval(mean, mean, mean, seeds, seed_variance=0.0, degrees_of_freedom=seeds - 1.0,
                        confidence=confidence, covers=SEEDS_AND_IMAGES)
    # S - 1 degrees of freedom, not Satterthwaite's (between S - 1 and N - 1): with five seeds his
    # approximation is itself uncertain, and S - 1 keeps the coverage whatever the share of the
    # seeds in the error.
    found = Interval(mean, mean, mean, seeds, seed_variance=seed_variance, image_variance=image_variance,
                     degrees_of_freedom=seeds - 1.0, covers=SEEDS_AND_IMAGES)
    return found.at(confidence)


def estimate(sample, confidence):
    """The interval of a sample: a seeds-by-images table (two_way_interval), or one value per
    seed (interval)."""
    sample = np.asarray(sample, dtype=float)
    return two_way_interval(sample, confidence) if sample.ndim == 2 else interval(sample, confidence)


def p_value(found, direction, margin):
    """The two-sided p-value of the test a verdict makes, so that `verdict` on the interval at
    confidence 1 - alpha decides as this p <= alpha: against zero for a claimed difference,
    against the margin for the other directions (for SIMILAR, two one-sided tests)."""
    if found.count < 2:
        return 1.0
    if found.standard_error == 0:
        # The exact sign test: every seed on the claimed side of the boundary the verdict reads.
        decided = {SIMILAR: -margin < found.mean < margin, NEGLIGIBLE: found.mean != margin,
                   MATERIAL: found.mean != margin}.get(direction, found.mean != 0)
        return min(1.0, 2 * 0.5 ** found.count) if decided else 1.0
    def beyond(point, above):  # one-sided p that the mean lies beyond `point`, on the `above` side
        statistic = (found.mean - point) / found.standard_error
        return float(stats.t.sf(statistic if not above else -statistic, found.degrees_of_freedom))
    if direction == SIMILAR:
        return min(1.0, 2 * max(beyond(margin, above=True), beyond(-margin, above=False)))
    if direction == NEGLIGIBLE:
        return min(1.0, 2 * beyond(margin, above=True))
    if direction == MATERIAL:
        return min(1.0, 2 * beyond(margin, above=False))
    statistic = found.mean / found.standard_error
    return float(2 * stats.t.sf(abs(statistic), found.degrees_of_freedom))


def holm(p_values):
    """Holm's step-down adjusted p-values, in the order given: the k-th smallest p is multiplied
    by (m - k + 1), and each adjusted p is at least the one before it in that order."""
    p_values = np.asarray(p_values, dtype=float)
    order = np.argsort(p_values, kind="stable")
    count = len(p_values)
    adjusted = np.empty(count)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (count - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def verdict(found, direction, margin):
    """The verdict on a claim about `first - second` (or one value, for POSITIVE), given the
    interval `found` of it and the equivalence margin. The margin comes first: a difference too
    small to matter is no difference, whatever its sign.

    - A claimed difference (LOWER, HIGHER, or a value claimed POSITIVE): alike when the whole
      interval lies inside +-margin; otherwise it holds when the interval excludes zero on the
      claimed side, is reversed when it excludes zero on the other, and is inconclusive when it
      does neither.
    - A claim that two runs are alike (SIMILAR): holds when the whole interval lies inside
      +-margin, is reversed only when it lies wholly outside, inconclusive otherwise.
    - One side of the margin (a measure bounded at zero, or a no-worse claim): claimed NEGLIGIBLE,
      it holds when the interval lies below the margin and is reversed when it lies above it;
      claimed MATERIAL, the other way round.
    - Always inconclusive with fewer than two seeds.
    """
    if found is None:
        return Verdict.NOT_RUN
    if found.count < 2:
        return Verdict.INCONCLUSIVE
    inside_margin = -margin < found.low and found.high < margin
    if direction in (NEGLIGIBLE, MATERIAL):
        below, above = found.high < margin, found.low > margin
        if not (below or above):
            return Verdict.INCONCLUSIVE
        return Verdict.HOLDS if below == (direction == NEGLIGIBLE) else Verdict.REVERSED
    if direction == SIMILAR:
        if inside_margin:
            return Verdict.HOLDS
        return Verdict.REVERSED if found.low > margin or found.high < -margin else Verdict.INCONCLUSIVE
    if inside_margin:
        return Verdict.ALIKE
    claimed_below = direction == LOWER  # HIGHER and POSITIVE claim the interval above zero
    if (found.high < 0) if claimed_below else (found.low > 0):
        return Verdict.HOLDS
    if (found.low > 0) if claimed_below else (found.high < 0):
        return Verdict.REVERSED
    return Verdict.INCONCLUSIVE


def seeds_needed(found, direction, margin, most=MOST_SEEDS):
    """How many seeds would decide an inconclusive claim if the mean and the spread stayed as
    observed (a SeedsNeeded), with the counts at the ends of the spread's own 95 % interval. The
    images' share of the error stays whatever the seeds, so a decision that needs a narrower
    interval than the test set allows is out of reach; a value the same in every seed needs the
    seeds an exact sign test needs.

    Decided means the interval clears the nearest boundary the verdict rules read: zero for a
    claimed difference beyond the margin; the margin for a difference that sits inside it (it
    would be alike), for a claim of likeness, and for NEGLIGIBLE and MATERIAL."""
    if found is None or found.count < 2:
        return SeedsNeeded(None, ONE_SEED)
    if found.standard_error == 0:
        count = seeds_for_sign_test(found.confidence)
        return SeedsNeeded(count, fewest=count, most=count)
    size = abs(found.mean)
    if direction in (NEGLIGIBLE, MATERIAL):
        room = abs(found.mean - margin)
    elif direction == SIMILAR or size < margin:
        room = abs(margin - size)
    else:
        room = size
    if float(stats.norm.ppf(0.5 + found.confidence / 2)) * math.sqrt(found.image_variance) >= room:
        return SeedsNeeded(None, NOT_DECIDABLE)

    def needed(seed_variance):
        for count in range(found.count, most + 1):
            error = math.sqrt(seed_variance / count + found.image_variance)
            if float(stats.t.ppf(0.5 + found.confidence / 2, count - 1)) * error < room:
                return count
        return None

    freedom = found.count - 1
    count = needed(found.seed_variance)
    if count is None:
        return SeedsNeeded(None, f"more than {most} seeds would be needed")
    # More than the seeds that just failed to decide it, however small the spread may truly be.
    fewest = max(found.count + 1, needed(found.seed_variance * freedom / float(stats.chi2.ppf(0.975, freedom))))
    return SeedsNeeded(count, fewest=fewest, most=needed(found.seed_variance * freedom / float(stats.chi2.ppf(0.025, freedom))))
