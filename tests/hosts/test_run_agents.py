"""Whether ``statera serve`` runs provider agents: with the in-process bus it is the whole
deployment and does; with RabbitMQ it is an API host and does not, unless told."""

from __future__ import annotations

import socket

import pytest

from statera.cli import parser
from statera.config import load_settings


@pytest.mark.parametrize(("bus", "setting", "runs"), [
    ("inprocess", None, True), ("rabbitmq", None, False),
    ("rabbitmq", "true", True), ("inprocess", "false", False), ("rabbitmq", "auto", False)])
def test_run_agents_follows_the_bus_unless_told(monkeypatch: pytest.MonkeyPatch, bus: str,
                                                setting: str | None, runs: bool) -> None:
    monkeypatch.setenv("STATERA_BUS__DRIVER", bus)
    if setting is not None:
        monkeypatch.setenv("STATERA_API__RUN_AGENTS", setting)
    assert load_settings().serve_runs_agents is runs


def test_serve_flags_and_agent_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parser().parse_args(["serve"]).agents is None
    assert parser().parse_args(["serve", "--agents"]).agents is True
    assert parser().parse_args(["serve", "--no-agents"]).agents is False
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--agents", "--no-agents"])
    assert load_settings().agent_host == socket.gethostname()
    monkeypatch.setenv("STATERA_AGENT__HOST", "edge-7")
    assert load_settings().agent_host == "edge-7"
