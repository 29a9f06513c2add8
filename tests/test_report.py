"""`promptvc report`: a comparison as one self-contained HTML page, read from the store (or
evaluated with --eval), its untrusted outputs inert, and read in a real headless Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.data import GOLDEN, JUDGED_GOLDEN
from tests.helpers import db_rows
from tests.model_server import last_user_text

# An output that would run, were it not escaped; the page's own script marks <html class="js">.
HOSTILE = (
    '<script>document.body.setAttribute("data-pwned","1")</script><img src=x onerror=alert(1)>'
)


@pytest.fixture
def echo_repo(support_repo):
    """Two commits whose change flips a case: `late-return` fails on "sorry" in the prompt at the
    base and passes at the head; the tone partial carries markup into every output."""
    support_repo.write(
        "evals/support-answer.yaml",
        GOLDEN.replace("threshold: 0.9", "provider: echo\nthreshold: 0.9"),
    )
    support_repo.write("prompts/partials/tone.jinja", f"Say sorry {HOSTILE}\n")
    support_repo.commit("checked with echo, apologetic")
    support_repo.write("prompts/partials/tone.jinja", f"Say hello {HOSTILE}\n")
    support_repo.commit("no apologies")
    return support_repo


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def text_of(page: str) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded, whitespace folded."""
    without_code = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", without_code)).split())


def test_report_reads_what_diff_eval_stored_and_shows_the_flip(echo_repo, cli, tmp_path):
    assert cli("diff", "--eval", "HEAD~1", "HEAD")[0] == 0
    runs = len(db_rows(echo_repo, "select * from runs"))
    code, out, err = cli("report", "HEAD~1..HEAD", "-o", str(tmp_path / "r.html"))
    assert code == 0, err
    assert out.strip() == f"wrote {tmp_path / 'r.html'}: 1 set, 1 flip"
    assert len(db_rows(echo_repo, "select * from runs")) == runs  # read, nothing run
    text = text_of(read(tmp_path / "r.html"))
    assert "support-answer 0.50 1.00 +0.50 +0.00..+1.00 p=1.00 no regression 1" in text
    assert "late-return failed passed fixed" in text
    assert "refund-window passed passed" in text
    assert "late-return fail → pass (fixed)" in text
    assert "-Say sorry <script>" in text and "+Say hello <script>" in text  # the rendered diff
    assert "✗ not-contains \"sorry\" : expected not: output contains 'sorry'" in text
    assert "✓ not-contains \"sorry\" : expected not: output does not contain 'sorry'" in text


def test_a_and_b_as_two_arguments_is_the_same_page(echo_repo, cli, tmp_path):
    cli("report", "--eval", "HEAD~1..HEAD", "-o", str(tmp_path / "range.html"))
    cli("report", "HEAD~1", "HEAD", "-o", str(tmp_path / "two.html"))
    assert read(tmp_path / "two.html") == read(tmp_path / "range.html").replace(
        "evaluated now (stored results reused)", "from stored results"
    )


def test_outputs_are_escaped_and_only_the_pages_own_script_may_run(echo_repo, cli, tmp_path):
    cli("report", "--eval", "HEAD~1..HEAD", "-o", str(tmp_path / "r.html"))
    page = read(tmp_path / "r.html")
    assert page.count("<script") == 1 and "<img" not in page
    assert "&lt;script&gt;document.body.setAttribute(&#34;data-pwned&#34;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)[1]
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy.split("script-src")[1]


def test_a_range_with_nothing_evaluated_says_so_on_the_page_and_in_one_line(
    echo_repo, cli, tmp_path
):
    code, out, err = cli("report", "HEAD~1..HEAD", "-o", str(tmp_path / "r.html"))
    assert code == 0
    assert err.count("\n") == 1
    assert err.startswith("promptvc: Nothing in this range is evaluated at both sides")
    assert "promptvc report --eval" in err
    assert not (echo_repo.root / ".promptvc/promptvc.db").exists()  # reading made no store
    text = text_of(read(tmp_path / "r.html"))
    assert "Nothing in this range is evaluated at both sides" in text
    assert "Not evaluated at either side: support-answer." in text


