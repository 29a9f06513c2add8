"""Scores in git notes: what a commit's golden sets scored, travelling with the repository.

A note is one JSON document per commit, `{"promptvc_notes": 1, "sets": {set key: entry},
"commit_sets": {environment: [set id, set key, prompt]}}`: each evaluated set's score,
counts, cost, provider, the promptvc that measured it and when, and each case's status and score
(never an output); and every set key at the commit, per key environment, so a clone that fetched
the notes shows a commit's history without computing its keys. Two notes for one commit merge as
a union by set key (the same key is the same content, so either side's score is a measurement of
it; the newer run wins).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from promptvc.errors import UserError
from promptvc.evals.scoring import Status
from promptvc.git.notes import NOTES_REF, merge_notes, read_note, read_notes_within, write_note
from promptvc.git.repo import GitRepo
from promptvc.git.snapshot import Commit
from promptvc.store import Store
from promptvc.wording import plural
from promptvc.workspace import Workspace

FORMAT = 1
# A note holds scores and statuses, never outputs: a few hundred bytes a set, a few dozen a case.
# Anything past this is not a promptvc note, and is not read into memory.
MAX_NOTE_BYTES = 32 * 1024 * 1024
_SET_FIELDS = (
    "set_id",
    "set_key",
    "prompt",
    "provider",
    "endpoint",
    "threshold",
    "score",
    "status",
    "cases",
    "passed",
    "failed",
    "errored",
    "skipped",
    "samples",
    "cost",
    "promptvc_version",
)


class MalformedNote(ValueError):
    pass


class NewerNote(MalformedNote):
    """A note in a format a newer promptvc writes: unreadable here, but never to be replaced."""


@dataclass(frozen=True)
class Noted:
    """Everything the notes ref says: scores by set key, and set keys by commit (this environment)."""

    scores: dict[str, dict] = field(default_factory=dict)
    commit_sets: dict[str, list[dict]] = field(default_factory=dict)
    cases: dict[str, dict[str, dict]] = field(default_factory=dict)  # set key -> case -> outcome


def empty() -> dict:
    return {"promptvc_notes": FORMAT, "sets": {}, "commit_sets": {}}


def parse(text: bytes) -> dict:
    """A note's document; MalformedNote when it is not one this promptvc can read."""
    try:
        doc = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedNote(f"not JSON ({exc})") from None
    except RecursionError:  # a note is anyone's push: nesting deep enough to exhaust the stack
        raise MalformedNote("nested too deeply to be a promptvc note") from None
    if not isinstance(doc, dict) or "promptvc_notes" not in doc:
        raise MalformedNote("not a promptvc note (no promptvc_notes version)")
    version = doc["promptvc_notes"]
    if version != FORMAT:
        newer = type(version) is int and version > FORMAT
        raise (NewerNote if newer else MalformedNote)(
            f"note format {version!r}; this promptvc reads {FORMAT}"
        )
    sets, keyed = doc.get("sets", {}), doc.get("commit_sets", {})
    if not isinstance(sets, dict) or not all(_is_entry(k, v) for k, v in sets.items()):
        raise MalformedNote("its sets are not entries by set key")
    if not isinstance(keyed, dict) or not all(isinstance(v, list) for v in keyed.values()):
        raise MalformedNote("its commit_sets are not lists by environment")
    return {"promptvc_notes": FORMAT, "sets": sets, "commit_sets": keyed}


_STATUSES = frozenset(Status)
_NUMBER = (int, float)
# The type of each field a note's entry may carry (None allowed, a bool never: JSON's true is no count).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("prompt", "provider", "endpoint", "promptvc_version", "run_at"), (str,)),
    **dict.fromkeys(("threshold", "cost", "cache_saved"), _NUMBER),
    **dict.fromkeys(("cases", "passed", "failed", "errored", "skipped", "samples"), (int,)),
    **dict.fromkeys(("cache_write_tokens", "cache_read_tokens"), (int,)),
}


def _is_entry(key: str, entry: object) -> bool:
    return (
        type(entry) is dict
        and entry.get("set_key") == key
        and type(entry.get("set_id")) is str
        and _within(entry.get("score"), 0.0, 1.0)
        and (entry.get("cost") is None or _within(entry.get("cost"), 0.0, sys.float_info.max))
        and _is_status(entry.get("status"))
        and all(_typed(entry.get(f), types) for f, types in _FIELD_TYPES.items())
    )


def _within(value: object, low: float, high: float) -> bool:
    """A JSON number from low to high (NaN is none: it compares with nothing)."""
    return type(value) in _NUMBER and low <= value <= high  # type: ignore[operator]


def _is_status(value: object) -> bool:
    return isinstance(value, str) and value in _STATUSES


def _typed(value: object, types: tuple[type, ...]) -> bool:
    return value is None or type(value) in types


def dumps(doc: dict) -> bytes:
    """One line, keys sorted: the same scores make the same blob, so git stores them once."""
    return (
        json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    )


def union(ours: dict, theirs: dict) -> dict:
    """Both notes' sets, by set key; for a key both measured, the later run's entry."""
    sets = dict(theirs["sets"])
    for key, entry in ours["sets"].items():
        other = sets.get(key)
        if other is None or str(entry.get("run_at", "")) >= str(other.get("run_at", "")):
            sets[key] = entry
    keyed = {**theirs["commit_sets"], **ours["commit_sets"]}
    return {"promptvc_notes": FORMAT, "sets": sets, "commit_sets": keyed}


