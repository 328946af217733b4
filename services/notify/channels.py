"""The channels a message leaves by, each a real protocol: e-mail over SMTP, SMS through the
provider's HTTP API, signed webhooks. Each send either returns (delivered), raises Transient
(try again later) or Permanent (the far side refused for good). The staff inbox needs no
sending: it is notify's own table."""
import hashlib
import hmac
import smtplib
import socket
import time
from email.header import Header
from email.mime.text import MIMEText
from urllib.parse import urlsplit

import requests

from services.notify import subscriptions

TIMEOUT_SECONDS = 10


class Transient(Exception):
    """The far side is down, busy or said 'try again' (4xx SMTP, 5xx/429 HTTP)."""


class Permanent(Exception):
    """The far side refused the message for good (5xx SMTP, most 4xx HTTP, a redirect)."""


class Skipped(Exception):
    """There is nobody to send to (a petitioner without a phone): nothing failed."""


def send_email(settings, to_address, subject, text, message_id, password=None):
    """One message over SMTP; `message_id` becomes its Message-ID so a resend is recognisable."""
    # compat32 MIMEText, not EmailMessage: the same message on the wire, built in a fifth of the
    # time (the header registry was an eighth of notify's time under load)
    msg = MIMEText(text, "plain", "utf-8")
    msg["From"], msg["To"], msg["Subject"] = settings["sender"], to_address, Header(subject, "utf-8")
    # the same on every attempt (make_msgid would add the time and a random part to each)
    msg["Message-ID"] = f"<{message_id}@{settings['sender'].rpartition('@')[2] or 'fengqiao.invalid'}>"
    try:
        with smtplib.SMTP(settings["host"], int(settings["port"]), timeout=TIMEOUT_SECONDS) as smtp:
            if settings.get("starttls"):
                smtp.starttls()
            if password:
                smtp.login(settings["sender"], password)
            smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise (Permanent if all(c >= 500 for c in codes) else Transient)(f"SMTP refused the recipient: {codes}")
    except smtplib.SMTPResponseException as exc:
        kind = Permanent if exc.smtp_code >= 500 else Transient
        raise kind(f"SMTP {exc.smtp_code}: {exc.smtp_error.decode(errors='replace')[:200]}")
    except (smtplib.SMTPException, OSError) as exc:
        raise Transient(f"SMTP: {type(exc).__name__}: {exc}"[:300])


def send_sms(settings, key, phone, text, message_id):
    """POST {to, text, id} to the provider with its key; `id` lets the provider drop a resend."""
    _post(settings["url"], json={"to": phone, "text": text, "id": str(message_id)},
          headers={"Authorization": f"Bearer {key}"}, what="SMS provider", echo=False)


def signature(secret, timestamp, body):
    """HMAC-SHA256 over "<timestamp>.<body>": the receiver recomputes it with the shared secret
    and refuses a stale timestamp, so a captured delivery cannot be replayed later."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def addresses_of(url):
    """The IP addresses a URL's host resolves to now; OSError when it does not resolve."""
    parts = urlsplit(url)
    return {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)}


def check_public(url):
    """Permanent when the URL's host resolves into an internal network (subscriptions.internal),
    Transient when it does not resolve now."""
    try:
        addresses = addresses_of(url)
    except OSError as exc:
        raise Transient(f"webhook: the host does not resolve ({type(exc).__name__})")
    if subscriptions.internal(addresses):
        raise Permanent("webhook: the host resolves to an internal network address")


def send_webhook(url, secret, body, delivery_id):
    """POST the event, signed; X-Fengqiao-Delivery lets the receiver drop a resend."""
    timestamp = str(int(time.time()))
    _post(url, data=body, what="webhook", echo=False, headers={  # echo: an internal page's words stay out
        "Content-Type": "application/json", "X-Fengqiao-Delivery": str(delivery_id),
        "X-Fengqiao-Timestamp": timestamp, "X-Fengqiao-Signature": signature(secret, timestamp, body)})


def _post(url, what, echo=True, **kwargs):
    """POST; a refusal's body is kept only when `echo` (an SMS provider's may repeat the number)."""
    try:
        response = requests.post(url, timeout=TIMEOUT_SECONDS, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        raise Transient(f"{what}: {type(exc).__name__}")
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise Transient(f"{what} answered {response.status_code}")
    if response.status_code >= 300:
        said = f": {response.text[:200]}" if echo else ""
        raise Permanent(f"{what} answered {response.status_code}{said}")
