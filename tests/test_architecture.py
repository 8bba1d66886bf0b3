"""Module boundaries of ARCHITECTURE.md, checked by parsing every import of every package module."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# package -> top-level modules it must never import
FORBIDDEN: dict[str, set[str]] = {
    "model": {"fastapi", "starlette", "sqlalchemy", "alembic", "faiss", "indexer", "service", "synth", "evaluation",
              "stemjepa", "ray"},
    "synth": {"fastapi", "sqlalchemy", "faiss", "indexer", "service", "evaluation", "stemjepa", "torch"},
    # the music analysis: numpy/scipy/librosa DSP over model.audio's decoding, used by everyone below
    "analysis": {"fastapi", "starlette", "sqlalchemy", "alembic", "faiss", "indexer", "service", "synth",
                 "evaluation", "stemjepa", "ray", "torch"},
    "indexer": {"fastapi", "starlette", "service", "evaluation", "synth", "stemjepa"},
    # the service may use the indexer (read side, and its write side for index jobs) and synth (the demo)
    "service": {"evaluation", "stemjepa"},
    # evaluation measures the service's maths through analysis/, never through the web package
    "evaluation": {"service"},
    "migrations": {"service", "evaluation", "synth", "stemjepa"},
}


# single files allowed one more edge: the end-to-end benchmark drives the real API in-process
EXCEPTIONS: dict[str, set[str]] = {"evaluation/servebench.py": {"service"}}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_respect_the_boundaries(package):
    offending = []
    for file in sorted((REPO / package).rglob("*.py")):
        bad = imported_modules(file) & FORBIDDEN[package] - EXCEPTIONS.get(str(file.relative_to(REPO)), set())
        if bad:
            offending.append(f"{file.relative_to(REPO)} imports {sorted(bad)}")
    assert not offending, "\n".join(offending)


def test_every_package_module_opens_with_a_docstring():
    missing = []
    for package in FORBIDDEN:
        for file in sorted((REPO / package).rglob("*.py")):
            if file.name == "__main__.py" or "versions" in file.parts:
                continue
            tree = ast.parse(file.read_text())
            if file.stat().st_size and ast.get_docstring(tree) is None:
                missing.append(str(file.relative_to(REPO)))
    assert not missing, missing