def test_a_case_without_a_verdict_says_why(support_repo, cli, tmp_path):
    support_repo.write("prompts/partials/tone.jinja", "Be kind.\n")
    support_repo.commit("kinder")  # replayed by default, and nothing is recorded
    code, _, err = cli("report", "--eval", "HEAD~1..HEAD", "-o", str(tmp_path / "r.html"))
    assert code == 0, err
    text = text_of(read(tmp_path / "r.html"))
    assert "support-answer — — not evaluated" in text
    assert "refund-window skipped skipped no recording for this request" in text
    assert "without scores at both HEAD~1" in text and "the cases' notes say why" in text


def test_a_range_no_set_depends_on_says_so(echo_repo, cli, tmp_path):
    echo_repo.write("README.md", "notes\n")
    echo_repo.commit("docs only")
    code, out, _ = cli("report", "HEAD~1..HEAD", "-o", str(tmp_path / "r.html"))
    assert code == 0 and out.strip().endswith("0 sets, 0 flips")
    assert "No golden set is affected between HEAD~1" in text_of(read(tmp_path / "r.html"))


def test_all_shows_the_unaffected_sets_too(echo_repo, cli, tmp_path):
    cli("report", "--eval", "HEAD~1..HEAD", "-o", str(tmp_path / "r.html"))
    echo_repo.write("README.md", "notes\n")
    echo_repo.commit("docs only")
    cli("report", "--eval", "--all", "HEAD~2..HEAD~1", "-o", str(tmp_path / "r.html"))
    code, out, err = cli("report", "--all", "HEAD~1..HEAD", "-o", str(tmp_path / "all.html"))
    assert code == 0 and out.strip().endswith("1 set, 0 flips"), err
    assert "support-answer 1.00 1.00 ±0.00" in text_of(read(tmp_path / "all.html"))


def test_a_directory_as_the_output_is_one_line_and_exit_2(echo_repo, cli, tmp_path):
    code, out, err = cli("report", "HEAD~1..HEAD", "-o", str(tmp_path))
    assert code == 2 and out == ""
    assert err == f"promptvc: {tmp_path}: is a directory; give a file name\n"


def test_a_bad_revision_is_one_line_and_exit_2(echo_repo, cli, tmp_path):
    code, _, err = cli("report", "nope..HEAD", "-o", str(tmp_path / "r.html"))
    assert code == 2 and err.count("\n") == 1 and "nope" in err


def judge_and_model(body: dict) -> str:
    """The model is vague when told to be; the judge gives its reason and a score by the output."""
    text = last_user_text(body)
    if "Rubric:" in text:
        cited = "30 days" in text.split("<output>")[1]
        return (
            "Cites the <b>30-day</b> policy.\nScore: 5"
            if cited
            else "Dodges the question.\nScore: 1"
        )
    return (
        "I am not sure, sorry."
        if "Be vague" in json.dumps(body)
        else "You have 30 days from delivery."
    )


def test_the_judges_reasons_and_costs_of_a_flip_are_on_the_page(
    model_repo, model_server, cli, tmp_path
):
    model_repo.write("evals/support-answer.yaml", JUDGED_GOLDEN)
    model_repo.commit("judge the answers")
    model_repo.write("prompts/partials/tone.jinja", "Be vague.\n")
    model_repo.commit("vague")
    model_server.rule = judge_and_model
    code, _, err = cli("report", "--eval", "HEAD~1..HEAD", "-o", str(tmp_path / "r.html"))
    assert code == 0, err
    text = text_of(read(tmp_path / "r.html"))
    assert "refund-window pass → fail (regressed)" in text
    assert "You have 30 days from delivery." in text and "I am not sure, sorry." in text
    assert "Cites the <b>30-day</b> policy." in text and "Dodges the question." in text
    assert "+Be vague." in text and "-Be warm and brief." in text
    assert re.search(r"cost per run: \$[0-9.]+ → \$[0-9.]+", text)
    assert text.count("Dodges the question.") == 2  # once per case: in its rubric's verdict
    cli("check", "--base", "HEAD~1")  # re-samples both regressions
    calls = model_server.calls
    cli("report", "HEAD~1..HEAD", "-o", str(tmp_path / "again.html"))
    assert model_server.calls == calls  # the second page is read from the store
    text = text_of(read(tmp_path / "again.html"))
    assert "regressed: 2 cases reproduced when re-sampled" in text  # what the gate stored
    assert (
        "refund-window pass → fail (regressed) pass 8/8 → 0/8 (re-sampled, p<0.001: reproduced)"
        in text
    )


