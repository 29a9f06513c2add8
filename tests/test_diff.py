import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from promptvc.diff import example_changes, unified_lines


def test_diff_worktree_shows_config_examples_template_rendered_and_goldens(support_repo, cli):
    support_repo.write(
        "prompts/support/answer.jinja",
        (support_repo.root / "prompts/support/answer.jinja")
        .read_text()
        .replace("temperature: 0", "temperature: 0.3")
        .replace("Policy:\n", "Policy:\nAlways cite the policy.\n"),
    )
    with open(support_repo.root / "prompts/examples/support.yaml", "a") as f:
        f.write("- question: Can I pay by invoice?\n  answer: Yes.\n")
    code, out, err = cli("diff", "HEAD")
    assert code == 0, err
    assert "prompts/support/answer.jinja" in out
    assert "temperature  0 → 0.3   (front matter)" in out
    assert '+ "Can I pay by invoice?"  (examples/support.yaml, 1 → 2)' in out
    assert "+Always cite the policy." in out
    assert "changed in 2 of 2 cases; first: support-answer/refund-window" in out
    assert "@@ messages[2] user  (new turn) @@" in out
    assert "evals/support-answer.yaml (2 cases)" in out
    assert "1 prompt changed · 1 golden set affected (2 cases)" in out


def test_a_tier_change_lists_every_prompt_on_that_tier_with_the_reason(support_repo, cli):
    support_repo.write("prompts/other.jinja", "---\ntier: fast\n---\nhi {{ name }}\n")
    support_repo.write("prompts/slow.jinja", "---\ntier: default\n---\nhi\n")
    support_repo.commit("more prompts")
    tiers = (
        (support_repo.root / "prompts/tiers.yaml")
        .read_text()
        .replace("claude-haiku-4-5", "claude-haiku-4-6")
    )
    support_repo.write("prompts/tiers.yaml", tiers)
    code, out, _ = cli("diff", "--name-only")
    assert code == 0
    assert out.split() == ["other", "support/answer"]
    code, out, _ = cli("diff")
    assert "via tiers.yaml: fast.model" in out
    assert "prompts/tiers.yaml → reaches 2 prompts: other, support/answer" in out
    # A prompt with no golden case renders with placeholders.
    assert "(no golden case: placeholders)" in out or "unchanged in the only case" in out
    assert "1 cases" not in out


def test_partial_change_reaches_its_prompts(support_repo, cli):
    support_repo.write("prompts/partials/tone.jinja", "Be formal.\n")
    support_repo.commit("formal tone")
    code, out, _ = cli("diff", "HEAD~1", "HEAD")
    assert "via partials/tone.jinja" in out
    assert "-Be warm and brief." in out and "+Be formal." in out
    assert "prompts/partials/tone.jinja → reaches 1 prompt: support/answer" in out


def test_revision_forms(support_repo, cli):
    base = support_repo.head()
    support_repo.git("checkout", "-q", "-b", "feature")
    support_repo.write("prompts/partials/tone.jinja", "feature tone\n")
    feature = support_repo.commit("feature")
    support_repo.git("checkout", "-q", "main")
    support_repo.write("prompts/new.jinja", "on main\n")
    support_repo.commit("main moves on")
    # A..B compares the two tips: the prompt main added shows as removed.
    _, out, _ = cli("diff", "--name-only", f"main..{feature}")
    assert set(out.split()) == {"new", "support/answer"}
    # A...B compares with the merge base: only the feature's change.
    _, out, _ = cli("diff", "--name-only", f"main...{feature}")
    assert out.split() == ["support/answer"]
    _, out, _ = cli("diff", "--name-only", base, feature)
    assert out.split() == ["support/answer"]


def test_staged_vs_unstaged(support_repo, cli):
    support_repo.write("prompts/partials/tone.jinja", "staged\n")
    support_repo.stage()
    support_repo.write("prompts/partials/tone.jinja", "unstaged\n")
    _, staged, _ = cli("diff", "--staged")
    _, unstaged, _ = cli("diff")
    assert "+staged" in staged and "unstaged" not in staged
    assert "-staged" in unstaged and "+unstaged" in unstaged


def test_root_commit_compares_with_the_empty_tree(support_repo, cli):
    root = support_repo.head()
    code, out, err = cli("diff", f"{root}~1", root)
    assert code == 0, err
    assert "(new prompt)" in out
    assert "golden set support-answer added" in out


def test_names_after_double_dash_filter(support_repo, cli):
    support_repo.write("prompts/other.jinja", "hi\n")
    support_repo.write("prompts/partials/tone.jinja", "x\n")
    _, out, _ = cli("diff", "HEAD", "--", "other")
    assert (
        "prompts/other.jinja  (new prompt)  (untracked)" in out
        and "support/answer.jinja" not in out
    )


