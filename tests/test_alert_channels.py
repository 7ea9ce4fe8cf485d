"""Alert channels (core/notify/channels.py) against real receivers on loopback: a webhook and an SMTP server."""
from __future__ import annotations

import base64
import json
import time
from email import message_from_bytes, policy

import pytest
from support.alert_receivers import WebhookReceiver, self_signed, smtp_server
from support.blackhole import closed_port, silent_port
from support.connect_proxy import ConnectProxy

from vision_widgets.core.errors import InvalidInput
from vision_widgets.core.notify import channels
from vision_widgets.core.notify.channels import DeliveryFailed, Message

TOKEN = "distinctive-hook-token"
PASSWORD = "distinctive-smtp-password"
MESSAGE = Message(title="Data drift on Fraud detection", model="Fraud <b>detection</b>", kind="drift",
                  lines=("drift share: 0.6", "drifted features: amount (psi 0.31), hour"),
                  link="https://vision.example.com/?page=drift&model=Fraud%20detection")


def _webhook(url: str, **config) -> tuple[dict, dict]:
    return channels.check("webhook", config, {"url": url})


# -- webhook ---------------------------------------------------------------------------------------

def test_a_slack_webhook_gets_text_and_blocks():
    with WebhookReceiver() as hook:
        config, secrets = _webhook(hook.url)
        channels.send("webhook", config, secrets, MESSAGE)
    body = hook.received[0]["json"]
    assert hook.received[0]["path"].endswith(TOKEN)
    assert body["text"].startswith("Data drift on Fraud detection\nModel: Fraud &lt;b&gt;detection&lt;/b&gt;")
    assert "Open in Vision AI: https://vision.example.com/?page=drift&model=Fraud%20detection" in body["text"]
    assert body["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": MESSAGE.title}}
    assert body["blocks"][-1]["elements"][0]["url"] == MESSAGE.link


