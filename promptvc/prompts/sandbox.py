"""The bounded sandbox a template runs in: what it may not change, and how much it may build.

Jinja's sandbox refuses unsafe attributes; it does not bound work. `{{ 'a' * 10**9 }}`,
`|center(10**9)`, `'%999999999s' % x`, doubling with `~` in a loop or an exponential macro
would each allocate gigabytes or run for minutes before the render cap saw a character.
So every operation that can make text is checked *before* it runs, against the render cap:

- `*`, `**`, `%`, `+` (the sandbox's binop interception) and `~` (compiled to `concat`),
- str methods and filters that take a width, a count or a replacement,
- `str.format` fields and `%` conversions (their widths and precisions),
- `lipsum`, `|slice`, `|batch`, converting a container to text,

and the text all of them make together is bounded too (WORK_FACTOR times the cap), so
no sequence of allowed steps adds up to a bomb. Every loop iteration, call, attribute
and operator ticks a counter that checks a wall-clock deadline, which bounds what the
size checks cannot see (nested loops, recursion that builds nothing).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from jinja2.utils import generate_lorem_ipsum
from markupsafe import Markup

from promptvc.prompts.budget import (
    MAX_INT_BITS,
    Budget,
    RenderLimitExceeded,
    RenderLimits,
    as_text,
    budget,
    int_bits,
    text_size,
)

# -- operators ----------------------------------------------------------------------------


def _check_repeat(b: Budget, left: Any, right: Any) -> None:
    seq, count = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(seq, (str, bytes)) and isinstance(count, int) and count > 0:
        b.size(len(seq) * count, "repeating with *")
    elif isinstance(seq, (list, tuple)) and isinstance(count, int) and count > 0:
        b.items(
            len(seq) * count, "repeating a list with *"
        )  # its text is checked where it is printed or joined
    elif (
        isinstance(left, int)
        and isinstance(right, int)
        and int_bits(left) + int_bits(right) > MAX_INT_BITS
    ):
        raise RenderLimitExceeded(f"a product past {MAX_INT_BITS:,} bits")


def _check_power(b: Budget, base: Any, exponent: Any) -> None:
    big = isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
    if big and exponent * int_bits(base) > MAX_INT_BITS:
        raise RenderLimitExceeded(f"a power past {MAX_INT_BITS:,} bits")


def _check_add(b: Budget, left: Any, right: Any) -> None:
    if isinstance(left, (str, bytes)) and isinstance(right, (str, bytes)):
        b.size(len(left) + len(right), "joining with +")
    elif isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        b.items(len(left) + len(right), "joining lists with +")


# `%(name)-*.*s`: a conversion, with its width and precision.
_PERCENT = re.compile(
    r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?([diouxXeEfFgGcrsa%])"
)


def _check_percent(b: Budget, fmt: Any, args: Any) -> None:
    if not isinstance(fmt, str):
        return
    values = args if isinstance(args, tuple) else (args,)
    star_ints = [v for v in values if isinstance(v, int)]
    estimate = len(fmt)
    for width, precision, _kind in _PERCENT.findall(fmt):
        for number in (width, precision):
            if number == "*":
                for value in star_ints:
                    b.width(value, "a '*' width")
            elif number:
                b.width(int(number), "a % format width")
                estimate += int(number)
    estimate += text_size(args, b.limits.max_chars + 1)
    b.size(estimate, "formatting with %")


def _check_format_spec(b: Budget, value: Any, spec: str) -> None:
    estimate = text_size(value, b.limits.max_chars + 1)
    for number in re.findall(r"\d+", spec):
        if len(number) > 12:
            raise RenderLimitExceeded("a format width past the render cap")
        b.width(int(number), "a format width")
        estimate += int(number)
    b.size(estimate, "a format field")


class _BoundedFormatting:
    """str.format with each field's width, precision and value checked before it is formatted."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget().tick()
        _check_format_spec(budget(), value, format_spec)
        return super().format_field(value, format_spec)  # type: ignore[misc]


class _BoundedFormatter(_BoundedFormatting, SandboxedFormatter):
    pass


class _BoundedEscapeFormatter(_BoundedFormatting, SandboxedEscapeFormatter):
    pass


# -- str methods called from a template ---------------------------------------------------


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _replacement_size(text: Any, old: Any, new: Any, count: Any) -> int:
    kind = str if isinstance(text, str) else bytes  # Markup is a str
    if not (isinstance(text, kind) and isinstance(old, kind) and isinstance(new, kind)):
        return 0
    hits = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]  # same type, checked above
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(len(new) - len(old), 0)


