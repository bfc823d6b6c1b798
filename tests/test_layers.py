"""The layering rules of DESIGN.md, checked by import-linter on the source.

The contracts live in pyproject.toml (``[tool.importlinter]``): api -> controller -> db, only the
API imports the HTTP stack, core code never names a provider, providers never import the
database, the controller or each other.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROVIDERS = sorted(p.name for p in (ROOT / "statera" / "providers").iterdir()
                   if p.is_dir() and (p / "__init__.py").exists())


def test_import_contracts_are_kept() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_every_provider_is_in_the_independence_contract() -> None:
    """A new provider package cannot escape 'providers never import each other'."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    independent = next(c for c in contracts if c["type"] == "independence")["modules"]
    shared = {"kit"}  # the provider kit: every provider may import it
    assert sorted(m.rsplit(".", 1)[-1] for m in independent) == sorted(
        p for p in PROVIDERS if p not in shared)
