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
