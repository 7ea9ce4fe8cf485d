"""Every setting, read from the environment in one place, with safe defaults.

Nothing else in the package reads ``os.environ``: code receives a ``Settings``
value, which keeps tests hermetic (build one from a dict) and makes the full
list of knobs visible here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Mapping

from vision_widgets.core.errors import ConfigurationError


def package_path(*parts: str) -> Path:
    """A file or folder shipped inside the ``vision_widgets`` package, as a filesystem path.

    Found with ``importlib.resources``, so it is the same in a checkout, an editable install and
    an installed wheel, whatever the working directory: nothing is looked up beside a repository.
    Voila, nbclient and the download links need real files, and pip installs wheels unpacked, so
    the package is a folder on disk; importing it from a zip archive is not supported.
    """
    found = resources.files("vision_widgets").joinpath(*parts)
    if not isinstance(found, Path):
        raise ConfigurationError(
            "vision_widgets is imported from an archive; install it with pip so its files are on disk."
        )
    return found


#: The notebook a restricted client runs where its data lives (offered for download, run by the demo).
CLIENT_NOTEBOOK = package_path("web", "notebooks", "client_restricted.ipynb")
#: The one-file profiling module that goes with it.
CLIENT_MODULE = package_path("client.py")
#: The ten sample accounts (Argon2id hashes only) that ``vision init`` loads by default.
SAMPLE_USERS_FILE = package_path("demo", "users.json")
#: ``VISION_HOME`` when it is not set: per user, not per working directory or installation
#: (site-packages may be read-only, and ``vision serve`` must find the same database from any folder).
DEFAULT_HOME = Path("~/.vision")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a whole number; set it to e.g. {default}.") from None
    if value < minimum:
        raise ConfigurationError(f"{name}={value} is below the minimum {minimum}.")
    return value


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise ConfigurationError(f"{name}={raw!r} is neither on nor off; set it to on or off.")


def _float(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number of seconds; set it to e.g. {default:g}.") from None
    if not value >= minimum:
        raise ConfigurationError(f"{name}={raw} is below the minimum {minimum:g}.")
    return value


@dataclass(frozen=True)
class Settings:
    """The server's and the services' configuration (immutable)."""

    home: Path
    database_url: str
    users_file: Path
    token_ttl_seconds: int = 30 * 60
    lockout_threshold: int = 5
    lockout_seconds: int = 15 * 60
    host: str = "127.0.0.1"
    port: int = 8866
    kernel_pool_size: int = 2
    kernel_cull_idle_seconds: int = 600
    #: A kernel whose browser went away (websocket closed) without coming back is shut down after this.
    kernel_disconnect_grace_seconds: int = 120
    #: Seconds between two culling passes (idle, orphaned and disconnected kernels).
    kernel_cull_interval_seconds: int = 30
    upload_limit_bytes: int = 10 * 1024 * 1024
    privacy_k: int = 10
    data_roots: tuple[Path, ...] = ()
    #: The job queue's broker ("": beside a SQLite database, inside a PostgreSQL one; see core/jobs/queue.py).
    queue_url: str = field(default="", repr=False)
    #: Seconds a worker holds a job without a heartbeat before another may take it over.
    job_lease_seconds: int = 60
    #: Tries a job gets when its workers keep stopping under it.
    job_max_attempts: int = 3
    #: Jobs one worker runs at once.
    worker_threads: int = 2
    #: The address people and client notebooks reach this server at (``VISION_PUBLIC_URL``, e.g.
    #: ``https://vision.example.com``); empty: the address the browser used (see ``browser_address``).
    #: https makes the session cookie ``Secure``.
    public_url: str = ""
    llm_model: str = "gpt-4o-mini"
    openai_base_url: str | None = None
    # The key is read where it is used (never stored in a widget or logged).
    openai_api_key: str | None = field(default=None, repr=False)
    #: LLM Chat (core/llm): seconds to open a connection to the endpoint (``VISION_LLM_CONNECT_TIMEOUT``)…
    llm_connect_timeout: float = 5.0
    #: …and for a whole answer, every tool round and retry included (``VISION_LLM_TIMEOUT``).
    llm_timeout: float = 30.0
    #: Retries of a request that failed before its first streamed token (``VISION_LLM_RETRIES``).
    llm_retries: int = 1
    #: Tokens of model context sent with a question, estimated at ~4 characters a token (``VISION_LLM_CONTEXT_TOKENS``).
    llm_context_tokens: int = 3000
    #: Whether questions about a model offer the LLM tools (``VISION_LLM_TOOLS``, on/off; default on). Off for
    #: a server that refuses the ``tools`` field (vLLM without ``--enable-auto-tool-choice``, Ollama models
    #: without tool support); with it on, such a refusal is also detected and remembered per endpoint.
    llm_tools: bool = True
    #: The Fernet key that seals connectors' secrets (``VISION_SECRET_KEY``); None: the key file
    #: ``$VISION_HOME/secret.key`` (core/secrets.py). Several servers on one database need this set.
    secret_key: str | None = field(default=None, repr=False)
    #: A Dask scheduler (``VISION_DASK_SCHEDULER``: ``tcp://host:8786``, or ``local:N`` for a cluster of N
    #: worker processes on this machine per job): registrations and scheduled pulls then profile Parquet
    #: sources partition by partition on it (core/stats/distributed.py). Empty: in the job's own process.
    dask_scheduler: str = ""

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _public_url(raw: str) -> str:
    """``VISION_PUBLIC_URL`` checked: an http(s) address without a query, kept without its trailing slash."""
    from urllib.parse import urlsplit

    raw = raw.strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError(f"VISION_PUBLIC_URL={raw!r} is not an http(s) address; "
                                 "set it to e.g. https://vision.example.com (or leave it unset).")
    return raw.rstrip("/")


def browser_address(env: Mapping[str, str] | None = None) -> str:
    """The address the browser used to open this kernel's page (``scheme://host[:port]``), or "".

    Voila starts a kernel with the request's ``VOILA_REQUEST_URL`` in its environment; a preheated
    kernel gets only ``SERVER_NAME`` and ``SERVER_PORT`` (after ``voila.utils.wait_for_request()``),
    and then the scheme is taken from ``HTTP_X_FORWARDED_PROTO`` when a proxy's header is passed on
    (``http_header_envs``), else ``http``. Outside Voila (tests, JupyterLab) there is none: "".
    """
    from urllib.parse import urlsplit

    env = os.environ if env is None else env
    # A preheated kernel's VOILA_REQUEST_URL is the URL of the request that was served while it
    # was started to refill the pool (Voila's extra_kernel_env_variables): someone else's page.
    full = "" if env.get("VOILA_PREHEAT") == "True" else (env.get("VOILA_REQUEST_URL") or "")
    if full:
        parts = urlsplit(full)
        if parts.scheme in ("http", "https") and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    host = (env.get("SERVER_NAME") or "").strip()
    if not host:
        return ""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    scheme = (env.get("HTTP_X_FORWARDED_PROTO") or "http").split(",")[0].strip().lower()
    scheme = scheme if scheme in ("http", "https") else "http"
    port = (env.get("SERVER_PORT") or "").strip()
    default = {"http": "80", "https": "443"}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def public_url(settings: "Settings", env: Mapping[str, str] | None = None) -> str:
    """Where a client notebook should send its profiles: ``VISION_PUBLIC_URL``, else the browser's
    address, else the address ``vision serve`` binds (which only works on this machine)."""
    if settings.public_url:
        return settings.public_url
    return browser_address(env) or f"http://{settings.host}:{settings.port}"


def _secret_key(raw: str | None) -> str | None:
    """``VISION_SECRET_KEY`` checked: a Fernet key (32 bytes, URL-safe base64), or None when unset.

    The message never repeats the value: it is a secret even when it is malformed.
    """
    import base64
    import binascii

    if raw is None or raw.strip() == "":
        return None
    raw = raw.strip()
    # Several keys separated by commas rotate: the first seals, every one opens (core/secrets.py).
    keys = [k.strip() for k in raw.split(",")]
    try:
        ok = all(len(base64.urlsafe_b64decode(k.encode("ascii"))) == 32 for k in keys)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        ok = False
    if not ok:
        raise ConfigurationError(
            "VISION_SECRET_KEY is not a Fernet key (32 bytes, URL-safe base64; several keys: comma-separated); make one with "
            "`python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"`, "
            "or leave it unset to use the key file under VISION_HOME."
        )
    return ",".join(keys)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build ``Settings`` from environment variables (``os.environ`` by default).

    ``VISION_HOME`` (default ``~/.vision``; ``make dashboard`` sets the checkout's ``.vision/``)
    holds the SQLite database and user data; ``VISION_DATABASE_URL`` overrides the database
    (e.g. PostgreSQL for several server processes). ``VISION_USERS_FILE`` defaults to the sample
    accounts shipped in the package.
    """
    env = os.environ if env is None else env
    home = Path(env.get("VISION_HOME") or DEFAULT_HOME).expanduser().resolve()
    database_url = env.get("VISION_DATABASE_URL") or f"sqlite:///{home / 'vision.db'}"
    users_file = Path(env.get("VISION_USERS_FILE") or SAMPLE_USERS_FILE).expanduser().resolve()
    roots_raw = env.get("VISION_DATA_ROOTS")
    if roots_raw:
        data_roots = tuple(Path(p).expanduser().resolve() for p in roots_raw.split(os.pathsep) if p)
    else:
        data_roots = (home / "data",)
    port = _int(env, "VISION_PORT", 8866, minimum=0)
    if port > 65535:
        raise ConfigurationError(f"VISION_PORT={port} is not a TCP port (0–65535).")
    cull_idle = _int(env, "VISION_KERNEL_CULL_IDLE", 600, minimum=30)
    # Under 5 s a browser's reconnect back-off (0, then up to 1 s, 3 s, ...) may not get back in time.
    grace = _int(env, "VISION_KERNEL_DISCONNECT_GRACE", 120, minimum=5)
    return Settings(
        home=home,
        database_url=database_url,
        users_file=users_file,
        token_ttl_seconds=_int(env, "VISION_TOKEN_TTL", 30 * 60, minimum=30),
        lockout_threshold=_int(env, "VISION_LOCKOUT_THRESHOLD", 5, minimum=1),
        lockout_seconds=_int(env, "VISION_LOCKOUT_SECONDS", 15 * 60, minimum=1),
        host=env.get("VISION_HOST") or "127.0.0.1",
        port=port,
        kernel_pool_size=_int(env, "VISION_KERNEL_POOL", 2, minimum=0),
        kernel_cull_idle_seconds=cull_idle,
        kernel_disconnect_grace_seconds=grace,
        kernel_cull_interval_seconds=_int(
            env, "VISION_KERNEL_CULL_INTERVAL", max(1, min(60, min(cull_idle, grace) // 4)), minimum=1
        ),
        upload_limit_bytes=_int(env, "VISION_UPLOAD_LIMIT", 10 * 1024 * 1024, minimum=1024),
        privacy_k=_int(env, "VISION_PRIVACY_K", 10, minimum=1),
        data_roots=data_roots,
        queue_url=env.get("VISION_QUEUE_URL") or "",
        job_lease_seconds=_int(env, "VISION_JOB_LEASE", 60, minimum=2),
        job_max_attempts=_int(env, "VISION_JOB_MAX_ATTEMPTS", 3, minimum=1),
        worker_threads=_int(env, "VISION_WORKER_THREADS", 2, minimum=1),
        public_url=_public_url(env.get("VISION_PUBLIC_URL") or ""),
        llm_model=env.get("VISION_LLM_MODEL") or "gpt-4o-mini",
        openai_base_url=env.get("OPENAI_BASE_URL") or None,
        openai_api_key=env.get("OPENAI_API_KEY") or None,
        llm_connect_timeout=_float(env, "VISION_LLM_CONNECT_TIMEOUT", 5.0, 0.1),
        llm_timeout=_float(env, "VISION_LLM_TIMEOUT", 30.0, 0.5),
        llm_retries=_int(env, "VISION_LLM_RETRIES", 1, minimum=0),
        llm_context_tokens=_int(env, "VISION_LLM_CONTEXT_TOKENS", 3000, minimum=200),
        llm_tools=_switch(env, "VISION_LLM_TOOLS", True),
        secret_key=_secret_key(env.get("VISION_SECRET_KEY")),
        dask_scheduler=_dask_scheduler(env.get("VISION_DASK_SCHEDULER") or ""),
    )


def _dask_scheduler(raw: str) -> str:
    """``VISION_DASK_SCHEDULER`` checked: a scheduler address (tcp://, tls://) or ``local:N``; "" when unset."""
    import re

    raw = raw.strip()
    if raw and not re.fullmatch(r"(tcp|tls)://[^\s/]+:\d+|local:[1-9]\d*", raw):
        raise ConfigurationError(f"VISION_DASK_SCHEDULER={raw!r} is not a Dask scheduler; set it to "
                                 "tcp://host:8786 (a running scheduler) or local:N (N worker processes here), or unset it.")
    return raw


def ensure_home(settings: Settings) -> Path:
    """Create ``settings.home`` if needed and prove it is writable.

    The server calls this before it binds a port, so an unusable
    ``VISION_HOME`` stops it with a message instead of failing on first login.
    """
    home = settings.home
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise ConfigurationError(
            f"VISION_HOME={home} cannot be written ({exc.strerror or exc}); "
            "point VISION_HOME at a folder this user may write, or fix its permissions."
        ) from None
    return home
