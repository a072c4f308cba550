"""E-mail through an SMTP relay (aiosmtplib).

One message per recipient, UTF-8 subject (RFC 2047) and body. SMTP replies decide
recoverability as the protocol intends: 4xx is transient, 5xx is permanent (550 mailbox
unavailable, 535 authentication failed); a refused connection, a dropped connection or a
timeout is transient.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Final

import aiosmtplib

from alerting.notify.base import Delivery
from alerting.notify.errors import NotifyConfigError
from alerting.notify.message import AlertMessage, render

__all__ = ["SmtpNotifier"]


def _from_code(code: int, text: str) -> Delivery:
    """4xx → retry, anything else (5xx, or no code) → permanent."""
    error = f"SMTP {code} {text}".strip()
    return Delivery.retry(error) if 400 <= code < 500 else Delivery.fail(error)


def _is_address(value: str) -> bool:
    _, address = parseaddr(value)
    return (
        bool(address)
        and address == value.strip()
        and address.count("@") == 1
        and all(address.split("@"))
        and not any(c in address for c in "\r\n ")
    )


class SmtpNotifier:
    """Sends alerts as e-mail through one SMTP relay; the recipient is an e-mail address.

    ``starttls`` upgrades a plain connection (port 587); ``use_tls`` connects with
    implicit TLS (port 465); neither (the default) speaks plain SMTP, as to a relay on a
    trusted network. ``username``/``password`` log in with AUTH; give both or neither.
    """

    channel: str = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_tls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        if not host or any(c.isspace() for c in host):
            raise NotifyConfigError("host", "must be a host name or IP address of the relay")
        if not 0 < port < 65536:
            raise NotifyConfigError("port", f"{port} is not a TCP port (1..65535)")
        if not _is_address(sender):
            raise NotifyConfigError(
                "sender", "must be a bare e-mail address such as eams@hrss.example"
            )
        if (username is None) != (password is None):
            raise NotifyConfigError("username/password", "give both for SMTP AUTH, or neither")
        if starttls and use_tls:
            raise NotifyConfigError(
                "starttls/use_tls", "choose one: STARTTLS (port 587) or implicit TLS (port 465)"
            )
        if not timeout > 0:
            raise NotifyConfigError("timeout", "must be a positive number of seconds")
        self.host: Final = host
        self.port: Final = port
        self.sender: Final = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._use_tls = use_tls
        self._timeout = timeout

    def compose(self, message: AlertMessage, recipient: str) -> EmailMessage:
        """The e-mail for ``message``: UTF-8 subject and plain-text body from ``render``."""
        subject, body = render(message)
        mail = EmailMessage()
        # Header values must be one line; the message fields are ours, but be safe.
        mail["Subject"] = " ".join(subject.split())
        mail["From"] = self.sender
        mail["To"] = recipient
        mail["Date"] = format_datetime(message.fired_at)
        mail["Message-ID"] = make_msgid(domain=self.sender.split("@", 1)[1])
        mail["X-EAMS-Alert-Id"] = message.alert_id
        mail["X-EAMS-Alert-Kind"] = message.kind
        mail.set_content(body, charset="utf-8")
        return mail

    async def send(self, message: AlertMessage, recipient: str) -> Delivery:
        """Deliver one e-mail to ``recipient``; never raises for delivery problems."""
        if not _is_address(recipient):
            return Delivery.fail("recipient is not a bare e-mail address")
        mail = self.compose(message, recipient)
        try:
            await aiosmtplib.send(
                mail,
                sender=self.sender,
                recipients=[recipient],
                hostname=self.host,
                port=self.port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                use_tls=self._use_tls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # One recipient per message, so one refusal; 4xx (e.g. 452) is transient.
            if not exc.recipients:
                return Delivery.fail("SMTP recipient refused")
            refusal = exc.recipients[0]
            return _from_code(refusal.code, refusal.message)
        except aiosmtplib.SMTPResponseException as exc:
            # 535 auth, 550/553/554 refusals, 421/450/451/452 transient, greeting errors
            return _from_code(exc.code, exc.message)
        except aiosmtplib.SMTPTimeoutError:
            return Delivery.retry(f"SMTP timed out after {self._timeout:g} s")
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
            return Delivery.retry(f"SMTP connection failed: {exc}")
        except aiosmtplib.SMTPException as exc:
            # e.g. STARTTLS or AUTH not offered by the relay: a configuration mismatch
            return Delivery.fail(f"SMTP {type(exc).__name__}: {exc}")
        except ssl.SSLCertVerificationError as exc:
            return Delivery.fail(f"SMTP TLS certificate rejected: {exc.verify_message}")
        except (OSError, TimeoutError) as exc:
            return Delivery.retry(f"SMTP {type(exc).__name__}: {exc}")
        return Delivery.success()
