"""The runtime API: an application loads its prompts and renders the request `eval` judged.

    prompts = promptvc.load(".", rev="prod")        # or bundle="prompts.bundle.json"
    req = prompts.render("support/answer", question=q, policy=p)
    client.messages.create(**req.anthropic())

Rendering goes through the renderer and request builder that `eval` uses, so the bytes that
were evaluated are the bytes that are sent. Nothing here imports click, rich, sqlite-utils,
textual or an SDK; jinja2 is imported at the first render.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from promptvc.prompts.render import Renderer

from promptvc.errors import PromptError, UserError

__all__ = ["PromptError", "PromptInfo", "PromptRequest", "Prompts", "Provenance", "load"]


@dataclass(frozen=True)
class Provenance:
    """Where a rendered request came from: enough to find the exact template it was made of."""

    prompt: str
    commit: str  # the commit sha, or "worktree"
    template_sha: str  # the git blob sha of the prompt's template file
    tier: str | None
    bundle_hash: str | None  # the bundle's content hash, when loaded from one
    # A routed prompt's tiers, cheapest first (the request is the first's); escalating is the
    # application's, by the prompt's `escalate_on`.
    route: tuple[str, ...] = ()


@dataclass(frozen=True)
class PromptRequest:
    """A rendered prompt with its effective config: the request `eval` sends for the same vars."""

    name: str
    model: str
    system: str
    messages: tuple[dict[str, str], ...]
    params: dict[str, Any]  # everything else the request carries (max_tokens, temperature, ...)
    provenance: Provenance
    # The variables it was rendered with (a trace records them); not part of what is sent.
    vars: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _request: Any = field(default=None, repr=False, compare=False)  # as eval keys and sends it

    def anthropic(self) -> dict:
        """Keyword arguments for the Anthropic SDK's `messages.create` (sampling parameters in
        `extra_body`, as the SDK takes them): on the wire, exactly the body `eval` sends."""
        from promptvc.evaluation.request import sdk_arguments

        return sdk_arguments(self._model_request().payload())

    def openai(self) -> dict:
        """Keyword arguments for an OpenAI-compatible `chat.completions.create` (the system text
        as the first message), as promptvc's own openai provider sends them."""
        from promptvc.providers.openai_compat import chat_body

        return chat_body(self._model_request())

    def _model_request(self):
        """The request render built; one made from the fields for a PromptRequest built by hand."""
        if self._request is not None:
            return self._request
        from promptvc.evaluation.request import ModelRequest, normalise

        return ModelRequest(
            provider="runtime",
            endpoint="",
            model=self.model,
            system=self.system,
            messages=tuple((m["role"], m["content"]) for m in self.messages),
            params=tuple(sorted(normalise(self.params).items())),
        )


@dataclass(frozen=True)
class PromptInfo:
    name: str
    inputs: tuple[str, ...] | None  # None: the prompt declares none
    description: str | None
    tier: str | None


