"""The ``[f5]`` settings section (registered in ``statera.provider_settings``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}


class F5Settings(BaseModel):
    """F5 BIG-IP load balancers declared through AS3"""

    url: str = Field("", description="iControl REST base URL of the BIG-IP, e.g. "
                     "https://192.0.2.10; empty disables the f5 provider.")
    username: str = Field("", description="BIG-IP user (token login, provider tmos).")
    password: str = Field("", repr=False, description="Password of that user (never logged).")
    verify_tls: bool | str = Field(
        True, description="Verify the device's certificate: true, false, or a CA-bundle path "
        "(honoured as set, whatever REQUESTS_CA_BUNDLE or SSL_CERT_FILE say).")
    tenant_prefix: str = Field("Project_", description="AS3 tenant name = prefix + project id.")
    task_timeout: float = Field(180.0, description="Seconds to wait for an AS3 task.")
    poll_interval: float = Field(
        10.0, description="Seconds between reads of member health and listener statistics.")

    @field_validator("verify_tls", mode="before")
    @classmethod
    def _words_are_booleans(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        return value

    def enables_provider(self) -> bool:
        """A configured device URL is all it takes to offer the f5 provider."""
        return bool(self.url)
