"""`promptvc render`: a prompt's effective config and rendered messages at a revision."""

from __future__ import annotations

import json
import sys

from promptvc.errors import UserError
from promptvc.evals.goldens import GoldenSet
from promptvc.git.snapshot import INDEX, WORKTREE
from promptvc.names import as_name
from promptvc.prompts.caching import SYSTEM
from promptvc.workspace import Workspace


def parse_vars(pairs: tuple[str, ...]) -> dict:
    variables = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--var takes key=value, got '{pair}'")
        variables[key] = value
    return variables


def case_vars(goldens: list[GoldenSet], prompt: str, case_ref: str) -> dict:
    """`--case ID` or `--case SET/ID`: the vars of a golden case of this prompt."""
    set_id, _, case_id = case_ref.rpartition("/")
    matches = [
        (g, c)
        for g in goldens
        if g.prompt == prompt and (not set_id or g.id == set_id)
        for c in g.cases
        if c.id == case_id
    ]
    if not matches:
        raise UserError(f"no golden case '{case_ref}' for prompt '{prompt}'")
    if len(matches) > 1:
        raise UserError(f"case '{case_ref}' is in several sets; name it as SET/ID")
    return dict(matches[0][1].vars)


def _refuse_undeclared(renderer, name: str, given: dict) -> None:
    from promptvc.prompts.file import unknown_input

    prompt = renderer.prompt(name)
    for key in given:
        problem = unknown_input(prompt, key)
        if problem:
            raise UserError(f"--var {key}: {problem}")


def _warn_dropped(config) -> None:
    """A sampling parameter the model rejects is never sent: say so, once per parameter."""
    from promptvc.prompts.capabilities import dropped

    for item in dropped(config.model, config.params):
        where = config.sources.get(item.key)
        print(f"promptvc: warning: {item}" + (f" ({where})" if where else ""), file=sys.stderr)


def run(
    name: str,
    rev: str | None,
    var_pairs: tuple[str, ...],
    case: str | None,
    *,
    plain: bool,
    staged: bool = False,
    allow_missing: bool,
    as_json: bool,
) -> int:
    ws = Workspace.open()
    name = as_name(name, ws.settings.prompts_dir)
    if staged and rev:
        raise UserError("give --rev or --staged, not both")
    snapshot = ws.snapshot(INDEX if staged else ws.resolve(rev) if rev else WORKTREE)
    renderer = ws.renderer(snapshot)
    variables = case_vars(ws.goldens(snapshot), name, case) if case else {}
    given = parse_vars(var_pairs)
    _refuse_undeclared(renderer, name, given)
    variables.update(given)
    rendered = renderer.render(name, variables, allow_missing=allow_missing)
    route = renderer.route(name)
    _warn_dropped(rendered.config)
    if plain:
        from promptvc.views.terminal import printable

        # Exactly the echo provider's text into a pipe; on a terminal, no variable drives it.
        print(rendered.plain() if not sys.stdout.isatty() else printable(rendered.plain()), end="")
        return 0
    if as_json:
        print(
            json.dumps(
                {
                    "prompt": name,
                    "config": rendered.config.params,
                    "tier": rendered.config.tier,
                    "route": (
                        {
                            "tiers": list(route.tiers),
                            "escalate_on": [r.as_front_matter() for r in route.rules],
                        }
                        if route
                        else None
                    ),
                    "output_schema": _schema_json(rendered.config.output_schema),
                    "provider": rendered.config.connection,
                    "system": rendered.system,
                    "messages": [m.__dict__ for m in rendered.messages],
                    "cache_breakpoints": [_breakpoint_json(b) for b in rendered.breakpoints],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    _show(rendered, route)
    return 0


def _show(rendered, route) -> None:
    from rich.text import Text

    from promptvc.evaluation.prices import estimate_tokens
    from promptvc.views.terminal import emit

    config = rendered.config
    lines = [
        Text(f"{rendered.name}", style="bold yellow")
        + Text(f"   tier {config.tier or '—'}", style="dim")
    ]
    if route is not None:
        rules = ", ".join(r.describe() for r in route.rules)
        lines.append(Text(f"  route           {route.label}   (escalates when: {rules})"))
    sources = {**config.sources, **{k: f"tiers.yaml: {config.tier}" for k in config.connection}}
    for key, value in {**config.connection, **config.params}.items():
        lines.append(
            Text(
                f"  {key:<16}{json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value}"
            )
            + Text(f"   ({sources.get(key, '')})", style="dim")
        )
    if config.output_schema is not None:
        lines.append(_schema_line(config.output_schema))
    lines.append(
        Text(f"  ≈{estimate_tokens(rendered.text())} input tokens (offline estimate)", style="dim")
    )
    if rendered.system:
        lines += [Text(""), Text("system:", style="bold magenta")]
        lines += _with_breakpoints(rendered, SYSTEM, rendered.system)
    for index, message in enumerate(rendered.messages):
        lines += [
            Text(""),
            Text(f"{message.role}:", style="bold cyan" if message.role == "user" else "bold green"),
            *_with_breakpoints(rendered, index, message.content),
        ]
    emit(lines, pager=True)


def _with_breakpoints(rendered, index: int, text: str) -> list:
    """A block's text, a dim line where each cache breakpoint cuts it."""
    from rich.text import Text

    from promptvc.prompts.caching import BREAK_LINE

    lines, start = [], 0
    for b in (b for b in rendered.breakpoints if b.message == index):
        if text[start : b.offset].strip():
            lines.append(Text(text[start : b.offset].strip("\n")))
        lines.append(Text(BREAK_LINE.format(ttl=b.ttl), style="dim yellow"))
        start = b.offset
    if text[start:].strip() or not lines:
        lines.append(Text(text[start:].strip("\n")))
    return lines


def _breakpoint_json(b) -> dict:
    """Where a breakpoint is: the system text or a message, and how far into it (characters)."""
    where = {"system": True} if b.message == SYSTEM else {"message": b.message}
    return {**where, "offset": b.offset, "ttl": b.ttl}


def _schema_json(output) -> dict | None:
    return None if output is None else {"source": output.source, "schema": output.schema}


def _schema_line(output):
    """The schema as sent, or a Pydantic model by name: render never runs repository code."""
    from rich.text import Text

    if output.schema is None:
        text = f"{output.source} (a Pydantic model, loaded only by commands that evaluate)"
    else:
        text = json.dumps(output.schema, ensure_ascii=False, sort_keys=True)
    source = "front matter" if output.source == "inline" or output.model else output.source
    return Text(f"  {'output_schema':<16}{text}") + Text(f"   ({source})", style="dim")
