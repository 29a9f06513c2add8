"""The gate's verdict, checked whole: what a blocked commit prints, line for line."""

from __future__ import annotations

import doctest

BLOCKED = """\
promptvc check · staged vs HEAD (...) · 1 golden set, 0 of 1 case re-run
  support-answer  1.00 → 0.67  −0.33 (95% CI −0.33..−0.33)  1 flip ↓  p=0.50  regressed: 1 case reproduced when re-sampled  threshold 1.00  ✗  echo
    re-sampled 1 case ×8 on both sides: −0.33 (95% CI −0.33..−0.33)  1 flip ↓  p=0.50
    refund-window  pass 8/8 → 0/8 (re-sampled, p<0.001: reproduced)   icontains "answer only from this policy": output does not contain 'answer only from this policy'
      before: system: You are a support agent. Answer only from this policy: Refunds are accepted within 30 days …
      after:  system: You are a support agent. Answer from this policy: Refunds are accepted within 30 days of de…
blocked: support-answer fell below its threshold (0.67 < 1.00), 1 case regressed: refund-window pass 8/8 → 0/8
(skip once with `git commit --no-verify`)
"""


def test_a_blocked_commit_prints_exactly_why(git_repo, cli):
    assert cli("init")[0] == 0
    git_repo.commit("scaffold")
    answer = git_repo.root / "prompts/support/answer.jinja"
    answer.write_text(
        answer.read_text().replace("Answer only from this policy", "Answer from this policy")
    )
    git_repo.stage()
    code, out, _err = cli("check")
    assert code == 1
    assert doctest.OutputChecker().check_output(BLOCKED, out, doctest.ELLIPSIS), out