def test_a_teams_workflows_webhook_gets_an_adaptive_card():
    with WebhookReceiver() as hook:
        config, secrets = _webhook(hook.url, format="teams")
        channels.send("webhook", config, secrets, MESSAGE)
    body = hook.received[0]["json"]
    assert body["type"] == "message" and body["text"].startswith("Data drift")
    attachment = body["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == MESSAGE.title
    assert {"title": "drift share", "value": "0.6"} in card["body"][1]["facts"]
    assert card["actions"][0]["url"] == MESSAGE.link


HOSTILE = Message(title="Dataset drift in <!channel> Fraud, window 2026-10-01", model="<!channel> Fraud",
                  kind="drift", lines=(("drifted features: [Reset](https://evil.example) @all, *big* ~gone~ `x`, "
                                        "hour_of_day, _lead_, ![img](https://evil.example/p.png) & <https://evil|ok>"),),
                  link="https://vision.example.com/?page=drift&model=%3C%21channel%3E+Fraud")


def _markup_free(text: str, slack: bool = True) -> None:
    """Nothing a chat renderer reads as a ping, a link, an image or emphasis is left (``slack``: nor
    Slack's ``<…>`` controls, which an Adaptive Card's Markdown subset does not read)."""
    for markup in ("](", "[Reset", "@all", "*big*", "~gone~", "`x`", "_lead_", "![") + \
            (("<!channel>", "<https://evil") if slack else ()):
        assert markup not in text, markup


@pytest.mark.parametrize("fmt", ["slack", "teams"])
def test_untrusted_names_neither_ping_nor_link_in_a_chat(fmt):
    body = channels.webhook_payload(fmt, HOSTILE)
    text = body["text"]
    _markup_free(text)
    # Slack's own escapes for the three characters it reserves; the names still read the same
    assert "Model: &lt;\u01c3channel&gt; Fraud" in text and " &amp; " in text
    assert "hour_of_day" in text  # an underscore inside a word is no markup: kept as it is
    assert text.endswith("Open in Vision AI: " + HOSTILE.link)  # the app's own link is untouched
    if fmt == "teams":
        card = json.dumps(body["attachments"][0]["content"], ensure_ascii=False)
        _markup_free(card.replace(HOSTILE.link, ""), slack=False)
    else:  # the blocks are plain_text: shown exactly as written, markup and all
        assert body["blocks"][0]["text"] == {"type": "plain_text", "text": HOSTILE.title}


def test_an_e_mail_keeps_the_names_as_written():
    assert "Model: <!channel> Fraud" in HOSTILE.text() and "[Reset](https://evil.example) @all" in HOSTILE.text()


def test_a_500_is_a_failure_that_never_shows_the_url():
    with WebhookReceiver(script=[500]) as hook:
        config, secrets = _webhook(hook.url)
        with pytest.raises(DeliveryFailed) as failed:
            channels.send("webhook", config, secrets, MESSAGE)
    assert "HTTP 500" in str(failed.value)
    assert TOKEN not in str(failed.value)  # the receiver echoed its path: scrubbed


def test_a_webhook_that_never_answers_fails_within_its_timeout():
    with silent_port() as port:
        config, secrets = _webhook(f"http://127.0.0.1:{port}/hooks/{TOKEN}", timeout=1, connect_timeout=0.5)
        started = time.monotonic()
        with pytest.raises(DeliveryFailed) as failed:
            channels.send("webhook", config, secrets, MESSAGE)
    assert time.monotonic() - started < 5
    assert "did not answer" in str(failed.value) and TOKEN not in str(failed.value)


def test_a_refused_connection_says_so():
    config, secrets = _webhook(f"http://127.0.0.1:{closed_port()}/hooks/{TOKEN}")
    with pytest.raises(DeliveryFailed, match="refused the connection"):
        channels.send("webhook", config, secrets, MESSAGE)


@pytest.mark.parametrize("url", [f"http://hooks.example.com/{TOKEN}", "ftp://example.com/x", "not a url",
                                 f"https://user:{TOKEN}@example.com/x"])
def test_webhook_urls_must_be_https_except_to_this_machine(url):
    with pytest.raises(InvalidInput) as bad:
        channels.check("webhook", {}, {"url": url})
    assert bad.value.field == "url" and TOKEN not in str(bad.value)


def test_https_and_loopback_http_are_accepted():
    assert channels.check("webhook", {}, {"url": "https://hooks.slack.com/services/T/B/x"})[0]["format"] == "slack"
    assert channels.check("webhook", {}, {"url": "http://localhost:9000/x"})[1]["url"] == "http://localhost:9000/x"


# -- webhook through the environment's proxy --------------------------------------------------------

PROXY_USER, PROXY_PASSWORD = "alerts", "distinctive/proxy@pass"
PROXY_PASSWORD_IN_URL = "distinctive%2Fproxy%40pass"   # as it is written in HTTPS_PROXY


@pytest.fixture
def proxy_env(monkeypatch):
    """No proxy setting from the machine: each test sets what it needs."""
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.fixture
def https_hook(tmp_path, proxy_env):
    """An HTTPS webhook at https://localhost:<port>, its self-signed certificate trusted as a CA would be."""
    cert, key = self_signed(tmp_path)
    proxy_env.setenv("SSL_CERT_FILE", str(cert))  # what ssl.create_default_context() trusts
    with WebhookReceiver(tls=(cert, key)) as hook:
        yield hook


def test_an_https_webhook_goes_through_the_proxy_in_https_proxy(https_hook, proxy_env):
    with ConnectProxy(PROXY_USER, PROXY_PASSWORD) as proxy:
        proxy_env.setenv("HTTPS_PROXY", proxy.url(PROXY_USER, PROXY_PASSWORD_IN_URL))
        channels.send("webhook", *_webhook(https_hook.url), MESSAGE)
    assert [r["json"]["text"].splitlines()[0] for r in https_hook.received] == ["Data drift on Fraud detection"]
    assert https_hook.received[0]["path"] == https_hook.path
    assert proxy.connects == [f"localhost:{https_hook.port}"]  # one tunnel, to the receiver's host:port
    assert proxy.authorizations == ["Basic " + base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()]
    # TLS is end to end: the proxy relayed the message without seeing its path or its text
    assert proxy.relayed and TOKEN.encode() not in proxy.relayed and b"Fraud" not in proxy.relayed


def test_no_proxy_sends_the_webhook_directly(https_hook, proxy_env):
    with ConnectProxy() as proxy:
        proxy_env.setenv("HTTPS_PROXY", proxy.url())
        proxy_env.setenv("NO_PROXY", "example.com,localhost")
        channels.send("webhook", *_webhook(https_hook.url), MESSAGE)
    assert len(https_hook.received) == 1
    assert proxy.accepted == 0


def test_a_proxy_refusing_the_credentials_is_named_without_the_password(https_hook, proxy_env):
    with ConnectProxy(PROXY_USER, "the-right-one") as proxy:
        proxy_env.setenv("HTTPS_PROXY", proxy.url(PROXY_USER, PROXY_PASSWORD_IN_URL))
        with pytest.raises(DeliveryFailed) as failed:
            channels.send("webhook", *_webhook(https_hook.url), MESSAGE)
    said = str(failed.value)
    assert f"The proxy 127.0.0.1:{proxy.port} (HTTPS_PROXY) did not open a tunnel to localhost:{https_hook.port}" in said
    assert "407" in said and "check the user and password in HTTPS_PROXY" in said
    for secret in (PROXY_PASSWORD, PROXY_PASSWORD_IN_URL, "distinctive", proxy.authorizations[0].split()[1], TOKEN):
        assert secret not in said
    assert proxy.connects == [f"localhost:{https_hook.port}"] and https_hook.received == []


def test_a_proxy_that_is_down_is_named(https_hook, proxy_env):
    port = closed_port()
    proxy_env.setenv("HTTPS_PROXY", f"http://{PROXY_USER}:{PROXY_PASSWORD_IN_URL}@127.0.0.1:{port}")
    with pytest.raises(DeliveryFailed) as failed:
        channels.send("webhook", *_webhook(https_hook.url), MESSAGE)
    said = str(failed.value)
    assert said == (f"The proxy 127.0.0.1:{port} (HTTPS_PROXY) refused the connection; check HTTPS_PROXY's host "
                    "and port and that the proxy is up.")
    assert https_hook.received == []


def test_a_proxy_that_never_answers_is_named_within_the_timeout(https_hook, proxy_env):
    with silent_port() as port:
        proxy_env.setenv("HTTPS_PROXY", f"127.0.0.1:{port}")  # no scheme: http:// as urllib reads it
        started = time.monotonic()
        with pytest.raises(DeliveryFailed) as failed:
            channels.send("webhook", *_webhook(https_hook.url, timeout=2, connect_timeout=0.5), MESSAGE)
    assert time.monotonic() - started < 5
    assert f"The proxy 127.0.0.1:{port} (HTTPS_PROXY) did not answer in time" in str(failed.value)


def test_the_receivers_certificate_is_checked_through_the_tunnel(tmp_path, proxy_env):
    cert, key = self_signed(tmp_path)  # not trusted: SSL_CERT_FILE is not set
    with WebhookReceiver(tls=(cert, key)) as hook, ConnectProxy() as proxy:
        proxy_env.setenv("HTTPS_PROXY", proxy.url())
        with pytest.raises(DeliveryFailed, match="webhook's certificate is not trusted"):
            channels.send("webhook", *_webhook(hook.url), MESSAGE)
    assert proxy.connects == [f"localhost:{hook.port}"] and hook.received == []


def test_http_to_this_machine_never_goes_through_the_proxy(proxy_env):
    with WebhookReceiver() as hook, ConnectProxy() as proxy:
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
            proxy_env.setenv(name, proxy.url())
        channels.send("webhook", *_webhook(hook.url), MESSAGE)
    assert len(hook.received) == 1 and proxy.accepted == 0


def test_a_proxy_that_is_not_an_http_proxy_says_what_is_needed(proxy_env):
    proxy_env.setenv("HTTPS_PROXY", f"socks5://{PROXY_USER}:{PROXY_PASSWORD_IN_URL}@127.0.0.1:1080")
    with pytest.raises(DeliveryFailed, match=r"http://\[user:password@\]host:port") as failed:
        channels.send("webhook", *_webhook("https://hooks.example.com/services/T/B/x"), MESSAGE)
    assert "distinctive" not in str(failed.value)


# -- e-mail ----------------------------------------------------------------------------------------

def _email(port: int, **extra) -> tuple[dict, dict]:
    password = extra.pop("password", "")
    config = {"host": "127.0.0.1", "port": port, "sender": "vision@example.com",
              "to": "fraud-team@example.com, oncall@example.com", **extra}
    return channels.check("email", config, {"password": password} if password else {})


def test_email_without_tls_to_a_relay(tmp_path):
    with smtp_server(tmp_path) as (port, box, _):
        config, secrets = _email(port, security="none")
        channels.send("email", config, secrets, MESSAGE)
    envelope = box.messages[0]
    assert envelope.rcpt_tos == ["fraud-team@example.com", "oncall@example.com"]
    mail = message_from_bytes(envelope.content, policy=policy.default)
    assert mail["Subject"] == "[Vision AI] Data drift on Fraud detection"
    plain = mail.get_body(("plain",)).get_content()
    assert "drift share: 0.6" in plain and MESSAGE.link in plain
    rich = mail.get_body(("html",)).get_content()
    assert "Fraud &lt;b&gt;detection&lt;/b&gt;" in rich and "<b>detection</b>" not in rich


def test_email_with_starttls_and_login(tmp_path):
    with smtp_server(tmp_path, security="starttls", users={"alerts": PASSWORD}) as (port, box, ca):
        config, secrets = _email(port, security="starttls", username="alerts", password=PASSWORD, ca_file=str(ca))
        channels.send("email", config, secrets, MESSAGE)
    assert box.logins == ["alerts"] and len(box.messages) == 1


def test_email_with_implicit_tls(tmp_path):
    with smtp_server(tmp_path, security="tls") as (port, box, ca):
        config, secrets = _email(port, security="tls", ca_file=str(ca))
        channels.send("email", config, secrets, MESSAGE)
    assert len(box.messages) == 1


def test_an_untrusted_certificate_is_refused(tmp_path):
    with smtp_server(tmp_path, security="starttls") as (port, box, _ca):
        config, secrets = _email(port, security="starttls")  # no ca_file: the self-signed cert is not trusted
        with pytest.raises(DeliveryFailed, match="certificate is not trusted"):
            channels.send("email", config, secrets, MESSAGE)
    assert box.messages == []


def test_a_refused_login_is_a_clear_reason_without_the_password(tmp_path):
    with smtp_server(tmp_path, security="starttls", users={"alerts": "the-right-one"}) as (port, box, ca):
        config, secrets = _email(port, security="starttls", username="alerts", password=PASSWORD, ca_file=str(ca))
        with pytest.raises(DeliveryFailed) as failed:
            channels.send("email", config, secrets, MESSAGE)
    assert str(failed.value).startswith("The mail server refused the login (535")
    assert "check the username and password" in str(failed.value)
    assert PASSWORD not in str(failed.value) and box.messages == []


@pytest.mark.parametrize(("config", "field"), [
    ({"host": "", "sender": "a@b.c", "to": "x@y.z"}, "host"),
    ({"host": "smtp.example.com", "sender": "nobody", "to": "x@y.z"}, "sender"),
    ({"host": "smtp.example.com", "sender": "a@b.c", "to": "x@y.z, not-an-address"}, "to"),
    ({"host": "smtp.example.com", "sender": "a@b.c", "to": ""}, "to"),
    ({"host": "smtp.example.com", "sender": "a@b.c", "to": "x@y.z", "port": "99999"}, "port"),
    ({"host": "smtp.example.com", "sender": "a@b.c", "to": "x@y.z", "security": "ssl3"}, "security"),
    ({"host": "smtp.example.com", "sender": "a@b.c", "to": "x@y.z", "username": "u"}, "password"),
    ({"host": "smtp.example.com", "sender": "a@b.c", "to": "x@y.z", "timeout": "0"}, "timeout"),
])
def test_bad_email_settings_name_the_field(config, field):
    with pytest.raises(InvalidInput) as bad:
        channels.check("email", config, {})
    assert bad.value.field == field


def test_ports_follow_the_security_setting():
    base = {"host": "smtp.example.com", "sender": "a@b.c", "to": ["x@y.z"]}
    assert channels.check("email", {**base, "security": "starttls"}, {})[0]["port"] == 587
    assert channels.check("email", {**base, "security": "tls"}, {})[0]["port"] == 465


def test_a_notification_body_becomes_lines_and_the_link_joins_the_app_address():
    lines = channels.describe('{"drift_share": 0.6123, "window": "2024-05-01", "features": '
                              '[{"feature": "amount", "psi": 0.31}, {"feature": "hour", "psi": 0.2}]}')
    assert lines == ("drift share: 0.6123", "window: 2024-05-01", "features: amount (psi 0.31), hour (psi 0.2)")
    assert channels.describe("not json") == ("not json",)
    assert channels.app_link("https://v.example.com/", "?page=drift&model=X") == "https://v.example.com/?page=drift&model=X"


def test_a_link_with_a_model_name_holding_spaces_stays_one_link():
    assert (channels.app_link("https://v.example.com", "?page=drift&model=Fraud detection")
            == "https://v.example.com/?page=drift&model=Fraud%20detection")
