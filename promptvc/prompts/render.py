"""Rendering a prompt at a snapshot into a system text and Messages-API messages.

Role markers are taken from the template's own lines only: before compiling, a line
that is exactly `system:`, `user:` or `assistant:` becomes a sentinel, and the
sentinel characters are stripped from every value a template prints, so a variable
that contains such a line stays data. A line exactly `cache:` is a marker of the same
kind: the end of the stable prefix, where a prompt-caching breakpoint goes.
"""

from __future__ import annotations

import posixpath
import re
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import jinja2
from jinja2 import meta, nodes

from promptvc.errors import UserError
from promptvc.git.snapshot import Snapshot
from promptvc.prompts.budget import RenderLimitExceeded, RenderLimits, bounded_render
from promptvc.prompts.caching import (
    SYSTEM,
    Breakpoint,
    place_breakpoints,
    plain_text,
    too_many,
)
from promptvc.prompts.file import PromptFile, load_prompt, split_front_matter
from promptvc.prompts.output_schema import OutputSchema, static_schema
from promptvc.prompts.route import Route, unknown_route_tier
from promptvc.prompts.sandbox import BoundedSandbox
from promptvc.prompts.templatecache import Analysis, TemplateCache
from promptvc.prompts.tiers import EffectiveConfig, effective_config, load_tiers, tiers_path
from promptvc.yamlfile import parse_yaml

ROLES = ("system", "user", "assistant")
CACHE_MARK = "cache"
_OPEN, _CLOSE = "\ue000", "\ue001"
_STRIP_SENTINELS = {ord(_OPEN): None, ord(_CLOSE): None}
_MARKER_LINE = re.compile(r"^(system|user|assistant|cache):$", re.MULTILINE)
_SENTINEL = re.compile(f"{_OPEN}({'|'.join((*ROLES, CACHE_MARK))}){_CLOSE}\n?")
_JINJA_GLOBALS = {
    "range",
    "dict",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
    "loop",
    "self",
    "varargs",
    "kwargs",
}


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Rendered:
    name: str
    system: str
    messages: tuple[Message, ...]
    config: EffectiveConfig
    breakpoints: tuple[Breakpoint, ...] = ()  # where the API's prompt cache may cut

    def plain(self) -> str:
        """The text `render --plain` prints and the echo provider returns."""
        turns = tuple((m.role, m.content) for m in self.messages)
        return plain_text(self.system, turns, self.breakpoints)

    def text(self) -> str:
        return "\n".join([self.system, *(m.content for m in self.messages)])


def mark_roles(source: str) -> str:
    return _MARKER_LINE.sub(lambda m: f"{_OPEN}{m[1]}{_CLOSE}", source)


def split_messages(text: str) -> tuple[str, list[Message]]:
    system, messages, _breaks = split_turns(text)
    return system, messages


def split_turns(text: str) -> tuple[str, list[Message], list[Breakpoint]]:
    """The system text, the messages, and where the template's `cache:` lines fell in them."""
    parts = _SENTINEL.split(text)
    if len(parts) == 1:
        return "", [Message("user", text.strip())], []
    turns = _turns(parts)
    system_parts = [(content, cuts) for role, content, cuts in turns if role == "system"]
    system, system_cuts = _join_system(system_parts)
    messages: list[Message] = []
    breaks = [Breakpoint(SYSTEM, cut) for cut in system_cuts]
    for role, content, cuts in turns:
        if role == "system":
            continue
        for cut in cuts:
            if cut:
                breaks.append(Breakpoint(len(messages), cut))
            elif messages:  # a `cache:` that opens a turn ends the one before it
                breaks.append(Breakpoint(len(messages) - 1, len(messages[-1].content)))
            elif system:
                breaks.append(Breakpoint(SYSTEM, len(system)))
        messages.append(Message(role, content))
    return system, messages, sorted(set(breaks))


