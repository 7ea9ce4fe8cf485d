"""Alert channels: where a notification is sent outside the app — a webhook or an e-mail address list.

Two kinds, each with its settings checked here (``check``) and one way to send (``send``):

* **webhook** — an HTTP POST of JSON. ``format`` ``slack`` posts ``{"text": …, "blocks": […]}``:
  Slack's incoming webhooks read both (``text`` is the notification's fallback), and the classic
  Microsoft Teams (Office 365 connector) incoming webhooks, Mattermost and Rocket.Chat read
  ``text``. ``format`` ``teams`` posts what Teams *Workflows* ("Post to a channel when a webhook
  request is received", the connectors' replacement) expects: ``{"type": "message",
  "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": <Adaptive
  Card>}]}``, with ``text`` beside it. ``text`` is markup to every one of them, so its untrusted parts
  go through ``chat_text`` (Slack's ``&<>`` escapes, markup characters made inert); the blocks are
  ``plain_text``; the card's texts are made inert too. The URL is a secret (it carries the receiver's token): it
  is sealed at rest and never appears in a message, a log line or a widget. It must be ``https``;
  plain ``http`` is accepted only to a loopback address (a relay on the same machine, tests).
  Redirects are not followed (a 3xx is a failure: a moved webhook must be re-entered).
  An ``https`` webhook goes through the environment's proxy as urllib would send it
  (``HTTPS_PROXY``/``https_proxy``, ``NO_PROXY``): an HTTP CONNECT tunnel to the receiver's
  host:port, TLS and its certificate check end to end with the receiver (the proxy sees only the
  host and port), the proxy's ``user:password@`` as ``Proxy-Authorization: Basic``. Loopback
  ``http`` (a local relay) never goes through a proxy.
* **email** — SMTP through ``smtplib``: ``security`` ``starttls`` (upgrade on port 587),
  ``tls`` (implicit TLS, port 465) or ``none`` (a relay inside the network); an optional login
  (``username`` here, the password a secret); certificates are verified, against ``ca_file`` when
  a private mail server's CA is given. A plain-text body, with a simple HTML alternative built
  with escaping.

Every attempt is bounded: ``connect_timeout`` for each socket step and ``timeout`` for the whole
send (the send runs in a thread of its own; one that overruns is left behind and reported as
"did not answer in time"), so a receiver that never answers delays nothing else. A failure is
``DeliveryFailed`` with a reason in words, scrubbed of every secret (the URL, its path, the password).
"""
from __future__ import annotations

import base64
import html
import ipaddress
import json
import re
import smtplib
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from http import client as http_client
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from vision_widgets.core.bounded import BoundedCall
from vision_widgets.core.connectors.failures import first_line, scrub
from vision_widgets.core.errors import InvalidInput, VisionError

WEBHOOK, EMAIL = "webhook", "email"
KINDS: tuple[str, ...] = (WEBHOOK, EMAIL)
TITLES = {WEBHOOK: "Webhook (Slack, Teams)", EMAIL: "E-mail (SMTP)"}
#: The secret fields of each kind (sealed; never shown).
SECRET_FIELDS = {WEBHOOK: ("url",), EMAIL: ("password",)}
FORMATS = ("slack", "teams")
SECURITY = ("starttls", "tls", "none")
DEFAULT_PORT = {"starttls": 587, "tls": 465, "none": 25}
#: Longest a send may take, whatever a channel says (the periodic run must end).
MAX_TIMEOUT = 60.0
_ADDRESS = re.compile(r"^[^@\s<>,;\"']+@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*$")
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,253}$")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class DeliveryFailed(VisionError):
    """One attempt to send failed; the message says why, with no secret in it."""


@dataclass(frozen=True)
class Message:
    """What is sent about one notification: every kind renders it its own way."""

    title: str
    model: str          # "" for a platform notification
    kind: str           # drift, performance, stale, awaiting_metrics, health (or "test")
    lines: tuple[str, ...] = ()   # the cause and its numbers, one fact a line
    link: str = ""      # the app's address of the right page and model
    at: str = ""        # when the notification was raised, ISO 8601

    def text(self, escape: Callable[[str], str] = str) -> str:
        """The plain-text form (an e-mail's body); with ``escape`` = ``chat_text``, a webhook's ``text``.

        ``escape`` is applied to the untrusted parts (title, model, lines: they hold model, feature
        and check names); the link is the app's own address and goes as it is.
        """
        parts = [escape(self.title)]
        if self.model:
            parts.append(f"Model: {escape(self.model)}")
        parts.extend(escape(line) for line in self.lines)
        if self.link:
            parts.append(f"Open in Vision AI: {self.link}")
        return "\n".join(parts)


