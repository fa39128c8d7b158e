"""What the coursework concludes, in its own words, and whether we reproduce it.

Each conclusion is one the coursework states about its experiments (quoted from its text, with
its numbers), tested by one or more claims of claims.py. The reproduction verdict follows from the
claims' verdicts; a conclusion no run here can test says why. Claims the coursework never made
(claims.py marks them `ours`) are not conclusions of the coursework and are never judged here."""

import dataclasses

from fashion_pipeline.judging.statistics import Verdict

REPRODUCED, NOT_REPRODUCED, REVERSED, UNTESTED = ("reproduced", "not reproduced", "reversed",
                                                  "could not be tested here")


@dataclasses.dataclass(frozen=True)
class Conclusion:
    question: str
    words: str  # the coursework's words, quoted as it wrote them ("..." where words are left out)
    numbers: str  # its numbers behind them, or ""; with our reading of its words, if any
    claims: tuple = ()  # the claims that test it
    untested: str = ""  # why no run here tests it


CONCLUSIONS = [
    Conclusion("A 1-1", "the model does not clearly seem to overfit even at 500 epochs",
               "training 0.486 and validation 0.521 at epoch 500; 0.501 and 0.518 at epoch 350", ("softmax_settles",)),
    Conclusion("A 1-1", "tends to be more than expected. I think its because I have used `tf.round` in the calculate "
               "accuracy function",
               "0.89999 at the start, test accuracy 0.911", ("rounded_accuracy_reads_high",)),
    Conclusion("A 1-1", "as we see the loss starts to stagnate at 350, we can restrict the number of iterations at 350",
               "validation 0.518 at epoch 350, 0.521 at 500", ("softmax_stagnates",)),
    Conclusion("A 1-2-1, 1-2-2", "Network B seems to be doing little better in terms of loss",
               "read as the training loss: 0.2094 against 0.2177", ("b_trains_lower",)),
    Conclusion("A 1-2-1, 1-2-2", "Network B seems to be doing little better in terms of loss",
               "read as the validation loss: 0.3329 against 0.3302, its own numbers the other way", ("b_beats_a",)),
    Conclusion("A 1-2-1, 1-2-2", "Both the network architectures exhibit similar performance",
               "accuracy 0.9775 and 0.9775 (rounded metric)", ("a_b_alike",)),
    Conclusion("A 3", "L2 brings down the train and Val loss to 0.48 and 0.42 ... L1 brings down the train and Val loss "
               "to 0.82 and 0.84", "its losses include the penalty; ours are the data loss",
               ("l2_ends_lower",)),
    Conclusion("A 3", "L2 helps the model to converge to optimum faster than L1", "read from the curves",
               ("l2_converges_faster",)),
    Conclusion("A 3", "L2 has been more aggressive in forcing the model to reduce the magnitude of weights",
               "read as the mean |weight|, the size L1 penalises, the root-mean-square weight, the size L2 "
               "penalises, and the output layer's, where the largest weights are",
               ("l2_shrinks_more", "l2_shrinks_more_rms", "l2_shrinks_largest")),
    Conclusion("A 3", "L1 ... is more careful while descending towards the optimum ... L1 appears to be doing better",
               "read as the smaller training-validation gap: 0.82/0.84 against 0.48/0.42", ("l1_smaller_gap",)),
    Conclusion("B i", "Of course, there has been an improvement in terms of accuracy and loss",
               "2 layers against the softmax classifier, read on accuracy", ("two_layers_beat_softmax",)),
    Conclusion("B i", "that is a clear case of overfitting", "2 layers: training 0.1413, validation 0.6409",
               ("two_layers_overfit",)),
    Conclusion("B i", "Deeper models have managed to perform better in terms of loss",
               "validation 0.7409, 0.5939, 0.5802 for 3, 4, 5 layers",
               ("four_lower_loss_than_three", "five_lower_loss_than_four")),
    Conclusion("B i", "Deeper models ... have been less prone to overfitting",
               "training-validation gaps 0.622, 0.446, 0.430 for 3, 4, 5 layers",
               ("four_overfit_less_than_three", "five_overfit_less_than_four")),
    Conclusion("B i", "there isn't much difference in terms of performance between 4L and 5L models",
               "accuracy 0.9049 and 0.9071",
               ("four_five_alike",)),
    Conclusion("B ii", "Improvement over the base model", "4 layers with dropout 0.2: validation 0.3848 against 0.5939",
               ("dropout_helps_4l",)),
    Conclusion("B ii", "the validation loss dropped just a little from 0.3848 to 0.3781", "dropout 0.3 against 0.2",
               ("dropout_30_beats_20",)),
    Conclusion("B ii", "the difference between the losses (test and train) ... has reduced significantly",
               "dropout 0.3 against 0.2, gaps 0.012 against 0.091", ("dropout_30_smaller_gap",)),
    Conclusion("B ii", "the validation loss further reduced from 0.3781 to 0.3443 and the validation accuracy further "
               "improved from 0.8911 to 0.9034", "tapered dropout against 0.3", ("taper_beats_30_4l", "taper_more_accurate_4l")),
    Conclusion("B ii", "Similar effect of dropout was observed in the 5L network as well",
               "validation 0.4044 against 0.5802; tapered 0.3469 against 0.3963",
               ("dropout_helps_5l", "taper_beats_30_5l")),
    Conclusion("Essay", "Adam also retains the goodness of RMS prop", "", ("adam_keeps_rmsprop",)),
    Conclusion("Essay", "SGD -M doesn't work well in sparse gradient", "",
               untested="Fashion-MNIST's pixels give dense gradients; the nearest test, Adam against SGD with "
                        "momentum at each one's best rate, is ours (the essay's section)"),
    Conclusion("Essay", "This is what makes the estimator biased towards zero in the initial phases", "",
               untested="the bias is arithmetic (each estimate is scaled by 1 − βᵗ); what it does to the steps is "
                        "our own claim, in the essay's section"),
    Conclusion("Essay", "We need an algorithm that starts fast and ends slow", "read as learning-rate decay",
               ("decay_helps",)),
]


