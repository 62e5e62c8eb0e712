"""What the lifecycle tells people about their access (written to the outbox, sent by the worker).

- A grant that a group or an admin gave is fulfilled: the beneficiary has the access now.
- A removal (any origin) is fulfilled: the beneficiary, while still active, and a leaver's
  manager are told the access is gone.
- A person leaves: their manager gets a summary of what is being taken away.
- A request from a cart is fulfilled or rejected: the person it is for, and the requester
  when someone else asked, are told (with the account id, or why it was rejected).

Only names, application names and account identifiers go in a notice, never a connector's
settings. Tasks for approvers and fulfillers are announced by engine/audit/digests.py.
"""

from collections.abc import Sequence
from html import escape

from engine.audit import notices
from engine.db import db
from engine.models import Account, Application, Assignment, Group, RequestItem, User
from engine.provisioning import accounts

GRANT_ORIGINS = ("group", "admin", "cart")


def item_fulfilled(item: RequestItem) -> None:
    """The item just reached `fulfilled`: tell the people concerned, if anyone."""
    if item.kind == "grant" and item.origin in GRANT_ORIGINS:
        _granted(item)
    elif item.kind == "update" and item.origin == "cart":
        _updated(item)
    elif item.kind == "remove":
        _removed(item)
    if item.origin == "cart" and item.requester_id != item.beneficiary_id:
        _requester_told(item, "done")


def item_rejected(item: RequestItem) -> None:
    """A request from a cart ended rejected (a decision, or nobody decided in time): the person
    it was for and the requester are told why."""
    if item.origin != "cart":
        return
    person, app = item.beneficiary, item.application
    lines = [("Application", app.name), ("Why", item.outcome_reason or "rejected")]
    if person.active:
        text, page = _bodies(
            f"Hello {_name(person)},", f"The request for access to {app.name} was rejected.", lines
        )
        notices.queue(
            person, "request_rejected", f"Request for {app.name} rejected", text, page, item=item
        )
    if item.requester_id != item.beneficiary_id:
        _requester_told(item, "rejected")


def _requester_told(item: RequestItem, outcome: str) -> None:
    requester, person, app = item.requester, item.beneficiary, item.application
    if not requester.active:
        return
    what = {"grant": "access to", "update": "an update of the account in"}.get(item.kind)
    what = what or "the removal of the account in"
    verb = "is done" if outcome == "done" else "was rejected"
    lines = [("Application", app.name), ("For", f"{_name(person)} ({person.username})")]
    if outcome == "rejected":
        lines.append(("Why", item.outcome_reason or "rejected"))
    text, page = _bodies(
        f"Hello {_name(requester)},", f"Your request for {what} {app.name} {verb}.", lines
    )
    subject = f"Your request for {app.name} for {_name(person)} {verb}"
    notices.queue(requester, f"request_{outcome}", subject, text, page, item=item)


def _updated(item: RequestItem) -> None:
    person, app = item.beneficiary, item.application
    lines = [("Application", app.name)]
    account = _account_id(item)
    if account:
        lines.append(("Account", account))
    text, page = _bodies(
        f"Hello {_name(person)},", f"Your account in {app.name} was updated.", lines
    )
    notices.queue(
        person, "account_updated", f"Your account in {app.name} was updated", text, page, item=item
    )


def _name(user: User) -> str:
    return user.display_name or user.username


def _account_id(item: RequestItem) -> str | None:
    """The external id of the item's account, also when it was recorded in this very change
    (still unflushed: the workflow sync runs without autoflush)."""
    if item.account_id is None:
        return None
    for pending in db.session.new:
        if isinstance(pending, Account) and pending.id == item.account_id:
            return pending.external_id
    account = db.session.get(Account, item.account_id)
    return account.external_id if account is not None else None