# -- untrusted text in chat markup -----------------------------------------------------------------------
# A webhook's ``text`` is read as markup: Slack's mrkdwn (``<!channel>`` pings everyone, ``<url|label>``
# is a link), classic Teams connectors and Mattermost as Markdown (``[label](url)`` is a link, ``@all``
# pings). A model named ``<!channel> Fraud`` or a feature ``[Reset](https://evil) @all`` must read as
# those characters, not act. Slack has no backslash escapes, so the markup characters are replaced by
# look-alikes that no renderer reads as markup, and a mention's ``@`` is followed by a zero-width space.
_LOOKALIKES = {"[": "\uff3b", "]": "\uff3d", "*": "\u2217", "~": "\u223c", "`": "\u02cb", "!": "\u01c3"}
_MARKUP = re.compile(r"[\[\]*~`!]|@(?=\w)|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def _neutral(text: str) -> str:
    """``text`` with the characters Markdown and mrkdwn read as markup made inert (see above)."""
    def swap(m: re.Match) -> str:
        ch = m.group(0)
        if ch == "@":
            return "@\u200b"
        if ch == "_":
            return "\uff3f"
        return _LOOKALIKES[ch]
    return _MARKUP.sub(swap, text)


def chat_text(text: str) -> str:
    """Untrusted ``text`` for a chat's markup text: ``&``, ``<``, ``>`` as Slack requires (``&amp;``,
    ``&lt;``, ``&gt;``; Markdown shows the same characters), then markup characters made inert.

    A ``_`` inside a word (``hour_of_day``) stays: neither mrkdwn nor Markdown reads it there.
    """
    return _neutral(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


# -- settings ------------------------------------------------------------------------------------------

def _number(config: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    raw = config.get(name, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} is a number of seconds ({low:g}–{high:g}); got {str(raw)[:20]!r}.",
                           field=name) from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} is {low:g}–{high:g} seconds; got {value:g}.", field=name)
    return value


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (127.0.0.0/8, ::1, localhost)."""
    host = (host or "").strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: str) -> str:
    """``url`` stripped, or ``InvalidInput`` (never repeating it: it is a secret)."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise InvalidInput("The webhook URL is not a valid address.", field="url") from None
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise InvalidInput("The webhook URL must be an https:// address (as the receiver gave it).", field="url")
    if parts.scheme == "http" and not is_loopback(host):
        raise InvalidInput("The webhook URL must use https:// (http is accepted only to this machine).",
                           field="url")
    return url


def _addresses(raw: Any) -> list[str]:
    items = raw if isinstance(raw, (list, tuple)) else re.split(r"[,;\s]+", str(raw or ""))
    found = [str(a).strip() for a in items if str(a).strip()]
    for address in found:
        if not _ADDRESS.match(address) or len(address) > 254:
            raise InvalidInput(f"{address[:80]!r} is not an e-mail address.", field="to")
    return found


def check(kind: str, config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
    """A channel's settings and secrets checked and normalised for ``kind``; ``InvalidInput`` naming the field."""
    if kind not in KINDS:
        raise InvalidInput(f"A channel is a webhook or email, not {str(kind)[:20]!r}.", field="kind")
    known = {WEBHOOK: {"format", "timeout", "connect_timeout"},
             EMAIL: {"host", "port", "security", "username", "sender", "to", "timeout", "connect_timeout",
                     "ca_file", "html"}}[kind]
    unknown = sorted(k for k in config if k not in known)
    if unknown:
        raise InvalidInput(f"A {kind} channel has no setting {unknown[0]!r}; its settings are: "
                           f"{', '.join(sorted(known))}.", field=unknown[0])
    unknown = sorted(k for k in secrets if k not in SECRET_FIELDS[kind])
    if unknown:
        raise InvalidInput(f"A {kind} channel has no secret {unknown[0]!r}.", field=unknown[0])
    out: dict[str, Any] = {
        "timeout": _number(config, "timeout", 10.0, 1.0, MAX_TIMEOUT),
        "connect_timeout": _number(config, "connect_timeout", 5.0, 0.5, MAX_TIMEOUT),
    }
    clean = {k: str(v) for k, v in secrets.items() if v not in (None, "")}
    if kind == WEBHOOK:
        fmt = str(config.get("format") or "slack").strip().lower()
        if fmt not in FORMATS:
            raise InvalidInput("format is slack (Slack, classic Teams connectors) or teams (Teams Workflows).",
                               field="format")
        out["format"] = fmt
        if "url" not in clean:
            raise InvalidInput("A webhook channel needs its URL.", field="url")
        clean["url"] = check_webhook_url(clean["url"])
        return out, clean
    host = str(config.get("host") or "").strip()
    if not host or not _HOST.match(host):
        raise InvalidInput("host is the mail server's name or address (e.g. smtp.example.com).", field="host")
    security = str(config.get("security") or "starttls").strip().lower()
    if security not in SECURITY:
        raise InvalidInput("security is starttls, tls (implicit TLS, port 465) or none.", field="security")
    raw_port = config.get("port")
    try:
        port = DEFAULT_PORT[security] if raw_port in (None, "") else int(str(raw_port).strip())
    except ValueError:
        raise InvalidInput(f"port is a TCP port (1–65535); got {str(raw_port)[:10]!r}.", field="port") from None
    if not 1 <= port <= 65535:
        raise InvalidInput(f"port is a TCP port (1–65535); got {port}.", field="port")
    sender = str(config.get("sender") or "").strip()
    if not _ADDRESS.match(sender):
        raise InvalidInput("sender is the address the alerts come from (e.g. vision@example.com).", field="sender")
    to = _addresses(config.get("to"))
    if not to:
        raise InvalidInput("to lists at least one address to send the alerts to.", field="to")
    username = str(config.get("username") or "").strip()
    if clean.get("password") and not username:
        raise InvalidInput("A password needs a username to log in with.", field="username")
    if username and not clean.get("password"):
        raise InvalidInput("A username needs its password to log in with.", field="password")
    if username and security == "none" and not is_loopback(host):
        raise InvalidInput("A login is sent only over TLS: choose starttls or tls (none is for a relay "
                           "without login).", field="security")
    out.update(host=host, port=port, security=security, sender=sender, to=to, username=username,
               ca_file=str(config.get("ca_file") or "").strip(), html=bool(config.get("html", True)))
    return out, clean


def summary(kind: str, config: Mapping[str, Any]) -> str:
    """Where a channel sends, in a few words and no secret (the table's "Sends to")."""
    if kind == WEBHOOK:
        return {"slack": "Slack-style webhook", "teams": "Teams Workflows webhook"}.get(config.get("format"), "webhook")
    to = config.get("to") or []
    more = f" +{len(to) - 1}" if len(to) > 1 else ""
    return f"{to[0] if to else '?'}{more} via {config.get('host', '?')}:{config.get('port', '?')}"


# -- sending -------------------------------------------------------------------------------------------

def _bounded(timeout: float, fn: Callable[[], None], what: str, secrets: list[str]) -> None:
    """``fn()`` in a thread, waited for at most ``timeout`` s; its failure as ``DeliveryFailed``."""
    call = BoundedCall(fn, "vision-alert-send")
    if not call.wait(timeout):
        raise DeliveryFailed(f"The {what} did not answer within {timeout:g} s.")
    exc = call.error
    if exc is not None:
        if isinstance(exc, DeliveryFailed):
            raise DeliveryFailed(scrub(str(exc), secrets))
        raise DeliveryFailed(_reason(exc, what, secrets))


def _reason(exc: BaseException, what: str, secrets: list[str]) -> str:
    """Why a send failed, in words: the kind of failure and the library's first line, scrubbed."""
    detail = scrub(first_line(str(exc)) or type(exc).__name__, secrets)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"The {what} did not answer in time ({detail})."
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        code = exc.smtp_code
        said = scrub(first_line(exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes)
                                else str(exc.smtp_error)), secrets)
        return f"The mail server refused the login ({code} {said}); check the username and password."
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"The mail server refused the recipients ({scrub(', '.join(exc.recipients), secrets)})."
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"The mail server does not offer what this channel needs ({detail}); check security and login."
    if isinstance(exc, smtplib.SMTPResponseException):
        said = scrub(first_line(exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes)
                                else str(exc.smtp_error)), secrets)
        return f"The mail server answered {exc.smtp_code} ({said})."
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"The {what}'s certificate is not trusted ({detail}); give the CA file of a private "
                "server's certificate (ca_file).")
    if isinstance(exc, ssl.SSLError):
        return f"TLS with the {what} failed ({detail}); check the port and security setting."
    if isinstance(exc, ConnectionRefusedError):
        return f"The {what} refused the connection; check the host, port and that it is up."
    if isinstance(exc, socket.gaierror):
        return f"The {what}'s host name cannot be found ({detail})."
    if isinstance(exc, OSError):
        return f"The {what} could not be reached ({detail})."
    return f"Sending to the {what} failed ({type(exc).__name__}: {detail})."