def claim_verdict(finding):
    """What one claim's verdict says of the coursework's conclusion it tests."""
    if finding is None or finding.verdict is Verdict.NOT_RUN:
        return UNTESTED
    return {Verdict.HOLDS: REPRODUCED, Verdict.REVERSED: REVERSED}.get(finding.verdict, NOT_REPRODUCED)


@dataclasses.dataclass(frozen=True)
class Reproduction:
    conclusion: Conclusion
    findings: tuple  # analysis.Finding of each claim that tests it
    verdict: str  # REPRODUCED, NOT_REPRODUCED, REVERSED or UNTESTED


def reproduce(findings, conclusions=CONCLUSIONS):
    """Each conclusion of the coursework judged by its claims: reproduced when every claim holds,
    reversed when every one is reversed, untested when none has run, else not reproduced."""
    by_name = {finding.claim.name: finding for finding in findings}
    judged = []
    for conclusion in conclusions:
        tested = tuple(by_name[name] for name in conclusion.claims if name in by_name)
        verdicts = {claim_verdict(finding) for finding in tested}
        verdict = next(iter(verdicts)) if len(verdicts) == 1 else (UNTESTED if not tested else NOT_REPRODUCED)
        judged.append(Reproduction(conclusion, tested, verdict))
    return judged


def check_conclusions(claims, conclusions=CONCLUSIONS):
    """Every conclusion names claims that exist and are the coursework's, and every claim of the
    coursework tests a conclusion: the reproduction table then covers what the claims test."""
    names = {claim.name: claim for claim in claims}
    tested = {name for conclusion in conclusions for name in conclusion.claims}
    for conclusion in conclusions:
        for name in conclusion.claims:
            if name not in names or names[name].ours:
                raise ValueError(f"conclusion {conclusion.words!r}: {name} is not a claim of the coursework")
        if not conclusion.claims and not conclusion.untested:
            raise ValueError(f"conclusion {conclusion.words!r}: no claim tests it and no reason is given")
    missing = [name for name, claim in names.items() if not claim.ours and name not in tested]
    if missing:
        raise ValueError(f"claims of the coursework that test no conclusion: {', '.join(missing)}")
