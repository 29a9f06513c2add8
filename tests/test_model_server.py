"""The test server's seeded stochastic mode: reproducible from its seed, independent of the order
in which requests arrive, right on average, and a judge whose noise stays on the 1-5 scale."""

from __future__ import annotations

import random

import pytest

from promptvc.prompts.judge import parse_verdict
from tests.model_server import StochasticModel


def question(marker: str, words: str = "What is the code word?") -> dict:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "temperature": 1,
        "messages": [{"role": "user", "content": f"[case:{marker}] {words}"}],
    }


def judge_prompt(output: str) -> dict:
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 256,
        "temperature": 0,
        "system": "Reply with reasoning, then a last line exactly `Score: N`.",
        "messages": [
            {
                "role": "user",
                "content": f"Rubric:\nGives the code word ORCHID\n\nOutput to grade:\n<output>\n{output}\n</output>",
            }
        ],
    }


def correct_rate(model: StochasticModel, body: dict, n: int) -> float:
    return sum(model.correct in model(body) for _ in range(n)) / n


def test_the_same_seed_answers_the_same_requests_the_same_way():
    bodies = [question(f"c{i}") for i in range(5)] * 20
    p = {f"c{i}": 0.5 for i in range(5)}
    first = list(map(StochasticModel(7, p), bodies))
    assert list(map(StochasticModel(7, p), bodies)) == first
    assert list(map(StochasticModel(8, p), bodies)) != first


def test_each_request_gets_the_same_answer_whatever_order_they_arrive_in():
    p = {f"c{i}": 0.5 for i in range(30)}
    bodies = [question(f"c{i}") for i in range(30)]
    in_order = dict(
        zip(
            (b["messages"][0]["content"] for b in bodies),
            map(StochasticModel(3, p), bodies),
            strict=True,
        )
    )
    shuffled = bodies[:]
    random.Random(1).shuffle(shuffled)
    model = StochasticModel(3, p)
    assert {b["messages"][0]["content"]: model(b) for b in shuffled} == in_order


def test_repeats_of_one_request_are_fresh_draws_and_other_words_are_other_draws():
    model = StochasticModel(11, {"c1": 0.5})
    plain = [model(question("c1")) for _ in range(40)]
    assert set(plain) == {"c1: " + model.correct, "c1: " + model.wrong}
    reworded = [model(question("c1", "Say the word.")) for _ in range(40)]
    assert reworded != plain


@pytest.mark.parametrize("p", [0.0, 0.3, 0.8, 1.0])
def test_the_correct_answer_comes_with_the_case_s_probability(p):
    model = StochasticModel(5, {"c1": p})
    rate = correct_rate(model, question("c1"), 2000)
    assert abs(rate - p) < 0.04  # 4 standard errors at p = 0.5 and n = 2000
    if p in (0.0, 1.0):
        assert rate == p


def test_the_probability_is_read_per_case_and_may_change_between_requests():
    model = StochasticModel(5, {"a": 1.0, "b": 0.0})
    assert model(question("a")) == "a: " + model.correct
    assert model(question("b")) == "b: " + model.wrong
    model.p_correct["b"] = 1.0
    assert model(question("b")) == "b: " + model.correct


def test_a_question_without_a_known_marker_is_answered_wrong_and_recorded():
    model = StochasticModel(5, {"a": 1.0})
    reply = model(question("zz"))
    assert model.correct not in reply
    assert model.unknown == ["[case:zz] What is the code word?"]


def test_the_judge_scores_the_truth_exactly_without_noise():
    model = StochasticModel(5, judge_noise=0.0)
    assert parse_verdict(model(judge_prompt("c1: " + model.correct)))[0] == 5
    assert parse_verdict(model(judge_prompt("c1: " + model.wrong)))[0] == 1


def test_the_rubric_naming_the_answer_does_not_fool_the_judge():
    model = StochasticModel(5)
    body = judge_prompt("c1: " + model.wrong)
    body["messages"][0]["content"] = body["messages"][0]["content"].replace(
        "Gives the code word ORCHID", model.correct
    )
    assert parse_verdict(model(body))[0] == 1


def test_the_judge_s_noise_is_seeded_centred_on_the_truth_and_kept_on_the_scale():
    model = StochasticModel(5, judge_noise=1.0)
    good, bad = judge_prompt("c1: " + model.correct), judge_prompt("c1: " + model.wrong)
    good_scores = [parse_verdict(model(good))[0] for _ in range(1000)]
    bad_scores = [parse_verdict(model(bad))[0] for _ in range(1000)]
    assert set(good_scores) <= {1, 2, 3, 4, 5} and set(bad_scores) <= {1, 2, 3, 4, 5}
    # sd 1 around 5, clipped: P(score >= 4) = P(z > -1.5) = 0.93; around 1: P(score <= 2) = 0.93
    assert 0.90 < sum(s >= 4 for s in good_scores) / 1000 < 0.96
    assert 0.90 < sum(s <= 2 for s in bad_scores) / 1000 < 0.96
    again = StochasticModel(5, judge_noise=1.0)
    assert [parse_verdict(again(good))[0] for _ in range(1000)] == good_scores