def test_json_stat_and_exit_code(support_repo, cli):
    code, out, _ = cli("diff", "--exit-code")
    assert code == 0 and "no prompt changes" in out
    support_repo.write("prompts/partials/tone.jinja", "x\n")
    code, _, _ = cli("diff", "--exit-code")
    assert code == 1
    code, out, _ = cli("diff", "--json")
    data = json.loads(out)
    assert code == 0 and data["schema"] == "promptvc.diff/1"
    assert data["prompts"][0]["name"] == "support/answer"
    assert data["prompts"][0]["rendered"]["changed"] == 2
    assert data["summary"]["cases_affected"] == 2
    _, out, _ = cli("diff", "--stat")
    assert out.startswith(" support/answer | template +0 -0")


def test_golden_set_rename_keeps_its_id(support_repo, cli):
    support_repo.git("mv", "evals/support-answer.yaml", "evals/support.yaml")
    text = (support_repo.root / "evals/support.yaml").read_text()
    support_repo.write("evals/support.yaml", "id: support-answer\n" + text)
    support_repo.stage()
    _, out, _ = cli("diff", "--staged")
    assert "evals/support-answer.yaml → evals/support.yaml" in out


def test_a_broken_template_shows_inline_and_unknown_revision_exits_2(support_repo, cli):
    support_repo.write("prompts/support/answer.jinja", "{% if %}\n")
    code, out, _ = cli("diff")
    assert code == 0 and "error: prompts/support/answer.jinja:1: template syntax error" in out
    code, out, err = cli("diff", "no-such-rev")
    assert code == 2 and err.strip() == "promptvc: unknown revision: no-such-rev"


def test_not_a_repository(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("diff")
    assert code == 2 and "not a git repository" in err and "Traceback" not in err


def test_example_changes_pairs_replacements():
    before = [{"q": "a"}, {"q": "b"}, {"q": "c"}]
    after = [{"q": "a"}, {"q": "B!"}, {"q": "c"}, {"q": "d"}]
    assert [(c.kind, c.label) for c in example_changes(before, after)] == [
        ("changed", "B!"),
        ("added", "d"),
    ]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(alphabet="ab {}%\n", max_size=8), max_size=12),
    st.randoms(use_true_random=False),
)
def test_property_unified_lines_reconstruct_the_edit(lines, rnd: random.Random):
    before = [line.replace("\n", "") for line in lines]
    after = list(before)
    for _ in range(rnd.randint(0, 4)):
        op = rnd.choice("iad")
        if op == "i":
            after.insert(rnd.randint(0, len(after)), rnd.choice(["new", "x", ""]))
        elif after and op == "d":
            after.pop(rnd.randrange(len(after)))
        elif after:
            after[rnd.randrange(len(after))] += "!"
    diff = unified_lines(before, after, context=len(before) + len(after))
    body = [line for line in diff if not line.startswith("@@")]
    if before == after:
        assert diff == []
    else:
        assert [line[1:] for line in body if not line.startswith("+")] == before
        assert [line[1:] for line in body if not line.startswith("-")] == after


def test_a_renamed_prompt_diffs_against_its_old_self(support_repo, cli):
    support_repo.git("mv", "prompts/support/answer.jinja", "prompts/support/reply.jinja")
    text = (
        (support_repo.root / "prompts/support/reply.jinja")
        .read_text()
        .replace("Policy:", "The policy:")
    )
    support_repo.write("prompts/support/reply.jinja", text)
    golden = (
        (support_repo.root / "evals/support-answer.yaml")
        .read_text()
        .replace("support/answer", "support/reply")
    )
    support_repo.write("evals/support-answer.yaml", golden)
    code, out, _ = cli("diff", "HEAD")
    assert code == 0
    assert "prompts/support/reply.jinja  (renamed from support/answer)" in out
    assert (
        "-You are a support agent. Policy:" in out
        and "+You are a support agent. The policy:" in out
    )
    assert "support/answer.jinja  (deleted)" not in out
    assert "changed in 2 of 2 cases" in out


def test_the_cost_estimate_prices_each_side_at_its_own_model(support_repo, cli):
    tiers = (support_repo.root / "prompts/tiers.yaml").read_text()
    support_repo.write("prompts/tiers.yaml", tiers.replace("claude-haiku-4-5", "claude-sonnet-4-5"))
    code, out, _ = cli("diff", "--json")
    data = json.loads(out)
    rendered = data["prompts"][0]["rendered"]
    assert rendered["changed"] == 0  # not one rendered token changed, yet every call costs more
    tokens = rendered["cost_delta"] / (
        (3.0 - 1.0) / 1_000_000
    )  # haiku $1, sonnet $3 per million input
    assert tokens > 20 and abs(tokens - round(tokens)) < 1e-6
    assert data["summary"]["est_run_cost_delta"] > 1.5 * rendered["cost_delta"]
    _, out, _ = cli("diff")
    assert "unchanged in all 2 cases (model: ≈+$0.000" in out
    assert "est. +$0.000000" not in out and "est. +$0.000" in out


