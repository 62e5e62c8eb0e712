"""Test databases built once per session and handed to each test as a fresh copy.

SQLite: the template is a file; a test gets a copy of it. PostgreSQL: CREATE DATABASE ... TEMPLATE
costs 0.1-0.2 s, but every DROP DATABASE waits for a checkpoint (0.3-3 s on a busy machine), so
one working database is reused instead: before each test its rows are put back to the template's
(DELETE, then INSERT from a copy of the rows kept in the `accessflow_template` schema: ~10-30 ms).
A test that changed the schema (migrations, a DROP, a new table) gets a new clone instead.
"""

import os
import uuid

import psycopg

from api.app import create_app, deploy_shipped_workflows
from engine.db import db
from engine.directory.importer import import_directory

PG_ADMIN_URL = os.environ.get("ACCESSFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SNAPSHOT = "accessflow_template"
# Everything a test could change about the schema of `public`, in one comparable value.
SCHEMA_FINGERPRINT = """
SELECT md5(coalesce(string_agg(line, ';' ORDER BY line), '')) FROM (
  SELECT concat_ws(',', table_name, column_name, data_type, is_nullable, column_default) AS line
    FROM information_schema.columns WHERE table_schema = 'public'
  UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace
) AS schema_lines
"""


def build(url: str, directory: dict) -> None:
    """The schema, the shipped workflows and `directory`, committed at `url`."""
    application = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "t"})
    with application.app_context():
        db.create_all()
        deploy_shipped_workflows()
        import_directory(directory)
        db.session.commit()  # whether or not the services commit themselves
        db.session.remove()
        db.engine.dispose()  # no connection may stay open on a PostgreSQL template


def admin_connection() -> psycopg.Connection | None:
    """An autocommit connection to the PostgreSQL server, or None when there is none."""
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            raise  # in CI a missing PostgreSQL is a failure, not a skip
        return None


def postgres_url(name: str, driver: str = "postgresql+psycopg") -> str:
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0].replace('postgresql', driver, 1)}/{name}"


def new_database_name(purpose: str = "test") -> str:
    return f"accessflow_{purpose}_{uuid.uuid4().hex[:10]}"


class PostgresCopies:
    """A template database, and one working database reset to it before each test."""

    def __init__(self, admin: psycopg.Connection, directory: dict):
        self.admin = admin
        self.template = new_database_name("template")
        admin.execute(f'CREATE DATABASE "{self.template}"')
        build(postgres_url(self.template), directory)
        with psycopg.connect(postgres_url(self.template, "postgresql"), autocommit=True) as conn:
            self.fingerprint, self._restore = _snapshot(conn)
        self.work: str | None = None
        self.connection: psycopg.Connection | None = None

    def fresh(self) -> str:
        """The working database's URL, holding exactly the template's schema and rows."""
        if self.work is None or not self._reset():
            self._recreate()
        return postgres_url(self.work)

    def _reset(self) -> bool:
        """Put the template's rows back; False when only a new clone will do."""
        try:
            conn = self.connection
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if conn.execute(SCHEMA_FINGERPRINT).fetchone()[0] != self.fingerprint:
                return False
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '10s'")
                conn.execute(self._restore)
            return True
        except psycopg.Error:
            return False

    def _recreate(self) -> None:
        self._drop_work()
        self.work = new_database_name()
        self.admin.execute(f'CREATE DATABASE "{self.work}" TEMPLATE "{self.template}"')
        self.connection = psycopg.connect(postgres_url(self.work, "postgresql"), autocommit=True)

    def _drop_work(self) -> None:
        if self.connection is not None:
            self.connection.close()
        if self.work is not None:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{self.work}" WITH (FORCE)')

    def close(self) -> None:
        self._drop_work()
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


def _snapshot(conn: psycopg.Connection) -> tuple[str, str]:
    """Copy the template's rows aside; return its schema fingerprint and the restoring SQL."""
    tables = [table.name for table in db.metadata.sorted_tables]  # parents before children
    conn.execute(f"CREATE SCHEMA {SNAPSHOT}")
    filled = []
    for name in tables:
        conn.execute(f'CREATE TABLE {SNAPSHOT}."{name}" AS SELECT * FROM public."{name}"')
        if conn.execute(f'SELECT EXISTS (SELECT FROM public."{name}")').fetchone()[0]:
            filled.append(name)
    sequences = conn.execute(
        "SELECT sequencename, coalesce(last_value, 1), last_value IS NOT NULL"
        " FROM pg_sequences WHERE schemaname = 'public'"
    ).fetchall()
    statements = [f'DELETE FROM public."{name}"' for name in reversed(tables)]
    statements += [
        f"SELECT setval('public.\"{name}\"', {value}, {called})"
        for name, value, called in sequences
    ]
    statements += [f'INSERT INTO public."{n}" SELECT * FROM {SNAPSHOT}."{n}"' for n in filled]
    fingerprint = conn.execute(SCHEMA_FINGERPRINT).fetchone()[0]
    return fingerprint, ";\n".join(statements)
