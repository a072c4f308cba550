"""Fixtures of the alerting tests: a real SMTP server and a robot endpoint on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import orjson
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from fixtures import free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class Mailbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str, str]] = []
        self.arrived: list[float] = []  # time.monotonic() of each message, in order

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = message_from_bytes(envelope.content)
        subject = str(make_header(decode_header(msg["Subject"])))
        body = msg.get_payload(decode=True)
        text = body.decode("utf-8") if isinstance(body, bytes) else str(msg.get_payload())
        self.messages.append((list(envelope.rcpt_tos), subject, text))
        self.arrived.append(time.monotonic())
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on loopback."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def robot() -> Iterator[tuple[list[dict[str, Any]], int]]:
    """A WeCom group-robot endpoint on loopback (answers like the real one)."""
    received: list[dict[str, Any]] = []

    async def send(request: Request) -> JSONResponse:
        body = orjson.loads(await request.body())
        if body.get("msgtype") != "markdown":
            return JSONResponse({"errcode": 40008, "errmsg": "invalid message type"})
        received.append(body)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    port = free_port()
    app = Starlette(routes=[Route("/cgi-bin/webhook/send", send, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield received, port
    server.should_exit = True
    thread.join(timeout=10)
