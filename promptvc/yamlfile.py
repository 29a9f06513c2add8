"""YAML parsing with the C loader, errors as one line with file and line, results cached by blob sha.

A cached result is never handed out itself: every caller gets its own copy, so nothing a caller
does to its data (a template, a case) can change what the next caller reads.
"""

from __future__ import annotations

from typing import Any

import yaml

from promptvc.errors import UserError

_FastLoader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]
try:
    _FastLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _FastLoader = yaml.SafeLoader

# What aliases may add to a document, in nodes: generous for `<<: *defaults` in every case,
# far below a "billion laughs" (ten levels of nine aliases, 10**9 nodes from 100 lines).
ALIAS_EXPANSION_BUDGET = 100_000


class _Loader(_FastLoader):  # type: ignore[valid-type,misc]
    """The C loader, refusing a document whose aliases expand past the budget, or refer to themselves.

    The parser shares an aliased node, so the graph stays small; it is the readers of the data
    (copies, hashes, templates) that would expand it. Checked on the node graph, before any of it is built.
    """

    may_alias = True

    def construct_document(self, node):
        if self.may_alias:
            _check_aliases(node)
        return super().construct_document(node)


class _AliasBomb(yaml.YAMLError):
    def __init__(self, problem: str, node):
        self.problem, self.problem_mark = problem, node.start_mark


def _check_aliases(root) -> None:
    """Count the nodes of the document as its readers will see it, visiting each shared node once."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = (
            node.value
            if isinstance(node, yaml.SequenceNode)
            else (
                [n for pair in node.value for n in pair]
                if isinstance(node, yaml.MappingNode)
                else ()
            )
        )
        if children_done:
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            open_nodes.discard(id(node))
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            raise _AliasBomb("an alias refers to a node that contains it", node)
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    if sizes[id(root)] - len(sizes) > ALIAS_EXPANSION_BUDGET:
        raise _AliasBomb(
            f"aliases expand the document past {ALIAS_EXPANSION_BUDGET:,} extra nodes", root
        )


def parse_yaml(
    text: str, path: str, *, first_line: int = 1, cache_key: str | None = None, cache: Any = None
) -> Any:
    """Parse YAML; an error names the file and the line counted from the top of the file.
    With a cache (a snapshot's `caches.yaml`) and a key (the blob sha), parsed once per blob."""
    key = (cache_key, first_line) if cache_key and cache is not None else None
    if key and key in cache:
        return _fresh(cache[key])
    try:
        loader = _Loader(text)
        # An alias needs an anchor (`&a`) and a reference (`*a`): most files have neither, and skip the count.
        loader.may_alias = "&" in text and "*" in text
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + first_line if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"invalid YAML: {problem}", path=path, line=line) from None
    if key:
        cache[key] = data
        return _fresh(data)
    return data


def _fresh(value: Any) -> Any:
    """A copy of the containers of a parsed document; the scalars YAML makes are immutable.

    Much cheaper than copy.deepcopy, which matters: an example set is read once per rendered case.
    """
    kind = type(value)
    if kind is dict:
        return {k: _fresh(v) for k, v in value.items()}
    if kind is list:
        return [_fresh(v) for v in value]
    if kind is set:
        return set(value)
    if kind is tuple:  # !!omap and !!pairs give (key, value) tuples
        return tuple(_fresh(v) for v in value)
    return value


def line_of(text: str, *steps: str | int, first_line: int = 1) -> int | None:
    """The line of the node that `steps` (mapping keys, sequence indexes) lead to, for an error
    message; a last step that is a key gives the key's own line. It composes the document, so it
    is called only when an error is being reported, never on the happy path."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    line = None
    for step in steps:
        if isinstance(node, yaml.MappingNode):
            found = [
                (k, v)
                for k, v in node.value
                if isinstance(k, yaml.ScalarNode) and k.value == str(step)
            ]
            if not found:
                return None
            key, node = found[-1]  # a repeated key: the last one wins, as in the parsed data
            line = key.start_mark.line
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(step, int)
            and 0 <= step < len(node.value)
        ):
            node = node.value[step]
            line = node.start_mark.line
        else:
            return None
    return None if line is None else line + first_line


def key_line(text: str, key: str, first_line: int = 1) -> int | None:
    """The line where a top-level key is written, for error messages."""
    for number, line in enumerate(text.splitlines(), start=first_line):
        if line.startswith(f"{key}:") or line.startswith(f"{key} :"):
            return number
    return None


class _ReviewDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Block style, and multi-line strings as literal blocks, for a reviewer's eyes."""


def _text(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ReviewDumper.add_representer(str, _text)


def dump_for_review(value: Any) -> str:
    """YAML a person reads and edits: keys in the order given, block style, no line wrapping."""
    return yaml.dump(
        value,
        Dumper=_ReviewDumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=2**31 - 1,
    )