class Prompts:
    """The prompts of one snapshot (a revision, the working tree, or a bundle). Safe to share
    across threads: each prompt is prepared once under a lock, then rendered without one."""

    def __init__(
        self,
        renderer: Callable[[], Renderer],
        names: list[str],
        *,
        commit: str,
        bundle_hash: str | None = None,
    ):
        self._make_renderer = renderer
        self._made: Renderer | None = None
        self._names = tuple(names)
        self._commit = commit
        self._bundle_hash = bundle_hash
        self._lock = threading.RLock()  # preparing a prompt may make the renderer
        self._ready: set[str] = set()

    @property
    def _renderer(self) -> Renderer:
        """Made on first use: loading a bundle at start-up does not import jinja2."""
        if self._made is None:
            with self._lock:
                if self._made is None:
                    self._made = self._make_renderer()
        return self._made

    def names(self) -> list[str]:
        return list(self._names)

    def get(self, name: str) -> PromptInfo:
        prompt = _api(lambda: self._renderer.prompt(self._known(name)))
        meta = prompt.meta
        return PromptInfo(name, prompt.inputs, meta.get("description"), prompt.tier)

    def render(self, name: str, /, **variables: Any) -> PromptRequest:
        """The request for these variables; a missing or undeclared one raises PromptError."""
        return _api(lambda: self._render(name, variables))

    def _render(self, name: str, variables: dict) -> PromptRequest:
        from promptvc.evaluation.request import build_request
        from promptvc.prompts.file import unknown_input

        if name not in self._ready:
            self._prepare(name)
        renderer = self._renderer
        prompt = renderer.prompt(name)
        for key in variables:
            problem = unknown_input(prompt, key)
            if problem:
                raise UserError(problem, path=prompt.path)
        rendered = renderer.render(name, variables)
        request = build_request(rendered, "runtime", "")
        # The fields are text, as typed; `.anthropic()` sends the cache breakpoints (the request).
        body = request.payload(breakpoints=False)
        route = renderer.route(name)
        provenance = Provenance(
            name,
            self._commit,
            prompt.sha,
            rendered.config.tier,
            self._bundle_hash,
            route.tiers if route else (),
        )
        messages = tuple(body.pop("messages"))
        model, system = body.pop("model"), body.pop("system", "")
        return PromptRequest(
            name, model, system, messages, body, provenance, dict(variables), request
        )

    def _prepare(self, name: str) -> None:
        """Parse, analyse and compile once, so that threads only ever read what is shared."""
        with self._lock:
            if name in self._ready:
                return
            renderer = self._renderer
            self._known(name)
            config = renderer.config(name)
            schema = config.output_schema
            if schema is not None and schema.schema is None:
                raise UserError(
                    f"output_schema '{schema.source}' is a Python model: the runtime runs no "
                    "repository code, so it cannot send the schema eval sends (write it as JSON)",
                    path=renderer.prompt(name).path,
                )
            renderer.examples(name)
            renderer.variables_used(name)
            template = renderer.prompt(name).path[len(renderer.prompts_dir) + 1 :]
            for allow_missing in (False, True):
                renderer.env(allow_missing)
            renderer.env().get_template(template)
            self._ready.add(name)

    def _known(self, name: str) -> str:
        if name not in self._names:
            self._renderer.prompt(name)  # the renderer's own message: unknown, did you mean
            raise UserError(
                f"prompt '{name}' is not in this bundle (it holds: {_few(self._names)})"
            )
        return name


def _few(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _api(call):
    """User errors as PromptError, with the line the CLI prints for the same cause."""
    try:
        return call()
    except PromptError:
        raise
    except UserError as exc:
        raise PromptError(exc.message, path=exc.path, line=exc.line) from None


def load(
    path: str | Path = ".", *, rev: str | None = None, bundle: str | Path | None = None
) -> Prompts:
    """The prompts of the repository at `path`: its working tree, a revision (`rev="prod"`), or
    a deploy bundle made by `promptvc bundle` (no git needed)."""
    if bundle is not None:
        if rev is not None:
            raise PromptError("give rev or bundle, not both")
        return _api(lambda: _from_bundle(bundle))
    return _api(lambda: _from_repository(Path(path), rev))


def _from_bundle(path: str | Path) -> Prompts:
    from promptvc.bundle import read_bundle

    bundle = read_bundle(path)

    def renderer() -> Renderer:
        from promptvc.prompts.render import Renderer

        return Renderer(bundle.snapshot(), bundle.prompts_dir)

    return Prompts(renderer, list(bundle.prompts), commit=bundle.commit, bundle_hash=bundle.hash)


def _from_repository(root: Path, rev: str | None) -> Prompts:
    from promptvc.git.snapshot import WORKTREE
    from promptvc.prompts.file import prompt_names
    from promptvc.workspace import Workspace

    ws = Workspace.open(root)
    snapshot = ws.snapshot(ws.resolve(rev) if rev is not None else WORKTREE)
    renderer = ws.renderer(snapshot)
    names = prompt_names(snapshot, ws.settings.prompts_dir)
    return Prompts(lambda: renderer, names, commit=snapshot.commit or "worktree")
