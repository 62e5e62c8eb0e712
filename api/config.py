"""Settings, read from the environment; tests pass their own mapping to create_app."""

import os
from pathlib import Path


def instance_home() -> Path:
    """Where the SQLite file and generated secrets live (ACCESSFLOW_HOME, default ./instance)."""
    home = Path(os.environ.get("ACCESSFLOW_HOME", Path.cwd() / "instance"))
    home.mkdir(mode=0o700, parents=True, exist_ok=True)  # owner-only when we create it
    return home


def default_database_url() -> str:
    return f"sqlite:///{instance_home() / 'accessflow.db'}"


class Config:
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or default_database_url()
    # No ping per checkout (a round trip per request on PostgreSQL): a pooled connection older
    # than ACCESSFLOW_POOL_RECYCLE seconds is replaced instead, before idle timeouts of the server
    # or a proxy can cut it; after a database restart the pool is invalidated by the first
    # failed request. ACCESSFLOW_POOL_PRE_PING=1 restores the ping (e.g. behind a proxy that
    # drops idle connections sooner).
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_pre_ping": os.environ.get("ACCESSFLOW_POOL_PRE_PING", "0") == "1",
        "pool_recycle": int(os.environ.get("ACCESSFLOW_POOL_RECYCLE", "300")),
    }
    SECRET_KEY = os.environ.get("ACCESSFLOW_SECRET_KEY")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("ACCESSFLOW_SECURE_COOKIES", "0") == "1"
    SMTP_HOST = os.environ.get("ACCESSFLOW_SMTP_HOST", "127.0.0.1")
    SMTP_PORT = int(os.environ.get("ACCESSFLOW_SMTP_PORT", "25"))
    MAIL_FROM = os.environ.get("ACCESSFLOW_MAIL_FROM", "accessflow@localhost")
    # ISO-8601 duration between a person's new-task digests; PT0S: each on the next poll.
    DIGEST_INTERVAL = os.environ.get("ACCESSFLOW_DIGEST_INTERVAL", "PT5M")
    # Where links in mail point: the address people open accessflow at.
    BASE_URL = os.environ.get("ACCESSFLOW_BASE_URL", "http://localhost:8000")
    # Days before an assignment's end date that its holder and their manager are reminded.
    EXPIRY_REMINDER_DAYS = os.environ.get("ACCESSFLOW_EXPIRY_REMINDER_DAYS", "7,1")
    # Set by scripts/demo.sh only: the login page then lists the demo users and their roles.
    DEMO = os.environ.get("ACCESSFLOW_DEMO", "0") == "1"
    # Larger bodies are refused with 413 before they are read, chunked ones as they stream in.
    MAX_CONTENT_LENGTH = int(os.environ.get("ACCESSFLOW_MAX_REQUEST_BYTES", 2 * 1024 * 1024))
    LOGIN_FAILURES_PER_ACCOUNT = int(os.environ.get("ACCESSFLOW_LOGIN_FAILURES_PER_ACCOUNT", "5"))
    LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("ACCESSFLOW_LOGIN_FAILURES_PER_ADDRESS", "20"))
    LOGIN_FAILURE_WINDOW_MINUTES = int(
        os.environ.get("ACCESSFLOW_LOGIN_FAILURE_WINDOW_MINUTES", "15")
    )
