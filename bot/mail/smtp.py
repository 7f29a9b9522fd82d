"""Sending one e-mail through the configured SMTP server (aiosmtplib)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from bot.errors import ConfigError, VipbotError
from bot.settings import Settings

TIMEOUT_S = 30


class MailError(VipbotError):
    """The SMTP server refused the message or could not be reached."""


def mail_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host and settings.smtp_from)


async def send_mail(settings: Settings, to: str, subject: str, body: str) -> None:
    if not mail_configured(settings):
        raise ConfigError("VIPBOT_SMTP_HOST", "set VIPBOT_SMTP_HOST and VIPBOT_SMTP_FROM to send e-mail")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password,
            start_tls=settings.smtp_starttls,
            timeout=TIMEOUT_S,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(f"the SMTP server did not take the message ({type(exc).__name__})") from None