# -- in a browser ------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def without_scripts(page: Path) -> Path:
    """The page as a browser with JavaScript off reads it: its policy runs no script at all.
    (Headless Chromium's `--blink-settings=scriptEnabled=false` also stops --dump-dom and
    --screenshot, which evaluate in the page; a page's own CSP does not bind them.)"""
    copy = page.with_name("no-js.html")
    policy = re.sub(r"script-src '[^']+'", "script-src 'none'", read(page), count=1)
    copy.write_text(policy, encoding="utf-8")
    return copy


def chromium(url: str, profile: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with nothing that reaches the network."""
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1280,2000",
            *flags,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
)
def test_the_page_in_headless_chromium_with_and_without_javascript(echo_repo, cli, tmp_path):
    page = tmp_path / "report.html"
    cli("report", "--eval", "HEAD~1..HEAD", "-o", str(page))
    url = page.as_uri()
    shot = tmp_path / "shot.png"
    chromium(url, tmp_path / "p1", f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    with_js = chromium(url, tmp_path / "p2", "--dump-dom").stdout
    without_js = chromium(without_scripts(page).as_uri(), tmp_path / "p3", "--dump-dom").stdout
    assert '<html lang="en" class="js">' in with_js  # the page's own script ran...
    assert '<html lang="en">' in without_js
    assert "data-pwned" not in with_js.split("<body")[1].split(">")[0]  # ...and no output's did
    assert '<form id="filters">' in with_js and '<form id="filters" hidden="">' in without_js
    assert "1 of 1 sets shown" in with_js
    for dom in (with_js, without_js):
        text = text_of(dom)
        assert "support-answer 0.50 1.00 +0.50" in text
        assert "late-return fail → pass (fixed)" in text
        assert "+Say hello <script>" in text
    filtered = chromium(url + "#status=fixed", tmp_path / "p4", "--dump-dom").stdout
    rows = re.findall(r'<tr class="item"([^>]*)><td class="mono">([^<]+)<', filtered)
    assert {case: "hidden" in attrs for attrs, case in rows} == {
        "late-return": False,
        "refund-window": True,
    }


def test_bidi_controls_in_outputs_and_prompts_are_shown_not_obeyed(support_repo, cli, tmp_path):
    """An embedding (U+202B) before `pass → fail` would show it as `fail → pass`; on the page every
    bidi control is a visible mark instead, so nothing reorders what the reviewer reads."""
    support_repo.write(
        "evals/support-answer.yaml",
        GOLDEN.replace("threshold: 0.9", "provider: echo\nthreshold: 0.9"),
    )
    support_repo.write("prompts/partials/tone.jinja", "Say sorry \u202b\u2067\n")
    support_repo.commit("checked with echo, apologetic")
    support_repo.write("prompts/partials/tone.jinja", "Say hello \u202b\u2067\n")
    support_repo.commit("no apologies")
    code, out, err = cli("report", "--eval", "HEAD~1..HEAD", "-o", str(tmp_path / "r.html"))
    assert code == 0, out + err
    page = read(tmp_path / "r.html")
    assert "regressed" in page or "fixed" in page  # a flip, with its outputs and prompt diff
    assert not set(page) & set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "⟨U+202B⟩⟨U+2067⟩" in page