def test_a_side_without_a_price_makes_the_cost_unknown(support_repo, cli):
    tiers = (support_repo.root / "prompts/tiers.yaml").read_text()
    support_repo.write("prompts/tiers.yaml", tiers.replace("claude-haiku-4-5", "claude-haiku-9"))
    _, out, _ = cli("diff")
    assert "est. cost unknown per full run (no price for claude-haiku-9)" in out
    data = json.loads(cli("diff", "--json")[1])
    assert data["summary"]["est_run_cost_delta"] is None


def test_each_side_renders_with_its_own_case_vars(support_repo, cli):
    # One commit renames an input and the cases' var with it: the old side renders with its own vars.
    answer = support_repo.root / "prompts/support/answer.jinja"
    support_repo.write(
        "prompts/support/answer.jinja",
        answer.read_text()
        .replace("inputs: [question, policy]", "inputs: [query, policy]")
        .replace("{{ question }}", "Customer asks: {{ query }}"),
    )
    golden = support_repo.root / "evals/support-answer.yaml"
    support_repo.write(
        "evals/support-answer.yaml", golden.read_text().replace("{question:", "{query:")
    )
    support_repo.commit("rename question to query")
    code, out, err = cli("diff", "HEAD~1", "HEAD")
    assert code == 0, err
    assert "changed in 2 of 2 cases" in out
    assert "new turn" not in out and "error" not in out
    assert "+Customer asks: How long do I have to return an item?" in out
    assert "-How long do I have to return an item?" in out


def test_a_side_that_cannot_render_is_an_error_line_not_an_empty_prompt(support_repo, cli):
    # The old golden set lacks a var the old template needs: the old side errors, it is not empty.
    answer = support_repo.root / "prompts/support/answer.jinja"
    support_repo.write(
        "prompts/support/answer.jinja",
        answer.read_text().replace("{{ question }}", "{{ question }} {{ extra }}"),
    )
    support_repo.commit("use an undeclared var")
    support_repo.write(
        "prompts/support/answer.jinja", answer.read_text().replace(" {{ extra }}", "\nThanks.")
    )
    code, out, err = cli("diff", "HEAD")
    assert code == 0, err
    assert "new turn" not in out
    assert "error (HEAD (" in out and "extra" in out, out


def test_a_front_matter_typo_shows_only_the_error(support_repo, cli):
    answer = support_repo.root / "prompts/support/answer.jinja"
    support_repo.write(
        "prompts/support/answer.jinja", answer.read_text().replace("tier: fast", "tier: [fast")
    )
    code, out, err = cli("diff")
    assert code == 0, err
    assert "prompts/support/answer.jinja" in out and "error:" in out
    assert (
        "  config " not in out and "  examples " not in out
    )  # no fake removal of config and examples
    assert "-tier: fast" in out and "+tier: [fast" in out  # the template diff shows the typo itself
    support_repo.commit("typo")
    support_repo.write(
        "prompts/support/answer.jinja", answer.read_text().replace("tier: [fast", "tier: fast")
    )
    code, out, err = cli("diff", "HEAD")
    assert code == 0, err
    assert "  config " not in out and "  examples " not in out
    assert "error (HEAD (" in out


def test_a_case_new_on_one_side_that_the_other_side_cannot_render_is_not_an_error(
    support_repo, cli
):
    answer = support_repo.root / "prompts/support/answer.jinja"
    support_repo.write(
        "prompts/support/answer.jinja",
        answer.read_text()
        .replace("inputs: [question, policy]", "inputs: [query, policy]")
        .replace("{{ question }}", "Customer asks: {{ query }}"),
    )
    golden = (
        (support_repo.root / "evals/support-answer.yaml")
        .read_text()
        .replace("{question:", "{query:")
    )
    support_repo.write(
        "evals/support-answer.yaml",
        golden
        + """\
  - id: brand-new
    vars: {query: "Do you ship abroad?"}
    assert:
      - {type: contains, value: "ship"}
""",
    )
    code, out, err = cli("diff")
    assert code == 0, err
    assert "error" not in out and "new turn" not in out
    assert "changed in 2 of 2 cases" in out  # the new case has no old rendering to compare with


def test_template_lines_that_look_like_diff_headers_are_shown():
    lines = unified_lines(["a", "---", "b"], ["a", "---", "++ counter", "-- dash", "b"])
    assert lines == ["@@ -1,3 +1,5 @@", " a", " ---", "+++ counter", "+-- dash", " b"]
    assert unified_lines(["x"], ["x"]) == []
