"""Turning a library's failure into a ``ConnectorError`` a person can act on, with no secret in it.

Libraries put whatever they had at hand into their messages: a SQLAlchemy URL with its password,
an S3 request signature, an Azure connection string or SAS token. So the message of a
``ConnectorError`` is built from the *kind* of failure (recognised from the exception's class and
its text) plus the library's first line, *scrubbed*: every secret value the connection holds (and
its URL-encoded form) is cut out, as are credentials inside URLs, ``key=value`` pairs whose key
sounds secret, and long key-like strings. ``within`` bounds a call by a timeout, so an unreachable
host gives an answer in time, never a hang.
"""
from __future__ import annotations

import re
import socket
import time
from typing import Callable, Iterable, TypeVar
from urllib.parse import quote, quote_plus

from vision_widgets.core.bounded import BoundedCall
from vision_widgets.core.errors import ConnectorError, VisionError

T = TypeVar("T")

_MASK = "***"
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^\s@'\"]+@")
_SECRET_PAIR = re.compile(
    r"(?i)\b(?P<key>[\w\-]*(?:password|passwd|pwd|secret|token|accountkey|account_key|sharedaccesssignature|"
    r"signature|sig|credential|apikey|api_key|access_key|session|authorization)[\w\-]*)"
    r"(?P<sep>\s*[=:]\s*)(?P<value>\"[^\"]*\"|'[^']*'|[^\s;&,)]+)"
)
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/_\-]{32,}={0,2}")

#: Recognised kinds of failure, first match wins: (a pattern searched in the exception's class names
#: and first line, lower-cased; what to say).
_KINDS: tuple[tuple[str, str], ...] = (
    (r"timeout|timed out|deadline exceeded|max retry duration", "did not answer in time; check the host name, the port and that "
     "the server is up and reachable from the Vision AI server"),
    (r"could not translate host|name or service not known|nodename nor servname|getaddrinfo|name resolution|"
     r"no address associated", "names a host that cannot be found; check the host name"),
    (r"connection refused|connectionrefused|could not connect|cannot connect|connect call failed|"
     r"failed to establish|connection reset|unreachable|clientconnectorerror|endpointconnectionerror",
     "could not be reached; check the host, the port and that the server is up"),
    (r"password authentication failed|access ?denied|invalidaccesskeyid|signaturedoesnotmatch|"
     r"authenticationfailed|authorizationfailure|unauthori[sz]ed|forbidden|\b40[13]\b|invalid credentials|"
     r"not authori[sz]ed|permission denied|permissionerror|invalidauthenticationinfo|clientauthenticationerror|"
     r"signature we calculated does not match|server failed to authenticate",
     "refused the credentials; check the user name, the password, key or token, and their permissions"),
    (r"nosuchbucket|containernotfound|container does not exist|bucket does not exist|resourcenotfounderror.*container",
     "has no such bucket or container; check its name"),
    (r"syntax error|syntaxerror|no such column|undefinedcolumn|undefinedfunction|column .* does not exist|"
     r"division by zero|invalid input syntax|programmingerror|datatype mismatch",
     "failed; check the query (its syntax, tables and columns)"),
    (r"database \S+ does not exist|unable to open database|invalidcatalogname",
     "has no such database; check the database name"),
    (r"no such table|undefinedtable|does not exist|not found|nosuchkey|blobnotfound|filenotfound|no such file",
     "has nothing at that name; check the table, file or path"),
)


def scrub(text: str, secrets: Iterable[str] = (), patterns: bool = True) -> str:
    """``text`` with every secret cut out: the given values (also URL-encoded), credentials in
    URLs, ``key=value`` pairs whose key sounds secret, and long key-like strings. ``patterns=False``
    cuts only the given values (names a source lists, where a long table name is no key)."""
    out = str(text)
    for value in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        for form in {value, quote(value, safe=""), quote_plus(value), quote(value)}:
            out = out.replace(form, _MASK)
    if not patterns:
        return out
    out = _URL_CREDENTIALS.sub(lambda m: m.group("scheme") + _MASK + "@", out)
    out = _SECRET_PAIR.sub(lambda m: m.group("key") + m.group("sep") + _MASK, out)
    out = _LONG_TOKEN.sub(_MASK, out)
    return out


def first_line(text: str, limit: int = 200) -> str:
    """The first non-empty line of ``text``, at most ``limit`` characters."""
    for line in str(text).splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def kind_of(exc: BaseException) -> str | None:
    """What went wrong in words (see ``_KINDS``), from the exception's class names and first line."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return _KINDS[0][1]
    names = " ".join(c.__name__ for c in type(exc).__mro__ if c not in (object, BaseException, Exception)).lower()
    text = f"{names} {first_line(str(exc), 500)}".lower()
    for pattern, said in _KINDS:
        if re.search(pattern, text):
            return said
    return None


def connector_error(exc: BaseException, what: str, secrets: Iterable[str] = (), hint: str = "") -> ConnectorError:
    """A ``ConnectorError`` for ``exc`` raised while reaching or reading ``what`` (words, no secret):
    the kind of failure, what to check, and the library's first line, scrubbed of ``secrets``."""
    if isinstance(exc, ConnectorError):
        return exc
    said = kind_of(exc) or "could not be read"
    detail = scrub(first_line(str(exc) or type(exc).__name__), secrets)
    message = f"{what} {said}."
    if hint:
        message += f" {hint}"
    if detail:
        message += f" (The source said: {detail})"
    return ConnectorError(message)


def within(timeout: float, fn: Callable[[], T], what: str, secrets: Iterable[str] = (),
           on_timeout: Callable[[], None] | None = None, late: str | None = None) -> T:
    """``fn()`` in a thread of its own, waited for at most ``timeout`` seconds.

    A call still running after that is left behind (a daemon thread; the library's own timeout
    ends it later) and ``ConnectorError`` says the source did not answer in time (or ``late``,
    when given, says what ran too long). ``on_timeout`` is called first, to stop the work at the
    source (cancel a running query) rather than leave it running. Errors of the call are turned
    into ``ConnectorError`` (``VisionError``s pass as they are)."""
    call = BoundedCall(fn, "vision-connector-call")
    if not call.wait(timeout):
        if on_timeout is not None:
            try:
                on_timeout()
            except Exception:  # noqa: BLE001, S110 - stopping it is best effort; the timeout is the news
                pass
        if late:
            raise ConnectorError(late)
        raise ConnectorError(f"{what} did not answer within {timeout:g} s; check the host name, the port "
                             "and that the server is up and reachable from the Vision AI server.")
    err = call.error
    if err is not None:
        if isinstance(err, VisionError):
            raise err
        raise connector_error(err, what, secrets) from None
    return call.value  # type: ignore[return-value]


def timed_test(timeout: float, probe: Callable[[], tuple[str, tuple[str, ...]]], what: str,
               secrets: Iterable[str] = ()):
    """``Connection.test`` for any type: run ``probe`` (returns words and a sample of what it sees)
    within ``timeout``; a failure becomes a ``TestResult`` that is not ok, with the plain message."""
    from vision_widgets.core.connectors import TestResult

    started = time.perf_counter()
    try:
        message, sample = within(timeout, probe, what, secrets)
    except VisionError as exc:
        return TestResult(ok=False, latency_ms=(time.perf_counter() - started) * 1000.0, message=str(exc))
    return TestResult(ok=True, latency_ms=(time.perf_counter() - started) * 1000.0, message=message,
                      sample=tuple(sample))
