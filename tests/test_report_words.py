"""The report's words, as a student reads them: each claim's sentence with the measured
difference rounded to what its interval supports and the verdict said plainly; the summary with
no code names, no colon chains and no spurious digits; every conclusion of the coursework in the
reproduction table, and none of ours there."""

import dataclasses
import math
import re

import pytest
from conftest import ROOT

from fashion_pipeline.document import answers
from fashion_pipeline.judging import analysis, statistics
from fashion_pipeline.judging.claims import CLAIMS, Claim
from fashion_pipeline.judging.conclusions import check_conclusions
from fashion_pipeline.judging.statistics import SeedsNeeded, Verdict


def test_answers_say_the_measured_difference_and_the_verdict_in_words():
    claim = Claim("b_beats_a", "A 1-2-1, 1-2-2", "Network B beats Network A", "test_loss", statistics.LOWER, "loss",
                  "net_b", "net_a")
    found = statistics.interval([0.010, 0.012, 0.005], 0.95)
    finding = analysis.Finding(claim, ("net_b", "net_a"), ("Network B", "Network A"), found, 0.02, True, 0.04,
                               Verdict.INCONCLUSIVE, SeedsNeeded(12))
    # Rounded to two significant digits of the interval's half-width (0.0090): four decimals.
    assert answers.sentence(finding) == (
        "The final test loss of Network B is 0.0090 higher than that of Network A (95% interval +0.0000 to +0.0180, "
        "3 seeds). 3 seeds do not settle it (the interval includes zero; about 12 seeds would decide it).")
    # Past any count of seeds: the reason, not a number.
    floored = dataclasses.replace(finding, seeds_needed=SeedsNeeded(None, statistics.NOT_DECIDABLE))
    assert answers.verdict_words(floored).endswith(f"; {statistics.NOT_DECIDABLE}).")
    reversed_finding = dataclasses.replace(finding, verdict=Verdict.REVERSED, seeds_needed=None)
    assert "reverse of the coursework's conclusion" in answers.sentence(reversed_finding)
    ours = dataclasses.replace(reversed_finding, claim=dataclasses.replace(claim, ours=True))
    assert "reverse of our own claim" in answers.sentence(ours) and "coursework" not in answers.sentence(ours)
    # Epochs are counted, whole: fewer, not lower.
    faster = Claim("l2_faster", "A 3", "L2 converges faster", "epochs_to_target", statistics.LOWER, "epochs",
                   "l2", "l1")
    epochs = analysis.Finding(faster, ("l2", "l1"), ("L2", "L1"), statistics.interval([-110.0, -118.0, -101.0], 0.95), 2,
                              True, 0.01, Verdict.HOLDS, None)
    assert answers.effect(epochs) == ("L2 needs 110 fewer epochs than L1 to bring its validation loss to the target "
                                      "(95% interval -131 to -89 epochs, 3 seeds)")
    # An accuracy difference is in points, and its interval too; a level is printed as computed.
    alike = Claim("a_b_alike", "A 1-2-1, 1-2-2", "Networks A and B alike", "test_accuracy", statistics.SIMILAR,
                  "accuracy", "net_b", "net_a")
    accuracy = analysis.Finding(alike, ("net_b", "net_a"), ("B", "A"),
                                statistics.interval([0.0010, 0.0030, 0.0020], 0.975), 0.005, True, 0.01, Verdict.ALIKE, None)
    text = answers.effect(accuracy)
    assert "0.20 points higher than that of A" in text and "(97.5% interval -0.16 to +0.56 points, 3 seeds)" in text, text
    # A one-sided claim against the margin is unsettled when its interval spans the margin, though
    # it excludes zero.
    overfits = Claim("overfits", "B i", "Two layers overfit", "val_loss_rise", statistics.MATERIAL, "loss", "keras_2l")
    rise = analysis.Finding(overfits, ("keras_2l", None), ("2 layers", None), statistics.interval([0.04, 0.07, 0.055], 0.95),
                            0.02, True, 0.2, Verdict.INCONCLUSIVE, SeedsNeeded(4))
    assert 0 < rise.found.low < 0.02 < rise.found.high
    assert statistics.verdict(rise.found, statistics.MATERIAL, 0.02) is Verdict.INCONCLUSIVE
    assert "(the interval spans the margin of 0.020; about 4 seeds would decide it)" in answers.verdict_words(rise)
    assert answers.effect(rise).startswith("for the 2 layers, the rise of the validation loss above its minimum is 0.055")


def check_summary_reads_once(summary, params):
    """The summary's sentences as a student reads them: no run named by its code name, at most one
    colon a sentence, and no number with more decimals than its interval supports (two
    significant digits of the half-width)."""
    names = {name for group in params["experiments"].values() for name in group} | set(params["optimizers"]["runs"])
    assert not [name for name in names if re.search(rf"\b{name}\b", summary)], summary
    for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z*])", summary):
        assert sentence.count(":") <= 1, sentence
    claims = re.findall(r"(-?\d+(?:\.\d+)?)(?: points| fewer epochs| more epochs)?[^()]*?\((\d+(?:\.\d+)?)% interval "
                        r"([-+]?\d+(?:\.\d+)?)%?(?: points)? to ([-+]?\d+(?:\.\d+)?)", summary)
    assert claims, summary
    for mean, _, low, high in claims:
        half = (float(high) - float(low)) / 2
        supported = max(0, 1 - math.floor(math.log10(half))) if half > 0 else 4
        for number in (mean, low, high):
            places = len(number.split(".")[1]) if "." in number else 0
            assert places <= supported, (number, low, high)


def test_the_committed_summary_reads_once(project_params):
    """The committed report's summary meets the same rules on the real numbers."""
    summary = (ROOT / "reports" / "report.md").read_text().split("## The coursework's conclusions", 1)[0]
    assert summary.count("**") >= 2 * len(project_params["report"]["primary_claims"])
    check_summary_reads_once(summary, project_params)


def test_every_conclusion_of_the_coursework_is_tested_or_says_why(project_params):
    """The reproduction table covers every claim of the coursework's: each tests one of its
    conclusions, every conclusion is tested by claims of the coursework's or says why not, and
    our own claims are in no conclusion."""
    check_conclusions(CLAIMS)
    ours = dataclasses.replace(CLAIMS[0], ours=True)
    with pytest.raises(ValueError, match="not a claim of the coursework"):
        check_conclusions([ours, *CLAIMS[1:]])
    with pytest.raises(ValueError, match="test no conclusion"):
        check_conclusions([*CLAIMS, dataclasses.replace(CLAIMS[0], name="another")])
