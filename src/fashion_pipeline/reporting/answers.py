"""The report's answers in words, generated from the findings (analysis.Finding): every number
is the measured one, and the wording follows the verdict."""

from fashion_pipeline.reporting.claims import MEASURE_WORDS
from fashion_pipeline.reporting.statistics import (ALIKE, HOLDS, INCONCLUSIVE, MATERIAL, NEGLIGIBLE, NOT_RUN, REVERSED,
                                                   SIMILAR)

RULE_NAMES = {"sgd": "SGD", "sgd_momentum": "SGD with momentum", "rmsprop": "RMSprop", "adagrad": "Adagrad",
              "adamax": "Adamax", "adam": "Adam"}


def label(spec):
    """A run's human name from its spec: "4 layers, dropout 0.2", "Part A 300-100, L1",
    "Adam, rate 0.003, decay"."""
    if "rule" in spec:
        extras = [f"rate {spec['learning_rate']:g}"]
        extras += ["decay"] if spec.get("decay_rate") else []
        extras += ["no bias correction"] if spec.get("bias_correction") is False else []
        return f"{RULE_NAMES.get(spec['rule'], spec['rule'])}, " + ", ".join(extras)
    hidden = spec["hidden_units"]
    if spec["kind"] == "lowlevel":
        shape = "-".join(map(str, hidden)) or "softmax"
        regularizer = "" if spec["regularizer"] == "none" else f", {spec['regularizer'].upper()}"
        return f"Part A {shape}{regularizer}"
    text = f"{len(hidden) + 1} layers" if hidden else "softmax"
    dropout = spec["dropout"]
    if isinstance(dropout, list):
        text += ", dropout " + "-".join(f"{rate:g}" for rate in dropout)
    elif dropout:
        text += f", dropout {dropout:g}"
    return text + (", raw pixels" if spec.get("scale") is False else "")


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


def effect(finding, labels):
    """What was measured, in words: "final test loss: Network B is 0.009 higher than Network A
    (95% interval +0.002 to +0.016, 5 seeds)"."""
    found, claim = finding.found, finding.claim
    if found is None:
        return "not run yet"
    words = MEASURE_WORDS.get(claim.measure, claim.measure)
    first = labels.get(finding.runs[0], finding.runs[0])
    if found.count < 2:
        spread = "one seed, no interval"
    elif found.low == found.high:
        spread = f"the same in all {found.count} seeds"
    else:
        # A difference is said in its margin's unit (points, epochs), and so is its interval.
        bounds = interval_words(found, claim.margin if finding.runs[1] else None)
        spread = f"{found.confidence:.0%} interval {bounds}, {found.count} seeds"
    if finding.runs[1] is None:
        return f"{words}: {first} is {found.mean:.3g} ({spread})"
    second = labels.get(finding.runs[1], finding.runs[1])
    # Counts of epochs are more or fewer; losses, gaps and accuracies higher or lower.
    side = ("more" if found.mean > 0 else "fewer") if claim.margin == "epochs" else \
        ("higher" if found.mean > 0 else "lower")
    return f"{words}: {first} is {amount(found.mean, claim.margin)} {side} than {second} ({spread})"


def verdict_words(finding, margins):
    """The verdict as a reader says it."""
    claim, margin = finding.claim, margins[finding.claim.margin]
    if finding.verdict == NOT_RUN:
        return "not run yet"
    if finding.verdict == HOLDS:
        return "the coursework's claim holds"
    if finding.verdict == REVERSED:
        return "the opposite of the coursework's claim"
    if finding.verdict == ALIKE:
        return f"alike: the whole interval lies within ±{amount(margin, claim.margin)}, too small to matter"
    needed = finding.seeds_needed
    if claim.direction in (NEGLIGIBLE, MATERIAL):
        reason = f"the interval spans the margin of {amount(margin, claim.margin)}"
    elif claim.direction == SIMILAR:
        reason = f"the interval reaches past ±{amount(margin, claim.margin)}"
    else:
        reason = "the interval includes zero"
    more = f"; about {needed} seeds would decide it" if needed and needed[0].isdigit() else f"; {needed}"
    return f"not settled ({reason}){more if needed else ''}"


def sentence(finding, labels, margins):
    """One claim in one sentence: the claim, what was measured, the verdict."""
    return f"{finding.claim.statement}: {effect(finding, labels)}; {verdict_words(finding, margins)}."


def question_answer(findings, question, labels, margins):
    """A question's opening: its primary claim first, with what the coursework said, then a line
    per other claim."""
    mine = [finding for finding in findings if finding.claim.question == question]
    if not mine:
        return ""
    head = next((finding for finding in mine if finding.primary), mine[0])
    said = f" The coursework: {head.claim.coursework_says}." if head.claim.coursework_says else ""
    lines = [f"**Answer.** {sentence(head, labels, margins)}{said}"]
    others = [finding for finding in mine if finding is not head]
    if others:
        lines.append("\n".join(f"- {sentence(finding, labels, margins)}" for finding in others))
    return "\n\n".join(lines)


def counts(findings):
    """"3 hold, 1 reversed, 2 not settled" over a list of findings."""
    words = {HOLDS: "hold", REVERSED: "reversed", ALIKE: "alike", INCONCLUSIVE: "not settled", NOT_RUN: "not run"}
    found = {}
    for finding in findings:
        found[words[finding.verdict]] = found.get(words[finding.verdict], 0) + 1
    return ", ".join(f"{count} {word}" for word, count in found.items())
