"""Golden sets (`evals/*.yaml`): the cases a prompt is judged on."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from promptvc.errors import UserError, did_you_mean
from promptvc.evals.assertions import Assertion, parse_assertion
from promptvc.evals.header import read_header
from promptvc.evals.repeats import REPEAT_KEYS, PassRule, parse_cluster, parse_repeats
from promptvc.git.snapshot import Snapshot
from promptvc.jsonlines import json_objects
from promptvc.yamlfile import line_of, parse_yaml

GOLDEN_SUFFIXES = (".yaml", ".yml")
SET_KEYS = {
    "prompt",
    "id",
    "threshold",
    "vars",
    "cases",
    "provider",
    "assert",
    "description",
    "kind",
    "canary",
} | REPEAT_KEYS
CASE_KEYS = {"id", "vars", "assert", "description", "cluster"}
# "safety": the gate holds the set to [gate] safety_max_drop, and a flip that reproduces blocks.
SetKind = Literal["quality", "safety"]
SET_KINDS: tuple[SetKind, ...] = ("quality", "safety")
# `live` and `anthropic` (its older name) mean the tier's own provider, whichever it is.
PROVIDERS = ("anthropic", "live", "echo", "replay")
# Read without parsing: a `python` assertion in the file itself, a case file it may name (whose
# name must end so), or a YAML escape that could spell either.
_MAYBE_PYTHON = re.compile(r"python|\.jsonl|\.csv|\\")


@dataclass(frozen=True)
class Case:
    id: str
    vars: dict
    asserts: tuple[Assertion, ...]
    cluster: str | None = None  # cases that are not independent (one conversation) share one


@dataclass(frozen=True)
class GoldenSet:
    id: str
    path: str
    prompt: str
    threshold: float
    provider: str | None
    cases: tuple[Case, ...]
    cases_path: str | None = None
    sha: str = ""
    repeat: int = 1  # samples per case
    pass_rule: PassRule = PassRule()  # what counts as a case passing over its samples
    judge_repeat: int = 1  # the judge's grades of each answer, averaged
    kind: SetKind = "quality"
    canary: bool = False  # plant a canary token in the system text (evals/leaks.py)

    @property
    def safety(self) -> bool:
        return self.kind == "safety"

    @property
    def uses_judge(self) -> bool:
        return any(a.type == "llm-rubric" for c in self.cases for a in c.asserts)

    @property
    def unchecked_cases(self) -> tuple[str, ...]:
        """Cases with no assertion at all (none of their own, no set-level `assert`): they pass
        whatever the output, as in promptfoo, so a run says so."""
        return tuple(c.id for c in self.cases if not c.asserts)

    @property
    def python_modules(self) -> tuple[str, ...]:
        modules = {
            a.value.split(":", 1)[0] for c in self.cases for a in c.asserts if a.type == "python"
        }
        return tuple(sorted(modules))


def default_set_id(path: str) -> str:
    """A set without `id:` is named by its file."""
    return posixpath.splitext(posixpath.basename(path))[0]


def golden_paths(snapshot: Snapshot, evals_dir: str) -> list[str]:
    return [p for p in snapshot.under(evals_dir, GOLDEN_SUFFIXES)]


class GoldenCatalog:
    """The golden sets of a snapshot, parsed only when needed.

    Which prompt a set names, and its id, are read from the file's leading lines (a full parse
    only when the file is written in a way only the parser reads right: evals/header.py), so a
    diff that reaches 5 of 1,000 prompts parses 5 golden files, not 1,000.
    """

    def __init__(self, snapshot: Snapshot, evals_dir: str, exclude: Iterable[str] = ()):
        self.snapshot = snapshot
        self.evals_dir = evals_dir.rstrip("/")
        skipped = set(exclude)  # files known not to parse, reported by their caller
        self.paths = [p for p in golden_paths(snapshot, evals_dir) if p not in skipped]
        self._headers: dict[str, tuple[str, str | None]] = {}
        self._loaded: dict[str, GoldenSet] = {}
        self._by_prompt: dict[str | None, list[str]] | None = None

    def header(self, path: str) -> tuple[str, str | None]:
        """(set id, prompt name) of a golden file: read from its leading lines when they say it
        plainly, else from the parsed file (evals/header.py says when)."""
        if path not in self._headers:
            fast = read_header(self.snapshot.read_text(path))
            if fast is not None:
                default_id = default_set_id(path)
                self._headers[path] = (fast[0] or default_id, fast[1])
            else:
                golden = self.load(path)
                self._headers[path] = (golden.id, golden.prompt)
        return self._headers[path]

    def load(self, path: str) -> GoldenSet:
        if path not in self._loaded:
            self._loaded[path] = load_golden(self.snapshot, path, self.evals_dir)
        return self._loaded[path]

    def naming(self, prompts: set[str]) -> list[GoldenSet]:
        if self._by_prompt is None:
            self._by_prompt = {}
            for path in self.paths:
                self._by_prompt.setdefault(self.header(path)[1], []).append(path)
        return [self.load(p) for name in sorted(prompts) for p in self._by_prompt.get(name, [])]

    def ids(self) -> dict[str, str]:
        return {self.header(p)[0]: p for p in self.paths}

    def all(self) -> list[GoldenSet]:
        return [self.load(p) for p in self.paths]

    def may_use_python(self, path: str) -> bool:
        """False only when the golden file surely has no `python` assertion (nor a case file)."""
        return _MAYBE_PYTHON.search(self.snapshot.read_text(path)) is not None

    def python_modules(self) -> set[str]:
        """The modules that python assertions name, over every set that parses."""
        paths = [p for p in self.paths if self.may_use_python(p)]
        modules: set[str] = set()
        for path in paths:
            try:
                modules.update(self.load(path).python_modules)
            except UserError:
                continue  # a set that cannot be read cannot be evaluated either; its error shows there
        return modules

    def cases_file_changed(self, changed: set[str]) -> bool:
        """A changed file under evals/ that is not a golden file: a .jsonl/.csv any set may read."""
        golden = set(self.paths)
        return any(p.startswith(self.evals_dir + "/") and p not in golden for p in changed)


def load_golden(snapshot: Snapshot, path: str, evals_dir: str) -> GoldenSet:
    """A golden set; one whose cases are inline is parsed once per blob (history meets it often)."""
    sha = snapshot.files[path].sha
    cached = snapshot.caches.goldens.get((path, sha))
    if cached is not None:
        return cached
    golden = _parse_golden(snapshot, path, sha, evals_dir)
    if golden.cases_path is None:
        snapshot.caches.goldens[(path, sha)] = golden
    return golden


@dataclass(frozen=True)
class BrokenSet:
    """A golden file that cannot be read: reported on its own line while the other sets still run."""

    path: str
    error: UserError
    names: tuple[
        str, ...
    ]  # what a user may call it: its path and file-name id, its id and prompt when known


def read_goldens(snapshot: Snapshot, evals_dir: str) -> tuple[list[GoldenSet], list[BrokenSet]]:
    """Every golden set that parses, and every golden file that does not."""
    paths = golden_paths(snapshot, evals_dir)
    snapshot.prefetch(paths)
    goldens: list[GoldenSet] = []
    broken: list[BrokenSet] = []
    seen: dict[str, str] = {}
    for path in paths:
        default_id = default_set_id(path)
        try:
            golden = load_golden(snapshot, path, evals_dir)
        except UserError as exc:
            broken.append(BrokenSet(path, exc, (path, default_id, *_header_names(snapshot, path))))
            continue
        if golden.id in seen:
            error = UserError(
                f"golden set id '{golden.id}' is also used by {seen[golden.id]}",
                path=path,
                line=line_of(snapshot.read_text(path), "id"),
            )
            broken.append(BrokenSet(path, error, (path, default_id, golden.id, golden.prompt)))
            continue
        seen[golden.id] = golden.path
        goldens.append(golden)
    return goldens, broken


def _header_names(snapshot: Snapshot, path: str) -> tuple[str, ...]:
    """The id and prompt of a file that does not parse, when its header says them plainly."""
    try:
        header = read_header(snapshot.read_text(path))
    except UserError:
        return ()
    return tuple(name for name in header or () if name)


def load_goldens(snapshot: Snapshot, evals_dir: str) -> list[GoldenSet]:
    """Every golden set; the first file that cannot be read is an error."""
    goldens, broken = read_goldens(snapshot, evals_dir)
    if broken:
        raise broken[0].error
    return goldens


def _parse_golden(snapshot: Snapshot, path: str, sha: str, evals_dir: str) -> GoldenSet:
    text = snapshot.read_text(path)
    data = parse_yaml(text, path, cache_key=sha, cache=snapshot.caches.yaml)
    if not isinstance(data, dict):
        raise UserError("a golden set must be a mapping", path=path)
    unknown = sorted(str(k) for k in set(data) - SET_KEYS)
    if unknown:
        raise UserError(
            f"unknown key '{unknown[0]}'{did_you_mean(unknown[0], SET_KEYS)}",
            path=path,
            line=line_of(text, unknown[0]),
        )
    if not isinstance(data.get("prompt"), str):
        raise UserError("missing 'prompt: NAME'", path=path, line=line_of(text, "prompt"))
    set_id = str(data.get("id") or default_set_id(path))
    threshold = data.get("threshold", 1.0)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not 0 <= threshold <= 1
    ):
        raise UserError(
            "threshold must be a number from 0 to 1", path=path, line=line_of(text, "threshold")
        )
    provider = data.get("provider")
    if provider is not None and provider not in PROVIDERS:
        raise UserError(
            f"unknown provider '{provider}' (one of {', '.join(PROVIDERS)})",
            path=path,
            line=line_of(text, "provider"),
        )
    kind = data.get("kind", "quality")
    if kind not in SET_KINDS:
        raise UserError(
            f"unknown kind '{kind}' (one of {', '.join(SET_KINDS)})",
            path=path,
            line=line_of(text, "kind"),
        )
    canary = data.get("canary", False)
    if not isinstance(canary, bool):
        raise UserError("canary must be true or false", path=path, line=line_of(text, "canary"))
    shared_vars = data.get("vars") or {}
    if not isinstance(shared_vars, dict):
        raise UserError("'vars' must be a mapping", path=path, line=line_of(text, "vars"))
    default_asserts = _set_asserts(data.get("assert"), path, text)
    raw_cases, cases_path, locate = _raw_cases(snapshot, path, data.get("cases"), text, evals_dir)
    repeats = parse_repeats(data, path, text)
    cases = _cases(raw_cases, shared_vars, default_asserts, cases_path or path, locate)
    return GoldenSet(
        set_id,
        path,
        data["prompt"],
        float(threshold),
        provider,
        cases,
        cases_path,
        sha,
        repeats.repeat,
        repeats.rule,
        repeats.judge_repeat,
        kind,
        canary,
    )


# Where a case (or a key or assertion inside it) is written: (case index, *steps inside the case) ->
# line. Called only when there is an error to report, so the happy path never composes YAML nodes.
Locate = Callable[..., int | None]


def _set_asserts(raw, path: str, text: str) -> tuple[Assertion, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise UserError(
            "'assert' must be a list of assertions", path=path, line=line_of(text, "assert")
        )
    return tuple(
        parse_assertion(
            a,
            where="set-level assert",
            path=path,
            line=_within(lambda *steps: line_of(text, *steps), "assert", i),
        )
        for i, a in enumerate(raw)
    )


def _within(locate: Locate, *prefix: str | int) -> Callable[[str | None], int | None]:
    """The line of an assertion (key=None) or of one of its keys."""

    def line(key: str | None) -> int | None:
        return locate(*prefix, *([key] if key else []))

    return line


def _raw_cases(
    snapshot: Snapshot, path: str, cases, text: str, evals_dir: str
) -> tuple[list, str | None, Locate]:
    if cases is None:
        return [], None, lambda *steps: None
    if isinstance(cases, list):
        return cases, None, lambda *steps: line_of(text, "cases", *steps)
    if not isinstance(cases, str):
        raise UserError(
            "'cases' must be a list or a .jsonl/.csv file name",
            path=path,
            line=line_of(text, "cases"),
        )
    cases_path = posixpath.normpath(posixpath.join(posixpath.dirname(path), cases))
    if not cases_path.startswith(evals_dir.rstrip("/") + "/"):
        # Outside evals/ a change to it would not reach the gate.
        raise UserError(
            f"cases file '{cases}' is outside {evals_dir.rstrip('/')}/ (keep case files there, where "
            "their changes are gated)",
            path=path,
            line=line_of(text, "cases"),
        )
    if cases_path not in snapshot:
        raise UserError(f"cases file '{cases}' not found", path=path, line=line_of(text, "cases"))
    case_text = snapshot.read_text(cases_path)
    if cases_path.endswith(".jsonl"):
        rows, lines = _jsonl_cases(case_text, cases_path)
    elif cases_path.endswith(".csv"):
        rows, lines = _csv_cases(case_text, cases_path)
    else:
        raise UserError(
            "a cases file must be .jsonl or .csv", path=path, line=line_of(text, "cases")
        )
    return rows, cases_path, lambda index, *steps: lines[index]


def _jsonl_cases(text: str, path: str) -> tuple[list, list[int]]:
    rows, lines = [], []
    for number, row in json_objects(text.splitlines(), path):
        if "vars" not in row:
            row = {"id": row.pop("id", None), "assert": row.pop("assert", None), "vars": row}
        rows.append({k: v for k, v in row.items() if v is not None})
        lines.append(number)
    return rows, lines


# Long documents are realistic case variables; the csv module's default is 131,072 characters.
CSV_FIELD_LIMIT = 2**31 - 1


def _csv_cases(text: str, path: str) -> tuple[list, list[int]]:
    """The cases of a CSV file, and the line each one starts on."""
    # Process-wide, and never put back: restoring it could cut short a parse in another thread.
    csv.field_size_limit(CSV_FIELD_LIMIT)
    rows, lines = [], []
    for line, header, record in _csv_records(text, path):
        rows.append(_csv_case(header, record))
        lines.append(line)
    return rows, lines


def _csv_records(text: str, path: str):
    """(line, header, cells) per non-blank row; an unterminated quote or a row wider than the header
    is an error."""
    reader = csv.reader(io.StringIO(text), strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = "a quoted field is never closed" if "end of data" in str(exc) else str(exc)
            raise UserError(f"invalid CSV: {problem}", path=path, line=start) from None
        if not cells:
            continue
        if header is None:
            header = cells
        elif len(cells) > len(header):
            raise UserError(
                f"row has {len(cells)} cells, the header has {len(header)}", path=path, line=start
            )
        else:
            yield start, header, cells


def _csv_case(header: list[str], cells: list[str]) -> dict:
    case: dict = {"vars": {}, "assert": []}
    # A short row leaves its last columns out: a set-level var stays, a missing input is an error.
    for column, value in zip(header[: len(cells)], cells, strict=True):
        if column == "id" and value:
            case["id"] = value
        elif column == "__cluster":
            if value:
                case["cluster"] = value
        elif column and column.startswith("__expected"):
            if value:
                case["assert"].append(_expected_cell(value))
        elif column:
            case["vars"][column] = value
    return case


def _expected_cell(value: str) -> dict:
    """promptfoo's `__expected` cell: `contains: foo`, `not-icontains: bar`, or a plain expected output."""
    kind, sep, rest = value.partition(":")
    from promptvc.evals.assertions import KNOWN_TYPES, strip_negation

    base = strip_negation(kind.strip())[0]
    if sep and base in KNOWN_TYPES:
        rest = rest.strip()
        if base == "max-length" and rest.isdigit():
            return {"type": kind.strip(), "value": int(rest)}
        if base in ("cost", "latency"):
            try:
                return {"type": kind.strip(), "threshold": float(rest)}
            except ValueError:
                pass
        return {"type": kind.strip(), "value": rest}
    return {"type": "equals", "value": value}


