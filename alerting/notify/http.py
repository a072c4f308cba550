"""HTTP channels: the signed EAMS webhook and the SMS-gateway webhook, plus the shared
plumbing the robots (``robots.py``) use.

Recoverability follows HTTP: 2xx delivered; 408, 429 and 5xx, timeouts and connection
errors are transient; any other status (401 bad key, 404 wrong URL, 422 rejected body) is
permanent. Errors never quote the endpoint URL's query (robots keep their token there),
request headers or the recipient.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import httpx

from alerting.notify.base import Delivery
from alerting.notify.errors import NotifyConfigError
from alerting.notify.message import AlertMessage, render, render_sms

__all__ = [
    "SmsGatewayNotifier",
    "WebhookNotifier",
    "sign_webhook",
    "verify_signature",
]

USER_AGENT = "EAMS-alerting/0.1"
_SNIPPET = 200


def check_url(setting: str, url: str) -> httpx.URL:
    """Parse an endpoint URL or raise ``NotifyConfigError`` naming ``setting``.

    The URL itself is not echoed: robots carry their access token in it.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise NotifyConfigError(setting, f"is not a valid URL ({type(exc).__name__})") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise NotifyConfigError(setting, "must be an absolute http(s):// URL with a host")
    return parsed


def check_timeout(timeout: float) -> float:
    """``timeout`` if it is a positive number of seconds, else ``NotifyConfigError``."""
    if not timeout > 0:
        raise NotifyConfigError("timeout", "must be a positive number of seconds")
    return float(timeout)


def status_delivery(response: httpx.Response) -> Delivery:
    """Classify an HTTP response: 2xx ok, 408/429/5xx transient, anything else permanent."""
    status = response.status_code
    if 200 <= status < 300:
        return Delivery.success()
    snippet = " ".join(response.text[:_SNIPPET].split())
    error = f"HTTP {status} {response.reason_phrase}" + (f": {snippet}" if snippet else "")
    if status in (408, 429) or status >= 500:
        return Delivery.retry(error)
    return Delivery.fail(error)


class HttpChannel:
    """Base of the HTTP notifiers: one POST per attempt, transport errors as Deliveries.

    Without ``client`` each attempt opens and closes its own ``httpx.AsyncClient`` (alerts
    are rare; nothing to clean up). Pass a shared client to reuse connections; it is used
    as given and never closed here.
    """

    def __init__(self, timeout: float, client: httpx.AsyncClient | None) -> None:
        self._timeout = check_timeout(timeout)
        self._client = client

    def _redact(self, text: str, url: httpx.URL) -> str:
        query = url.query.decode("ascii", "replace")
        return text.replace(query, "<redacted>") if query else text

    async def _post(
        self, url: httpx.URL, body: bytes, headers: Mapping[str, str]
    ) -> httpx.Response | Delivery:
        """POST ``body``; the response, or a failed Delivery for transport problems."""
        all_headers = {"User-Agent": USER_AGENT, **headers}
        try:
            if self._client is not None:
                return await self._client.post(
                    url, content=body, headers=all_headers, timeout=self._timeout
                )
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                return await client.post(url, content=body, headers=all_headers)
        except httpx.TimeoutException as exc:
            return Delivery.retry(f"timed out after {self._timeout:g} s ({type(exc).__name__})")
        except httpx.TransportError as exc:
            return Delivery.retry(self._redact(f"{type(exc).__name__}: {exc}", url))
        except httpx.HTTPError as exc:
            return Delivery.fail(self._redact(f"{type(exc).__name__}: {exc}", url))

    async def _post_json(
        self, url: httpx.URL, payload: Mapping[str, Any], headers: Mapping[str, str] = {}
    ) -> httpx.Response | Delivery:
        body = encode_json(payload)
        return await self._post(
            url, body, {"Content-Type": "application/json; charset=utf-8", **headers}
        )


