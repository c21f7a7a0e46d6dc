"""Choosing on evidence: the paired sequential test's error rates, the screen's bookkeeping, the
acceptance criterion's split between structural and text moves, and the final pick."""

from __future__ import annotations

import random
from collections.abc import Sequence
from types import SimpleNamespace

import pytest

from smolgepa.evaluation.evaluate import Prediction, report_from_predictions
from smolgepa.optimize.evidence.acceptance import EvidenceAcceptance, is_structural
from smolgepa.optimize.cache import instruction_hash
from smolgepa.optimize.evidence.final_pick import pick_final
from smolgepa.optimize.evidence.paired_test import ACCEPT, REJECT, UNDECIDED, SequentialPairedTest
from smolgepa.optimize.evidence.screen import EvidenceJudge, Measured, OptionScreen
from smolgepa.tasks import load_task
from smolgepa.tasks.model import Example

TASK = load_task("sentiment-extended")


def simulated_pairs(rng: random.Random, n: int, gap: float, discordant: float = 0.35) -> list[tuple[bool, bool]]:
    """n paired answers of two readings `gap` apart in accuracy, a `discordant` share answered differently."""
    p_win = 0.5 + gap / (2 * discordant)
    pairs = []
    for _ in range(n):
        if rng.random() < discordant:
            pairs.append((False, True) if rng.random() < p_win else (True, False))
        else:
            same = rng.random() < 0.5
            pairs.append((same, same))
    return pairs


def acceptance_rate(n: int, gap: float, trials: int = 2000) -> float:
    rng = random.Random(f"{n}-{gap}")
    test = SequentialPairedTest()
    return sum(test.decide(simulated_pairs(rng, n, gap)).accepted for _ in range(trials)) / trials


@pytest.mark.parametrize("n", [180, 420])  # the screen's 60 training + 120 validation pairs; the final pick's 300 + 120
def test_the_paired_test_keeps_its_documented_error_rates(n: int) -> None:
    # docs/optimize.md: at most alpha = 5% accepted when equal (plus simulation noise), a 20-point
    # gain accepted at least 95% of the time, a 10-point loss almost never.
    assert acceptance_rate(n, 0.0) <= 0.06
    assert acceptance_rate(n, 0.20) >= 0.95
    assert acceptance_rate(n, -0.10) <= 0.01
    assert acceptance_rate(420, 0.10) >= 0.80  # with the whole training split, 10 points are found


def test_a_clear_winner_stops_early_and_a_tie_is_never_accepted() -> None:
    test = SequentialPairedTest()
    better = test.decide([(False, True)] * 30 + [(True, True)] * 100)
    assert better.decision == ACCEPT and better.looked < 30 and better.wins == better.looked
    worse = test.decide([(True, False)] * 30)
    assert worse.decision == REJECT and not worse.accepted
    tie = test.decide([(True, True), (False, False)] * 100 + [(False, True), (True, False)] * 5)
    assert tie.decision == UNDECIDED and not tie.accepted and tie.looked == tie.available
    small = test.decide([(False, True)] * 10 + [(True, False)] + [(True, True)] * 5)  # a 16-example task
    assert small.decision == ACCEPT and small.looked == small.available == 16  # the sign test at the cap
    assert test.decide([(False, True)] * 5 + [(True, False)] * 2).decision == UNDECIDED  # p = 0.23
    with pytest.raises(ValueError, match="p_better"):
        SequentialPairedTest(p_better=0.5)


def scripted_evaluate(accuracy: dict[str, float], calls: list[tuple[str, int]]):
    """An evaluator whose instruction `X` answers each example right with probability accuracy[X]
    (seeded by example id, so the same example gets the same answer every time): bookkeeping only."""

    def evaluate(instruction: str, examples: Sequence[Example], split: str):
        calls.append((instruction, len(examples)))
        predictions = []
        for e in examples:
            right = random.Random(f"{instruction}-{e.id}").random() < accuracy[instruction]
            wrong = next(label for label in TASK.label_names if label != e.label)
            predictions.append(Prediction(e.id, e.input, e.label, e.label if right else wrong, ""))
        return report_from_predictions(TASK, predictions, instruction, split=split)

    return evaluate


