"""`promptvc init`: scaffold a working setup in the current repository."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from promptvc.errors import UserError
from promptvc.git.repo import GitRepo

IGNORE_ENTRY = ".promptvc/"


def _scaffold_files() -> dict[str, str]:
    root = resources.files("promptvc") / "scaffold"
    files = {}
    todo = [(root, "")]
    while todo:
        folder, prefix = todo.pop()
        for item in folder.iterdir():
            if item.is_dir():
                todo.append((item, f"{prefix}{item.name}/"))
            else:
                files[f"{prefix}{item.name}"] = item.read_text(encoding="utf-8")
    return files


def run(force: bool = False) -> int:
    repo = GitRepo.discover()
    files = _scaffold_files()
    existing = sorted(p for p in files if (repo.root / p).exists())
    if existing and not force:
        raise UserError(
            f"{existing[0]} already exists; promptvc init never overwrites (use --force to add the rest)"
        )
    created = []
    for rel, text in sorted(files.items()):
        target = repo.root / rel
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        created.append(rel)
    if _ensure_ignored(repo.root):
        created.append(".gitignore (+ .promptvc/)")
    for rel in created:
        print(f"created {rel}")
    print("next: git add promptvc.toml prompts evals .gitignore && promptvc eval")
    return 0


def _ensure_ignored(root: Path) -> bool:
    ignore = root / ".gitignore"
    text = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
    if any(line.strip() in (IGNORE_ENTRY, ".promptvc") for line in text.splitlines()):
        return False
    ignore.write_text(
        text + ("" if not text or text.endswith("\n") else "\n") + IGNORE_ENTRY + "\n",
        encoding="utf-8",
    )
    return True
