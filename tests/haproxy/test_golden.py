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
from tests.haproxy.golden_cases import CASES, GOLDEN, STATE_DIR, rendered, rendered_view

test_rendered_config_matches_golden_file, test_every_golden_file_has_a_case = byte_for_byte_tests(
    GOLDEN, ".cfg", CASES, rendered, "tests.haproxy.golden_cases")


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_config_is_valid_haproxy(case: str, tmp_path: Path) -> None:
    """HAProxy itself accepts each golden file (``haproxy -c``), placed in a real directory
    with the certificate files a converge would write next to it."""
    lb_view = rendered_view(case)
    lb_dir = tmp_path / lb_view.lb_id
    lb_dir.mkdir()
    for name, content in lb_view.files:
        (lb_dir / name).write_text(content.replace(STATE_DIR, str(tmp_path)))
    cfg = lb_dir / "haproxy.cfg"
    cfg.write_text((GOLDEN / f"{case}.cfg").read_text().replace(STATE_DIR, str(tmp_path)))
    done = subprocess.run([resolve_binary("haproxy"), "-c", "-f", str(cfg)],
                          capture_output=True, text=True, cwd=lb_dir)
    assert done.returncode == 0, done.stdout + done.stderr
