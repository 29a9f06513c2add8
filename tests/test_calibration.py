"""Judge calibration against human labels: the labels file, `judge calibrate` end to end against
the model server with a scripted noisy judge, the figures against sklearn, and what a stored
calibration does to `diff`, `eval` and the gate."""

from __future__ import annotations

import json
import math
import random
import re

import pytest
from sklearn.metrics import cohen_kappa_score

from promptvc.calibration import Pair, agreement
from tests.data import JUDGED_GOLDEN, TIERS
from tests.helpers import db_rows
from tests.model_server import last_user_text

RUBRICS = {"refund-window": "Cites the 30-day policy", "late-return": "Says no, citing the policy"}
OUTPUT = re.compile(r"<output>\n(.*)\n</output>", re.S)
UNPARSEABLE = {"output 7 " + "x" * 7, "output 19 " + "x" * 19}


def noisy_labels(n: int = 60, seed: int = 11) -> tuple[list[dict], dict[str, int]]:
    """n labels with seeded human scores, and the scripted judge's score of each output: the
    person's score plus seeded noise (a lenient tilt on long outputs), kept on the 1-5 scale."""
    rng = random.Random(seed)
    labels, judge = [], {}
    for i in range(n):
        case = "refund-window" if i % 2 else "late-return"
        output = f"output {i} " + "x" * (i % 23)
        human = rng.randint(1, 5)
        noise = rng.choice([-2, -1, 0, 0, 0, 1, 1]) + (1 if len(output) > 25 else 0)
        judge[output] = min(5, max(1, human + noise))
        labels.append({"case": case, "rubric": RUBRICS[case], "output": output, "score": human})
    return labels, judge


def judge_rule(scores: dict[str, int], roomier: dict[str, int] | None = None):
    """The scripted judge: `scores` by output; a judge tier with max_tokens 300 (a changed judge)
    answers from `roomier` instead. A case's own output gets a 4."""

    def rule(body):
        text = last_user_text(body)
        if "Rubric:" not in text:
            return "You have 30 days from delivery."
        output = OUTPUT.search(text)[1]
        if output in UNPARSEABLE:
            return "I would rather not say."
        table = roomier if roomier is not None and body["max_tokens"] == 300 else scores
        return f"Scored by the script.\nScore: {table.get(output, 4)}"

    return rule


def sklearn_kappa(labels: list[dict], scores: dict[str, int]) -> float:
    judged = [lab for lab in labels if lab["output"] not in UNPARSEABLE]
    return cohen_kappa_score(
        [lab["score"] for lab in judged],
        [scores[lab["output"]] for lab in judged],
        weights="quadratic",
        labels=[1, 2, 3, 4, 5],
    )


def closer(labels: list[dict], scores: dict[str, int]) -> dict[str, int]:
    """A better judge: the person's score wherever the scripted one was two or more off."""
    people = {lab["output"]: lab["score"] for lab in labels}
    return {o: people[o] if abs(j - people[o]) > 1 else j for o, j in scores.items()}


ROOMIER_JUDGE = TIERS.replace("max_tokens: 256", "max_tokens: 300")


def write_labels(repo, labels: list[dict], set_id: str = "support-answer") -> None:
    repo.write(
        f"evals/labels/{set_id}.jsonl",
        "".join(json.dumps(label) + "\n" for label in labels),
        dedent=False,
    )


@pytest.fixture
def judged_repo(model_repo):
    model_repo.write("evals/support-answer.yaml", JUDGED_GOLDEN)
    model_repo.commit("judge the answers")
    return model_repo


