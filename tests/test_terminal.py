"""Terminal escapes in what a model, a variable or a file supplied never reach the terminal."""

from rich.text import Text

from promptvc.views.terminal import printable, printable_text
from tests.data import MODEL_GOLDEN

HOSTILE = "a\x1b[2Jb\x1b]0;pwned\x07c\rd\x9b31me\x7f"


def test_printable_keeps_newlines_and_tabs_and_shows_the_rest():
    shown = printable(HOSTILE + "\n\tz")
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown and "\x9b" not in shown
    assert "\x7f" not in shown
    assert shown.endswith("\n\tz") and shown.startswith("a␛[2Jb␛]0;pwned␇c␍d")
    assert len(shown) == len(HOSTILE) + 3  # one for one, so styles stay where they were


def test_printable_text_keeps_its_styles():
    text = Text("ok ") + Text("\x1b[2J", style="red")
    safe = printable_text(text)
    assert safe.plain == "ok ␛[2J" and safe.spans[0].start == 3 and safe.spans[0].style == "red"


def test_model_output_with_escapes_is_neutralised_in_eval(support_repo, model_server, cli):
    support_repo.write("evals/support-answer.yaml", MODEL_GOLDEN)
    support_repo.commit("judge the model")
    model_server.rule = lambda body: "sorry \x1b[2J\x1b]0;pwned\x07 no"
    code, out, err = cli("eval")
    assert code == 1
    assert "␛[2J" in out and "\x1b" not in out and "\x07" not in out


def test_a_variable_with_escapes_is_neutralised_in_render(support_repo, cli):
    code, out, err = cli(
        "render", "support/answer", "--var", "policy=\x1b]0;pwned\x07", "--var", "question=q"
    )
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and "␛]0;pwned" in out


def test_lines_as_pieces_print_as_the_texts_they_stand_for(capsys, monkeypatch):
    """`emit_pieces` (log's thousands of lines) writes exactly what `emit` writes for the same
    lines as Texts: plain when piped, with the same colours when forced, escapes shown."""
    from promptvc.views.terminal import emit, emit_pieces

    lines = [
        [("0771d46", "yellow"), (" 2026-11-26 ", "yellow dim"), ("subject " + HOSTILE, "yellow")],
        [("    g0000  ", ""), ("0.56  ", ""), ("(−0.25)", "red"), ("  2/2 passed", "dim")],
        [("  figures ", ""), Text("+0.10", style="green") + Text("  improved", style="bold")],
        [("a\ttab", "")],  # rich expands tabs: printed through rich either way
    ]

    def printed(emitter, as_lines) -> str:
        emitter(as_lines, pager=True)
        return capsys.readouterr().out

    as_texts = [Text.assemble(*line) for line in lines]
    for colour in ("", "1"):
        monkeypatch.delenv("NO_COLOR", raising=False)
        if colour:
            monkeypatch.setenv("FORCE_COLOR", colour)
        else:
            monkeypatch.delenv("FORCE_COLOR", raising=False)
        shown = printed(emit_pieces, lines)
        assert shown == printed(emit, as_texts)
        assert "\x1b[2J" not in shown and "␛[2J" in shown
        assert ("\x1b[" in shown) == bool(colour)