def _blocks(message: Message) -> list[dict]:
    """Slack Block Kit: a header, the facts, a button to the app. Slack escapes nothing in
    ``mrkdwn``, so the texts go as ``plain_text`` (a model named ``<!channel>`` pings nobody)."""
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}}]
    facts = ([f"Model: {message.model}"] if message.model else []) + list(message.lines)
    if facts:
        blocks.append({"type": "section", "text": {"type": "plain_text", "text": "\n".join(facts)[:2900]}})
    if message.link:
        blocks.append({"type": "actions", "elements": [{"type": "button", "text": {
            "type": "plain_text", "text": "Open in Vision AI"}, "url": message.link}]})
    return blocks


def _adaptive_card(message: Message) -> dict:
    """An Adaptive Card 1.4. Its TextBlock and FactSet texts render a Markdown subset (links,
    emphasis), so the untrusted texts go through ``_neutral`` (entities are not decoded there)."""
    body: list[dict] = [{"type": "TextBlock", "text": _neutral(message.title), "weight": "Bolder",
                         "size": "Medium", "wrap": True}]
    facts = ([{"title": "Model", "value": _neutral(message.model)}] if message.model else [])
    body.append({"type": "FactSet", "facts": facts + [
        {"title": _neutral(k.strip()), "value": _neutral(v.strip())} if sep else {"title": "", "value": _neutral(line)}
        for line in message.lines for k, sep, v in [line.partition(":")]]})
    card: dict = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                  "version": "1.4", "body": body}
    if message.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in Vision AI", "url": message.link}]
    return card


