"""Every process of a deployment migrates at start, and they often start at once: N real
``statera db upgrade`` processes on one fresh database all succeed and leave it at head."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from statera.db.migrate import alembic_config
from tests.dbs import BACKENDS, temp_database
from tests.e2e.conftest import VENV_BIN

PROCESSES = 4

#: Each process imports everything first, then waits for the start signal (a file), so they
#: all reach the migration within a millisecond or two, as processes booted together do.
RACER = """
import os, sys, time
from statera.cli import main
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.001)
sys.exit(main(["db", "upgrade", "--data-dir", sys.argv[2]]))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_processes_started_at_once_all_migrate(backend: str, tmp_path: Path) -> None:
    with temp_database(backend, str(tmp_path), migrated=False) as url:
        env = {**os.environ, "STATERA_DATABASE__CONNECTION": url}
        go = tmp_path / "go"
        procs = [subprocess.Popen([str(VENV_BIN / "python"), "-c", RACER, str(go),
                                   str(tmp_path / f"d{i}")],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for i in range(PROCESSES)]
        time.sleep(3)  # every process imported and waiting
        go.touch()
        outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
        for proc, out in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, out
            assert "Traceback" not in out, out
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            assert [v[0] for v in versions] == [head]
            assert {"load_balancer", "amphora"} <= set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
