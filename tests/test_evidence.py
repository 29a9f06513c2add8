"""The gate blocks on evidence: a flipped case blocks only when its flip reproduces on fresh
samples, through the real CLI, the real store and the anthropic SDK against the test server."""

from __future__ import annotations

import itertools
import json
import threading

import pytest

from tests.model_server import last_user_text


def good_answer(body):
    return "You have 30 days." if "How long" in last_user_text(body) else "No, only within 30 days."


def rule_with_flaky_head(wrong_every: int):
    """The base answers well. A head told to "Be flaky." gets the refund-window question wrong
    on its first call and then on every `wrong_every`-th: a flip that does not reproduce."""
    counter = itertools.count()
    lock = threading.Lock()

    def rule(body):
        if "Be flaky." in body.get("system", "") and "How long" in last_user_text(body):
            with lock:
                n = next(counter)
            if n % wrong_every == 0:
                return "I am not sure, sorry."
        if "Be vague." in body.get("system", ""):
            return "I am not sure, sorry."
        return good_answer(body)

    return rule


@pytest.fixture
def repo(model_repo, model_server):
    model_server.rule = rule_with_flaky_head(wrong_every=4)
    return model_repo


def check(cli, repo, tone: str, toml: str | None = None):
    if toml is not None:
        repo.write("promptvc.toml", toml)
    repo.write("prompts/partials/tone.jinja", f"{tone}\n")
    repo.stage()
    return cli("check")


def test_a_flip_that_reproduces_blocks_with_its_sample_counts(repo, model_server, cli):
    code, out, _ = check(cli, repo, "Be vague.")
    assert code == 1, out
    assert "refund-window  pass 8/8 → 0/8 (re-sampled, p<0.001: reproduced)" in out
    assert "2 cases regressed: refund-window pass 8/8 → 0/8" in out
    # first stage: 2 cases at each side; then 8 fresh samples per flipped case at each side
    assert model_server.calls == 2 * 2 + 2 * 2 * 8


def test_a_flip_that_does_not_reproduce_is_flaky_and_does_not_block(repo, model_server, cli):
    code, out, _ = check(cli, repo, "Be flaky.")
    assert code == 0, out
    assert "refund-window  pass 8/8 → 6/8 (re-sampled, p=0.23: did not reproduce: flaky)" in out
    assert "allowed (with warnings: support-answer: 1 flip did not reproduce (flaky)" in out
    assert "fell below its threshold (0.50 < 0.90), but not significantly worse than HEAD" in out


def test_a_second_check_of_the_same_change_reuses_its_samples(repo, model_server, cli):
    first = check(cli, repo, "Be vague.")
    calls = model_server.calls
    second = cli("check")
    assert second[0] == first[0] == 1
    assert model_server.calls == calls  # every sample, first stage and re-sampled, is cached
    assert "pass 8/8 → 0/8" in second[1]


def test_re_sampling_beyond_the_spend_cap_is_said_not_passed_silently(repo, model_server, cli):
    cap = (
        "[eval]\nspend_cap = 0.005\n[gate]\nmax_repeat = 50\n"  # the first stage fits, not 200 more
    )
    code, out, _ = check(cli, repo, "Be vague.", cap)
    assert code == 0, out
    assert "not confirmed (re-sampling the flipped cases would send" in out
    assert model_server.calls == 4  # nothing beyond the cap was sent
    code, out, _ = check(cli, repo, "Be vague.", cap + 'offline = "block"\n')
    assert code == 1 and "2 flips pass → fail not confirmed" in out


def test_max_repeat_zero_never_re_samples(repo, model_server, cli):
    code, out, _ = check(cli, repo, "Be vague.", "[gate]\nmax_repeat = 0\n")
    assert code == 0 and model_server.calls == 4
    assert "not confirmed ([gate] max_repeat = 0)" in out


def test_any_drop_keeps_the_old_rule(repo, model_server, cli):
    code, out, _ = check(cli, repo, "Be vague.", '[gate]\nblock_on = "any-drop"\n')
    assert code == 1 and "dropped 1.00 (max_drop 0.05)" in out
    assert model_server.calls == 4  # nothing re-sampled


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[gate]\nalpha = 1.5\n", "[gate] alpha must be a number between 0 and 1, not 1.5"),
        ("[gate]\nmax_repeat = -1\n", "[gate] max_repeat must be an integer from 0 to 100"),
        ('[gate]\nblock_on = "vibes"\n', '[gate] block_on must be "evidence" or "any-drop"'),
    ],
)
def test_gate_settings_are_validated(repo, cli, toml, message):
    repo.write("promptvc.toml", toml)
    code, _out, err = cli("check")
    assert code == 2 and message in err and "promptvc.toml:2" in err


