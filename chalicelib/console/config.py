"""What the console page needs to know about sign-in, from the environment on first use.

On AWS Terraform sets the Cognito hosted UI's base URL and the public app client's id on the API
function; then the page offers Cognito sign-in (authorization code + PKCE) beside the API key.
Locally neither is set and the page signs in with an API key only.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chalicelib.settings import ConfigError

# What the console asks Cognito for: `openid` gives an id token too; the access token (with our
# client id) is what the API's authorizer accepts, as an `admin` of the user's tenant.
COGNITO_SCOPES = ("openid", "email", "profile")


@dataclass(frozen=True)
class ConsoleConfig:
    """Sign-in options of the console."""

    cognito_domain: str | None = None  # https://<prefix>.auth.<region>.amazoncognito.com
    cognito_client_id: str | None = None

    @property
    def cognito(self) -> bool:
        return bool(self.cognito_domain and self.cognito_client_id)

    def public(self) -> dict[str, Any]:
        """The JSON the page reads (nothing secret: the client is public, it has no secret)."""
        body: dict[str, Any] = {"signIn": ["apiKey"]}
        if self.cognito:
            body["signIn"].append("cognito")
            body["cognito"] = {
                "domain": self.cognito_domain,
                "clientId": self.cognito_client_id,
                "scopes": list(COGNITO_SCOPES),
            }
        return body


def console_config_from(env: Mapping[str, str]) -> ConsoleConfig:
    """A `ConsoleConfig` from environment variables; a domain that is not an https origin is refused."""
    domain = (env.get("SCHEDULER_CONSOLE_COGNITO_DOMAIN") or "").rstrip("/") or None
    client_id = env.get("SCHEDULER_CONSOLE_COGNITO_CLIENT_ID") or None
    if domain is not None:
        parts = urlsplit(domain)
        if parts.scheme != "https" or not parts.netloc or parts.path or parts.query or "@" in parts.netloc:
            raise ConfigError(f"SCHEDULER_CONSOLE_COGNITO_DOMAIN must be an https origin, not {domain!r}")
    return ConsoleConfig(cognito_domain=domain, cognito_client_id=client_id)


@functools.cache
def get_console_config() -> ConsoleConfig:
    """`console_config_from(os.environ)`, read once."""
    return console_config_from(os.environ)