def test_the_screen_measures_every_option_and_passes_only_what_beats_the_parent() -> None:
    calls: list[tuple[str, int]] = []
    accuracy = {"parent": 0.35, "great": 0.70, "good": 0.62, "same": 0.36, "worse": 0.20}
    judge = EvidenceJudge(TASK, scripted_evaluate(accuracy, calls), seed=0, finalists=3)
    options = [(f"move to {name}", name) for name in ("worse", "same", "good", "great")]
    screens = judge.screen("parent", options)
    assert [s.move for s in screens[:3]] == ["move to great", "move to good", "move to same"]
    assert [s.passed for s in screens] == [True, True, False, False]
    assert screens[3].val is None and screens[3].verdict is None  # not a finalist: not measured on val
    assert all(s.train.n == 60 for s in screens) and screens[0].val.n == len(TASK.split("val"))
    labels = [e.label for e in judge.sets["train"]]
    assert {labels.count(label) for label in TASK.label_names} == {20}  # stratified
    before = len(calls)
    assert judge.screen("parent", options) == screens and len(calls) == before  # each text once per set
    assert OptionScreen.from_json(screens[0].to_json()) == screens[0]
    assert "+ move to great: train" in screens[0].line()
    resumed = EvidenceJudge(TASK, scripted_evaluate(accuracy, []), seed=0, finalists=3)
    assert resumed.screen("parent", options) == screens  # the same seed reads the same sample and order


def test_structural_moves_are_accepted_on_evidence_and_text_moves_on_the_minibatch() -> None:
    accuracy = {"Classify.": 0.35, "Reading: hidden\n\nClassify.": 0.70, "Reading: knn\n\nClassify.": 0.36}
    judged: list[object] = []
    criterion = EvidenceAcceptance(EvidenceJudge(TASK, scripted_evaluate(accuracy, [])), judged.append)
    state = SimpleNamespace(program_candidates=[{"self": "Classify."}])

    def proposal(text: str, before: list[float], after: list[float]) -> SimpleNamespace:
        return SimpleNamespace(candidate={"self": text}, parent_program_ids=[0],
                               subsample_scores_before=before, subsample_scores_after=after)

    # a 3-example minibatch that saw no gain does not veto a reading 35 points better
    assert criterion.should_accept(proposal("Reading: hidden\n\nClassify.", [1, 0, 0], [1, 0, 0]), state)
    # nor does a lucky minibatch pass a reading no better
    assert not criterion.should_accept(proposal("Reading: knn\n\nClassify.", [0, 0, 0], [1, 1, 1]), state)
    assert len(judged) == 2 and "paired test" in criterion.reject_reason(
        proposal("Reading: knn\n\nClassify.", [0, 0, 0], [1, 1, 1]), state)
    assert criterion.should_accept(proposal("Classify the text.", [0, 0, 0], [1, 0, 0]), state)
    assert not criterion.should_accept(proposal("Classify the text.", [1, 0, 0], [1, 0, 0]), state)
    assert len(judged) == 2  # text moves never reach the judge
    assert is_structural("Classify.", "Label words: positive=good\n\nClassify.")
    assert not is_structural("Classify.", "Classify!")


