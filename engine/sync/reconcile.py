"""Comparing one page of target accounts with the people and assignments on record.

Each account read is matched to a person by the matching attribute, then judged: link it,
update what drifted, enable or disable it, or only report it (an orphan, an unassigned one,
a person skipped for a missing mandatory attribute). What the target must be told becomes a
`planned` operation, carried out later with no transaction open; linking is ours alone and
happens here. A dry run (or provisioning off) records what would be done and does nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from engine.db import db, new_id, utcnow
from engine.models import Account, Assignment, ProvisioningLog, SyncOperation, User

# Directory fields compared with the target's copy (others in the map are ids or flags).
COMPARED = ("username", "email", "display_name", "first_name", "last_name", "department",
            "title")  # fmt: skip
CASELESS = ("username", "email")
WRITES = ("update", "enable", "disable", "delete")


@dataclass
class RunContext:
    """What a run needs to judge accounts, read once when it starts or resumes."""

    run_id: str
    app_id: str
    app_key: str
    dry: bool  # a dry run, or provisioning off: nothing is written anywhere
    orphan_policy: str
    match_field: str
    required: tuple[str, ...]
    in_scope: Callable[[dict], bool] | None
    counts: dict = field(default_factory=dict)
    linked: list = field(default_factory=list)  # (log row, report line) of this page's links

    def count(self, name: str, by: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + by


def clean(value) -> str | None:
    return None if value is None else (str(value).strip() or None)


def _key(field_name: str, value) -> str | None:
    text = clean(value)
    return text.casefold() if text is not None and field_name in CASELESS else text


def _people(ctx: RunContext, values: list[str]) -> dict[str, User]:
    """The people whose matching field holds one of `values`, by normalised value."""
    if not values:
        return {}
    column = getattr(User, "id" if ctx.match_field == "id" else ctx.match_field)
    found: dict[str, User] = {}

    def collect(query) -> None:
        for person in db.session.scalars(query):
            found.setdefault(_key(ctx.match_field, getattr(person, ctx.match_field)) or "", person)

    # The values as written first (the column's index answers); only those left over are
    # looked for case-insensitively, which reads the whole table.
    collect(select(User).where(column.in_(set(values))))
    rest = {v for v in values if v not in found}
    if rest and ctx.match_field in CASELESS:
        collect(select(User).where(func.lower(column).in_(rest)))
    return found


def plan_page(ctx: RunContext, accounts: list[dict]) -> None:
    """Judge one page of accounts, in the caller's unit."""
    match = [(a, _key(ctx.match_field, _match_value(ctx, a))) for a in accounts]
    people = _people(ctx, [v for _, v in match if v])
    ids = [p.id for p in people.values()]
    assigned: set[str] = set()
    ever_assigned: set[str] = set()
    if ids:
        for user_id, ended_at in db.session.execute(
            select(Assignment.user_id, Assignment.ended_at).where(
                Assignment.application_id == ctx.app_id, Assignment.user_id.in_(ids)
            )
        ):
            (ever_assigned if ended_at is not None else assigned).add(user_id)
    on_record: dict[tuple[str, str], Account] = {}
    if ids:
        for row in db.session.scalars(
            select(Account).where(
                Account.application_id == ctx.app_id,
                Account.user_id.in_(ids),
                Account.ended_at.is_(None),
            )
        ):
            on_record[(row.user_id, row.external_id)] = row
    for account, value in match:
        ctx.count("read")
        person = people.get(value) if value else None
        if person is None:
            _orphan(ctx, account)
            continue
        ctx.count("matched")
        held = on_record.get((person.id, account["external_id"]))
        _judge(ctx, account, person, person.id in assigned, held, person.id in ever_assigned)
    if ctx.linked:
        db.session.flush()
        for log, line in ctx.linked:
            line.log_id = log.id
        ctx.linked = []


def _match_value(ctx: RunContext, account: dict):
    attributes = account.get("attributes") or {}
    if ctx.match_field in attributes:
        return attributes[ctx.match_field]
    return account.get("user_name") if ctx.match_field == "username" else None


