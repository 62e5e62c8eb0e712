"""What the benchmarks share: fresh databases, counting statements, ratio summaries."""

import statistics
import sys
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import create_app  # noqa: E402
from engine.db import db  # noqa: E402
from tests.conftest import PG_ADMIN_URL  # noqa: E402

DATABASES = ("sqlite", "postgresql")


@contextmanager
def database_url(kind: str):
    """The URL of a fresh, empty database of `kind`, dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as home:
            yield f"sqlite:///{home}/bench.db"
        return
    name = f"accessflow_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_app(url: str):
    """An app on `url` with an empty schema made from the models."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        db.drop_all()
        db.create_all()
    return app


class Counter:
    """Statements and commits on one app's engine while `counting` is on."""

    def __init__(self, app):
        self.statements = self.commits = 0
        self.on = False
        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_args, **_kw):
        self.statements += self.on

    def _commit(self, *_args):
        self.commits += self.on

    @contextmanager
    def counting(self):
        self.statements = self.commits = 0
        self.on = True
        try:
            yield self
        finally:
            self.on = False


def spread(values) -> str:
    """min / median / max of a list of numbers."""
    return f"{min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}"
