from types import SimpleNamespace

from promptvc.compare import compare
from promptvc.evals.repeats import PassRule
from promptvc.evals.scoring import CaseResult, Status, summarise_set
from promptvc.gate import decide
from promptvc.providers import Identity
from promptvc.settings import GatePolicy
from promptvc.significance import CaseEvidence, PairedStats, SetEvidence
from promptvc.views.comparison import _one_line

LIVE = Identity("anthropic", "https://api.anthropic.com", "live")
ECHO = Identity("echo", "local", "echo")


def outcome(
    statuses: dict, *, temperature=0.0, threshold=0.5, identity=LIVE, fault=None, safety=False
):
    """A set's outcome summarised by the real scoring code, from case statuses."""
    results = [
        CaseResult(
            f"k-{c}",
            "s",
            c,
            0,
            "p",
            identity.label,
            Status(st),
            1.0 if st == "passed" else 0.0,
            output=f"out {c} {st}",
            error="boom" if st == "error" else None,
            fault=fault if st == "error" else None,
        )
        for c, st in statuses.items()
    ]
    plan = SimpleNamespace(
        golden=SimpleNamespace(
            id="s",
            threshold=threshold,
            prompt="p",
            cases=(),
            pass_rule=PassRule(),
            safety=safety,
        ),
        identity=identity,
        temperature=temperature,
        samples=1,
        set_key="k",
    )
    return summarise_set(plan, results)


BEFORE = {"a": "passed", "b": "passed", "c": "passed", "d": "passed"}
ONE_FLIP = {"a": "failed", "b": "passed", "c": "passed", "d": "passed"}


def test_any_drop_blocks_a_flip_at_temperature_zero_only_by_default():
    policy = GatePolicy(max_drop=0.5, block_on="any-drop")
    at_zero = decide(compare([outcome(BEFORE)], [outcome(ONE_FLIP)]), policy)
    assert at_zero.blocked and at_zero.reasons == ("s 1 case flipped pass → fail",)
    warm = decide(
        compare([outcome(BEFORE, temperature=0.7)], [outcome(ONE_FLIP, temperature=0.7)]), policy
    )
    assert not warm.blocked
    always = decide(
        compare([outcome(BEFORE, temperature=0.7)], [outcome(ONE_FLIP, temperature=0.7)]),
        GatePolicy(max_drop=0.5, block_on="any-drop", block_on_flip="always"),
    )
    assert always.blocked


def test_any_drop_max_drop_and_threshold():
    comparisons = compare([outcome(BEFORE)], [outcome(ONE_FLIP)])
    verdict = decide(
        comparisons, GatePolicy(max_drop=0.2, block_on="any-drop", block_on_flip="never")
    )
    assert verdict.reasons == ("s dropped 0.25 (max_drop 0.20)",)
    verdict = decide(
        compare([outcome(BEFORE)], [outcome(ONE_FLIP, threshold=0.9)]),
        GatePolicy(block_on_flip="never"),
    )
    assert "fell below its threshold (0.75 < 0.90)" in verdict.line()


def test_unchecked_cases_warn_or_block_as_configured():
    skipped = {"a": "skipped", "b": "passed"}
    assert not decide(compare([], [outcome(skipped)]), GatePolicy(offline="warn")).blocked
    assert decide(compare([], [outcome(skipped)]), GatePolicy(offline="warn")).warnings
    assert decide(compare([], [outcome(skipped)]), GatePolicy(offline="block")).blocked


def test_echo_scores_are_never_a_baseline_for_a_model():
    comparisons = compare([outcome(BEFORE, identity=ECHO)], [outcome(ONE_FLIP)])
    assert (
        comparisons[0].before is None and comparisons[0].delta is None and not comparisons[0].flips
    )


def test_flip_lines_start_where_long_outputs_differ():
    before = "system: " + "shared words " * 20 + "the escape hatch is here"
    after = "system: " + "shared words " * 20 + "nothing"
    assert _one_line(before, after).startswith("…") and "escape hatch" in _one_line(before, after)
    assert _one_line("short", "other") == "short"


HALF = {"a": "passed", "b": "passed", "c": "failed", "d": "failed"}
THREE_QUARTERS = {"a": "passed", "b": "passed", "c": "passed", "d": "failed"}