def _check_method(b: Budget, owner: Any, name: str, args: tuple, kwargs: dict) -> tuple:
    """Check a str or bytes method before it runs; returns its arguments (an iterable made a list)."""
    if name in ("center", "ljust", "rjust", "zfill"):
        b.width(_arg(args, kwargs, 0, "width", 0), f"{name}() width")
    elif name == "expandtabs":
        size = _arg(args, kwargs, 0, "tabsize", 8)
        if isinstance(size, int):
            b.size(
                len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * size,
                "expandtabs()",
            )
    elif name == "replace":
        b.size(
            _replacement_size(
                owner,
                _arg(args, kwargs, 0, "old"),
                _arg(args, kwargs, 1, "new"),
                _arg(args, kwargs, 2, "count", -1),
            ),
            "replace()",
        )
    elif name == "join" and args:
        items = list(_iterate(args[0]))
        b.size(_joined_size(b, items) + len(owner) * len(items), "join()")
        args = (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, (str, bytes))), default=1)
        b.size(len(owner) * max(longest, 1), "translate()")
    return args


def _joined_size(b: Budget, items: list) -> int:
    """How long the items are once joined: a string as it is, anything else as it prints."""
    cap = b.limits.max_chars + 1
    return sum(
        len(item) if isinstance(item, (str, bytes)) else text_size(item, cap) for item in items
    )


# -- filters --------------------------------------------------------------------------------


def _iterate(value: Any) -> Iterator:
    b = budget()
    for item in value:
        b.tick()
        yield item


def _filter_center(b, value, width=80, *rest, **kw):
    b.width(width, "|center width")
    return value


def _filter_indent(b, s, width=4, *rest, **kw):
    b.width(width, "|indent width")
    unit = width if isinstance(width, int) else len(str(width))
    text = str(s) if isinstance(s, str) else ""
    b.size(len(text) + (text.count("\n") + 1) * max(unit, 0), "|indent")
    return s


def _filter_wordwrap(b, s, width=79, break_long_words=True, wrapstring=None, *rest, **kw):
    text = s if isinstance(s, str) else ""
    step = max(width, 1) if isinstance(width, int) else 79
    joints = len(text) // step + text.count("\n") + 1
    b.size(len(text) + joints * len(wrapstring or "\n"), "|wordwrap")
    return s


def _filter_replace(b, s, old="", new="", count=None, *rest, **kw):
    text = as_text(b, s)
    b.size(_replacement_size(text, as_text(b, old), as_text(b, new), count), "|replace")
    return text


def _filter_format(b, value, *args, **kwargs):
    text = as_text(b, value)
    _check_percent(b, text, kwargs or args)
    return text


def _filter_join(b, value, d="", *rest, **kw):
    items = list(_iterate(value))
    b.size(_joined_size(b, items) + len(str(d)) * len(items), "|join")
    return items


def _filter_count(what: str, limit_of: Callable[[RenderLimits], int]):
    def check(b, value, count=None, *rest, **kw):
        limit = limit_of(b.limits)
        if isinstance(count, int) and count > limit:
            raise RenderLimitExceeded(f"{what} {count:,} is past its limit of {limit:,}")
        return value

    return check


def _filter_text(name: str):
    def check(b, value, *rest, **kw):
        if not isinstance(value, str):
            b.size(text_size(value, b.limits.max_chars + 1), f"|{name}")
        return value

    return check


def _filter_sum(b, value, attribute=None, start=0, *rest, **kw):
    if not isinstance(start, (int, float)):
        items = list(_iterate(value))
        b.size(text_size(items, b.limits.max_chars + 1) * 2, "|sum of sequences")
        if len(items) > 1_000:
            raise RenderLimitExceeded("|sum of more than 1,000 sequences")
        return items
    return value