def test_calibrate_reports_kappa_as_sklearn_computes_it(judged_repo, model_server, cli):
    labels, scores = noisy_labels()
    write_labels(judged_repo, labels)
    model_server.rule = judge_rule(scores)
    code, out, err = cli("judge", "calibrate", "--json")
    assert code == 0, err
    report = json.loads(out)
    (item,) = report["sets"]
    figures = item["figures"]
    judged = [(lab, scores[lab["output"]]) for lab in labels if lab["output"] not in UNPARSEABLE]
    human = [lab["score"] for lab, _ in judged]
    machine = [j for _, j in judged]
    expected = cohen_kappa_score(human, machine, weights="quadratic", labels=[1, 2, 3, 4, 5])
    assert figures["labels"] == len(judged) == 58
    assert figures["kappa"] == pytest.approx(expected, abs=1e-6)
    assert figures["exact"] == pytest.approx(
        sum(h == j for h, j in zip(human, machine, strict=True)) / 58
    )
    assert figures["within_one"] == pytest.approx(
        sum(abs(h - j) <= 1 for h, j in zip(human, machine, strict=True)) / 58
    )
    assert figures["leniency"] == pytest.approx(
        sum(j - h for h, j in zip(human, machine, strict=True)) / 58
    )
    mins = {"refund-window": 4, "late-return": 3}
    human_pass = [lab["score"] >= mins[lab["case"]] for lab, _ in judged]
    judge_pass = [j >= mins[lab["case"]] for lab, j in judged]
    assert figures["pass_kappa"] == pytest.approx(cohen_kappa_score(human_pass, judge_pass))
    assert figures["mins"] == [3, 4]
    assert sum(map(sum, figures["confusion"])) == 58
    assert figures["confusion"][0][0] == sum(
        1 for h, j in zip(human, machine, strict=True) if h == j == 1
    )
    assert item["unparsed"] == [8, 20]  # the lines of the two replies without a score
    assert item["unknown_outputs"] == 60  # no run produced these texts: allowed, and counted
    assert report["calls"] == 60
    # The same request is never sent twice: only the replies that did not parse are asked again.
    model_server.reset()
    code, out, _ = cli("judge", "calibrate")
    assert code == 0 and model_server.calls == 2
    assert f"κ (quadratic)   {expected:.2f}" in out
    assert "2 judge replies without a 'Score: N' line" in out
    assert "60 labels of an output no stored run produced" in out
    stored = db_rows(judged_repo, "SELECT * FROM calibrations")
    assert len(stored) == 1 and stored[0]["labels"] == 58
    assert stored[0]["kappa"] == pytest.approx(expected, abs=1e-6)


def test_the_printed_report_has_every_figure(judged_repo, model_server, cli):
    labels, scores = noisy_labels(n=24, seed=3)
    write_labels(judged_repo, labels)
    model_server.rule = judge_rule(scores)
    code, out, err = cli("judge", "calibrate", "support-answer")
    assert code == 0, err
    for words in (
        "promptvc judge calibrate · worktree · the built-in judge on claude-sonnet-4-6 (tier judge)",
        "support-answer  24 labels (evals/labels/support-answer.jsonl)",
        "agreement       exact ",
        "Spearman ρ ",
        "pass/fail       at min 3, 4: agreement ",
        "leniency        +",
        "verbosity bias  r ",
        "confusion       judge →      1   2   3   4   5",
        "person 1 ",
        "most apart",
        "judge calls",
    ):
        assert words in out, words
    assert out.count(" · judge ") == 5  # the five labels most apart


def test_outputs_a_run_produced_are_not_counted_as_unknown(judged_repo, model_server, cli):
    model_server.rule = judge_rule({"You have 30 days from delivery.": 4})
    assert cli("eval")[0] == 0
    write_labels(
        judged_repo,
        [
            {
                "case": "refund-window",
                "rubric": RUBRICS["refund-window"],
                "output": "You have 30 days from delivery.",
                "score": 5,
            }
        ],
    )
    model_server.reset()
    code, out, _ = cli("judge", "calibrate", "--json")
    item = json.loads(out)["sets"][0]
    assert code == 0 and item["unknown_outputs"] == 0
    assert model_server.calls == 0  # the judge's verdict on that output is already cached