def combine(ours: bytes, theirs: bytes) -> bytes:
    """git's notes merge, for promptvc notes: the union; a side that does not parse gives way,
    except to a side a newer promptvc wrote, which is kept whole (only it can merge the two)."""
    docs = []
    for text in (ours, theirs):
        try:
            docs.append(parse(text))
        except NewerNote:
            return text
        except MalformedNote:
            continue
    if not docs:
        return ours
    return dumps(union(docs[0], docs[1]) if len(docs) == 2 else docs[0])


# -- writing -------------------------------------------------------------------------------


def note_for(ws: Workspace, store: Store, commit: str) -> dict:
    """The document for a commit from the local store: its set keys, and the sets scored there."""
    from promptvc.history import set_keys_at
    from promptvc.providers import key_environment

    environment = key_environment()
    rows = store.commit_sets([commit], environment).get(commit)
    if rows is None:
        rows = set_keys_at(ws, ws.snapshot(Commit(commit)))
        store.save_commit_sets(rows or [_no_sets(commit, environment)])
    rows = [r for r in rows if r["set_id"]]
    scores = store.noted_set_scores(r["set_key"] for r in rows)
    doc = empty()
    doc["commit_sets"][environment] = sorted(
        ({k: r.get(k) or "" for k in ("set_id", "set_key", "prompt")} for r in rows),
        key=lambda r: r["set_id"],
    )
    for key, score in scores.items():
        if score["score"] is None:
            continue
        entry = {f: score.get(f) for f in _SET_FIELDS} | {"run_at": score.get("created_at")}
        outcomes = store.case_outcomes(key)
        entry["case_results"] = {
            case: {"status": status, "score": value} for case, (status, value) in outcomes.items()
        }
        doc["sets"][key] = entry
    return doc


def _no_sets(commit: str, environment: str) -> dict:
    return {
        "commit_sha": commit,
        "set_id": "",
        "set_key": "",
        "prompt": "",
        "path": "",
        "endpoint": environment,
    }


@dataclass(frozen=True)
class Written:
    commit: str
    sets: int  # scored sets in the note after the merge
    newer: str = ""  # why the note there was kept as it is: a newer promptvc wrote it

    @property
    def line(self) -> str:
        if self.newer:
            return (
                f"kept the note on {self.commit[:7]} ({self.newer}): upgrade promptvc to add to it"
            )
        scored = plural(self.sets, "scored set") if self.sets else "no scored set yet"
        return f"noted {self.commit[:7]}: {scored}"


def write_notes(ws: Workspace, store: Store, commits: Iterable[str]) -> list[Written]:
    """Note each commit's scores, merged with the note already there (a broken one is replaced)."""
    written = []
    for commit in dict.fromkeys(commits):
        doc = note_for(ws, store, commit)
        existing = read_note(ws.repo, commit)
        if existing is not None:
            try:
                doc = union(doc, parse(existing))
            except NewerNote as exc:
                written.append(Written(commit, 0, str(exc)))
                continue
            except MalformedNote:
                pass
        write_note(ws.repo, commit, dumps(doc))
        written.append(Written(commit, len(doc["sets"])))
    return written


def merge_from(repo: GitRepo, ref: str) -> int:
    """Merge a fetched notes ref into ours by union; how many commits both had noted differently."""
    return merge_notes(repo, ref, combine)


# -- reading -------------------------------------------------------------------------------


def noted(
    repo: GitRepo, environment: str, warn: Callable[[str], None] | None = None, ref: str = NOTES_REF
) -> Noted:
    """All notes at once; a malformed one is skipped with a warning naming its commit."""
    found = Noted()
    texts, oversized = read_notes_within(repo, ref, MAX_NOTE_BYTES)
    for commit, size in oversized.items():
        if warn is not None:
            warn(
                f"skipped the promptvc note on commit {commit[:7]}: {size:,} bytes, larger than "
                f"a promptvc note may be ({MAX_NOTE_BYTES:,})"
            )
    for commit, text in texts.items():
        try:
            doc = parse(text)
        except MalformedNote as exc:
            if warn is not None:
                warn(f"skipped the promptvc note on commit {commit[:7]}: {exc}")
            continue
        for key, entry in doc["sets"].items():
            kept = found.scores.get(key)
            if kept is None or str(entry.get("run_at", "")) > str(kept.get("run_at", "")):
                # Every field a reader looks up is there (None where the writer left it out).
                found.scores[key] = dict.fromkeys(_SET_FIELDS) | entry
                found.cases[key] = _case_results(entry.get("case_results"))
        rows = doc["commit_sets"].get(environment)
        if rows is not None:
            found.commit_sets[commit] = [
                {"set_id": r["set_id"], "set_key": r["set_key"], "prompt": r.get("prompt") or ""}
                for r in rows
                if isinstance(r, dict)
                and isinstance(r.get("set_id"), str)
                and isinstance(r.get("set_key"), str)
                and r["set_key"]
                and isinstance(r.get("prompt") or "", str)
            ] or [{"set_id": "", "set_key": "", "prompt": ""}]
    return found


def _case_results(noted: object) -> dict[str, dict]:
    """A note's cases that read as {"status", "score"}; anything else is left out."""
    if not isinstance(noted, dict):
        return {}
    return {
        case: {"status": row["status"], "score": row.get("score")}
        for case, row in noted.items()
        if isinstance(row, dict)
        and _is_status(row.get("status"))
        and isinstance(row.get("score"), int | float | None)
    }


def resolve_all(ws: Workspace, revs: Iterable[str]) -> list[str]:
    shas = [ws.repo.resolve(rev) for rev in revs]
    if not shas:
        raise UserError("no revision to note")
    return shas