def encode_json(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON (Chinese text unescaped), the exact bytes that are signed."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- the signed EAMS webhook --------------------------------------------------------------


def sign_webhook(secret: bytes, timestamp: int | str, body: bytes) -> str:
    """The ``X-EAMS-Signature`` value: ``sha256=<hex HMAC-SHA256(secret, b"<ts>." + body)>``."""
    digest = hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: bytes,
    timestamp: int | str,
    body: bytes,
    header: str,
    *,
    tolerance: float | None = 300.0,
    now: float | None = None,
) -> bool:
    """For receivers: is ``header`` (``X-EAMS-Signature``) the signature of ``body`` sent at
    ``timestamp`` (``X-EAMS-Timestamp``, unix seconds) with ``secret``?

    Compares in constant time. Unless ``tolerance`` is None, also rejects a timestamp more
    than ``tolerance`` seconds away from ``now`` (default: the current time), so a captured
    request cannot be replayed later.
    """
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    if tolerance is not None:
        current = time.time() if now is None else now
        if abs(current - ts) > tolerance:
            return False
    expected = sign_webhook(secret, ts, body)
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("ascii", "replace"))


class WebhookNotifier(HttpChannel):
    """POSTs the alert as signed JSON to a receiver of the operator's choosing.

    Body keys: ``alert_id, kind, level, region_code, region_name, rule_title, indicator,
    value, threshold, fired_at`` (ISO 8601), ``link, subject, text``. Headers:
    ``X-EAMS-Timestamp`` (unix seconds) and ``X-EAMS-Signature`` (see
    :func:`sign_webhook`); receivers check them with :func:`verify_signature`.
    ``recipient`` is a name for the record only.
    """

    channel: str = "webhook"

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(timeout, client)
        self._url: Final = check_url("url", url)
        if not isinstance(secret, bytes) or len(secret) < 16:
            raise NotifyConfigError("secret", "must be at least 16 random bytes")
        self._secret = secret
        self._clock = clock

    @staticmethod
    def payload(message: AlertMessage) -> dict[str, Any]:
        """The JSON object sent for ``message``; the further alerts of its group are in
        ``group`` (each with the same fields, without ``subject`` and ``text``)."""
        subject, text = render(message)
        return {
            **WebhookNotifier._fields(message),
            "subject": subject,
            "text": text,
            "group": [WebhookNotifier._fields(o) for o in message.others],
        }

    @staticmethod
    def _fields(message: AlertMessage) -> dict[str, Any]:
        return {
            "alert_id": message.alert_id,
            "kind": message.kind,
            "level": message.level,
            "region_code": message.region_code,
            "region_name": message.region_name,
            "rule_title": message.rule_title,
            "indicator": message.indicator,
            "value": message.value,
            "threshold": message.threshold,
            "fired_at": message.fired_at.isoformat(),
            "link": message.link,
        }

    async def send(self, message: AlertMessage, recipient: str) -> Delivery:
        """POST the signed payload once; never raises for delivery problems."""
        body = encode_json(self.payload(message))
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-EAMS-Timestamp": str(timestamp),
            "X-EAMS-Signature": sign_webhook(self._secret, timestamp, body),
        }
        result = await self._post(self._url, body, headers)
        return result if isinstance(result, Delivery) else status_delivery(result)


# --- the SMS gateway -----------------------------------------------------------------------

_PHONE = re.compile(r"\+?[0-9]{6,15}")


class SmsGatewayNotifier(HttpChannel):
    """Texts the alert through a generic SMS-gateway webhook.

    POSTs ``{"to": <phone>, "text": <at most 300 characters>}`` with
    ``Authorization: Bearer <api_key>``; the recipient is the duty officer's phone number
    (spaces and dashes are ignored). The number is sent to the gateway only, never put into
    an error message.
    """

    channel: str = "sms"
    MAX_TEXT: Final = 300

    def __init__(
        self,
        url: str,
        *,
        api_key: str,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(timeout, client)
        self._url: Final = check_url("url", url)
        if not api_key or any(c.isspace() for c in api_key) or not api_key.isascii():
            raise NotifyConfigError("api_key", "must be a non-empty ASCII token without spaces")
        self._api_key = api_key

    async def send(self, message: AlertMessage, recipient: str) -> Delivery:
        """POST one SMS request; never raises for delivery problems."""
        phone = re.sub(r"[\s-]", "", recipient)
        if not _PHONE.fullmatch(phone):
            return Delivery.fail("recipient is not a phone number (6-15 digits, optional +)")
        payload = {"to": phone, "text": render_sms(message, self.MAX_TEXT)}
        result = await self._post_json(
            self._url, payload, {"Authorization": f"Bearer {self._api_key}"}
        )
        return result if isinstance(result, Delivery) else status_delivery(result)