def test_agreement_figures_match_sklearn_and_scipy_on_fixed_data():
    from scipy.stats import pearsonr, spearmanr

    human = [1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 3, 3]
    judge = [2, 2, 3, 5, 5, 4, 4, 2, 1, 1, 5, 3]
    outputs = ["x" * (3 * i + 1) for i in range(len(human))]
    pairs = [
        Pair(f"c{i}", "r", o, h, j, 4)
        for i, (h, j, o) in enumerate(zip(human, judge, outputs, strict=True))
    ]
    a = agreement(pairs)
    assert a.kappa == pytest.approx(cohen_kappa_score(human, judge, weights="quadratic"))
    assert a.spearman == pytest.approx(spearmanr(human, judge).statistic)
    errors = [j - h for h, j in zip(human, judge, strict=True)]
    assert a.verbosity == pytest.approx(pearsonr(errors, [len(o) for o in outputs]).statistic)
    assert a.pass_kappa == pytest.approx(
        cohen_kappa_score([h >= 4 for h in human], [j >= 4 for j in judge])
    )
    assert [abs(p.error) for p in a.worst] == [2, 1, 1, 1, 1]
    assert a.worst[0].case == "c10"


def test_agreement_of_a_constant_judge_is_undefined_not_a_crash():
    pairs = [Pair("c", "r", "o", h, 3, 4) for h in (1, 3, 5)]
    a = agreement(pairs)
    assert math.isnan(a.spearman) and a.figures()["spearman"] is None
    assert a.exact == pytest.approx(1 / 3)


BAD_LABELS = [
    (
        '{"case": "refund-window", "rubric": "r", "output": "o", "score": 7}',
        "score must be a whole number from 1 to 5, not 7",
    ),
    (
        '{"case": "refund-window", "rubric": "r", "output": "o", "score": 0}',
        "score must be a whole number from 1 to 5, not 0",
    ),
    (
        '{"case": "refund-window", "rubric": "r", "output": "o", "score": 4.5}',
        "'score' must be a whole number",
    ),
    (
        '{"case": "refund-window", "rubric": "r", "output": "o", "score": true}',
        "'score' must be a whole number",
    ),
    ('{"case": "refund-window", "rubric": "r", "score": 4}', "missing 'output'"),
    (
        '{"case": "refund-window", "rubric": "r", "output": ["o"], "score": 4}',
        "'output' must be a string",
    ),
    (
        '{"case": "refund-windw", "rubric": "r", "output": "o", "score": 4}',
        "unknown case 'refund-windw' (did you mean 'refund-window'?)",
    ),
    (
        '{"case": "refund-window", "rubric": "r", "output": "o", "score": 4, "notes": "x"}',
        "unknown key 'notes' (did you mean 'note'?)",
    ),
    ('{"case": "refund-window", "rubric": "r", "output": "o", "score": 4', "invalid JSON"),
    ("[1, 2]", "each line must be a JSON object"),
]


@pytest.mark.parametrize("line, why", BAD_LABELS)
def test_a_bad_label_is_one_line_with_the_file_and_line(judged_repo, model_server, cli, line, why):
    good = {"case": "late-return", "rubric": "r", "output": "o", "score": 2, "note": "fine"}
    judged_repo.write(
        "evals/labels/support-answer.jsonl", json.dumps(good) + "\n\n" + line + "\n", dedent=False
    )
    code, out, err = cli("judge", "calibrate")
    assert code == 2 and model_server.calls == 0
    assert err.strip().count("\n") == 0, err
    assert err.startswith(f"promptvc: evals/labels/support-answer.jsonl:3: {why}"), err


def test_no_labels_says_how_to_make_some(judged_repo, cli):
    code, out, err = cli("judge", "calibrate")
    assert code == 2
    assert "no labels to calibrate the judge against (evals/labels/ is empty)" in err
    assert "`promptvc label SET`" in err
    code, out, err = cli("judge", "calibrate", "support-answer")
    assert code == 2 and err.strip() == (
        "promptvc: no labels for golden set support-answer (evals/labels/support-answer.jsonl); "
        "make some with `promptvc label support-answer`"
    )
    code, out, err = cli("judge", "calibrate", "nonexistent")
    assert code == 2 and "no golden set or prompt matches 'nonexistent'" in err


def test_labels_are_read_from_the_revision(judged_repo, model_server, cli):
    labels, scores = noisy_labels(n=6)
    write_labels(judged_repo, labels)
    judged_repo.commit("six labels")
    write_labels(judged_repo, labels[:2])
    model_server.rule = judge_rule(scores)
    code, out, err = cli("judge", "calibrate", "--rev", "HEAD", "--json")
    assert code == 0, err
    assert json.loads(out)["sets"][0]["labels"] == 6
    code, out, err = cli("judge", "calibrate", "--json")
    assert json.loads(out)["sets"][0]["labels"] == 2