def test_a_set_already_below_its_threshold_and_no_worse_is_a_warning():
    improved = decide(
        compare([outcome(HALF, threshold=1.0)], [outcome(THREE_QUARTERS, threshold=1.0)]),
        GatePolicy(),
    )
    assert not improved.blocked
    assert improved.warnings == ("s still below its threshold (0.75 < 1.00), no worse than HEAD",)
    neutral = decide(
        compare([outcome(HALF, threshold=1.0)], [outcome(HALF, threshold=1.0)]),
        GatePolicy(),
        base="the base",
    )
    assert not neutral.blocked and neutral.warnings == (
        "s still below its threshold (0.50 < 1.00), no worse than the base",
    )


def test_a_failing_set_that_gets_worse_still_blocks():
    comparisons = compare([outcome(THREE_QUARTERS, threshold=1.0)], [outcome(HALF, threshold=1.0)])
    worse = decide(comparisons, GatePolicy(block_on="any-drop"))
    assert (
        worse.blocked
        and "dropped 0.25" in worse.line()
        and "1 case flipped pass → fail" in worse.line()
    )
    flipped = comparisons[0].flips[0].case_id
    reproduced = SetEvidence(
        "s", None, cases=(CaseEvidence(flipped, 8, 8, 0, 8, 0.0001, True),), candidates=(flipped,)
    )
    by_evidence = decide(comparisons, GatePolicy(), evidence={"s": reproduced})
    assert (
        by_evidence.blocked and f"1 case regressed: {flipped} pass 8/8 → 0/8" in by_evidence.line()
    )


def test_a_new_set_that_fails_blocks_it_has_no_baseline():
    verdict = decide(compare([], [outcome(HALF, threshold=1.0)]), GatePolicy())
    assert verdict.reasons == (
        "s is below its threshold (0.50 < 1.00) with no baseline to be no worse than",
    )


def test_block_below_threshold_always_keeps_the_strict_reading():
    policy = GatePolicy(block_below_threshold="always")
    verdict = decide(
        compare([outcome(HALF, threshold=1.0)], [outcome(THREE_QUARTERS, threshold=1.0)]), policy
    )
    assert verdict.blocked and verdict.reasons == ("s is below its threshold (0.75 < 1.00)",)


def test_block_below_threshold_is_validated(support_repo, cli):
    from promptvc.settings import load_settings

    support_repo.write("promptvc.toml", '[gate]\nblock_below_threshold = "always"\n')
    assert load_settings(support_repo.root).gate.block_below_threshold == "always"
    assert GatePolicy().block_below_threshold == "when-worse"
    support_repo.write("promptvc.toml", '[gate]\nblock_below_threshold = "sometimes"\n')
    support_repo.write("prompts/partials/tone.jinja", "Be kind.\n")
    support_repo.stage()
    code, _, err = cli("check")
    assert code == 2
    assert (
        err
        == 'promptvc: promptvc.toml:2: [gate] block_below_threshold must be "when-worse" or "always", not \'sometimes\'\n'
    )


def test_an_error_in_the_users_own_checks_blocks_whatever_the_offline_policy():
    broken = {"a": "error", "b": "error"}
    for offline in ("warn", "block"):
        verdict = decide(
            compare([outcome(BEFORE)], [outcome(broken, fault="check")]),
            GatePolicy(offline=offline),
        )
        assert verdict.blocked and verdict.reasons == (
            "s 2 cases errored in their own checks (boom)",
        )


def test_an_unreachable_model_is_governed_by_the_offline_policy_only():
    down = {"a": "error", "b": "passed"}
    warned = decide(
        compare([outcome(BEFORE)], [outcome(down, fault="unreachable")]), GatePolicy(offline="warn")
    )
    assert not warned.blocked and warned.warnings == ("s: 1 of 2 cases not checked (boom)",)
    assert decide(
        compare([outcome(BEFORE)], [outcome(down, fault="unreachable")]),
        GatePolicy(offline="block"),
    ).blocked


def test_a_new_failing_case_is_not_a_drop_of_the_others():
    """The drop the gate measures is paired: only cases evaluated on both sides count."""
    before = {"a": "passed", "b": "failed"}
    after = {
        "a": "passed",
        "b": "failed",
        "c": "failed",
    }  # one case added, failing; no case changed
    comparison = compare([outcome(before, threshold=0.9)], [outcome(after, threshold=0.9)])[0]
    assert round(comparison.delta, 2) == -0.17 and comparison.paired_delta == 0.0
    verdict = decide([comparison], GatePolicy(max_drop=0.05))  # already failing, and no worse
    assert not verdict.blocked and verdict.warnings, verdict.line()


