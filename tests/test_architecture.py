"""Module boundaries as drawn in docs/architecture.md, checked by parsing every import of every module.

The page's tables are the one source of the allowed arrows: this test reads them, resolves each import to
the product module it names (`from indexer import vectors` is `indexer.vectors`), and fails on an arrow the
page does not draw, on a drawn arrow nothing uses, and on a package the page leaves out.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "architecture.md"
PRODUCT = ("model", "synth", "analysis", "indexer", "service", "evaluation", "migrations", "stemjepa")
NOT_PACKAGES = {"tests", "docs", "scripts"}  # scripts is a folder of modules, drawn in the table as one


@dataclass(frozen=True)
class Rule:
    allowed: tuple[str, ...]  # product modules (each with its submodules) besides the package's own
    forbidden: frozenset[str]  # third-party top-level names


def _table(heading: str) -> list[list[str]]:
    """Rows (cells) of the Markdown table under `heading` in the page."""
    text = DOC.read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip().strip("|").split(" | ")] for row in rows]


def _names(cell: str) -> tuple[str, ...]:
    return tuple(re.findall(r"`([^`]+)`", cell))


def rules() -> dict[str, Rule]:
    return {_names(r[0])[0]: Rule(_names(r[2]), frozenset(_names(r[3]))) for r in _table("Packages")}


def exceptions() -> dict[str, tuple[str, ...]]:
    return {_names(r[0])[0]: _names(r[1]) for r in _table("Exceptions")}


def files_of(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports (at any depth of the file), product modules resolved to the submodule."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = REPO.joinpath(*node.module.split("."), alias.name)
                is_module = candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file()
                names.add(f"{node.module}.{alias.name}" if is_module else node.module)
    return names


def covers(entry: str, module: str) -> bool:
    return module == entry or module.startswith(entry + ".")


def exists(module: str) -> bool:
    path = REPO.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or path.is_dir()


def test_the_page_draws_every_package_and_only_modules_that_exist():
    table = rules()
    on_disk = {p.name for p in REPO.iterdir() if (p / "__init__.py").is_file()} - NOT_PACKAGES
    assert on_disk == set(PRODUCT), "a package was added or removed: update PRODUCT and docs/architecture.md"
    assert set(table) == {*PRODUCT, "scripts"}
    drawn = [m for r in table.values() for m in r.allowed] + [m for ms in exceptions().values() for m in ms]
    assert all(exists(m) for m in drawn), [m for m in drawn if not exists(m)]
    assert all((REPO / f).is_file() for f in exceptions())


@pytest.mark.parametrize("package", [*PRODUCT, "scripts"])
def test_package_imports_follow_the_drawn_arrows(package):
    rule, extra = rules()[package], exceptions()
    offending = []
    for file in files_of(package):
        where = str(file.relative_to(REPO))
        allowed = rule.allowed + extra.get(where, ())
        for module in sorted(imported_modules(file)):
            top = module.split(".")[0]
            if top in rule.forbidden:
                offending.append(f"{where} imports {module}, which {package} never imports")
            elif top in PRODUCT and top != package and not any(covers(a, module) for a in allowed):
                offending.append(f"{where} imports {module}: no arrow {package} -> {module} in docs/architecture.md")
    assert not offending, "\n".join(offending)


@pytest.mark.parametrize("package", [*PRODUCT, "scripts"])
def test_every_drawn_arrow_is_used(package):
    """The page draws the arrows there are, not more: an arrow nothing uses any longer comes off it."""
    used = {m for file in files_of(package) for m in imported_modules(file)}
    unused = [a for a in rules()[package].allowed if not any(covers(a, m) for m in used)]
    assert not unused, f"{package} no longer imports {unused}: take the arrows off docs/architecture.md"


def test_the_service_never_imports_synth_and_evaluation_never_the_service():
    """The issue's acceptance, stated directly (the tables could otherwise be loosened to fit)."""
    table = rules()
    service = table["service"].allowed
    assert not any(m.split(".")[0] == "synth" for m in service)
    assert {m for m in service if m.split(".")[0] == "indexer"} <= {"indexer.catalog", "indexer.jobs",
                                                                    "indexer.settings"}
    for package in ("evaluation", "scripts"):
        assert not any(m.split(".")[0] == "service" for m in table[package].allowed)
    assert set(exceptions()) == {"evaluation/servebench.py"}


def test_shell_scripts_hold_no_python():
    """Python lives in modules that are linted, typed and tested; the scripts call them as commands."""
    for script in sorted((REPO / "scripts").glob("*.sh")):
        text = script.read_text()
        assert not re.search(r"<<-?\s*'?PY'?", text) and not re.search(r"python3?\s+-c\b|\"\$PY\"\s+-\s", text), script


def test_every_package_module_opens_with_a_docstring():
    missing = []
    for package in [*PRODUCT, "scripts"]:
        for file in files_of(package):
            if file.name == "__main__.py" or "versions" in file.parts:
                continue
            tree = ast.parse(file.read_text())
            if file.stat().st_size and ast.get_docstring(tree) is None:
                missing.append(str(file.relative_to(REPO)))
    assert not missing, missing