def test_without_a_key_the_judge_replays_what_it_said_before(
    judged_repo, model_server, cli, monkeypatch
):
    labels, scores = noisy_labels(n=6)
    write_labels(judged_repo, labels)
    model_server.rule = judge_rule(scores)
    first = json.loads(cli("judge", "calibrate", "--json")[1])["sets"][0]["figures"]
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    model_server.reset()
    write_labels(judged_repo, labels + [{**labels[0], "output": "never judged"}])
    code, out, err = cli("judge", "calibrate", "--json")
    assert code == 0 and model_server.calls == 0
    item = json.loads(out)["sets"][0]
    assert item["figures"]["kappa"] == first["kappa"]
    assert [u["line"] for u in item["unjudged"]] == [7]
    assert "no recording" in item["unjudged"][0]["why"]


@pytest.fixture
def judge_change(judged_repo, model_server):
    """Labels committed, then a commit that changes the judge's tier; the server's judge is
    closer to people under the new tier."""
    labels, scores = noisy_labels()
    write_labels(judged_repo, labels)
    judged_repo.commit("sixty labels")
    judged_repo.write("prompts/tiers.yaml", ROOMIER_JUDGE)
    judged_repo.commit("judge: more room to reason")
    better = closer(labels, scores)
    model_server.rule = judge_rule(scores, better)
    return sklearn_kappa(labels, scores), sklearn_kappa(labels, better)


def test_a_judge_change_shows_its_kappa_change_in_diff(judged_repo, judge_change, cli):
    before, after = judge_change
    old, new = (judged_repo.git("rev-parse", "--short=7", r).strip() for r in ("HEAD~1", "HEAD"))
    code, out, _ = cli("diff", "HEAD~1", "HEAD")
    assert code == 0
    assert (
        f"judge: κ unknown at HEAD~1 ({old}) and HEAD ({new}) (support-answer) (run "
        f"`promptvc judge calibrate --rev {old}` and `promptvc judge calibrate --rev {new}`, "
        "or diff --eval)"
    ) in out
    assert not (judged_repo.root / ".promptvc").exists()  # a diff never creates the database
    assert cli("judge", "calibrate", "--rev", "HEAD~1")[0] == 0
    code, out, _ = cli("diff", "HEAD~1", "HEAD")
    assert (
        f"judge: κ unknown at HEAD ({new}) (support-answer) (κ {before:.2f} at the other side"
        in out
    )
    assert cli("judge", "calibrate", "--rev", "HEAD")[0] == 0
    code, out, _ = cli("diff", "HEAD~1", "HEAD")
    assert f"judge: κ {before:.2f} → {after:.2f} on 58 labels (support-answer)" in out
    assert after > before + 0.05
    (change,) = json.loads(cli("diff", "HEAD~1", "HEAD", "--json")[1])["judge_kappa"]
    assert change["before"]["kappa"] == pytest.approx(before, abs=1e-9)
    assert change["after"]["kappa"] == pytest.approx(after, abs=1e-9)
    assert change["after"]["judged"] == 58 and change["after"]["labels"] == 60


def test_diff_eval_calibrates_what_is_unknown(judged_repo, judge_change, cli):
    before, after = judge_change
    code, out, err = cli("diff", "--eval", "HEAD~1", "HEAD")
    assert code == 0, err
    assert f"judge: κ {before:.2f} → {after:.2f} on 58 labels (support-answer)" in out


def test_a_change_that_leaves_the_judge_alone_never_opens_the_database(judged_repo, cli):
    judged_repo.write("prompts/partials/tone.jinja", "Be formal.\n")
    code, out, _ = cli("diff")
    assert code == 0 and "judge" not in out
    assert not (judged_repo.root / ".promptvc").exists()


