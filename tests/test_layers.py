"""The layering rules of DESIGN.md, checked on the source: the API never imports a provider,
providers never import each other or the API (the provider kit is the one shared place they may
all import, and it imports no provider), and the data-plane side (agent, providers) never
imports the HTTP edge."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "statera"
KIT = "kit"
PROVIDERS = sorted(p.name for p in (ROOT / "providers").iterdir()
                   if p.is_dir() and (p / "__init__.py").exists() and p.name != KIT)


def imports(package: Path) -> set[tuple[str, str]]:
    """(file, imported module) for every import under ``package``."""
    found: set[tuple[str, str]] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add((str(path.relative_to(ROOT)), node.module))
            elif isinstance(node, ast.Import):
                found.update((str(path.relative_to(ROOT)), a.name) for a in node.names)
    return found


def offending(package: Path, forbidden: tuple[str, ...]) -> list[tuple[str, str]]:
    return sorted((f, mod) for f, mod in imports(package)
                  if any(mod == x or mod.startswith(x + ".") for x in forbidden))


def test_api_and_controller_never_import_a_provider() -> None:
    assert offending(ROOT / "api", ("statera.providers",)) == []
    assert offending(ROOT / "controller", ("statera.providers",)) == []
    assert offending(ROOT / "agent", ("statera.providers",)) == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_providers_import_neither_each_other_nor_the_api(provider: str) -> None:
    others = tuple(f"statera.providers.{p}" for p in PROVIDERS if p != provider)
    assert offending(ROOT / "providers" / provider, (*others, "statera.api")) == []


def test_the_kit_imports_no_provider_and_no_core_layer() -> None:
    providers = tuple(f"statera.providers.{p}" for p in PROVIDERS)
    core = ("statera.api", "statera.controller", "statera.db", "fastapi")
    assert offending(ROOT / "providers" / KIT, (*providers, *core)) == []


def test_core_never_imports_the_kit() -> None:
    for layer in ("api", "controller", "agent", "db", "bus"):
        assert offending(ROOT / layer, (f"statera.providers.{KIT}",)) == []


def test_data_plane_side_never_imports_the_http_edge() -> None:
    assert offending(ROOT / "agent", ("statera.api", "fastapi")) == []
    assert offending(ROOT / "bus", ("statera.api", "fastapi")) == []
