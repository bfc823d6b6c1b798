"""Golden files: the rendered haproxy.cfg of representative load balancers, byte for byte.

A template or view change shows up here as a diff of real configuration text. Regenerate after
an intended change with ``.venv/bin/python -m tests.haproxy.golden_cases`` and review the diff.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from statera.providers.haproxy.process import resolve_binary
from tests.golden_graphs import byte_for_byte_tests
from tests.haproxy.golden_cases import CASES, GOLDEN, rendered

test_rendered_config_matches_golden_file, test_every_golden_file_has_a_case = byte_for_byte_tests(
    GOLDEN, ".cfg", CASES, rendered, "tests.haproxy.golden_cases")


@pytest.mark.parametrize("case", sorted(c for c in CASES if c != "terminated_https"))
def test_golden_config_is_valid_haproxy(case: str, tmp_path: Path) -> None:
    """HAProxy itself accepts each golden file (the TLS case names certificate files that only
    a real converge writes; its TLS options are checked by the TLS traffic tests)."""
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text((GOLDEN / f"{case}.cfg").read_text())
    done = subprocess.run([resolve_binary("haproxy"), "-c", "-f", str(cfg)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
