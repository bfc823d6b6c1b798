"""Golden files: the rendered nginx.conf of representative load balancers, byte for byte.

A template or view change shows up here as a diff of real configuration text. Regenerate after
an intended change with ``.venv/bin/python -m tests.nginx.golden_cases`` and review the diff.
Each golden file must also be a configuration NGINX itself accepts (``nginx -t``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from statera.providers.kit.procs import resolve_binary
from statera.providers.nginx.driver import CAPABILITIES
from tests.golden_graphs import byte_for_byte_tests, features, golden_files
from tests.nginx.golden_cases import CASES, GOLDEN, OPTIONS, STATE_DIR, rendered, rendered_view

FILES = golden_files(GOLDEN, ".conf", CASES)
L7_ACTIONS = {"REDIRECT_TO_URL", "REDIRECT_PREFIX", "REDIRECT_TO_POOL", "REJECT"}
L7_RULES = {"HOST_NAME", "PATH", "FILE_TYPE", "HEADER", "COOKIE", "SSL_CONN_HAS_CERT",
            "SSL_VERIFY_RESULT", "SSL_DN_FIELD"}
L7_COMPARE = {"REGEX", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "EQUAL_TO"}
#: ``nginx -t`` binds every listen address: it runs in a network namespace of its own where
#: binding the golden files' documentation-range VIPs is allowed.
NETNS = ["unshare", "--net", "sh", "-ec",
         "sysctl -qw net.ipv4.ip_nonlocal_bind=1 net.ipv6.ip_nonlocal_bind=1; exec \"$@\"", "sh"]


def _netns_reason() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    done = subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False)
    return None if done.returncode == 0 else "cannot create a network namespace (needs root)"


test_rendered_config_matches_golden_file, test_every_golden_file_has_a_case = byte_for_byte_tests(
    GOLDEN, ".conf", CASES, rendered, "tests.nginx.golden_cases")


def test_cases_cover_everything_nginx_supports() -> None:
    seen = features(CASES.values())
    assert seen["listener_protocols"] >= CAPABILITIES.listener_protocols
    assert seen["pool_protocols"] >= CAPABILITIES.pool_protocols
    assert seen["algorithms"] >= CAPABILITIES.algorithms
    assert seen["persistence"] >= CAPABILITIES.persistence
    assert seen["monitors"] >= CAPABILITIES.monitors
    assert (seen["l7_actions"], seen["l7_rules"], seen["l7_compare"]) == (
        L7_ACTIONS, L7_RULES, L7_COMPARE)


@pytest.mark.nginx
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_config_is_valid_nginx(case: str, tmp_path: Path) -> None:
    """NGINX itself accepts each golden file (``nginx -t``), placed in a real directory with the
    certificate files a converge would write next to it."""
    binary = resolve_binary("nginx")
    if not os.access(binary, os.X_OK) or not os.path.exists(OPTIONS.stream_module):
        pytest.skip("nginx or its stream module is not installed")
    reason = _netns_reason()
    if reason:
        pytest.skip(reason)
    lb_view = rendered_view(case)
    lb_dir = tmp_path / lb_view.lb_id
    (lb_dir / "tmp").mkdir(parents=True)
    for name, content in lb_view.files:
        (lb_dir / name).write_text(content)
    config = lb_dir / "nginx.conf"
    config.write_text(FILES[case].read_text().replace(STATE_DIR, str(tmp_path)))
    done = subprocess.run([*NETNS, binary, "-p", f"{lb_dir}/", "-c", str(config),
                           "-e", str(lb_dir / "error.log"), "-t"],
                          cwd=lb_dir, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr
