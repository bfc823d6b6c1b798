"""The README's feature table is the one the drivers' validation reads."""

from __future__ import annotations

from pathlib import Path

from statera.providers.kit import capabilities

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- capability-table:start -->\n", "<!-- capability-table:end -->"


def test_readme_table_equals_the_generated_one() -> None:
    text = README.read_text()
    table = text.split(START, 1)[1].split(END, 1)[0]
    assert table == capabilities.readme_table()


def test_every_process_provider_declares_its_capabilities() -> None:
    names = {c.provider for c in capabilities.installed()}
    assert {"haproxy", "nginx"} <= names