def case_id_for(variables: dict) -> str:
    canonical = json.dumps(variables, sort_keys=True, ensure_ascii=False, default=str)
    return "c-" + hashlib.sha1(canonical.encode()).hexdigest()[:10]


def _cases(
    raw_cases: list,
    shared_vars: dict,
    default_asserts: tuple[Assertion, ...],
    path: str,
    locate: Locate,
) -> tuple[Case, ...]:
    cases: list[Case] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_cases):
        if not isinstance(raw, dict):
            raise UserError("a case must be a mapping", path=path, line=locate(index))
        unknown = sorted(str(k) for k in set(raw) - CASE_KEYS)
        if unknown:
            raise UserError(
                f"case has unknown key '{unknown[0]}'{did_you_mean(unknown[0], CASE_KEYS)}",
                path=path,
                line=locate(index, unknown[0]),
            )
        own_vars = raw.get("vars") or {}
        if not isinstance(own_vars, dict):
            raise UserError("case: 'vars' must be a mapping", path=path, line=locate(index, "vars"))
        case_id = str(raw["id"]) if raw.get("id") is not None else case_id_for(own_vars)
        if case_id in seen:
            raise UserError(f"duplicate case id '{case_id}'", path=path, line=locate(index))
        seen.add(case_id)
        own = raw.get("assert") or []
        if not isinstance(own, list):
            raise UserError(
                f"case '{case_id}': 'assert' must be a list",
                path=path,
                line=locate(index, "assert"),
            )
        asserts = default_asserts + tuple(
            parse_assertion(
                a, where=f"case '{case_id}'", path=path, line=_within(locate, index, "assert", i)
            )
            for i, a in enumerate(own)
        )
        cluster = parse_cluster(
            raw, f"case '{case_id}'", path, functools.partial(locate, index, "cluster")
        )
        cases.append(Case(case_id, {**shared_vars, **own_vars}, asserts, cluster))
    return tuple(cases)