def test_text_moves_on_evidence_go_to_the_paired_test_and_an_unknown_rule_is_refused() -> None:
    accuracy = {"Classify.": 0.35, "Classify the text.": 0.70, "Classify it.": 0.36}
    judged: list[object] = []
    criterion = EvidenceAcceptance(EvidenceJudge(TASK, scripted_evaluate(accuracy, [])), judged.append, "evidence")
    state = SimpleNamespace(program_candidates=[{"self": "Classify."}])

    def proposal(text: str, before: list[float], after: list[float]) -> SimpleNamespace:
        return SimpleNamespace(candidate={"self": text}, parent_program_ids=[0],
                               subsample_scores_before=before, subsample_scores_after=after)

    assert criterion.should_accept(proposal("Classify the text.", [1, 1, 0], [1, 0, 0]), state)  # minibatch worse
    assert not criterion.should_accept(proposal("Classify it.", [0, 0, 0], [1, 1, 1]), state)  # minibatch lucky
    assert len(judged) == 2 and "paired test" in criterion.reject_reason(
        proposal("Classify it.", [0, 0, 0], [1, 1, 1]), state)
    with pytest.raises(ValueError, match="text_rule"):
        EvidenceAcceptance(criterion.judge, text_rule="vibes")
    from smolgepa.errors import SmolgepaError
    from smolgepa.optimize.config import OptimizeConfig

    assert OptimizeConfig.from_json(OptimizeConfig("sentiment", text_moves="evidence").to_json()).text_moves == "evidence"
    with pytest.raises(SmolgepaError, match="--text-moves"):
        OptimizeConfig("sentiment", text_moves="vibes")


def test_examples_shown_in_a_prompt_are_left_out_of_the_paired_test() -> None:
    from smolgepa.candidate.instruction import Shot, render_instruction

    judge = EvidenceJudge(TASK, scripted_evaluate({}, []))
    shown = judge.sets["train"][:2] + judge.sets["val"][:1]
    with_shots = render_instruction("Classify.", [Shot(e.input, e.label) for e in shown])
    # shown examples answer right, every other one wrong: only the shown ones could make a win
    judge._answers = {  # noqa: SLF001 - the answers a run would have cached
        (instruction_hash(text), split): {e.id: (text == with_shots and e in shown) for e in judge.sets[split]}
        for text in ("Classify.", with_shots) for split in ("train", "val")}
    verdict = judge.paired("Classify.", with_shots, ("train", "val"))
    assert verdict.wins == 0 and verdict.available == len(judge.sets["train"]) + len(judge.sets["val"]) - 3


def test_the_final_pick_pools_training_answers_and_says_when_it_is_within_noise() -> None:
    accuracy = {"a": 0.60, "b": 0.70, "c": 0.71}
    judge = EvidenceJudge(TASK, scripted_evaluate(accuracy, []))
    clear = pick_final(judge, [(0, "a"), (1, "b")], val_best=0)
    assert clear.chosen == 1 and clear.runner_up == 0 and clear.rows[0].train.n == len(TASK.split("train"))
    close = pick_final(judge, [(1, "b"), (2, "c")], val_best=1)
    assert close.within_noise and close.to_json()["within_noise"] is True
    alone = pick_final(judge, [(3, "a")], val_best=3)
    assert alone.chosen == 3 and not alone.within_noise
    assert Measured(3, 4).to_json()["accuracy"] == 0.75


def test_readings_names_offer_only_those_in_proposal_order_and_typos_are_refused() -> None:
    from smolgepa.errors import SmolgepaError
    from smolgepa.optimize import OptimizeConfig

    config = OptimizeConfig(task="sentiment", decode="scored", readings=True, reading_choices=("knn", "hidden"))
    assert config.offered_readings() == ("hidden", "knn")
    assert OptimizeConfig.from_json(config.to_json()).offered_readings() == ("hidden", "knn")  # saved and resumed
    with pytest.raises(SmolgepaError, match="unknown reading hiden; choose from hidden, probe"):
        OptimizeConfig(task="sentiment", decode="scored", readings=True, reading_choices=("hiden",))
    with pytest.raises(SmolgepaError, match="give it with --readings"):
        OptimizeConfig(task="sentiment", decode="scored", reading_choices=("knn",))
