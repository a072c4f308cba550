"""A small httpx client of the running ``eams run`` API (the CLI and tests read through it)."""

from __future__ import annotations

from typing import Any

import httpx

from eams.auth import read_operator_token
from eams.errors import RequestRefusedError, ServiceUnavailableError
from eams.settings import Settings


def api_url(settings: Settings) -> str:
    """The URL of the worker's API: the configured port, or with ``EAMS_HTTP_PORT=0`` the
    one the running worker wrote to ``<state dir>/api.port`` (port 0 when none did: the
    first request then says that no worker answers)."""
    if settings.http_port:
        return settings.api_url
    try:
        port = int((settings.state_dir / "api.port").read_text().strip())
    except (OSError, ValueError):
        port = 0
    return f"http://{settings.http_host}:{port}"


class ApiClient:
    """Talks to ``eams run`` at the configured host and port."""

    def __init__(self, settings: Settings, timeout: float = 30.0) -> None:
        self.settings = settings
        self.base = api_url(settings)
        self.state_dir = settings.state_dir
        self._http = httpx.Client(base_url=self.base, timeout=timeout)

    def _authorize(self) -> None:
        """The CLI acts as the local operator: it sends the token ``eams run`` wrote to the
        state dir (read each time: a restarted worker writes a new one, and with
        ``EAMS_HTTP_PORT=0`` may listen on another port)."""
        if not self.settings.http_port:
            self.base = api_url(self.settings)
            self._http.base_url = httpx.URL(self.base)
        token = read_operator_token(self.state_dir)
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"

    def _get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params=params or None)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        self._authorize()
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServiceUnavailableError(
                f"no EAMS worker answers at {self.base} ({exc.__class__.__name__}); "
                "start it with `eams run` (or `eams demo`)"
            ) from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise RequestRefusedError(f"{method} {path}: {response.status_code}: {detail}")
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        """GET a path of the API (JSON answer)."""
        return self._get(path, **params)

    def post(self, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        """POST JSON to a path of the API (JSON answer)."""
        return self._call("POST", path, json=body or {}, params=params or None)

    def delete(self, path: str, **params: Any) -> Any:
        """DELETE a path of the API (JSON answer)."""
        return self._call("DELETE", path, params=params or None)

    def status(self) -> dict[str, Any]:
        """Pipeline counters and positions."""
        return dict(self._get("/api/status"))

    def cities(self, days: int | None = None) -> list[dict[str, Any]]:
        """Per-city overview rows."""
        return list(self._get("/api/overview/cities", **({"days": days} if days else {})))

    def counts(self) -> dict[str, Any]:
        """Exact projection counts."""
        return dict(self._get("/api/projections/counts"))

    def alive(self) -> bool:
        """True when a worker answers."""
        try:
            self.status()
            return True
        except ServiceUnavailableError:
            return False

    def rebuild(self) -> None:
        """Ask the worker to drop and replay its projections."""
        try:
            self._http.post("/api/admin/rebuild").raise_for_status()
        except httpx.TransportError as exc:
            raise ServiceUnavailableError(f"no EAMS worker answers at {self.base}") from exc

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