def test_a_flip_of_a_deterministic_echo_set_blocks_at_any_temperature():
    warm_echo = decide(
        compare(
            [outcome(BEFORE, temperature=0.7, identity=ECHO)],
            [outcome(ONE_FLIP, temperature=0.7, identity=ECHO)],
        ),
        GatePolicy(max_drop=0.5, block_on="any-drop"),
    )
    assert warm_echo.blocked and "1 case flipped pass → fail" in warm_echo.line()


def _stats(delta: float, p_drop: float, low: float, high: float) -> PairedStats:
    return PairedStats(
        cases=40,
        samples=1,
        delta=delta,
        low=low,
        high=high,
        p=p_drop / 2,
        p_better=0.99,
        p_drop=p_drop,
        test="McNemar",
        down=6,
        up=1,
        sd=0.3,
        max_drop=0.05,
    )


def test_the_gate_blocks_a_significant_drop_and_not_an_inconclusive_or_small_one():
    comparisons = compare([outcome(BEFORE)], [outcome(BEFORE)])  # no flip: the figures decide
    significant = SetEvidence("s", _stats(-0.15, 0.004, -0.27, -0.08))
    blocked = decide(comparisons, GatePolicy(), evidence={"s": significant})
    assert blocked.blocked
    assert blocked.reasons == (
        "s dropped 0.15 (95% CI −0.27..−0.08, p=0.004 for a drop beyond max_drop 0.05)",
    )
    # significant at alpha, but not at the first stage's quarter of it: the second stage decides
    inconclusive = SetEvidence("s", _stats(-0.07, 0.03, -0.21, 0.06))
    assert not decide(comparisons, GatePolicy(), evidence={"s": inconclusive}).blocked
    resampled = SetEvidence(
        "s", _stats(-0.07, 0.03, -0.21, 0.06), second=_stats(-0.09, 0.001, -0.12, -0.06)
    )
    assert decide(comparisons, GatePolicy(), evidence={"s": resampled}).blocked
    small = SetEvidence("s", _stats(-0.02, 0.6, -0.05, 0.01))
    assert not decide(comparisons, GatePolicy(), evidence={"s": small}).blocked


def test_a_flip_the_second_stage_could_not_test_is_not_confirmed_never_flaky():
    comparisons = compare([outcome(BEFORE)], [outcome(ONE_FLIP)])
    # re-sampled, but no sample came back at the head (replay had no recording for them)
    untested = SetEvidence(
        "s", None, candidates=("a",), not_resampled="8 re-sample(s) not checked (no recording)"
    )
    verdict = decide(comparisons, GatePolicy(), evidence={"s": untested})
    assert not verdict.blocked and "did not reproduce" not in verdict.line()
    assert "s: 1 flip pass → fail not confirmed (8 re-sample(s) not checked" in verdict.line()
    strict = decide(comparisons, GatePolicy(offline="block"), evidence={"s": untested})
    assert strict.blocked


FORTY = {f"c{i:02}": "passed" for i in range(40)}
ONE_OF_FORTY = {**FORTY, "c00": "failed"}


def test_any_drop_holds_a_safety_set_to_safety_max_drop_and_its_flips_at_any_temperature():
    policy = GatePolicy(block_on="any-drop")  # max_drop 0.05, safety_max_drop 0
    warm = {"temperature": 0.7}
    quality = decide(compare([outcome(FORTY, **warm)], [outcome(ONE_OF_FORTY, **warm)]), policy)
    assert not quality.blocked  # a 0.025 drop, one flip at temperature 0.7: noise by this policy
    safety = decide(
        compare(
            [outcome(FORTY, safety=True, **warm)], [outcome(ONE_OF_FORTY, safety=True, **warm)]
        ),
        policy,
    )
    assert safety.reasons == (
        "s (safety set) dropped 0.03 (safety_max_drop 0.00), 1 case flipped pass → fail",
    )


def test_a_reproducing_flip_in_a_safety_set_blocks_however_small_the_mean_drop():
    found = SetEvidence(
        "s",
        _stats(-0.025, p_drop=0.5, low=-0.075, high=0.0),
        cases=(CaseEvidence("c00", 8, 8, 6, 8, 0.23, True),),
        candidates=("c00",),
    )
    compared = compare([outcome(FORTY, safety=True)], [outcome(ONE_OF_FORTY, safety=True)])
    verdict = decide(compared, GatePolicy(), evidence={"s": found})
    assert verdict.reasons == ("s (safety set) 1 case regressed: c00 pass 8/8 → 6/8",)
