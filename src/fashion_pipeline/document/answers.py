"""The report's answers in words, generated from the findings (analysis.Finding): every number
is the measured one, rounded to what its interval supports, and the wording follows the verdict.
Sentences name runs in words, never by their code names, and carry at most one colon."""

import math

from fashion_pipeline.judging.statistics import MATERIAL, MOST_SEEDS, NEGLIGIBLE, SIMILAR, Verdict, percent

UNITS = {"accuracy": " points", "share": " points", "epochs": " epochs"}
# A difference in accuracy or a share is said in percentage points.
SCALES = {"accuracy": 100.0, "share": 100.0}


def decimals(half_width, most=4):
    """The decimals an interval of this half-width supports: two significant digits of it."""
    if not math.isfinite(half_width) or half_width <= 0:
        return most
    return min(most, max(0, 1 - math.floor(math.log10(half_width))))


def scaled(found, margin_name):
    """The interval's mean, ends and half-width in the unit it is said in (points for accuracy)."""
    scale = SCALES.get(margin_name, 1.0)
    return found.mean * scale, found.low * scale, found.high * scale, (found.high - found.low) * scale / 2


def number(value, margin_name, sign=""):
    """A value in the unit of its margin, as the tables print it, without the unit's name."""
    if margin_name in SCALES:
        return f"{value * SCALES[margin_name]:{sign}.2f}"
    if margin_name == "epochs":
        return f"{value:{sign}.0f}"
    return f"{value:{sign}.3g}" if sign or abs(value) < 0.01 else f"{value:.3f}"


def amount(value, margin_name):
    """A size in the unit of its margin, as the tables print it: "0.27 points", "110 epochs"."""
    return number(abs(value), margin_name) + UNITS.get(margin_name, "")


def how_sure(found, margin_name, difference=True, margin=None):
    """The mean, its decimals and "(97.5% interval -0.001 to +0.016, 5 seeds)", rounded to what
    the interval supports, in the unit of the margin; a difference's ends carry their sign, and
    a value's accuracy is a percentage. An end that would print as the margin (`margin`, in the
    measure's own unit) without being it takes more decimals, so "within ±0.50" never reads
    beside an end of "+0.50"."""
    mean, low, high, half = scaled(found, margin_name)
    places = 0 if margin_name == "epochs" else decimals(half)  # epochs are counted whole
    bounds = [bound * SCALES.get(margin_name, 1.0) for bound in ((margin, -margin) if margin else ())]
    while (margin_name != "epochs" and places < 6
           and any(round(end, places) == round(bound, places) and end != bound for end in (low, high) for bound in bounds)):
        places += 1
    if found.count < 2:
        return mean, places, "(one seed, no interval)"
    if found.standard_error == 0:
        return mean, 0 if mean == 0 else 4, f"(the same in all {found.count} seeds)"
    unit = UNITS.get(margin_name, "") if difference else ("%" if margin_name in SCALES else "")
    sign = "+" if difference else ""
    return mean, places, (f"({percent(found.confidence)} interval {low:{sign}.{places}f}{unit if not difference else ''} "
                          f"to {high:{sign}.{places}f}{unit}, {found.count} seeds)")


def effect(finding):
    """What was measured, in a clause: "the final test loss of Network B is 0.008 higher than
    that of Network A (97.5% interval -0.001 to +0.016, 5 seeds)"."""
    found, claim = finding.found, finding.claim
    if found is None:
        return "it has not run yet"
    words = finding.measure_words
    first, second = finding.labels
    if second is None:
        mean, places, sure = how_sure(found, None, margin=finding.margin)
        return f"for the {first.removeprefix('the ')}, the {words} is {mean:.{places}f} {sure}"
    mean, places, sure = how_sure(found, claim.margin, margin=finding.margin)
    size = f"{abs(mean):.{places}f}"
    if claim.margin == "epochs":
        side = "more" if found.mean > 0 else "fewer"
        return f"{first} needs {size} {side} epochs than {second} to bring its validation loss to the target {sure}"
    side = "higher" if found.mean > 0 else "lower"
    unit = " points" if claim.margin in SCALES else ""
    return f"the {words} of {first} is {size}{unit} {side} than that of {second} {sure}"


def seeds_words(needed, seeds):
    """How many seeds would decide it, within the uncertainty of the spread, or why no count can
    be given."""
    if needed is None:
        return ""
    if needed.count is None:
        return needed.reason
    text = f"about {needed.count} seeds would decide it"
    if needed.fewest is not None and (needed.fewest, needed.most) != (needed.count, needed.count):
        most = f"more than {MOST_SEEDS}" if needed.most is None else needed.most
        text += f", {needed.fewest} to {most} as the spread over {seeds} seeds is itself uncertain"
    return text


