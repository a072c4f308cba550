"""What every command group of the CLI shares: the consoles, the settings of this
invocation and the client of the running worker's API."""

from __future__ import annotations

from rich.console import Console

from eams.settings import Settings
from eams.tools.client import ApiClient

console = Console()
# soft_wrap: an error is one line (greppable in logs), never hard-wrapped at 80 columns
err = Console(stderr=True, soft_wrap=True)


def settings() -> Settings:
    """The settings of this invocation (from EAMS_* variables)."""
    return Settings()


def api(timeout: float = 30.0) -> ApiClient:
    """The API of the running ``eams run``, as the local operator."""
    return ApiClient(settings(), timeout=timeout)