def _orphan(ctx: RunContext, account: dict) -> None:
    ctx.count("orphans")
    _report(ctx, "orphan", account, None, "no person matches the account")
    if ctx.orphan_policy == "disable" and account.get("active"):
        _plan(ctx, "disable", account, None, "orphan: the app's policy disables it")


def _judge(ctx, account: dict, person: User, assigned: bool, held, ended: bool) -> None:
    entry = person.as_directory_entry()
    in_scope = ctx.in_scope is None or ctx.in_scope(entry)
    if not (assigned and person.active and in_scope):
        if not account.get("active"):
            if not assigned and held is None and not ended:
                ctx.count("unassigned")
                _report(ctx, "unassigned", account, person, "a person, but no assignment")
            return
        if assigned and not person.active:
            _plan(ctx, "delete", account, person, "the person left (inactive)", held)
        elif assigned:
            _plan(ctx, "disable", account, person, "the person left the app's scope", held)
        elif held is not None or ended:
            _plan(ctx, "delete", account, person, "the assignment ended", held)
        else:
            ctx.count("unassigned")
            _report(ctx, "unassigned", account, person, "a person, but no assignment")
            if ctx.orphan_policy == "disable":
                _plan(ctx, "disable", account, person, "unassigned: the app's policy disables it")
        return
    missing = [f for f in ctx.required if clean(entry.get(f)) is None]
    if missing:
        ctx.count("skipped")
        _report(ctx, "skip", account, person, f"missing mandatory {', '.join(missing)}")
        return
    if held is None:
        _link(ctx, account, person)
    if not account.get("active"):
        _plan(ctx, "enable", account, person, "assigned: the account should be active")
    drift = _drift(account.get("attributes") or {}, entry)
    if drift:
        _plan(ctx, "update", account, person, f"drifted: {', '.join(sorted(drift))}",
              changes=drift)  # fmt: skip


def _drift(seen: dict, entry: dict) -> dict:
    """{field: [target value, directory value]} for each mapped field that differs."""
    drift = {}
    for name in COMPARED:
        if name not in seen or clean(entry.get(name)) is None:
            continue  # unmapped, or nothing to write (an update never clears a value)
        if _key(name, seen[name]) != _key(name, entry[name]):
            drift[name] = [seen[name], entry[name]]
    return drift


def _link(ctx: RunContext, account: dict, person: User) -> None:
    ctx.count("linked")
    if ctx.dry:
        _report(ctx, "link", account, person, "an existing account, not on record", "would")
        return
    db.session.add(Account(id=new_id(), user_id=person.id, application_id=ctx.app_id,
                           external_id=account["external_id"], origin="linked"))  # fmt: skip
    log = ProvisioningLog(application_id=ctx.app_id, user_id=person.id, worker="sync",
                          external_id=account["external_id"], operation="sync_link",
                          outcome="linked")  # fmt: skip
    db.session.add(log)
    line = _report(ctx, "link", account, person, "an existing account, not on record", "done")
    ctx.linked.append((log, line))  # the log ids are known after one flush per page


def _plan(ctx, action, account, person, reason, held=None, changes=None) -> None:
    counted = {"update": "updated", "enable": "enabled", "disable": "disabled",
               "delete": "disabled"}  # fmt: skip
    ctx.count(counted[action])
    status = "would" if ctx.dry else "planned"
    details = dict(changes or {})
    if held is not None:
        details["account"] = held.id  # the row on record, ended once the target agrees
    _report(ctx, action, account, person, reason, status, changes=details or None)


def _report(ctx, action, account, person, reason, status="reported", **extra):
    line = SyncOperation(
        run_id=ctx.run_id,
        action=action,
        status=status,
        external_id=account.get("external_id"),
        user_name=clean(account.get("user_name")),
        user_id=person.id if person is not None else None,
        reason=reason[:500],
        at=utcnow(),
        **extra,
    )
    db.session.add(line)
    return line
