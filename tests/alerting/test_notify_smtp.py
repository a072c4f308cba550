"""SmtpNotifier against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, Session
from fixtures import SmtpController, closed_port

from alerting.notify import AlertMessage, NotifyConfigError, SmtpNotifier

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
)


class Mailbox:
    """aiosmtpd handler: accepts mail for anyone except the refused addresses."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 <gone@hrss.example>: mailbox unavailable"
        if address.startswith("full@"):
            return "452 4.2.2 mailbox full, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def refuse_everyone(server: SMTPServer, session: Session, envelope: Envelope, *a: Any) -> Any:
    """Authenticator that rejects every login (the server answers 535)."""
    return AuthResult(success=False, handled=False)


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    controller = SmtpController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def auth_server() -> Iterator[int]:
    controller = SmtpController(
        Mailbox(),
        hostname="127.0.0.1",
        port=0,
        authenticator=refuse_everyone,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts TCP connections and never says a word (no SMTP greeting)."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


async def test_delivers_utf8_mail(mailbox: tuple[Mailbox, int]) -> None:
    handler, port = mailbox
    before = len(handler.envelopes)
    notifier = SmtpNotifier("127.0.0.1", port, "eams@hrss.example")

    delivery = await notifier.send(MESSAGE, "duty@linyi.example")

    assert delivery.ok, delivery.error
    assert delivery.error is None
    assert len(handler.envelopes) == before + 1
    envelope = handler.envelopes[-1]
    assert envelope.mail_from == "eams@hrss.example"
    assert envelope.rcpt_tos == ["duty@linyi.example"]
    assert isinstance(envelope.content, bytes)
    mail = message_from_bytes(envelope.content, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    assert mail["Subject"] == "【橙色预警 II级】临沂市 裁员人数 2,310（阈值 1,000）"
    assert mail["To"] == "duty@linyi.example"
    assert mail["X-EAMS-Alert-Id"] == "al-0192"
    part = mail.get_body(("plain",))
    assert part is not None
    assert part.get_content_charset() == "utf-8"
    body = part.get_content()
    assert "触发时间：2026-11-27 14:03（北京时间）" in body
    assert "须于 2026-11-27 16:03 前报告" in body
    assert "https://eams.hrss.example/alerts/al-0192" in body


async def test_550_is_not_recoverable(mailbox: tuple[Mailbox, int]) -> None:
    _, port = mailbox
    delivery = await SmtpNotifier("127.0.0.1", port, "eams@hrss.example").send(
        MESSAGE, "gone@hrss.example"
    )
    assert not delivery.ok
    assert not delivery.recoverable
    assert delivery.error is not None and delivery.error.startswith("SMTP 550")


async def test_4xx_is_recoverable(mailbox: tuple[Mailbox, int]) -> None:
    _, port = mailbox
    delivery = await SmtpNotifier("127.0.0.1", port, "eams@hrss.example").send(
        MESSAGE, "full@hrss.example"
    )
    assert (delivery.ok, delivery.recoverable) == (False, True)
    assert delivery.error is not None and delivery.error.startswith("SMTP 452")


async def test_failed_login_is_not_recoverable(auth_server: int) -> None:
    notifier = SmtpNotifier(
        "127.0.0.1", auth_server, "eams@hrss.example", username="eams", password="wrong-pw"
    )
    delivery = await notifier.send(MESSAGE, "duty@linyi.example")
    assert (delivery.ok, delivery.recoverable) == (False, False)
    assert delivery.error is not None and delivery.error.startswith("SMTP 535")
    assert "wrong-pw" not in delivery.error


async def test_closed_port_is_recoverable() -> None:
    with closed_port() as port:
        delivery = await SmtpNotifier("127.0.0.1", port, "eams@hrss.example").send(
            MESSAGE, "duty@linyi.example"
        )
    assert (delivery.ok, delivery.recoverable) == (False, True)
    assert delivery.error


async def test_silent_server_times_out_recoverably(silent_server: int) -> None:
    notifier = SmtpNotifier("127.0.0.1", silent_server, "eams@hrss.example", timeout=0.3)
    delivery = await asyncio.wait_for(notifier.send(MESSAGE, "duty@linyi.example"), 5)
    assert (delivery.ok, delivery.recoverable) == (False, True)


async def test_bad_recipient_is_refused_without_connecting() -> None:
    # nothing listens on this port: a connection attempt would be recoverable instead
    with closed_port() as port:
        notifier = SmtpNotifier("127.0.0.1", port, "eams@hrss.example")
        delivery = await notifier.send(MESSAGE, "duty@linyi.example\r\nBcc: x@evil.example")
    assert (delivery.ok, delivery.recoverable) == (False, False)


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"port": 0}, "port"),
        ({"sender": "not-an-address"}, "sender"),
        ({"username": "eams"}, "username/password"),
        ({"starttls": True, "use_tls": True}, "starttls/use_tls"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_configuration_raises(kwargs: dict[str, Any], setting: str) -> None:
    args: dict[str, Any] = {"host": "127.0.0.1", "port": 25, "sender": "eams@hrss.example"}
    args.update(kwargs)
    with pytest.raises(NotifyConfigError) as info:
        SmtpNotifier(**args)
    assert info.value.setting == setting