def webhook_payload(fmt: str, message: Message) -> dict:
    """The JSON body for ``fmt`` (see the module's docstring)."""
    if fmt == "teams":
        return {"type": "message", "text": message.text(chat_text), "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
            "content": _adaptive_card(message)}]}
    return {"text": message.text(chat_text), "blocks": _blocks(message)}


def _url_secrets(url: str) -> list[str]:
    """The URL and its parts that carry its token, to scrub from any text."""
    parts = urlsplit(url)
    found = [url, parts.path, parts.query]
    found.extend(p for p in parts.path.split("/") if len(p) >= 6)
    return [s for s in found if s]


@dataclass(frozen=True)
class Proxy:
    """The outbound proxy a webhook goes through: its host and port, and the CONNECT request's
    ``Proxy-Authorization`` (never shown: it and the proxy URL's credentials are in ``secrets``)."""

    host: str
    port: int
    authorization: str = field(default="", repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def where(self) -> str:
        """``host:port`` for a message (no credentials)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def proxy_for(url: str) -> Proxy | None:
    """The proxy the environment gives for the webhook ``url``, or None to connect directly.

    As urllib decides it: ``urllib.request.getproxies()`` (``https_proxy``/``HTTPS_PROXY``) for an
    ``https`` URL unless ``urllib.request.proxy_bypass`` (``NO_PROXY``) covers its host. A plain
    ``http`` URL (accepted only to loopback: a relay on this machine) never goes through a proxy.
    The proxy is ``[http://][user:password@]host[:port]`` (port 80 if none; ``https://`` is spoken
    to as urllib does, plain CONNECT); another scheme (``socks5://``) is ``DeliveryFailed``.
    """
    parts = urlsplit(url)
    if parts.scheme != "https":
        return None
    raw = (urllib.request.getproxies().get("https") or "").strip()
    if not raw or urllib.request.proxy_bypass(parts.netloc.rpartition("@")[2]):
        return None
    try:
        proxy = urlsplit(raw if "://" in raw else f"http://{raw}")
        host, port = proxy.hostname or "", proxy.port or 80
    except ValueError:
        host = ""
    if not host or proxy.scheme not in ("http", "https"):
        raise DeliveryFailed("HTTPS_PROXY is not an HTTP proxy's address; webhooks need "
                             "http://[user:password@]host:port (a proxy that accepts CONNECT).")
    user, password = unquote(proxy.username or ""), unquote(proxy.password or "")
    # The whole setting is a secret only when it holds credentials (else it names just the proxy).
    secrets = tuple(s for s in (raw if proxy.username or proxy.password else "", proxy.password, password) if s)
    authorization = ""
    if user and password:  # as urllib's ProxyHandler: credentials only when both are given
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        authorization = f"Basic {token}"
        secrets += (token, f"{user}:{password}")
    return Proxy(host, port, authorization, secrets)


def _proxy_reason(exc: BaseException, proxy: Proxy, target: str, secrets: list[str]) -> str:
    """Why the way through ``proxy`` to ``target`` (host:port) failed, naming the proxy, never its credentials."""
    detail = scrub(first_line(str(exc)) or type(exc).__name__, secrets)
    at = f"The proxy {proxy.where} (HTTPS_PROXY)"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return (f"{at} did not answer in time, or the webhook behind it did not ({detail}); check that the "
                f"proxy is up and lets this server through to {target}.")
    if isinstance(exc, ConnectionRefusedError):
        return f"{at} refused the connection; check HTTPS_PROXY's host and port and that the proxy is up."
    if isinstance(exc, socket.gaierror):
        return f"{at}: its host name cannot be found ({detail}); check HTTPS_PROXY."
    return (f"{at} did not open a tunnel to {target} ({detail}); check the user and password in HTTPS_PROXY "
            f"and that the proxy allows CONNECT to {target} (or list the host in NO_PROXY).")


def _post(url: str, body: bytes, connect_timeout: float, proxy: Proxy | None = None) -> None:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https" and proxy is not None:
        # CONNECT to the receiver's host:port through the proxy; TLS (and the certificate check,
        # against the receiver's host name) runs inside the tunnel, end to end.
        conn: http_client.HTTPConnection = http_client.HTTPSConnection(
            proxy.host, proxy.port, timeout=connect_timeout, context=ssl.create_default_context())
        conn.set_tunnel(parts.hostname, parts.port or 443,
                        headers={"Proxy-Authorization": proxy.authorization} if proxy.authorization else None)
    elif parts.scheme == "https":
        conn = http_client.HTTPSConnection(
            parts.hostname, parts.port, timeout=connect_timeout, context=ssl.create_default_context())
    else:
        conn = http_client.HTTPConnection(parts.hostname, parts.port, timeout=connect_timeout)
    try:
        if proxy is not None and parts.scheme == "https":
            try:
                conn.connect()
            except ssl.SSLError:
                raise  # the receiver's TLS, inside the tunnel: reported as the webhook's
            except (OSError, http_client.HTTPException) as exc:  # reaching the proxy, or its CONNECT
                target = f"{parts.hostname}:{parts.port or 443}"
                raise DeliveryFailed(_proxy_reason(exc, proxy, target, list(proxy.secrets))) from None
        conn.request("POST", path, body=body, headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "VisionAI-alerts/1"})
        response = conn.getresponse()
        said = response.read(2048).decode("utf-8", "replace")
        if not 200 <= response.status < 300:
            text = first_line(said, 120)
            raise DeliveryFailed(f"The webhook answered HTTP {response.status} {response.reason}"
                                 + (f" ({text})." if text else "."))
    finally:
        conn.close()


def _tls_context(ca_file: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryFailed(f"The CA file of this channel cannot be read ({type(exc).__name__}); check ca_file.") from None


def email_message(config: Mapping[str, Any], message: Message) -> EmailMessage:
    """The e-mail for ``message``: plain text, and (``html``) a simple escaped HTML alternative."""
    mail = EmailMessage()
    subject = f"[Vision AI] {message.title}"
    mail["Subject"] = re.sub(r"[\r\n]+", " ", subject)[:250]
    mail["From"] = config["sender"]
    mail["To"] = ", ".join(config["to"])
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=config["sender"].rpartition("@")[2] or None)
    mail.set_content(message.text() + "\n")
    if config.get("html", True):
        e = html.escape
        facts = ([f"<li><b>Model:</b> {e(message.model)}</li>"] if message.model else []) + [
            f"<li>{e(line)}</li>" for line in message.lines]
        link = (f'<p><a href="{e(message.link, quote=True)}">Open in Vision AI</a></p>' if message.link else "")
        mail.add_alternative(f"<html><body><h2>{e(message.title)}</h2><ul>{''.join(facts)}</ul>{link}"
                             "</body></html>\n", subtype="html")
    return mail


def _smtp(config: Mapping[str, Any], password: str, mail: EmailMessage) -> None:
    host, port, security = config["host"], int(config["port"]), config["security"]
    connect_timeout = float(config.get("connect_timeout", 5.0))
    if security == "tls":
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=connect_timeout,
                                                context=_tls_context(config.get("ca_file", "")))
    else:
        server = smtplib.SMTP(host, port, timeout=connect_timeout)
    try:
        server.ehlo()
        if security == "starttls":
            server.starttls(context=_tls_context(config.get("ca_file", "")))
            server.ehlo()
        if config.get("username"):
            server.login(config["username"], password)
        server.send_message(mail)
    finally:
        try:
            server.quit()
        except (smtplib.SMTPException, OSError):
            server.close()


def send(kind: str, config: Mapping[str, Any], secrets: Mapping[str, str], message: Message) -> float:
    """Send ``message`` through a channel of ``kind``; the milliseconds it took, or ``DeliveryFailed``."""
    started = time.perf_counter()
    timeout = min(float(config.get("timeout", 10.0)), MAX_TIMEOUT)
    connect_timeout = min(float(config.get("connect_timeout", 5.0)), timeout)
    if kind == WEBHOOK:
        url = secrets.get("url", "")
        if not url:
            raise DeliveryFailed("This webhook channel has no URL; re-enter it.")
        hidden = _url_secrets(url)
        proxy = proxy_for(url)
        if proxy is not None:
            hidden.extend(proxy.secrets)
        body = json.dumps(webhook_payload(str(config.get("format", "slack")), message)).encode("utf-8")
        _bounded(timeout, lambda: _post(url, body, connect_timeout, proxy), "webhook", hidden)
    elif kind == EMAIL:
        password = secrets.get("password", "")
        if config.get("username") and not password:
            raise DeliveryFailed("This e-mail channel's password is missing; re-enter it.")
        mail = email_message(config, message)
        _bounded(timeout, lambda: _smtp(config, password, mail), "mail server", [password])
    else:
        raise DeliveryFailed(f"Unknown channel kind {kind!r}.")
    return (time.perf_counter() - started) * 1000.0


# -- messages from notifications -----------------------------------------------------------------------

def _fact(key: str, value: Any) -> str | None:
    name = str(key).replace("_", " ")
    if isinstance(value, bool) or value is None:
        return f"{name}: {value}" if value is not None else None
    if isinstance(value, float):
        return f"{name}: {value:.4g}"
    if isinstance(value, (int, str)):
        return f"{name}: {value}" if str(value) != "" else None
    if isinstance(value, Mapping):
        inner = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(value.items())[:6]
                 if not isinstance(v, (Mapping, list, tuple))]
        return f"{name}: {', '.join(inner)}" if inner else None
    if isinstance(value, (list, tuple)):
        shown = []
        for item in value[:10]:
            if isinstance(item, Mapping):
                label = item.get("feature") or item.get("name") or item.get("column") or ""
                nums = [f"{k} {v:.3g}" for k, v in item.items() if isinstance(v, float)][:2]
                shown.append(f"{label} ({', '.join(nums)})" if nums else str(label))
            else:
                shown.append(str(item))
        more = f" and {len(value) - 10} more" if len(value) > 10 else ""
        return f"{name}: {', '.join(s for s in shown if s)}{more}"
    return None


def describe(body: str) -> tuple[str, ...]:
    """A notification's ``body`` (JSON: the cause's numbers) as lines ``name: value``; a body that is
    not a JSON object is one line of text. At most 20 lines of 300 characters."""
    try:
        data = json.loads(body or "{}")
    except ValueError:
        data = str(body)
    if not isinstance(data, Mapping):
        text = first_line(str(data), 300)
        return (text,) if text else ()
    lines = [line for line in (_fact(k, v) for k, v in data.items()) if line]
    return tuple(line if len(line) <= 300 else line[:299] + "…" for line in lines[:20])


def app_link(base: str, link: str) -> str:
    """The app's address ``base`` with a notification's ``link`` (``?page=…&model=…``) appended."""
    base = (base or "").rstrip("/")
    if not link:
        return base + "/" if base else ""
    # A model's name may hold spaces or other characters a chat client would cut the link at.
    query = quote(link.lstrip("/?"), safe="=&%+-._~:@,;/")
    return f"{base}/?{query}"


@dataclass(frozen=True)
class Outcome:
    """The result of one send: ok and how long it took, or the reason (no secret)."""

    ok: bool
    message: str
    latency_ms: float = 0.0
