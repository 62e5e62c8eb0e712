"""The transaction boundary: one unit of work per use case, opened by the entry point.

    with unit_of_work() as uow:
        task = tasks.complete_task(user, task_id, "approve")
        uow.after_commit(lambda: ...)

What a unit promises:

- Service functions only change the session; the unit commits once, when its block ends.
- A stale write (the version column refused it, or PostgreSQL chose this unit as the victim
  of a deadlock between two writers of the same rows) becomes `StaleWrite`, a `Conflict`; a
  duplicate row (a unique constraint) becomes `Conflict`. Both are raised from the block,
  whether they surface at a flush inside it or at the commit.
- Any exception, a domain error or not, rolls the whole unit back and is raised again:
  nothing of a refused use case is half-applied, nor left pending in the session.
- A unit opened inside another joins it: the inner block neither commits nor rolls back, so
  one use case may call another and both land in the outer transaction (or neither does).
- Functions registered with `after_commit` run once the commit succeeded, in order, and never
  after a rollback (mail, the live-workflow cache). A hook that writes opens its own unit; a
  hook that fails is logged and does not undo the commit nor stop the other hooks.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from engine.db import db
from engine.errors import Conflict, StaleWrite

log = logging.getLogger(__name__)
STALE = "the item changed meanwhile; reload and try again"
DUPLICATE = "a concurrent change conflicts with this one; reload and try again"
_KEY = "unit_of_work"
# PostgreSQL's deadlock victim and serialization failure: two units wrote the same rows at once.
LOST_RACE = ("40P01", "40001")


class UnitOfWork:
    """The open unit: where hooks to run after its commit are registered."""

    def __init__(self) -> None:
        self._hooks: list[Callable[[], object]] = []

    def after_commit(self, hook: Callable[[], object]) -> None:
        """Run `hook()` once this unit (or the outer one it joined) has committed."""
        self._hooks.append(hook)

    def _run_hooks(self) -> None:
        for hook in self._hooks:
            try:
                hook()
            except Exception:  # the commit stands: a failed mail or cache fill is only logged
                log.exception("after-commit hook %r failed", hook)
                db.session.rollback()


def current_unit() -> UnitOfWork | None:
    """The unit open in this session, or None outside of any."""
    return db.session.info.get(_KEY)


def after_commit(hook: Callable[[], object]) -> None:
    """Register `hook` on the open unit; outside of a unit (a script, a test) it is dropped,
    since nothing says this change will ever be committed."""
    unit = current_unit()
    if unit is not None:
        unit.after_commit(hook)


@contextmanager
def unit_of_work(stale: str = STALE, duplicate: str = DUPLICATE) -> Iterator[UnitOfWork]:
    """Open a unit (or join the one already open); see the module docstring for its promise.

    `stale` and `duplicate` are the Conflict messages for a stale and a duplicate write."""
    session = db.session
    outer = session.info.get(_KEY)
    if outer is not None:
        yield outer
        return
    unit = UnitOfWork()
    session.info[_KEY] = unit
    try:
        try:
            yield unit
            session.commit()
        except StaleDataError as err:
            session.rollback()
            raise StaleWrite(stale) from err
        except OperationalError as err:
            session.rollback()
            if getattr(err.orig, "sqlstate", None) in LOST_RACE:
                raise StaleWrite(stale) from err
            raise
        except IntegrityError as err:
            session.rollback()
            raise Conflict(duplicate) from err
        except BaseException:
            session.rollback()
            raise
    finally:
        session.info.pop(_KEY, None)
    unit._run_hooks()


@contextmanager
def savepoint() -> Iterator[None]:
    """A part of the open unit that can fail and be undone alone, for a service that recovers
    from a lost race inside its caller's unit (the flush happens here, so a duplicate or
    stale write raises IntegrityError or StaleDataError from this block)."""
    session = db.session
    session.flush()  # what the unit did before: outside the savepoint
    connection = session.connection()
    dbapi = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite" and dbapi is not None and not dbapi.in_transaction:
        # pysqlite begins lazily, at the first write: a SAVEPOINT that started the transaction
        # would be released as a COMMIT, ahead of the unit.
        connection.exec_driver_sql("BEGIN")
    with session.begin_nested():
        yield