def _turns(parts: list[str]) -> list[tuple[str, str, list[int]]]:
    """(role, text, where its `cache:` lines cut it) per turn; text before any role is the user's."""
    turns: list[tuple[str, list[str]]] = [("user", [parts[0]])]
    for mark, piece in zip(parts[1::2], parts[2::2], strict=True):
        if mark == CACHE_MARK:
            turns[-1][1].append(piece)
        else:
            turns.append((mark, [piece]))
    shaped = []
    for index, (role, pieces) in enumerate(turns):
        whole = "".join(pieces)
        content = whole.strip()
        if index == 0 and not content:
            continue  # nothing before the first role marker
        lead = len(whole) - len(whole.lstrip())
        ends = [sum(len(p) for p in pieces[: i + 1]) for i in range(len(pieces) - 1)]
        shaped.append((role, content, [min(max(end - lead, 0), len(content)) for end in ends]))
    return shaped


def _join_system(parts: list[tuple[str, list[int]]]) -> tuple[str, list[int]]:
    """The system turns joined as one text, with their cuts as offsets into it."""
    texts: list[str] = []
    cuts: list[int] = []
    for content, own in parts:
        if not content:
            continue
        start = len("\n\n".join(texts)) + (2 if texts else 0)
        cuts += [start + cut for cut in own]
        texts.append(content)
    return "\n\n".join(texts), cuts


def _finalize(value: object) -> str:
    return str(value).translate(_STRIP_SENTINELS)


class _Placeholder(jinja2.ChainableUndefined):
    """A missing variable shown as `{{ name }}`, for previews of prompts without cases."""

    def __str__(self) -> str:
        return f"{{{{ {self._undefined_name} }}}}"

    def __iter__(self):
        return iter(())


class _SnapshotLoader(jinja2.BaseLoader):
    """Templates from a snapshot, named relative to prompts/, confined to it."""

    def __init__(self, snapshot: Snapshot, prompts_dir: str, cache: TemplateCache):
        self.snapshot = snapshot
        self.prompts_dir = prompts_dir.rstrip("/")
        self.cache = cache

    def path_of(self, name: str) -> str:
        clean = posixpath.normpath(name.replace("\\", "/"))
        if name.startswith("/") or clean == ".." or clean.startswith("../"):
            raise UserError(f"include '{name}' is outside {self.prompts_dir}/")
        return f"{self.prompts_dir}/{clean}"

    def source_of(self, name: str) -> tuple[str, str, str]:
        """The template text as compiled: role marker lines made sentinels."""
        body, path, sha = self.text_of(name)
        return mark_roles(body), path, sha

    def text_of(self, name: str) -> tuple[str, str, str]:
        """The template text as the user wrote it, front matter blanked out to keep line numbers."""
        path = self.path_of(name)
        ref = self.snapshot.files.get(path)
        if ref is None:
            raise jinja2.TemplateNotFound(name)
        if ref.is_symlink:
            raise UserError("is a symlink; promptvc refuses to follow links", path=path)
        text = self.snapshot.read_text(path)
        front, body, body_line = split_front_matter(text, path)
        if front is not None:
            # Keep line numbers counting from the top of the file, front matter included.
            body = "{#" + "\n" * (body_line - 2) + "#}\n" + body
        return body, path, ref.sha

    def get_source(self, environment, name):
        source, path, _sha = self.source_of(name)
        return source, path, lambda: True

    def load(self, environment, name, globals=None):
        code, _analysis = self.compiled(environment, name, need_code=True)
        return environment.template_class.from_code(
            environment, code, environment.make_globals(globals), lambda: True
        )

    def compiled(
        self, environment, name: str, need_code: bool = False
    ) -> tuple[object | None, Analysis]:
        """The template's analysis, and its code when asked for: one parse per blob, then the cache.

        History only needs what a template includes, so code is compiled when a render needs it.
        """
        path = self.path_of(name)
        ref = self.snapshot.files.get(path)
        cached = self.cache.get(ref.sha, path) if ref is not None and not ref.is_symlink else None
        if cached is not None and (cached[0] is not None or not need_code):
            return cached
        source, path, sha = self.source_of(name)
        try:
            analysis = (
                cached[1] if cached is not None else self._analyse(environment, source, name, path)
            )
            code = environment.compile(source, name, path) if need_code else None
        except (
            jinja2.TemplateSyntaxError
        ) as exc:  # found while compiling: an unknown filter or test
            raise self._syntax_error(environment, exc, name, path) from None
        except RecursionError:
            # Jinja parses, analyses and compiles recursively: ~100 nested parentheses or a
            # 1,000-term `+` chain is past Python's stack. Refused, as a file the tool cannot read.
            raise UserError(
                "template nests too deeply (parentheses, operators or blocks)", path=path
            ) from None
        self.cache.put(sha, path, code, analysis)
        return code, analysis

    def _analyse(self, environment, source: str, name: str, path: str) -> Analysis:
        try:
            ast = environment.parse(source, name, path)
            variables = frozenset(
                meta.find_undeclared_variables(ast)
            )  # compiles: may find an unknown filter
        except jinja2.TemplateSyntaxError as exc:
            raise self._syntax_error(environment, exc, name, path) from None
        references, dynamic = _references(ast, self)
        return Analysis(references, dynamic, variables)

    def _syntax_error(
        self, environment, exc: jinja2.TemplateSyntaxError, name: str, path: str
    ) -> UserError:
        """The error as the user's own text gives it: never a sentinel, never an offset into our text."""
        message, line = exc.message or "", exc.lineno
        if any(mark in message for mark in (_OPEN, _CLOSE, repr(_OPEN)[1:-1], repr(_CLOSE)[1:-1])):
            try:
                environment.parse(self.text_of(name)[0], name, path)
            except jinja2.TemplateSyntaxError as plain:
                message, line = plain.message or "", plain.lineno
            else:  # the marker is the problem: a role line inside a {{ }} or {% %} tag
                message = "a role marker line (system:, user: or assistant:) inside a template tag"
        message = re.sub(r" at \d+$", "", message)
        if message.startswith("Unexpected end of template"):
            # Jinja gives the line where the last piece of text began; the block left open is the news.
            line = _unclosed_block_line(environment, self.text_of(name)[0]) or line
        return UserError(f"template syntax error: {message}", path=path, line=line)


