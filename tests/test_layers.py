"""The rooms of the code import one way: read from the source with ast, not from a drawing.

    contra.domain, contra.errors  <-  contra.index  <-  service.judge, service.models  <-  the pipeline
    (service/*.py)  <-  service.api, service.batch  <-  service.cli

An arrow the wrong way fails with the file, the line and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"contra": ROOT / "src" / "contra", "contra.service": ROOT / "service", "contra.index": ROOT / "index"}


def module_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            if "v1" in path.relative_to(folder).parts or (package == "contra" and path.parent != folder):
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every contra module a file imports, at any depth (lazy imports inside functions count too)."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names if alias.name.startswith("contra"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("contra"):
            out.append((node.lineno, node.module))
            out.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return out


def room(module: str) -> str:
    """The layer a module belongs to."""
    if module.startswith("contra.v1"):
        return "wire-types"
    for name in ("api", "batch", "judge", "models"):
        if module == f"contra.service.{name}" or module.startswith(f"contra.service.{name}."):
            return name
    if module == "contra.service.cli":
        return "cli"
    if module.startswith("contra.service"):
        return "pipeline"
    if module.startswith("contra.index"):
        return "index"
    return "shared"


#: What each room may import (besides itself).
ALLOWED = {
    "shared": set(),
    "index": {"shared"},
    "models": {"shared", "index", "config"},
    "judge": {"shared", "index", "config", "models"},
    "pipeline": {"shared", "index", "models", "judge"},
    "api": {"shared", "index", "models", "judge", "pipeline", "wire-types"},
    "batch": {"shared", "index", "models", "judge", "pipeline"},
    "cli": {"shared", "index", "models", "judge", "pipeline", "api", "batch", "wire-types"},
}


def wrong_way(module: str, path: Path, known: set[str]) -> list[str]:
    here = room(module)
    bad = []
    for line, target in imports_of(path):
        if target not in known and not target.startswith("contra.v1"):
            continue  # a name imported from a module, not a module
        there = room(target)
        if there == here:
            continue
        if target == "contra.service.config":
            there = "config" if here in ("models", "judge") else there
        if target == "contra.service":  # the package itself: only its docstring
            continue
        if there not in ALLOWED[here]:
            bad.append(f"{path.relative_to(ROOT)}:{line}: {here} imports {target} ({there})")
    return bad


def test_every_import_points_down() -> None:
    files = module_files()
    known = set(files)
    problems = [p for module, path in sorted(files.items()) for p in wrong_way(module, path, known)]
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def test_index_never_imports_the_service() -> None:
    files = module_files()
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {target}"
        for module, path in files.items()
        if room(module) == "index"
        for line, target in imports_of(path)
        if target.startswith("contra.service")
    ]
    assert not offenders, offenders


@pytest.mark.parametrize(
    ("module", "source", "allowed"),
    [
        ("contra.service.judge.x", "from contra.service.api.server import serve\n", False),
        ("contra.service.models.x", "def f():\n    from contra.service.detector import Detector\n", False),
        ("contra.index.x", "from contra.service.config import Settings\n", False),
        ("contra.service.detector", "from contra.service.judge.judge import Judge\n", True),
        ("contra.service.api.x", "from contra.service.batch.job import run_compare\n", False),
    ],
)
def test_the_checker_sees_wrong_arrows(tmp_path: Path, module: str, source: str, allowed: bool) -> None:
    """The test above can fail: fed a wrong arrow, even a lazy one, the checker reports it."""
    path = ROOT / "tests" / "_layer_probe.py"
    path.write_text(source, encoding="utf-8")
    try:
        known = set(module_files()) | {"contra.service.api.server", "contra.service.batch.job"}
        assert (wrong_way(module, path, known) == []) is allowed
    finally:
        path.unlink()
