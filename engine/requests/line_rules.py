"""The rules a cart line meets: at add-to-cart, on an edit of the catalog's pages, and again
at submit (accounts made or ended meanwhile)."""

from collections.abc import Sequence

from engine.access import assignments
from engine.errors import Invalid
from engine.models import Account, Application, User


def check_account(
    person: User,
    app: Application,
    account_mode: str,
    held: Sequence[Account],
    account_id: str | None,
    *,
    required: bool = True,
) -> Account | None:
    """The account rules of a cart line, at add-to-cart, on an edit and again at submit; returns
    the account an update or a removal names (None: the only one the person holds).

    - create: refused when the person holds an account and the app allows one only;
    - update, remove: refused when the person holds none; with several, `account_id` (required
      unless `required` is False) must be one of them: its Account.id or its external id."""
    who = person.username
    if account_mode == "create":
        if held and not app.allow_multiple_accounts:
            raise Invalid(
                f"{who} already has an account in {app.name}; ask for an update instead",
                field="account_mode",
                account=held[0].external_id,
            )
        if account_id:
            raise Invalid(
                "account_id names an account to update or remove: leave it out to create one",
                field="account_id",
            )
        return None
    verb = "remove" if account_mode == "remove" else "update"
    if not held:
        hint = "" if account_mode == "remove" else "; ask to create one"
        raise Invalid(f"{who} has no account in {app.name} to {verb}{hint}", field="account_mode")
    choices = ", ".join(a.external_id for a in held)
    if account_id:
        account = _held_account(held, account_id)
        if account is None:
            raise Invalid(
                f"{account_id!r} is not one of {who}'s active accounts in {app.name}: "
                f"pick one of {choices}",
                field="account_id",
            )
        return account
    if len(held) > 1 and required:
        raise Invalid(
            f"{who} holds {len(held)} accounts in {app.name}: say which one to {verb} ({choices})",
            field="account_id",
        )
    return None


def _held_account(held: Sequence[Account], account_id: str) -> Account | None:
    """The held account with this id, else with this external id when only one has it."""
    wanted = account_id.strip()
    for account in held:
        if account.id == wanted:
            return account
    same = [a for a in held if a.external_id == wanted]
    return same[0] if len(same) == 1 else None


def guard_role(app: Application, role: str | None) -> None:
    roles = app.role_names
    if role is None and roles:
        raise Invalid(f"{app.name} needs a role: one of {', '.join(roles)}", field="role")
    if role is not None and role not in roles:
        choices = f"one of {', '.join(roles)}" if roles else "none (it has no roles)"
        raise Invalid(f"{app.name} has no role {role!r}: pick {choices}", field="role")


def guard_not_from_group(person: User, app: Application) -> None:
    """Access a group grants comes back with the group: it is ended by leaving the group."""
    for assignment in assignments.active(person.id, app.id):
        if assignment.source == "group":
            group = assignment.group.name if assignment.group else "a group"
            raise Invalid(
                f"{person.username} has {app.name} through the group {group}: "
                "remove them from the group instead",
                field="account_mode",
            )