_BLOCK_TAGS = {
    "if",
    "for",
    "macro",
    "call",
    "filter",
    "block",
    "with",
    "autoescape",
    "trans",
    "set",
}


def _unclosed_block_line(environment, source: str) -> int | None:
    """The line of the innermost block tag that is never closed, from the template's tokens."""
    try:
        tokens = [token for token in environment.lex(source) if token[1] != "whitespace"]
    except jinja2.TemplateSyntaxError:
        return None
    open_blocks: list[int] = []
    for index, (line, kind, _value) in enumerate(tokens[:-1]):
        if kind != "block_begin" or tokens[index + 1][1] != "name":
            continue
        tag = tokens[index + 1][2]
        if tag == "set":  # `{% set x %}…{% endset %}` is a block, `{% set x = 1 %}` is not
            rest = tokens[index + 2 :]
            end = next((i for i, token in enumerate(rest) if token[1] == "block_end"), len(rest))
            if any(token[1] == "operator" and token[2] == "=" for token in rest[:end]):
                continue
        if tag in _BLOCK_TAGS:
            open_blocks.append(line)
        elif tag.startswith("end") and open_blocks:
            open_blocks.pop()
    return open_blocks[-1] if open_blocks else None


class Renderer:
    """Renders the prompts of one snapshot; compiled templates are shared by blob sha."""

    def __init__(
        self,
        snapshot: Snapshot,
        prompts_dir: str = "prompts",
        cache_dir: Path | None = None,
        limits: RenderLimits | None = None,
    ):
        self.snapshot = snapshot
        self.limits = limits or RenderLimits.from_env()
        self.prompts_dir = prompts_dir.rstrip("/")
        cache = snapshot.caches.templates(cache_dir)
        self.loader = _SnapshotLoader(snapshot, self.prompts_dir, cache)
        self._envs: dict[bool, BoundedSandbox] = {}
        self._tiers: dict | None = None
        self.deps: dict = {}  # filled by graph.prompt_deps
        self._variables: dict[str, frozenset[str]] = {}

    def env(self, allow_missing: bool = False) -> BoundedSandbox:
        if allow_missing not in self._envs:
            self._envs[allow_missing] = BoundedSandbox(
                loader=self.loader,
                undefined=_Placeholder if allow_missing else jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
                finalize=_finalize,
                autoescape=False,
            )
        return self._envs[allow_missing]

    @property
    def tiers(self) -> dict:
        if self._tiers is None:
            self._tiers = load_tiers(self.snapshot, self.prompts_dir)
        return self._tiers

    def prompt(self, name: str) -> PromptFile:
        return load_prompt(self.snapshot, name, self.prompts_dir)

    def config(self, name: str, tier: str | None = None) -> EffectiveConfig:
        """The prompt's effective config: at its own tier, or at `tier` (a later tier of its route)."""
        prompt = self.prompt(name)
        where = tiers_path(self.prompts_dir) if prompt.tier else prompt.path
        tiers = self.tiers  # an error in tiers.yaml names tiers.yaml
        try:
            config = effective_config(tier or prompt.tier, prompt.overrides, tiers, where)
        except UserError as exc:
            raise UserError(exc.message, path=prompt.path) from None
        if prompt.output_schema is None:
            return config
        return replace(config, output_schema=self.output_schema(prompt))

    def route(self, name: str) -> Route | None:
        """The prompt's route, every tier it names known to tiers.yaml."""
        prompt = self.prompt(name)
        if prompt.route is None:
            return None
        problem = unknown_route_tier(prompt.route, self.tiers)
        if problem:
            raise UserError(problem, path=prompt.path, line=prompt.route.line)
        return prompt.route

    def output_schema(self, prompt: PromptFile) -> OutputSchema:
        """The prompt's schema as far as it is known without running repository code."""

        def read(relative: str) -> tuple[str, str]:
            try:
                path = self.loader.path_of(relative)
            except UserError:
                raise UserError(
                    f"output_schema '{relative}' is outside {self.prompts_dir}/", path=prompt.path
                ) from None
            ref = self.snapshot.files.get(path)
            if ref is None:
                raise KeyError(path)
            if ref.is_symlink:
                raise UserError("is a symlink; promptvc refuses to follow links", path=path)
            return path, self.snapshot.read_text(path)

        return static_schema(prompt.output_schema, read, prompt.path)

    def examples(self, name: str) -> list:
        relative = self.prompt(name).examples_path
        if not relative:
            return []
        path = self.loader.path_of(relative)
        if path not in self.snapshot:
            raise UserError(f"examples file '{relative}' not found", path=self.prompt(name).path)
        data = parse_yaml(
            self.snapshot.read_text(path),
            path,
            cache_key=self.snapshot.files[path].sha,
            cache=self.snapshot.caches.yaml,
        )
        if not isinstance(data, list):
            raise UserError("an example set must be a list", path=path)
        return data

    def render(self, name: str, variables: dict, *, allow_missing: bool = False) -> Rendered:
        prompt = self.prompt(name)
        config = self.config(name)
        context = {**variables, "examples": self.examples(name)}
        if not allow_missing:
            self._check_inputs(prompt, variables)
        text = self._generate(prompt, context, allow_missing)
        system, messages, marked = split_turns(text)
        breakpoints = place_breakpoints(prompt.cache, system, messages, marked)
        problem = too_many(len(breakpoints))
        if problem:
            raise UserError(problem, path=prompt.path, line=_cache_line(prompt))
        return Rendered(name, system, tuple(messages), config, breakpoints)

    def _generate(self, prompt: PromptFile, context: dict, allow_missing: bool) -> str:
        template_name = prompt.path[len(self.prompts_dir) + 1 :]
        chunks, size, cap = [], 0, self.limits.max_chars
        try:
            template = self.env(allow_missing).get_template(template_name)
            with bounded_render(self.limits):
                for chunk in template.generate(context):
                    size += len(chunk)
                    if size > cap:
                        raise UserError(f"rendering exceeds {cap:,} characters", path=prompt.path)
                    chunks.append(chunk)
        except UserError as exc:
            if exc.path is None:  # a refused include: name the file that holds it
                path, line = _template_frame(exc, prompt.path)
                raise UserError(exc.message, path=path, line=line) from None
            raise
        except jinja2.TemplateSyntaxError as exc:
            raise UserError(
                f"template syntax error: {exc.message}",
                path=exc.filename or prompt.path,
                line=exc.lineno,
            ) from None
        except jinja2.TemplateNotFound as exc:
            path, line = _template_frame(exc, prompt.path)
            raise UserError(
                f"included template '{exc.name}' not found", path=path, line=line
            ) from None
        except jinja2.exceptions.SecurityError as exc:
            path, line = _template_frame(exc, prompt.path)
            raise UserError(f"refused by the sandbox: {exc}", path=path, line=line) from None
        except jinja2.UndefinedError as exc:
            path, line = _template_frame(exc, prompt.path)
            raise UserError(f"undefined variable: {exc.message}", path=path, line=line) from None
        except RenderLimitExceeded as exc:
            path, line = _template_frame(exc, prompt.path)
            raise UserError(str(exc), path=path, line=line) from None
        except RecursionError as exc:
            path, line = _template_frame(exc, prompt.path)
            raise UserError(
                "recursion too deep (a macro or a recursive loop that calls itself without end?)",
                path=path,
                line=line,
            ) from None
        except MemoryError:
            raise UserError("rendering ran out of memory", path=prompt.path) from None
        except Exception as exc:  # an error inside the template's own expressions
            path, line = _template_frame(exc, prompt.path)
            message = " ".join(str(exc).split())[:300]
            raise UserError(
                f"error while rendering: {type(exc).__name__}: {message}", path=path, line=line
            ) from None
        return "".join(chunks)

    def _check_inputs(self, prompt: PromptFile, variables: dict) -> None:
        declared = prompt.inputs
        if declared is None:
            return
        for name in declared:
            if name not in variables:
                raise UserError(f"missing variable '{name}' (declared in inputs)", path=prompt.path)
        used = self.variables_used(prompt.name)
        undeclared = sorted(used - set(declared) - {"examples"} - _JINJA_GLOBALS)
        if undeclared:
            raise UserError(
                f"variable '{undeclared[0]}' is used but not declared in inputs", path=prompt.path
            )

    # -- what a template refers to (the dependency graph reads these) -------------

    def analysis(self, path: str) -> Analysis:
        return self.loader.compiled(self.env(), path[len(self.prompts_dir) + 1 :])[1]

    def references(self, path: str) -> tuple[frozenset[str], bool]:
        """Template paths this file includes or imports, and whether some name is computed."""
        analysis = self.analysis(path)
        return analysis.references, analysis.dynamic

    def partials_of(self, name: str) -> tuple[frozenset[str], bool]:
        """Every template a prompt reaches, transitively; dynamic=True if any include is computed."""
        seen: set[str] = set()
        dynamic = False
        todo = [self.prompt(name).path]
        while todo:
            path = todo.pop()
            if path not in self.snapshot:
                continue
            refs, computed = self.references(path)
            dynamic |= computed
            for ref in refs - seen:
                seen.add(ref)
                todo.append(ref)
        return frozenset(seen), dynamic

    def variables_used(self, name: str) -> frozenset[str]:
        """Every variable the prompt and what it includes read; a snapshot never changes, so
        it is worked out once per prompt (every render checks its inputs against it)."""
        used = self._variables.get(name)
        if used is None:
            partials, _dynamic = self.partials_of(name)
            paths = [self.prompt(name).path, *sorted(p for p in partials if p in self.snapshot)]
            used = frozenset().union(*(self.analysis(path).variables for path in paths))
            self._variables[name] = used
        return used


def _cache_line(prompt: PromptFile) -> int | None:
    """Where a prompt marks its cache: its last `cache:` line, else its front matter's `cache` key."""
    lines = [i for i, line in enumerate(prompt.body.split("\n")) if line == f"{CACHE_MARK}:"]
    if lines:
        return prompt.body_line + lines[-1]
    return None


def _references(ast, loader: _SnapshotLoader) -> tuple[frozenset[str], bool]:
    refs: set[str] = set()
    dynamic = False
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        target = node.template
        names = []
        if isinstance(target, nodes.Const) and isinstance(target.value, str):
            names = [target.value]
        elif isinstance(target, (nodes.List, nodes.Tuple)) and all(
            isinstance(i, nodes.Const) for i in target.items
        ):
            names = [i.value for i in target.items if isinstance(i, nodes.Const)]
        else:
            dynamic = True
        for value in names:
            try:
                refs.add(loader.path_of(value))
            except UserError:
                dynamic = True
    return frozenset(refs), dynamic


def _template_frame(exc: BaseException, default_path: str) -> tuple[str, int | None]:
    """The innermost template frame of an error: jinja rewrites tracebacks to template lines."""
    path, line = default_path, None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".jinja"):
            path, line = frame.filename, frame.lineno
    return path, line