def _source(item: RequestItem) -> str:
    """How the access came, in words: the group, or the admin who assigned it."""
    assignment = db.session.get(Assignment, item.assignment_id) if item.assignment_id else None
    if item.origin == "group":
        group = (
            db.session.get(Group, assignment.source_id)
            if assignment is not None and assignment.source_id
            else None
        )
        return f"membership of the group {group.name}" if group else "a group you belong to"
    if item.origin == "cart":
        return f"a request by {_name(item.requester)}"
    return f"assigned by {_name(item.requester)}"


def _table_rows(lines: list[tuple[str, str]]) -> str:
    return "".join(
        f"<tr><th align='left'>{escape(label)}</th><td>{escape(value)}</td></tr>"
        for label, value in lines
    )


def _bodies(
    greeting: str, lead: str, lines: list[tuple[str, str]], tail: str = ""
) -> tuple[str, str]:
    text = f"{greeting}\n\n{lead}\n\n"
    text += "".join(f"{label}: {value}\n" for label, value in lines)
    if tail:
        text += f"\n{tail}\n"
    page = f"<p>{escape(greeting)}</p>\n<p>{escape(lead)}</p>\n"
    if lines:
        page += f"<table>{_table_rows(lines)}</table>\n"
    if tail:
        page += f"<p>{escape(tail)}</p>\n"
    return text, page


def _granted(item: RequestItem) -> None:
    person, app = item.beneficiary, item.application
    lines = [("Application", app.name), ("Given by", _source(item))]
    if item.role:
        lines.append(("Role", item.role))
    account = _account_id(item)
    if account:
        lines.append(("Account", account))
    text, page = _bodies(f"Hello {_name(person)},", f"You now have access to {app.name}.", lines)
    notices.queue(
        person, "access_granted", f"You now have access to {app.name}", text, page, item=item
    )


def _removed(item: RequestItem) -> None:
    person, app = item.beneficiary, item.application
    lines = [("Application", app.name)]
    account = _account_id(item)
    if account:
        lines.append(("Account", account))
    if item.justification:
        lines.append(("Why", item.justification))
    if person.active:
        text, page = _bodies(
            f"Hello {_name(person)},", f"Your access to {app.name} was removed.", lines
        )
        notices.queue(
            person, "access_removed", f"Access to {app.name} was removed", text, page, item=item
        )
    boss = person.manager
    if item.origin == "leaver" and boss is not None and boss.active:
        text, page = _bodies(
            f"Hello {_name(boss)},",
            f"Access to {app.name} was removed for {_name(person)} ({person.username}), who left.",
            lines,
        )
        # No link: a manager is not among the people who may open the item's page.
        notices.queue(
            boss,
            "leaver_access_removed",
            f"Access to {app.name} was removed for {_name(person)}",
            text,
            page,
        )


def leaver(
    person: User,
    actor: User | None,
    reason: str | None,
    removing: Sequence[Application],
    ended: Sequence[Assignment],
    cancelled: Sequence[RequestItem],
) -> None:
    """Tell a leaver's manager what is being taken away (nobody, when they have no active
    manager: the admins see it on the person's page)."""
    boss = person.manager
    if boss is None or not boss.active:
        return
    lines = []
    for app in removing:
        held = ", ".join(a.external_id for a in accounts.active_accounts(person.id, app.id))
        lines.append((app.name, f"account {held} is being removed" if held else "removal started"))
    removed_ids = {app.id for app in removing}
    for app_id in dict.fromkeys(a.application_id for a in ended):
        if app_id not in removed_ids:
            app = db.session.get_one(Application, app_id)
            lines.append((app.name, "access ended (no account to remove)"))
    for item in cancelled:
        lines.append((item.application.name, "open request cancelled"))
    who = f"{_name(person)} ({person.username})"
    lead = f"{who} was deactivated" + (f" by {_name(actor)}" if actor else "")
    lead += f": {reason}." if reason else "."
    if lines:
        lead += " This is what is being taken away:"
    else:
        lead += " They held no access in accessflow."
    text, page = _bodies(
        f"Hello {_name(boss)},",
        lead,
        lines,
        "You will get a message as each removal is done." if removing else "",
    )
    notices.queue(
        boss, "leaver_summary", f"{_name(person)} has left: access being removed", text, page
    )
