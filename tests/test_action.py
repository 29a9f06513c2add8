"""The composite GitHub Action (action.yml) and the workflow the README gives for it: they parse,
and every promptvc command and flag they use exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
INVOCATION = re.compile(r"^\s*promptvc\s+(.*)$", re.MULTILINE)


def action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def run_steps() -> list[dict]:
    return [s for s in action()["runs"]["steps"] if "run" in s]


def invocations() -> list[tuple[list[str], list[str]]]:
    """(subcommand words, flags) of each promptvc command line in the action, with the flags its
    step passes through the environment (`$STRICT`)."""
    found = []
    for step in run_steps():
        env_flags = [
            flag
            for value in (step.get("env") or {}).values()
            for flag in re.findall(r"'(--[a-z][\w-]*)'", str(value))
        ]
        for line in INVOCATION.findall(step["run"]):
            words = shlex.split(line.replace("$", ""))
            command = [w for w in words[:2] if re.fullmatch(r"[a-z][\w-]*", w)]
            flags = [w for w in words if w.startswith("--")]
            found.append((command, flags + env_flags))
    return found


def test_the_action_is_a_composite_action_whose_steps_all_name_a_shell():
    meta = action()
    assert meta["runs"]["using"] == "composite"
    for step in run_steps():
        assert step["shell"] == "bash", step["name"]


def test_every_promptvc_command_and_flag_the_action_runs_exists(cli):
    used = invocations()
    assert {tuple(c) for c, _ in used} >= {("check",), ("eval",)}
    for command, flags in used:
        code, out, err = cli(*command, "--help")
        assert code == 0, f"promptvc {' '.join(command)}: {err}"
        for flag in flags:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", out), (command, flag)


def test_the_action_installs_itself_fetches_the_refs_comments_once_and_uploads_junit():
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    scripts = "\n".join(s["run"] for s in run_steps())
    assert 'pip install --quiet "$GITHUB_ACTION_PATH"' in scripts
    for moved in ("notes fetch", "responses fetch", "notes push", "responses push"):
        assert f"promptvc {moved}" in scripts, moved
    assert "<!-- promptvc -->" in scripts and "--method PATCH" in scripts
    assert '>> "$GITHUB_STEP_SUMMARY"' in scripts
    uploads = [
        s
        for s in action()["runs"]["steps"]
        if s.get("uses", "").startswith("actions/upload-artifact@")
    ]
    assert uploads and uploads[0]["with"]["path"] == "junit.xml"
    # Values from the event reach the scripts through the environment, never pasted into them.
    for step in run_steps():
        assert "${{" not in step["run"], step["name"]
    assert "pull_request_target" not in text


def readme_workflow() -> dict:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(# \.github/workflows/promptvc\.yml\n.*?)```", readme, re.DOTALL)
    assert block, "the README's workflow for the action"
    return yaml.safe_load(block[1])


def test_the_readme_workflow_runs_on_pull_request_never_pull_request_target():
    workflow = readme_workflow()
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request" in triggers and "pull_request_target" not in triggers
    steps = workflow["jobs"]["prompts"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@") and steps[0]["with"]["fetch-depth"] == 0
    assert any(re.fullmatch(r"OWNER/promptvc@v[\w.]+", s.get("uses", "")) for s in steps)
    permissions = workflow["jobs"]["prompts"]["permissions"]
    assert permissions == {"contents": "write", "pull-requests": "write"}


def test_the_action_shares_results_through_promptvc_and_uploads_the_report():
    """Notes and responses move with promptvc's own commands (a union merge, only new responses),
    each tolerated when it fails; the default branch notes HEAD before pushing; a pull request's
    report is written from what the check stored and uploaded."""
    steps = {s.get("name", s.get("uses")): s for s in action()["runs"]["steps"]}
    used = {tuple(c): f for c, f in invocations()}
    for command in ("notes fetch", "responses fetch", "notes push", "responses push"):
        assert tuple(command.split()) in used, command
    fetch = steps["Fetch promptvc's scores and recorded responses"]["run"]
    push = steps["Push promptvc's scores and recorded responses"]["run"]
    for script in (fetch, push):
        commands = [line for line in script.splitlines() if line.strip().startswith("promptvc ")]
        assert len(commands) == 2 and all("|| echo" in line for line in commands), script
    assert "--notes" in used[("eval",)]
    order = list(steps)
    assert order.index("Evaluate the default branch") < order.index(
        "Push promptvc's scores and recorded responses"
    )
    report = steps["Write the HTML report"]
    assert ("report",) in used and "--output" in used[("report",)]
    assert report["if"].startswith("always()") and "pull_request" in report["if"]
    assert order.index("Check the pull request") < order.index("Write the HTML report")
    line = next(x for x in report["run"].splitlines() if x.strip().startswith("promptvc report"))
    path = re.search(r"--output (\S+)", line)[1]
    uploads = [
        s for s in steps.values() if s.get("uses", "").startswith("actions/upload-artifact@")
    ]
    assert any(u["with"]["path"] == path and path in u["if"] for u in uploads)


def test_the_readme_workflow_tells_a_teammate_how_to_get_ci_results(cli):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "promptvc notes fetch && promptvc responses fetch" in readme
    code, out, err = cli("notes", "fetch", "--help")
    assert code == 0, err