_FILTER_CHECKS: dict[str, Callable] = {
    "center": _filter_center,
    "indent": _filter_indent,
    "wordwrap": _filter_wordwrap,
    "replace": _filter_replace,
    "format": _filter_format,
    "join": _filter_join,
    "sum": _filter_sum,
    "slice": _filter_count("|slice count", lambda limits: max(limits.max_chars // 100, 1)),
    "batch": _filter_count("|batch size", lambda limits: limits.max_chars),
    **{
        name: _filter_text(name)
        for name in (
            "string",
            "tojson",
            "pprint",
            "e",
            "escape",
            "forceescape",
            "upper",
            "lower",
            "title",
            "capitalize",
            "trim",
            "striptags",
            "urlencode",
            "urlize",
        )
    },
}


def _bounded_filter(name: str, func: Callable) -> Callable:
    check = _FILTER_CHECKS.get(name)
    passes_context = getattr(func, "jinja_pass_arg", None) is not None

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        b = budget()
        b.tick()
        if check is not None:
            at = 1 if passes_context else 0
            value = check(b, *args[at:], **kwargs)
            args = (*args[:at], value, *args[at + 1 :])
        result = func(*args, **kwargs)
        if isinstance(result, str):
            b.size(len(result), f"the |{name} filter")
        elif isinstance(result, (list, tuple)):
            b.items(len(result))
        return result

    return bounded


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    budget().size(n * max * 12 if isinstance(n, int) and isinstance(max, int) else 0, "lipsum()")
    return generate_lorem_ipsum(n, html, min, max)


# -- the environment ------------------------------------------------------------------------


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with `~` and every for loop routed through the environment's checks."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        wrapped = isinstance(node.iter, nodes.Call) and isinstance(
            node.iter.node, nodes.EnvironmentAttribute
        )
        if not wrapped:
            call = nodes.Call(
                nodes.EnvironmentAttribute("bounded_iter"), [node.iter], [], None, None
            )
            node.iter = call.set_lineno(node.iter.lineno).set_environment(self.environment)
        super().visit_For(node, frame)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with the work of a render bounded (see the module's docstring)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.globals["lipsum"] = bounded_lipsum
        self.concat = _bounded_join  # type: ignore[method-assign]  # the text of macros, {% set %} and {% filter %} blocks
        if self.finalize is not None:
            self.finalize = _bounded_finalize(self.finalize)

    @staticmethod
    def bounded_iter(iterable: Iterable) -> Iterator:
        return _iterate(iterable)

    def bounded_concat(self, parts: tuple) -> str:
        b = budget()
        b.tick()
        cap = b.limits.max_chars + 1
        b.size(
            sum(len(p) if isinstance(p, str) else text_size(p, cap) for p in parts),
            "joining with ~",
        )
        return "".join([p if isinstance(p, str) else str(p) for p in parts])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        b = budget()
        b.tick()
        if operator == "*":
            _check_repeat(b, left, right)
        elif operator == "**":
            _check_power(b, left, right)
        elif operator == "%":
            _check_percent(b, left, right)
        elif operator == "+":
            _check_add(b, left, right)
        return self.binop_table[operator](left, right)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        b = budget()
        b.tick()
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, (str, bytes)):
            args = _check_method(b, owner, getattr(obj, "__name__", ""), args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        if isinstance(result, (str, bytes)):
            b.size(len(result), "a call")
        elif isinstance(result, (list, tuple)):
            b.items(len(result))
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget().tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget().tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's own str.format wrapping, with the bounded formatter."""
        name = getattr(value, "__name__", None)
        owner = getattr(value, "__self__", None)
        if (
            name not in ("format", "format_map")
            or not isinstance(owner, str)
            or not callable(value)
        ):
            return None
        formatter: SandboxedFormatter
        if isinstance(owner, Markup):
            formatter = _BoundedEscapeFormatter(self, escape=owner.escape)
        else:
            formatter = _BoundedFormatter(self)
        is_map = name == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                return type(owner)(formatter.vformat(owner, (), args[0]))
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return functools.update_wrapper(wrapper, value)


def _bounded_join(parts: Iterable[str]) -> str:
    """Environment.concat ("".join) that stops at the render cap instead of building past it."""
    b = budget()
    cap, total, chunks = b.limits.max_chars, 0, []
    for part in parts:
        total += len(part)
        if total > cap:
            b.size(total, "the text of a macro or block")
        chunks.append(part)
    return "".join(chunks)


def _bounded_finalize(finalize: Callable[[Any], str]) -> Callable[[Any], str]:
    def bounded(value: Any) -> str:
        # Counted even when printed into a buffer ({% set %} blocks, macros), which holds every copy.
        b = budget()
        b.size(
            len(value) if isinstance(value, str) else text_size(value, b.limits.max_chars + 1),
            "printing a value",
        )
        return finalize(value)

    return bounded