def verdict_words(finding):
    """The verdict, in a sentence of its own: what it says of the claim."""
    claim, margin, found = finding.claim, finding.margin, finding.found
    whose = "our own claim" if claim.ours else "the coursework's conclusion"
    if finding.verdict is Verdict.NOT_RUN:
        return "It has not run yet."
    if finding.verdict is Verdict.HOLDS:
        return "This confirms our own claim." if claim.ours else "This reproduces the coursework's conclusion."
    if finding.verdict is Verdict.REVERSED:
        return f"This is the reverse of {whose}."
    if finding.verdict is Verdict.ALIKE:
        return (f"The difference is too small to matter, the whole interval lying within ±{amount(margin, claim.margin)}, "
                f"so {whose} is not {'confirmed' if claim.ours else 'reproduced'}.")
    needed = finding.seeds_needed
    if found.count >= 2 and found.standard_error == 0:
        return (f"{found.count} seeds do not settle it: every seed agrees, but an exact sign test at "
                f"{percent(found.confidence)} needs {needed.count} seeds that all agree.")
    if claim.direction in (NEGLIGIBLE, MATERIAL):
        reason = f"the interval spans the margin of {amount(margin, claim.margin)}"
    elif claim.direction == SIMILAR:
        reason = f"the interval reaches past ±{amount(margin, claim.margin)}"
    else:
        reason = "the interval includes zero"
    return f"{found.count} seeds do not settle it ({reason}; {seeds_words(needed, found.count)})."


def capital(text):
    return text[:1].upper() + text[1:]


def sentence(finding):
    """One claim: what was measured, then the verdict, as two sentences."""
    return f"{capital(effect(finding))}. {verdict_words(finding)}"


def paragraph(question):
    """A question answered for a reader who knows the coursework: what it said (in its words,
    where a conclusion of the coursework is what the question's primary claim tests), what we
    found, how sure (judging.findings.Question)."""
    head = question.head
    if head is None:
        return ""
    claim, conclusion = head.claim, question.head_conclusion
    if claim.ours:
        said = f"The coursework does not make this claim; we add it. {claim.statement}."
    elif conclusion is not None:
        said = f"The coursework says \"{conclusion.words}\"" + (f" ({conclusion.numbers})." if conclusion.numbers else ".")
    else:
        said = f"The coursework's conclusion is that {lower_first(claim.statement)}."
    return f"{said} We find that {effect(head)}. {verdict_words(head)}"


# Words a claim may open with that keep their capital.
NAMES = ("Network", "Networks", "L1", "L2", "Adam", "SGD", "RMSprop", "Note")


def lower_first(text):
    return text if text.split(" ", 1)[0] in NAMES else text[:1].lower() + text[1:]


def question_answer(question):
    """A question's opening: its primary claim as a paragraph, then a line per other claim."""
    if question.head is None:
        return ""
    lines = [f"**Answer.** {paragraph(question)}"]
    others = [finding for finding in question.findings if finding is not question.head]
    if others:
        lines.append("\n".join(f"- {ours_mark(finding)}{finding.claim.statement}. {sentence(finding)}"
                               for finding in others))
    return "\n\n".join(lines)


def ours_mark(finding):
    return "*(ours)* " if finding.claim.ours else ""


def reproduction_row(reproduction):
    """One row of the reproduction table (judging.conclusions.Reproduction)."""
    conclusion = reproduction.conclusion
    said = f"\"{conclusion.words}\"" + (f" ({conclusion.numbers})" if conclusion.numbers else "")
    if not reproduction.findings:
        ours, why = "", conclusion.untested or "no run here tests it"
    else:
        ours = " ".join(capital(effect(finding)) + "." for finding in reproduction.findings)
        reasons = [verdict_words(finding) if finding.verdict is not Verdict.HOLDS else holds_reason(finding)
                   for finding in reproduction.findings]
        # Several claims: each reason says which comparison it is about.
        why = reasons[0] if len(reasons) == 1 else " ".join(
            f"For {compared_words(finding)}, {lower_first(reason)}" for finding, reason in zip(reproduction.findings,
                                                                                              reasons))
    return {"question": conclusion.question, "the coursework": said, "ours": ours, "verdict": reproduction.verdict,
            "why": why}


def compared_words(finding):
    """"Network B with L2 against Network B with L1 (mean |weight|)": what one claim compares."""
    first, second = finding.labels
    return f"{first} against {second} ({finding.measure_words})" if second else f"{first} ({finding.measure_words})"


def holds_reason(finding):
    """Why a claim holds, in a sentence: where its interval lies."""
    claim, margin = finding.claim, amount(finding.margin, finding.claim.margin)
    if claim.direction == SIMILAR:
        return f"The whole interval lies within ±{margin}."
    if claim.direction == NEGLIGIBLE:
        return f"The whole interval lies below the margin of {margin}."
    if claim.direction == MATERIAL:
        return f"The whole interval lies above the margin of {margin}."
    return "The whole interval lies on the claimed side of zero."
