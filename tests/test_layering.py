"""Imports point one way, cli -> core -> store: every module of opp imports, and none of its imports (at
the top or inside a function, where the CLI defers its heavy ones) runs against that direction."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import opp

ROOT = Path(opp.__file__).parent
MODULES = sorted(
    ".".join(("opp", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
    for path in ROOT.rglob("*.py")
)
# Alembic's environment and revisions run only inside Alembic: read, not imported.
RUN_BY_ALEMBIC = "opp.store.migrations"
# What each layer must never import (a module or anything under it).
FORBIDDEN = {
    "opp.core": ("opp.cli", "typer", "click", "tabulate"),
    "opp.store": ("opp.core", "opp.cli"),
    "opp.cli": ("sqlalchemy",),
}


def source_of(module: str) -> Path:
    path = ROOT.joinpath(*module.split(".")[1:])
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def imports_in(source: str, package: str) -> set[str]:
    """Every module ``source`` (a module of ``package``) names in an import statement, wherever it
    stands, relative ones made absolute."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def imported_by(module: str) -> set[str]:
    path = source_of(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return imports_in(path.read_text(encoding="utf-8"), package)


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_every_layer_is_there():
    for layer in FORBIDDEN:
        assert any(within(module, layer) for module in MODULES), layer


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_only_downwards(module):
    if not within(module, RUN_BY_ALEMBIC):
        importlib.import_module(module)
    for layer, forbidden in FORBIDDEN.items():
        if within(module, layer):
            wrong = sorted(
                name for name in imported_by(module) if any(within(name, banned) for banned in forbidden)
            )
            assert not wrong, f"{module} imports {wrong}, against the layering cli -> core -> store"


def test_the_reader_sees_deferred_and_relative_imports():
    source = "from . import money\nfrom ...cli.render import emit\ndef f():\n    import tabulate\n"
    names = imports_in(source, "opp.core.pipeline")
    assert {"opp.core.pipeline.money", "opp.cli.render", "opp.cli.render.emit", "tabulate"} <= names


# -- the core names no command-line flag or command ----------------------------------------------------

FLAG = r"(?<![\w-])--[a-z][a-z0-9-]*"


def _commands() -> set[str]:
    """The names of opp's top-level commands and groups, read from the app."""
    from opp.cli.app import app
    from opp.cli.compat import click_command

    return set(click_command(app).commands)  # type: ignore[attr-defined]


def _strings(source: str) -> list[tuple[int, str]]:
    """Every string constant of a module, f-strings' fixed parts included, docstrings left out (they
    speak to the reader of the code, not to the user)."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
        if isinstance(node, (ast.Module, ast.ClassDef)):  # attribute docstrings: a string after a name
            for before, after in zip(node.body, node.body[1:], strict=False):
                if isinstance(before, (ast.Assign, ast.AnnAssign)) and isinstance(after, ast.Expr):
                    docstrings.add(id(after.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def core_strings_naming_the_cli(root: Path, commands: set[str]) -> list[str]:
    import re

    command = re.compile(r"\bopp (" + "|".join(sorted(map(re.escape, commands))) + r")\b")
    found = []
    for path in sorted(root.rglob("*.py")):
        for line, text in _strings(path.read_text(encoding="utf-8")):
            if re.search(FLAG, text) or command.search(text):
                found.append(f"{path.relative_to(root.parent)}:{line}: {text[:80]!r}")
    return found


def test_the_core_names_no_flag_and_no_command():
    """Core messages speak the domain: a hint that names a flag (``--force``) or a command (``opp
    stage``) belongs to the CLI's error mapping (opp/cli/errors.py, CLI_WORDS), keyed by the error's
    ``reason``. Docstrings may name them; strings the user can see may not."""
    found = core_strings_naming_the_cli(ROOT / "core", _commands())
    assert not found, "the core names CLI flags or commands:\n" + "\n".join(found)


def test_the_check_finds_a_flag_and_a_command(tmp_path):
    package = tmp_path / "core"
    package.mkdir()
    (package / "bad.py").write_text(
        '"""Docstrings may say opp list --status all."""\n'
        'def f(x):\n    """opp stage --force."""\n'
        '    raise ValueError("give --value as well")\n'
        'def g(x):\n    return f"see opp history {x}"\n'
        'def h():\n    return "opp can hold no more; -- a dash; x--y"\n'
    )
    found = core_strings_naming_the_cli(package, {"history", "list", "stage"})
    assert [entry.split(":")[1] for entry in found] == ["4", "6"]
