"""What ``make test``'s runner (``scripts/test``) prints around the tests: each status line
once, and no warning that the suite's filters were meant to catch."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_runner_output_has_no_repeated_lines_and_no_escaped_warning() -> None:
    # An API test imports FastAPI's TestClient, which is where Starlette's warning came from.
    done = subprocess.run(
        [str(ROOT / "scripts" / "test"), "tests/api/test_quotas.py::test_configured_defaults"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    out = done.stdout
    assert out.count("bringing up nodes") <= 1, out
    assert re.search(r"^2 workers \[\d+ items?\]$", out, re.M), out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), out
    assert "warnings summary" not in out and "Warning" not in out, out