def test_log_and_the_tui_show_the_figures_the_gate_printed(repo, model_server, cli):
    code, out, _ = check(cli, repo, "Be vague.")
    assert code == 1
    gate_line = next(line for line in out.splitlines() if line.startswith("  support-answer"))
    figures = gate_line.split("0.00  ", 1)[1].split("  threshold")[0]
    assert figures.startswith("−1.00 (95% CI −1.00..−1.00)  2 flips ↓  p=0.25  regressed")
    repo.git("commit", "-q", "--no-verify", "-m", "vague")
    calls = model_server.calls

    code, out, _ = cli("log", "-n", "1")
    assert code == 0 and figures in out
    code, out, _ = cli("log", "-n", "1", "--json")
    paired = json.loads(out)[0]["sets"][0]["paired"]
    assert paired["verdict"] == "regressed: 2 cases reproduced when re-sampled"
    assert paired["flips_down"] == 2
    assert [c["confirmed"] for c in paired["cases"]] == [True, True]

    from promptvc.tui.model import HistoryBrowser
    from promptvc.workspace import Workspace

    browser = HistoryBrowser(Workspace.open(repo.root))
    row = browser.set_rows(browser.commits()[0])[0]
    assert row.evidence is not None and len(row.evidence.regressions) == 2
    assert model_server.calls == calls  # shown from the store, nothing asked again


def test_with_repeated_samples_a_case_flips_once_and_the_test_is_sign_flip(repo, model_server, cli):
    golden = repo.root / "evals/support-answer.yaml"
    golden.write_text(golden.read_text().replace("threshold: 0.9", "threshold: 0.9\nrepeat: 3"))
    repo.git("commit", "-q", "--no-verify", "-am", "three samples per case")
    code, out, _ = check(cli, repo, "Be vague.")
    assert code == 1, out
    assert out.count("refund-window  pass") == 1  # one line per case, not per sample
    assert "2 flips ↓  p=0.25  regressed" in out  # two non-zero deltas: 1 sign pattern of 4
    assert "refund-window  pass 8/8 → 0/8" in out
    assert model_server.calls == 2 * 2 * 3 + 2 * 2 * 8  # re-sampled from sample 3 on


def test_diff_eval_after_a_check_says_what_the_gate_said(repo, model_server, cli):
    assert check(cli, repo, "Be vague.")[0] == 1
    repo.git("commit", "-q", "--no-verify", "-m", "vague")
    calls = model_server.calls
    code, out, _ = cli("diff", "--eval", "HEAD~1", "HEAD")
    assert code == 0 and model_server.calls == calls
    assert "regressed: 2 cases reproduced when re-sampled" in out
    assert "refund-window  pass 8/8 → 0/8 (re-sampled, p<0.001: reproduced)" in out


def test_a_sets_own_repeats_can_show_a_regression_without_re_sampling(repo, model_server, cli):
    golden = repo.root / "evals/support-answer.yaml"
    golden.write_text(golden.read_text().replace("threshold: 0.9", "threshold: 0.9\nrepeat: 8"))
    repo.git("commit", "-q", "--no-verify", "-am", "eight samples per case")
    code, out, _ = check(cli, repo, "Be vague.", "[gate]\nmax_repeat = 0\n")
    assert code == 1, out
    # every case tested on its 8 samples a side (Holm over both cases at a quarter of alpha)
    assert "regressed: 2 cases reproduced across its samples" in out
    assert "2 cases regressed: refund-window pass 8/8 → 0/8" in out
    assert model_server.calls == 2 * 2 * 8  # nothing re-sampled


SAFETY = "kind: safety\nprompt: support/answer"


def test_a_flaky_flip_in_a_safety_set_blocks_where_a_quality_set_warns(repo, model_server, cli):
    golden = (repo.root / "evals/support-answer.yaml").read_text(encoding="utf-8")
    repo.write("evals/support-answer.yaml", golden.replace("prompt: support/answer", SAFETY, 1))
    repo.commit("the support set guards safety")
    code, out, _ = check(cli, repo, "Be flaky.")
    assert code == 1, out
    assert "support-answer [safety]" in out
    assert "refund-window  pass 8/8 → 6/8 (re-sampled, p=0.23: reproduced (a safety set" in out
    assert (
        "blocked: support-answer (safety set) fell below its threshold (0.50 < 0.90), "
        "1 case regressed: refund-window pass 8/8 → 6/8"
    ) in out
    report = repo.root.parent / "summary.md"
    assert cli("check", "--markdown", str(report))[0] == 1  # the same samples, from the cache
    assert "| support-answer (safety) | 1.00 | 0.50 |" in report.read_text(encoding="utf-8")


def test_safety_max_drop_is_validated(repo, cli):
    code, out, err = check(cli, repo, "Be vague.", "[gate]\nsafety_max_drop = 2\n")
    assert code == 2
    assert err.strip() == (
        "promptvc: promptvc.toml:2: [gate] safety_max_drop must be a number from 0 to 1, not 2"
    )
