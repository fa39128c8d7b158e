"""The report's answers in words, generated from the findings (analysis.Finding): every number
is the measured one, and the wording follows the verdict."""

from fashion_pipeline.judging.statistics import MATERIAL, NEGLIGIBLE, SIMILAR, Verdict

UNITS = {"accuracy": " points", "share": " points", "epochs": " epochs"}


def number(value, margin_name, sign=""):
    """A value in the unit of its margin, without the unit's name: percentage points, whole
    epochs, or the measure's own; `sign="+"` for an interval's ends."""
    if margin_name in ("accuracy", "share"):
        return f"{value * 100:{sign}.2f}"
    if margin_name == "epochs":
        return f"{value:{sign}.0f}"
    return f"{value:{sign}.3g}" if sign or abs(value) < 0.01 else f"{value:.3f}"


def amount(value, margin_name):
    """A size in the unit of its margin: "0.27 points", "110 epochs", "0.129"."""
    return number(abs(value), margin_name) + UNITS.get(margin_name, "")


def interval_words(found, margin_name):
    """An interval in the unit `amount` states its difference in: "+0.25 to +0.29 points"."""
    return (f"{number(found.low, margin_name, '+')} to {number(found.high, margin_name, '+')}"
            + UNITS.get(margin_name, ""))


def effect(finding):
    """What was measured, in words: "final test loss: Network B is 0.009 higher than Network A
    (95% interval +0.002 to +0.016, 5 seeds)"."""
    found, claim = finding.found, finding.claim
    if found is None:
        return "not run yet"
    words = finding.measure_words
    first, second = finding.labels
    if found.count < 2:
        spread = "one seed, no interval"
    elif found.low == found.high:
        spread = f"the same in all {found.count} seeds"
    else:
        # A difference is said in its margin's unit (points, epochs), and so is its interval.
        bounds = interval_words(found, claim.margin if second else None)
        spread = f"{found.confidence:.0%} interval {bounds}, {found.count} seeds"
    if second is None:
        return f"{words}: {first} is {found.mean:.3g} ({spread})"
    # Counts of epochs are more or fewer; losses, gaps and accuracies higher or lower.
    side = ("more" if found.mean > 0 else "fewer") if claim.margin == "epochs" else \
        ("higher" if found.mean > 0 else "lower")
    return f"{words}: {first} is {amount(found.mean, claim.margin)} {side} than {second} ({spread})"


# Each decided verdict as a reader says it; ALIKE and INCONCLUSIVE say their interval too.
DECIDED_WORDS = {Verdict.NOT_RUN: "not run yet", Verdict.HOLDS: "the coursework's claim holds",
                 Verdict.REVERSED: "the opposite of the coursework's claim"}


def verdict_words(finding):
    """The verdict as a reader says it."""
    claim, margin = finding.claim, finding.margin
    if finding.verdict in DECIDED_WORDS:
        return DECIDED_WORDS[finding.verdict]
    if finding.verdict is Verdict.ALIKE:
        return f"alike: the whole interval lies within ±{amount(margin, claim.margin)}, too small to matter"
    if claim.direction in (NEGLIGIBLE, MATERIAL):
        reason = f"the interval spans the margin of {amount(margin, claim.margin)}"
    elif claim.direction == SIMILAR:
        reason = f"the interval reaches past ±{amount(margin, claim.margin)}"
    else:
        reason = "the interval includes zero"
    needed = finding.seeds_needed
    more = f"about {needed.count} seeds would decide it" if needed.count is not None else needed.reason
    return f"not settled ({reason}); {more}"


def sentence(finding):
    """One claim in one sentence: the claim, what was measured, the verdict."""
    return f"{finding.claim.statement}: {effect(finding)}; {verdict_words(finding)}."


def question_answer(question):
    """A question's opening (judging.findings.Question): its primary claim first, with what the
    coursework said, then a line per other claim."""
    head = question.head
    if head is None:
        return ""
    said = f" The coursework: {head.claim.coursework_says}." if head.claim.coursework_says else ""
    lines = [f"**Answer.** {sentence(head)}{said}"]
    others = [finding for finding in question.findings if finding is not head]
    if others:
        lines.append("\n".join(f"- {sentence(finding)}" for finding in others))
    return "\n\n".join(lines)


# Verdicts counted, as "3 hold, 1 reversed".
COUNTED_WORDS = {Verdict.HOLDS: "hold", Verdict.REVERSED: "reversed", Verdict.ALIKE: "alike",
                 Verdict.INCONCLUSIVE: "not settled", Verdict.NOT_RUN: "not run"}


def counts(findings):
    """"3 hold, 1 reversed, 2 not settled" over a list of findings."""
    found = {}
    for finding in findings:
        found[COUNTED_WORDS[finding.verdict]] = found.get(COUNTED_WORDS[finding.verdict], 0) + 1
    return ", ".join(f"{count} {word}" for word, count in found.items())
