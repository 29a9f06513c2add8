"""Golden sets (`evals/*.yaml`): the cases a prompt is judged on."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import posixpath
import re
from dataclasses import dataclass

from promptvc.evals.assertions import parse_assertion, Assertion
from promptvc.errors import UserError
from promptvc.jsonlines import json_objects
from promptvc.git.snapshot import Snapshot
from promptvc.yamlfile import key_line, parse_yaml

GOLDEN_SUFFIXES = (".yaml", ".yml")
SET_KEYS = {"prompt", "id", "threshold", "vars", "cases", "provider", "assert", "description"}
CASE_KEYS = {"id", "vars", "assert", "description"}
PROVIDERS = ("anthropic", "echo", "replay")
_PROMPT_LINE = re.compile(r"^prompt:\s*['\"]?([^'\"#\s]+)['\"]?\s*(?:#.*)?$", re.MULTILINE)
_ID_LINE = re.compile(r"^id:\s*['\"]?([^'\"#\s]+)['\"]?\s*(?:#.*)?$", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    id: str
    vars: dict
    asserts: tuple[Assertion, ...]


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

    @property
    def uses_judge(self) -> bool:
        return any(a.type == "llm-rubric" for c in self.cases for a in c.asserts)

    @property
    def python_modules(self) -> tuple[str, ...]:
        modules = {a.value.split(":", 1)[0] for c in self.cases for a in c.asserts if a.type == "python"}
        return tuple(sorted(modules))

    def case(self, case_id: str) -> Case:
        for case in self.cases:
            if case.id == case_id:
                return case
        raise UserError(f"no case '{case_id}' in {self.id}", path=self.path)


def golden_paths(snapshot: Snapshot, evals_dir: str) -> list[str]:
    return [p for p in snapshot.under(evals_dir, GOLDEN_SUFFIXES)]


class GoldenCatalog:
    """The golden sets of a snapshot, parsed only when needed.

    Which prompt a set names, and its id, are read from its text with a regular expression
    (a full parse only when the file is written unusually), so a diff that reaches 5 of
    1,000 prompts parses 5 golden files, not 1,000.
    """

    def __init__(self, snapshot: Snapshot, evals_dir: str):
        self.snapshot = snapshot
        self.evals_dir = evals_dir.rstrip("/")
        self.paths = golden_paths(snapshot, evals_dir)
        self._headers: dict[str, tuple[str, str | None]] = {}
        self._loaded: dict[str, GoldenSet] = {}
        self._by_prompt: dict[str | None, list[str]] | None = None

    def header(self, path: str) -> tuple[str, str | None]:
        """(set id, prompt name) of a golden file."""
        if path not in self._headers:
            text = self.snapshot.read_text(path)
            prompt, set_id = _PROMPT_LINE.search(text), _ID_LINE.search(text)
            if prompt and (set_id or "\nid" not in text and not text.startswith("id")):
                default_id = posixpath.splitext(posixpath.basename(path))[0]
                self._headers[path] = (set_id[1] if set_id else default_id, prompt[1])
            else:
                golden = self.load(path)
                self._headers[path] = (golden.id, golden.prompt)
        return self._headers[path]

    def load(self, path: str) -> GoldenSet:
        if path not in self._loaded:
            self._loaded[path] = load_golden(self.snapshot, path)
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

    def cases_file_changed(self, changed: set[str]) -> bool:
        """A changed file under evals/ that is not a golden file: a .jsonl/.csv any set may read."""
        golden = set(self.paths)
        return any(p.startswith(self.evals_dir + "/") and p not in golden for p in changed)


def load_golden(snapshot: Snapshot, path: str) -> GoldenSet:
    """A golden set; one whose cases are inline is parsed once per blob (history meets it often)."""
    sha = snapshot.files[path].sha
    cached = snapshot.caches.goldens.get((path, sha))
    if cached is not None:
        return cached
    golden = _parse_golden(snapshot, path, sha)
    if golden.cases_path is None:
        snapshot.caches.goldens[(path, sha)] = golden
    return golden


def load_goldens(snapshot: Snapshot, evals_dir: str) -> list[GoldenSet]:
    paths = golden_paths(snapshot, evals_dir)
    snapshot.prefetch(paths)
    goldens = [load_golden(snapshot, p) for p in paths]
    seen: dict[str, str] = {}
    for golden in goldens:
        if golden.id in seen:
            raise UserError(f"golden set id '{golden.id}' is also used by {seen[golden.id]}", path=golden.path)
        seen[golden.id] = golden.path
    return goldens


def _parse_golden(snapshot: Snapshot, path: str, sha: str) -> GoldenSet:
    text = snapshot.read_text(path)
    data = parse_yaml(text, path, cache_key=sha, cache=snapshot.caches.yaml)
    if not isinstance(data, dict):
        raise UserError("a golden set must be a mapping", path=path)
    unknown = set(data) - SET_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise UserError(f"unknown key '{key}'", path=path, line=key_line(text, key))
    if not isinstance(data.get("prompt"), str):
        raise UserError("missing 'prompt: NAME'", path=path)
    set_id = str(data.get("id") or posixpath.splitext(posixpath.basename(path))[0])
    threshold = data.get("threshold", 1.0)
    if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise UserError("threshold must be a number from 0 to 1", path=path, line=key_line(text, "threshold"))
    provider = data.get("provider")
    if provider is not None and provider not in PROVIDERS:
        raise UserError(f"unknown provider '{provider}' (one of {', '.join(PROVIDERS)})", path=path,
                        line=key_line(text, "provider"))
    shared_vars = data.get("vars") or {}
    if not isinstance(shared_vars, dict):
        raise UserError("'vars' must be a mapping", path=path, line=key_line(text, "vars"))
    default_asserts = data.get("assert") or []
    raw_cases, cases_path = _raw_cases(snapshot, path, data.get("cases"))
    cases = _cases(raw_cases, shared_vars, default_asserts, cases_path or path, text)
    return GoldenSet(set_id, path, data["prompt"], float(threshold), provider, cases, cases_path, sha)


def _raw_cases(snapshot: Snapshot, path: str, cases) -> tuple[list, str | None]:
    if cases is None:
        return [], None
    if isinstance(cases, list):
        return cases, None
    if not isinstance(cases, str):
        raise UserError("'cases' must be a list or a .jsonl/.csv file name", path=path)
    cases_path = posixpath.normpath(posixpath.join(posixpath.dirname(path), cases))
    if cases_path not in snapshot:
        raise UserError(f"cases file '{cases}' not found", path=path)
    text = snapshot.read_text(cases_path)
    if cases_path.endswith(".jsonl"):
        return _jsonl_cases(text, cases_path), cases_path
    if cases_path.endswith(".csv"):
        return _csv_cases(text), cases_path
    raise UserError("a cases file must be .jsonl or .csv", path=cases_path)


def _jsonl_cases(text: str, path: str) -> list:
    rows = []
    for _number, row in json_objects(text.splitlines(), path):
        if "vars" not in row:
            row = {"id": row.pop("id", None), "assert": row.pop("assert", None), "vars": row}
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def _csv_cases(text: str) -> list:
    rows = []
    for record in csv.DictReader(io.StringIO(text)):
        case: dict = {"vars": {}, "assert": []}
        for column, value in record.items():
            if column == "id" and value:
                case["id"] = value
            elif column and column.startswith("__expected"):
                if value:
                    case["assert"].append(_expected_cell(value))
            elif column:
                case["vars"][column] = value
        rows.append(case)
    return rows


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


def _cases(raw_cases: list, shared_vars: dict, default_asserts: list, path: str, text: str) -> tuple[Case, ...]:
    cases, seen = [], set()
    for index, raw in enumerate(raw_cases):
        if not isinstance(raw, dict):
            raise UserError(f"case {index + 1} must be a mapping", path=path)
        unknown = set(raw) - CASE_KEYS
        if unknown:
            raise UserError(f"case {index + 1} has unknown key '{sorted(unknown)[0]}'", path=path)
        own_vars = raw.get("vars") or {}
        if not isinstance(own_vars, dict):
            raise UserError(f"case {index + 1}: 'vars' must be a mapping", path=path)
        case_id = str(raw["id"]) if raw.get("id") is not None else case_id_for(own_vars)
        if case_id in seen:
            raise UserError(f"duplicate case id '{case_id}'", path=path, line=key_line(text, "cases"))
        seen.add(case_id)
        raw_asserts = list(default_asserts) + list(raw.get("assert") or [])
        asserts = tuple(parse_assertion(a, where=f"case '{case_id}'", path=path) for a in raw_asserts)
        cases.append(Case(case_id, {**shared_vars, **own_vars}, asserts))
    return tuple(cases)