def test_min_kappa_marks_the_scores_of_an_unverified_judge(judged_repo, model_server, cli):
    labels, scores = noisy_labels()
    model_server.rule = judge_rule(scores)
    kappa = sklearn_kappa(labels, scores)
    judged_repo.write("promptvc.toml", f"[judge]\nmin_kappa = {kappa + 0.05:.2f}\n")
    code, out, _ = cli("eval")
    assert code == 0 and "?" not in out  # no labels: nothing to verify the judge against
    write_labels(judged_repo, labels)
    code, out, _ = cli("eval")
    assert re.search(r"support-answer\s+0\.75\?", out), out
    assert (
        "? judge unverified: not calibrated on the 60 labels of support-answer "
        "(run `promptvc judge calibrate`)"
    ) in out
    assert cli("judge", "calibrate")[0] == 0
    code, out, _ = cli("eval", "--json")
    (item,) = json.loads(out)["sets"]
    assert item["judge_unverified"] == (
        f"κ {kappa:.2f} < min_kappa {kappa + 0.05:.2f} on the 58 labels of support-answer"
    )
    judged_repo.write("promptvc.toml", f"[judge]\nmin_kappa = {kappa - 0.05:.2f}\n")
    code, out, _ = cli("eval")
    assert "0.75?" not in out and "unverified" not in out


def test_the_gate_warns_or_blocks_on_scores_from_an_unverified_judge(
    judged_repo, judge_change, cli
):
    before, after = judge_change
    minimum = (before + after) / 2
    judged_repo.write("promptvc.toml", f"[judge]\nmin_kappa = {minimum:.2f}\n")
    judged_repo.write("prompts/tiers.yaml", TIERS)
    judged_repo.commit("back to the old judge, and a min_kappa")
    assert cli("judge", "calibrate")[0] == 0
    judged_repo.write("prompts/tiers.yaml", ROOMIER_JUDGE.replace("300", "301"))
    judged_repo.stage()
    code, out, err = cli("check")
    assert code == 0, out + err
    assert (
        "allowed (with warnings: support-answer: scored by an unverified judge (not calibrated "
        "on the 60 labels of support-answer (run `promptvc judge calibrate --staged`)))"
    ) in out
    judged_repo.write(
        "promptvc.toml", f'[judge]\nmin_kappa = {minimum:.2f}\n[gate]\nunverified_judge = "block"\n'
    )
    code, out, _ = cli("check")
    assert code == 1 and "blocked: support-answer: scored by an unverified judge" in out
    judged_repo.write("prompts/tiers.yaml", ROOMIER_JUDGE)  # the judge calibrated better
    judged_repo.stage()
    assert cli("judge", "calibrate", "--staged")[0] == 0
    code, out, _ = cli("check")
    assert code == 0 and "unverified" not in out, out
    judged_repo.write("prompts/tiers.yaml", TIERS)  # the old judge, below min_kappa
    judged_repo.write("prompts/partials/tone.jinja", "Be formal.\n")
    judged_repo.stage()
    code, out, _ = cli("check")
    assert code == 1
    assert f"scored by an unverified judge (κ {before:.2f} < min_kappa {minimum:.2f}" in out


def test_min_kappa_and_unverified_judge_are_checked(judged_repo, cli):
    judged_repo.write("promptvc.toml", "[judge]\nmin_kappa = 2\n")
    code, _, err = cli("eval")
    assert code == 2 and "promptvc.toml:2: [judge] min_kappa must be a number from -1 to 1" in err
    judged_repo.write("promptvc.toml", '[gate]\nunverified_judge = "never"\n')
    code, _, err = cli("eval")
    assert code == 2 and '[gate] unverified_judge must be "warn" or "block"' in err


def test_labels_of_a_set_that_is_gone_are_reported_and_never_hold_the_judge_back(
    judged_repo, model_server, cli
):
    labels, scores = noisy_labels(n=6)
    model_server.rule = judge_rule(scores)
    write_labels(judged_repo, labels)
    write_labels(judged_repo, labels, set_id="renamed-away")
    judged_repo.write("promptvc.toml", "[judge]\nmin_kappa = -1\n")
    code, out, err = cli("judge", "calibrate")
    assert code == 0, err
    assert (
        "evals/labels/renamed-away.jsonl: no golden set has this id; its labels are not used" in out
    )
    code, out, _ = cli("eval")
    assert "unverified" not in out and "1.00?" not in out, out
