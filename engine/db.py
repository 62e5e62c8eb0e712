"""The one SQLAlchemy handle every part of the engine shares."""

import logging
import os
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations portable between SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Objects stay readable after commit: the entry point's unit of work commits once and the
# entry point then serializes the result without a reload query per attribute.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})

# The models' base class. db.Model is built at run time, so the type checker is told it is Base.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


def new_id() -> str:
    """An unguessable opaque identifier (random UUID4 text)."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """Timezone-naive UTC now: both SQLite and PostgreSQL columns store naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def protect_sqlite_file(engine) -> None:
    """Create the SQLite file owner-only (0600) before SQLite does, and take group and other
    access off an existing one; SQLite gives its -wal and -shm files the same mode."""
    if engine.dialect.name != "sqlite":
        return
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def tune_sqlite(engine) -> None:
    """WAL, enforced foreign keys and a busy timeout: SQLite as a real multi-process store."""
    from sqlalchemy import event

    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def database_reachable() -> bool:
    """True when a trivial query succeeds (for health checks); never raises."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError as err:
        logging.getLogger(__name__).warning("database unreachable: %s", err)
        db.session.rollback()
        return False
