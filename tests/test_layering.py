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
