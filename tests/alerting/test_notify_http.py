"""HTTP channels and the retry stage against a real HTTP server on loopback.

One starlette app, served by uvicorn in a background thread, speaks like the real
endpoints: the EAMS webhook receiver (checks X-EAMS-Signature), a WeCom group robot, a
DingTalk custom robot (recomputes 加签) and an SMS gateway (checks the bearer key).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fixtures import closed_port, http_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alerting.notify import (
    AlertMessage,
    Attempt,
    Delivery,
    DingTalkRobotNotifier,
    NotifyConfigError,
    SmsGatewayNotifier,
    WebhookNotifier,
    WeComRobotNotifier,
    deliver,
    render,
    sign_webhook,
    verify_signature,
)

HOOK_SECRET = b"0123456789abcdef-hook-secret"
WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DING_TOKEN = "a1b2c3d4e5"
DING_SECRET = "SECb9f1c0e2d3a4b5c6d7e8f90123456789abcdef0123456789abcdef012345"
SMS_KEY = "sms-api-key-4711"

FIRED = datetime(2026, 11, 27, 6, 3, tzinfo=UTC)
MESSAGE = AlertMessage(
    alert_id="al-0192",
    kind="firing",
    level="II",
    rule_title="集中裁员（单月）",
    region_code="371300",
    region_name="临沂市",
    indicator="people_laid_off",
    indicator_label="裁员人数",
    value=2310.0,
    threshold=1000.0,
    fired_at=FIRED,
    link="https://eams.hrss.example/alerts/al-0192",
    report_due=FIRED + timedelta(hours=2),
    values={"失业保险申领": 845.0},
)


# --- the fake third parties: a real HTTP server speaking their protocols --------------------


@dataclass
class Endpoints:
    """What the server received, per endpoint, and per-case counters for the SMS gateway."""

    received: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    sms_calls: Counter[str] = field(default_factory=Counter)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        timestamp = request.headers.get("x-eams-timestamp", "")
        signature = request.headers.get("x-eams-signature", "")
        if not verify_signature(HOOK_SECRET, timestamp, body, signature):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            return JSONResponse({"error": "expected JSON"}, status_code=415)
        self.received["hook"].append(await request.json())
        status = int(request.query_params.get("status", "200"))
        return JSONResponse({"status": "noted"}, status_code=status)

    async def wecom(self, request: Request) -> Response:
        mode = request.query_params.get("mode", "ok")
        if mode == "down":
            return Response("<html>502 Bad Gateway</html>", status_code=502)
        if request.query_params.get("key") != WECOM_KEY:
            return JSONResponse({"errcode": 93000, "errmsg": "invalid webhook url, hint: [x]"})
        payload = await request.json()
        msgtype = payload.get("msgtype")
        if msgtype == "markdown":
            content = payload.get("markdown", {}).get("content")
            if not isinstance(content, str) or len(content.encode()) > 4096:
                return JSONResponse({"errcode": 40058, "errmsg": "markdown.content exceed max"})
        elif msgtype != "text" or not isinstance(payload.get("text", {}).get("content"), str):
            return JSONResponse({"errcode": 40008, "errmsg": "invalid message type"})
        if mode == "ratelimit" or (mode == "markdown-only" and msgtype == "text"):
            return JSONResponse({"errcode": 45009, "errmsg": "api freq out of limit"})
        self.received["wecom"].append(payload)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def dingtalk(self, request: Request) -> Response:
        params = request.query_params
        if params.get("access_token") != DING_TOKEN:
            return JSONResponse({"errcode": 300001, "errmsg": "token is not exist"})
        timestamp, sign = params.get("timestamp"), params.get("sign")
        if timestamp is None or sign is None:
            return JSONResponse({"errcode": 310000, "errmsg": "sign not match"})
        if abs(time.time() * 1000 - int(timestamp)) > 3600 * 1000:
            return JSONResponse({"errcode": 310000, "errmsg": "timestamp expired"})
        digest = hmac.new(
            DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(), hashlib.sha256
        ).digest()
        # starlette has already URL-decoded the query value
        if not hmac.compare_digest(base64.b64encode(digest).decode(), sign):
            return JSONResponse({"errcode": 310000, "errmsg": "sign not match"})
        payload = await request.json()
        markdown = payload.get("markdown", {})
        if payload.get("msgtype") != "markdown" or not markdown.get("title"):
            return JSONResponse({"errcode": 40035, "errmsg": "missing parameter"})
        if params.get("mode") == "busy":
            return JSONResponse({"errcode": 130101, "errmsg": "send too fast"})
        self.received["dingtalk"].append(payload)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def sms(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {SMS_KEY}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        payload = await request.json()
        to, text = payload.get("to"), payload.get("text")
        if not isinstance(to, str) or not isinstance(text, str) or len(text) > 300:
            return JSONResponse({"error": "bad request"}, status_code=400)
        case = request.query_params.get("case", "default")
        self.sms_calls[case] += 1
        if self.sms_calls[case] <= int(request.query_params.get("fail_first", "0")):
            return JSONResponse({"error": "upstream busy"}, status_code=503)
        status = int(request.query_params.get("status", "200"))
        if status == 200:
            self.received["sms"].append(payload)
        return JSONResponse({"id": f"m{self.sms_calls[case]}"}, status_code=status)

    async def slow(self, request: Request) -> Response:
        await asyncio.sleep(1.5)
        return JSONResponse({"errcode": 0})


@dataclass
class Server:
    base: str
    endpoints: Endpoints


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    endpoints = Endpoints()
    app = Starlette(
        routes=[
            Route("/hook", endpoints.hook, methods=["POST"]),
            Route("/cgi-bin/webhook/send", endpoints.wecom, methods=["POST"]),
            Route("/robot/send", endpoints.dingtalk, methods=["POST"]),
            Route("/sms", endpoints.sms, methods=["POST"]),
            Route("/slow", endpoints.slow, methods=["POST"]),
        ]
    )
    with http_server(app) as port:
        yield Server(f"http://127.0.0.1:{port}", endpoints)


def outcome(delivery: Delivery) -> tuple[bool, bool]:
    return delivery.ok, delivery.recoverable


# --- signed webhook ----------------------------------------------------------------------


async def test_webhook_delivers_signed_json(server: Server) -> None:
    notifier = WebhookNotifier(f"{server.base}/hook", HOOK_SECRET)
    delivery = await notifier.send(MESSAGE, "province-ops")
    assert delivery == Delivery.success()
    got = server.endpoints.received["hook"][-1]
    subject, text = render(MESSAGE)
    assert got == {
        "alert_id": "al-0192",
        "kind": "firing",
        "level": "II",
        "region_code": "371300",
        "region_name": "临沂市",
        "rule_title": "集中裁员（单月）",
        "indicator": "people_laid_off",
        "value": 2310.0,
        "threshold": 1000.0,
        "fired_at": "2026-11-27T06:03:00+00:00",
        "link": "https://eams.hrss.example/alerts/al-0192",
        "subject": subject,
        "text": text,
        "group": [],
    }


async def test_webhook_wrong_secret_is_rejected_for_good(server: Server) -> None:
    notifier = WebhookNotifier(f"{server.base}/hook", b"another-secret-of-16+bytes")
    delivery = await notifier.send(MESSAGE, "province-ops")
    assert outcome(delivery) == (False, False)
    assert delivery.error is not None and delivery.error.startswith("HTTP 401")


@pytest.mark.parametrize(("status", "recoverable"), [(503, True), (429, True), (422, False)])
async def test_webhook_status_decides_recoverable(
    server: Server, status: int, recoverable: bool
) -> None:
    notifier = WebhookNotifier(f"{server.base}/hook?status={status}", HOOK_SECRET)
    delivery = await notifier.send(MESSAGE, "province-ops")
    assert outcome(delivery) == (False, recoverable)
    assert delivery.error is not None and delivery.error.startswith(f"HTTP {status}")


async def test_webhook_timeout_is_recoverable(server: Server) -> None:
    notifier = WebhookNotifier(f"{server.base}/slow", HOOK_SECRET, timeout=0.2)
    started = time.monotonic()
    delivery = await notifier.send(MESSAGE, "province-ops")
    assert outcome(delivery) == (False, True)
    assert delivery.error is not None and "timed out" in delivery.error
    assert time.monotonic() - started < 1.4


async def test_webhook_closed_port_is_recoverable() -> None:
    with closed_port() as port:
        notifier = WebhookNotifier(f"http://127.0.0.1:{port}/hook", HOOK_SECRET)
        assert outcome(await notifier.send(MESSAGE, "province-ops")) == (False, True)


def test_verify_signature() -> None:
    body = b'{"alert_id":"al-1"}'
    now = 1_800_000_000
    header = sign_webhook(HOOK_SECRET, now, body)
    expected = hmac.new(HOOK_SECRET, f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    assert header == f"sha256={expected}"
    assert verify_signature(HOOK_SECRET, str(now), body, header, now=now + 10)
    assert not verify_signature(HOOK_SECRET, now, body + b" ", header, now=now)
    assert not verify_signature(b"x" * 16, now, body, header, now=now)
    assert not verify_signature(HOOK_SECRET, now + 1, body, header, now=now)
    assert not verify_signature(HOOK_SECRET, now, body, header, now=now + 301)  # replayed
    assert verify_signature(HOOK_SECRET, now, body, header, tolerance=None, now=now + 9999)
    assert not verify_signature(HOOK_SECRET, "soon", body, header)
    assert not verify_signature(HOOK_SECRET, now, body, "sha256=", now=now)
    assert not verify_signature(HOOK_SECRET, now, body, "sha256=签名", now=now)


def test_webhook_configuration_is_checked() -> None:
    with pytest.raises(NotifyConfigError):
        WebhookNotifier("ftp://127.0.0.1/hook", HOOK_SECRET)
    with pytest.raises(NotifyConfigError):
        WebhookNotifier("http://127.0.0.1/hook", b"short")


# --- WeCom group robot -----------------------------------------------------------------------


def wecom_url(server: Server, mode: str = "ok", key: str = WECOM_KEY) -> str:
    return f"{server.base}/cgi-bin/webhook/send?key={key}&mode={mode}"


async def test_wecom_delivers_markdown(server: Server) -> None:
    delivery = await WeComRobotNotifier(wecom_url(server)).send(MESSAGE, "临沂值班群")
    assert delivery == Delivery.success()
    got = server.endpoints.received["wecom"][-1]
    assert got["msgtype"] == "markdown"
    content = got["markdown"]["content"]
    assert content.startswith("### 【橙色预警 II级】临沂市 裁员人数 2,310（阈值 1,000）")
    assert "[查看预警](https://eams.hrss.example/alerts/al-0192)" in content


async def test_wecom_rate_limit_is_recoverable(server: Server) -> None:
    delivery = await WeComRobotNotifier(wecom_url(server, "ratelimit")).send(MESSAGE, "群")
    assert outcome(delivery) == (False, True)
    assert delivery.error is not None and "45009" in delivery.error


async def test_wecom_invalid_key_is_not_recoverable(server: Server) -> None:
    notifier = WeComRobotNotifier(wecom_url(server, key="revoked-key-000"))
    delivery = await notifier.send(MESSAGE, "群")
    assert outcome(delivery) == (False, False)
    assert delivery.error is not None and "93000" in delivery.error
    assert "revoked-key-000" not in delivery.error


async def test_wecom_http_5xx_and_network_are_recoverable(server: Server) -> None:
    down = await WeComRobotNotifier(wecom_url(server, "down")).send(MESSAGE, "群")
    assert outcome(down) == (False, True)
    assert down.error is not None and down.error.startswith("HTTP 502")
    with closed_port() as port:
        closed = f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key={WECOM_KEY}"
        unreachable = await WeComRobotNotifier(closed).send(MESSAGE, "群")
    assert outcome(unreachable) == (False, True)
    assert unreachable.error is not None and WECOM_KEY not in unreachable.error


async def test_wecom_mentions_follow_as_text(server: Server) -> None:
    notifier = WeComRobotNotifier(wecom_url(server), mentioned_mobiles=["13800000000"])
    before = len(server.endpoints.received["wecom"])
    assert await notifier.send(MESSAGE, "群") == Delivery.success()
    markdown, mention = server.endpoints.received["wecom"][before:]
    assert markdown["msgtype"] == "markdown"
    assert mention["msgtype"] == "text"
    assert mention["text"]["mentioned_mobile_list"] == ["13800000000"]
    assert "临沂市" in mention["text"]["content"]


async def test_wecom_failed_mention_still_counts_as_delivered(server: Server) -> None:
    notifier = WeComRobotNotifier(
        wecom_url(server, "markdown-only"), mentioned_mobiles=["13800000000", "@all"]
    )
    delivery = await notifier.send(MESSAGE, "群")
    assert delivery.ok
    assert delivery.error is not None and delivery.error.startswith("mention not sent")
    assert "45009" in delivery.error
    assert server.endpoints.received["wecom"][-1]["msgtype"] == "markdown"


async def test_wecom_long_markdown_is_cut_to_4096_bytes(server: Server) -> None:
    long = AlertMessage(
        **{**MESSAGE.__dict__, "values": {f"指标{i:03d}": float(i) for i in range(400)}}
    )
    assert await WeComRobotNotifier(wecom_url(server)).send(long, "群") == Delivery.success()
    content = server.endpoints.received["wecom"][-1]["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert content.endswith("…")


def test_wecom_configuration_is_checked(server: Server) -> None:
    with pytest.raises(NotifyConfigError):
        WeComRobotNotifier(f"{server.base}/cgi-bin/webhook/send")  # no key
    with pytest.raises(NotifyConfigError):
        WeComRobotNotifier(wecom_url(server), mentioned_mobiles=["12345"])


# --- DingTalk custom robot ---------------------------------------------------------------


def ding_url(server: Server, mode: str = "ok") -> str:
    return f"{server.base}/robot/send?access_token={DING_TOKEN}&mode={mode}"


async def test_dingtalk_signed_markdown_is_accepted(server: Server) -> None:
    notifier = DingTalkRobotNotifier(ding_url(server), secret=DING_SECRET)
    assert await notifier.send(MESSAGE, "应急处置组") == Delivery.success()
    got = server.endpoints.received["dingtalk"][-1]
    assert got["markdown"]["title"] == render(MESSAGE)[0]
    assert "**级别：II级 橙色预警**" in got["markdown"]["text"]


def ding_sign(timestamp_ms: int) -> str:
    digest = hmac.new(
        DING_SECRET.encode(), f"{timestamp_ms}\n{DING_SECRET}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


async def test_dingtalk_sign_with_plus_and_slash_is_url_encoded(server: Server) -> None:
    # a '+' left unencoded would reach DingTalk as a space and fail the signature check
    ts = int(time.time() * 1000)
    while not {"+", "/"} <= set(ding_sign(ts)):
        ts += 1
    notifier = DingTalkRobotNotifier(
        ding_url(server), secret=DING_SECRET, clock=lambda: (ts + 0.5) / 1000
    )
    url = str(notifier.signed_url())
    assert f"&timestamp={ts}&sign=" in url
    assert "%2B" in url and "+" not in url.split("sign=")[1]
    assert await notifier.send(MESSAGE, "应急处置组") == Delivery.success()


async def test_dingtalk_wrong_or_missing_sign_is_not_recoverable(server: Server) -> None:
    for notifier in (
        DingTalkRobotNotifier(ding_url(server), secret="SECwrong"),
        DingTalkRobotNotifier(ding_url(server)),
        # DingTalk refuses a timestamp more than an hour off its clock
        DingTalkRobotNotifier(
            ding_url(server), secret=DING_SECRET, clock=lambda: time.time() - 7200
        ),
    ):
        delivery = await notifier.send(MESSAGE, "应急处置组")
        assert outcome(delivery) == (False, False)
        assert delivery.error is not None and "310000" in delivery.error


async def test_dingtalk_too_frequent_is_recoverable(server: Server) -> None:
    notifier = DingTalkRobotNotifier(ding_url(server, "busy"), secret=DING_SECRET)
    delivery = await notifier.send(MESSAGE, "应急处置组")
    assert outcome(delivery) == (False, True)
    assert delivery.error is not None and "130101" in delivery.error


async def test_dingtalk_unreachable_is_recoverable() -> None:
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}/robot/send?access_token={DING_TOKEN}"
        delivery = await DingTalkRobotNotifier(url, secret=DING_SECRET).send(MESSAGE, "群")
    assert outcome(delivery) == (False, True)


# --- SMS gateway -------------------------------------------------------------------------


def sms_url(server: Server, case: str, **params: object) -> str:
    query = "".join(f"&{k}={v}" for k, v in params.items())
    return f"{server.base}/sms?case={case}{query}"


async def test_sms_sends_short_text(server: Server) -> None:
    notifier = SmsGatewayNotifier(sms_url(server, "plain"), api_key=SMS_KEY)
    assert await notifier.send(MESSAGE, "138 0000-0000") == Delivery.success()
    got = server.endpoints.received["sms"][-1]
    assert got["to"] == "13800000000"
    assert got["text"].startswith("【橙色预警 II级】临沂市 裁员人数 2,310（阈值 1,000）")
    assert "须于 2026-11-27 16:03 前报告" in got["text"]
    assert len(got["text"]) <= 300


async def test_sms_wrong_key_is_not_recoverable(server: Server) -> None:
    notifier = SmsGatewayNotifier(sms_url(server, "key"), api_key="stolen")
    delivery = await notifier.send(MESSAGE, "13800000000")
    assert outcome(delivery) == (False, False)
    assert delivery.error is not None and delivery.error.startswith("HTTP 401")
    assert "13800000000" not in delivery.error


async def test_sms_503_then_200(server: Server) -> None:
    notifier = SmsGatewayNotifier(sms_url(server, "flaky", fail_first=1), api_key=SMS_KEY)
    assert outcome(await notifier.send(MESSAGE, "13800000000")) == (False, True)
    assert await notifier.send(MESSAGE, "13800000000") == Delivery.success()
    assert server.endpoints.sms_calls["flaky"] == 2


async def test_sms_client_error_is_not_recoverable(server: Server) -> None:
    notifier = SmsGatewayNotifier(sms_url(server, "4xx", status=400), api_key=SMS_KEY)
    assert outcome(await notifier.send(MESSAGE, "13800000000")) == (False, False)


async def test_sms_bad_number_is_refused_without_a_request(server: Server) -> None:
    notifier = SmsGatewayNotifier(sms_url(server, "badnumber"), api_key=SMS_KEY)
    assert outcome(await notifier.send(MESSAGE, "duty officer")) == (False, False)
    assert server.endpoints.sms_calls["badnumber"] == 0


# --- retry stage -------------------------------------------------------------------------


class Clock:
    """A fake clock: ``sleep`` records the delay, advances ``now`` and returns at once."""

    def __init__(self) -> None:
        self.t = datetime(2026, 11, 27, 6, 3, tzinfo=UTC)
        self.delays: list[float] = []

    def now(self) -> datetime:
        return self.t

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        self.t += timedelta(seconds=delay)


async def test_deliver_retries_503_503_200(server: Server) -> None:
    clock, seen = Clock(), list[Attempt]()
    notifier = SmsGatewayNotifier(sms_url(server, "retry", fail_first=2), api_key=SMS_KEY)
    t0 = clock.now()

    delivery = await deliver(
        notifier,
        MESSAGE,
        "13800000000",
        on_attempt=seen.append,
        sleep=clock.sleep,
        now=clock.now,
        jitter=lambda: 1.0,
    )

    assert delivery == Delivery.success()
    assert server.endpoints.sms_calls["retry"] == 3
    assert clock.delays == [1.0, 2.0]
    assert [a.number for a in seen] == [1, 2, 3]
    assert [outcome(a.delivery) for a in seen] == [(False, True), (False, True), (True, False)]
    assert [a.at for a in seen] == [t0, t0 + timedelta(seconds=1), t0 + timedelta(seconds=3)]
    assert [a.next_at for a in seen] == [
        t0 + timedelta(seconds=1),
        t0 + timedelta(seconds=3),
        None,
    ]


async def test_deliver_stops_at_a_permanent_failure(server: Server) -> None:
    clock, seen = Clock(), list[Attempt]()
    notifier = SmsGatewayNotifier(sms_url(server, "perm"), api_key="stolen")
    delivery = await deliver(
        notifier, MESSAGE, "13800000000", on_attempt=seen.append, sleep=clock.sleep, now=clock.now
    )
    assert outcome(delivery) == (False, False)
    assert len(seen) == 1 and seen[0].next_at is None
    assert clock.delays == []


async def test_deliver_caps_delay_and_gives_up(server: Server) -> None:
    clock, seen = Clock(), list[Attempt]()

    async def record(attempt: Attempt) -> None:
        await asyncio.sleep(0)
        seen.append(attempt)

    notifier = SmsGatewayNotifier(sms_url(server, "down", fail_first=99), api_key=SMS_KEY)
    delivery = await deliver(
        notifier,
        MESSAGE,
        "13800000000",
        attempts=4,
        base_delay=10.0,
        max_delay=25.0,
        on_attempt=record,
        sleep=clock.sleep,
        now=clock.now,
        jitter=lambda: 0.0,
    )
    assert outcome(delivery) == (False, True)
    assert server.endpoints.sms_calls["down"] == 4
    assert clock.delays == [5.0, 10.0, 12.5]  # 10, 20, min(25, 40) halved by jitter 0
    assert [a.number for a in seen] == [1, 2, 3, 4]
    assert seen[-1].next_at is None


async def test_deliver_checks_its_arguments(server: Server) -> None:
    notifier = SmsGatewayNotifier(sms_url(server, "args"), api_key=SMS_KEY)
    with pytest.raises(NotifyConfigError):
        await deliver(notifier, MESSAGE, "13800000000", attempts=0)
    with pytest.raises(NotifyConfigError):
        await deliver(notifier, MESSAGE, "13800000000", base_delay=5, max_delay=1)
    assert server.endpoints.sms_calls["args"] == 0
