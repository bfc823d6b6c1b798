"""``[f5]`` is the provider's own section, found through ``statera.provider_settings``: the
core names no provider, and an operator who sets ``[f5] url`` gets the provider enabled."""

from __future__ import annotations

from pathlib import Path

import pytest

from statera.config import DriverAgentSettings, load_settings, provider_section, sample_config
from statera.providers.f5.settings import F5Settings


def test_without_url_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATERA_F5__URL", raising=False)
    settings = load_settings()
    assert "f5" not in settings.api.enabled_provider_drivers
    assert "f5" not in settings.driver_agent.enabled_provider_agents
    assert provider_section(settings, "f5", F5Settings) == F5Settings()


def test_url_from_file_enables_the_provider(tmp_path: Path) -> None:
    config = tmp_path / "statera.toml"
    config.write_text('[f5]\nurl = "https://192.0.2.10"\nusername = "admin"\n'
                      'password = "s3cret"\nverify_tls = "/etc/ssl/bigip.pem"\n'
                      'tenant_prefix = "OS_"\ntask_timeout = 90\npoll_interval = 3\n')
    settings = load_settings(str(config))
    f5 = provider_section(settings, "f5", F5Settings)
    assert (f5.url, f5.username, f5.verify_tls, f5.tenant_prefix, f5.task_timeout,
            f5.poll_interval) == ("https://192.0.2.10", "admin", "/etc/ssl/bigip.pem", "OS_",
                                  90, 3)
    assert settings.api.enabled_provider_drivers["f5"].startswith("F5 BIG-IP")
    assert {"haproxy", "noop"} < set(settings.api.enabled_provider_drivers)
    # The default agents stay, f5 joins them.
    assert settings.driver_agent.enabled_provider_agents == [
        *DriverAgentSettings().enabled_provider_agents, "f5"]
    assert "s3cret" not in repr(settings)


def test_environment_and_explicit_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATERA_F5__URL", "https://192.0.2.10")
    monkeypatch.setenv("STATERA_F5__VERIFY_TLS", "false")
    monkeypatch.setenv("STATERA_DRIVER_AGENT__ENABLED_PROVIDER_AGENTS", '["noop"]')
    settings = load_settings()
    assert provider_section(settings, "f5", F5Settings).verify_tls is False
    assert "f5" in settings.api.enabled_provider_drivers
    assert settings.driver_agent.enabled_provider_agents == ["noop"]  # the operator's choice


def test_sample_lists_the_section() -> None:
    assert "\n[f5]\n" in sample_config() and "# tenant_prefix = \"Project_\"" in sample_config()
