"""Group-chat robots: WeCom (企业微信) and DingTalk (钉钉) custom robots.

Both answer HTTP 200 with ``{"errcode": …, "errmsg": …}``; ``errcode`` 0 is delivered.
Their rate limits (WeCom 45009, DingTalk 130101: 20 messages a minute per robot) are
transient; every other errcode (invalid key 93000, bad signature 310000, keyword missing
310000, …) is permanent until the robot's configuration is fixed. HTTP 5xx and transport
errors are transient. The robot's token sits in the URL's query; it is never echoed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any, Final

import httpx

from alerting.notify.base import Delivery
from alerting.notify.errors import NotifyConfigError
from alerting.notify.http import HttpChannel, check_url, status_delivery
from alerting.notify.message import AlertMessage, render, render_markdown

__all__ = ["DingTalkRobotNotifier", "WeComRobotNotifier", "dingtalk_sign"]

WECOM_RATE_LIMITED: Final = 45009
DINGTALK_TOO_FREQUENT: Final = 130101


def _errcode_delivery(
    response: httpx.Response, robot: str, recoverable_codes: frozenset[int]
) -> Delivery:
    """Classify a robot's answer: HTTP status first, then the JSON ``errcode``."""
    if not 200 <= response.status_code < 300:
        return status_delivery(response)
    try:
        answer: Any = response.json()
        errcode = int(answer["errcode"])
    except (ValueError, KeyError, TypeError):
        # An HTML page from a proxy or a gateway hiccup, not the robot's answer.
        snippet = " ".join(response.text[:120].split())
        return Delivery.retry(f"{robot} answered without an errcode: {snippet!r}")
    if errcode == 0:
        return Delivery.success()
    error = f"{robot} errcode {errcode}: {answer.get('errmsg', '')}"
    return Delivery.retry(error) if errcode in recoverable_codes else Delivery.fail(error)


def _cut_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (on a character boundary)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    ellipsis = "…"
    room = limit - len(ellipsis.encode("utf-8"))
    return data[:room].decode("utf-8", "ignore") + ellipsis


_MOBILE = re.compile(r"1[0-9]{10}")


class WeComRobotNotifier(HttpChannel):
    """Posts the alert to a WeCom group robot (``…/cgi-bin/webhook/send?key=…``).

    Sends ``{"msgtype": "markdown", "markdown": {"content": …}}`` (cut to WeCom's 4096
    bytes). WeCom's markdown messages cannot @-mention, so when ``mentioned_mobiles`` is
    set (11-digit mobiles of duty officers, or ``"@all"``) a short text message with
    ``mentioned_mobile_list`` follows; if only that follow-up fails, the delivery is still
    a success and its ``error`` notes the failed mention. ``recipient`` is the robot's
    name, for the record only.
    """

    channel: str = "wecom"
    MAX_MARKDOWN_BYTES: Final = 4096

    def __init__(
        self,
        webhook_url: str,
        *,
        mentioned_mobiles: Sequence[str] = (),
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(timeout, client)
        self._url: Final = check_url("webhook_url", webhook_url)
        if not self._url.params.get("key"):
            raise NotifyConfigError("webhook_url", "must carry the robot's key=… parameter")
        if isinstance(mentioned_mobiles, str):
            raise NotifyConfigError("mentioned_mobiles", "must be a list of numbers, not a str")
        bad = [m for m in mentioned_mobiles if m != "@all" and not _MOBILE.fullmatch(m)]
        if bad:
            raise NotifyConfigError(
                "mentioned_mobiles", f"{len(bad)} entries are not 11-digit mobiles or '@all'"
            )
        self.mentioned_mobiles: Final = tuple(mentioned_mobiles)

    async def send(self, message: AlertMessage, recipient: str) -> Delivery:
        """Post the markdown message (then the mention, if any); never raises."""
        content = _cut_utf8(render_markdown(message), self.MAX_MARKDOWN_BYTES)
        payload = {"msgtype": "markdown", "markdown": {"content": content}}
        delivery = await self._call(payload)
        if not delivery.ok or not self.mentioned_mobiles:
            return delivery
        subject, _ = render(message)
        mention = {
            "msgtype": "text",
            "text": {
                "content": f"{subject}，请值班人员及时确认处置。",
                "mentioned_mobile_list": list(self.mentioned_mobiles),
            },
        }
        followup = await self._call(mention)
        if followup.ok:
            return delivery
        return Delivery(ok=True, recoverable=False, error=f"mention not sent: {followup.error}")

    async def _call(self, payload: dict[str, Any]) -> Delivery:
        result = await self._post_json(self._url, payload)
        if isinstance(result, Delivery):
            return result
        return _errcode_delivery(result, "WeCom", frozenset({WECOM_RATE_LIMITED}))


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: ``base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))``
    (not yet URL-encoded)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkRobotNotifier(HttpChannel):
    """Posts the alert to a DingTalk custom robot (``…/robot/send?access_token=…``).

    Body ``{"msgtype": "markdown", "markdown": {"title": <subject>, "text": <markdown>}}``.
    With ``secret`` (the robot's 加签 secret, ``SEC…``) every request appends
    ``&timestamp=<ms>&sign=<urlencoded signature>``; DingTalk accepts a timestamp within an
    hour of its clock. ``recipient`` is the robot's name, for the record only.
    """

    channel: str = "dingtalk"

    def __init__(
        self,
        webhook_url: str,
        *,
        secret: str | None = None,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(timeout, client)
        check_url("webhook_url", webhook_url)
        if secret is not None and (not secret or any(c.isspace() for c in secret)):
            raise NotifyConfigError("secret", "must be the robot's non-empty 加签 secret (SEC…)")
        self._webhook_url = webhook_url
        self._secret = secret
        self._clock = clock

    def signed_url(self, timestamp_ms: int | None = None) -> httpx.URL:
        """The URL to post to: the webhook URL, plus timestamp and sign when signing."""
        if self._secret is None:
            return httpx.URL(self._webhook_url)
        ts = int(self._clock() * 1000) if timestamp_ms is None else timestamp_ms
        sign = urllib.parse.quote_plus(dingtalk_sign(self._secret, ts))
        joiner = "&" if "?" in self._webhook_url else "?"
        return httpx.URL(f"{self._webhook_url}{joiner}timestamp={ts}&sign={sign}")

    async def send(self, message: AlertMessage, recipient: str) -> Delivery:
        """Post the markdown message once; never raises for delivery problems."""
        subject, _ = render(message)
        payload = {
            "msgtype": "markdown",
            "markdown": {"title": subject, "text": render_markdown(message)},
        }
        result = await self._post_json(self.signed_url(), payload)
        if isinstance(result, Delivery):
            return result
        return _errcode_delivery(result, "DingTalk", frozenset({DINGTALK_TOO_FREQUENT}))
