"""The catalog a requester browses, and cart lines added for several people at once."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select

from engine.db import db
from engine.directory.lookup import find_application, user_by_username
from engine.errors import Conflict, DomainError, Invalid, NotFound
from engine.models import Account, Application, CartItem, User
from engine.models.access import ACCOUNT_MODES
from engine.provisioning import accounts
from engine.requests import cart, line_rules


def search_applications(query: str = "") -> Sequence[Application]:
    """Applications open for requests whose name, key or description contains `query`."""
    statement = select(Application).where(Application.enabled.is_(True))
    text = (query or "").strip()
    if text:
        pattern = f"%{text}%"
        statement = statement.where(
            or_(
                Application.name.ilike(pattern),
                Application.key.ilike(pattern),
                Application.description.ilike(pattern),
            )
        )
    return db.session.scalars(statement.order_by(Application.name)).all()


def list_people() -> list[User]:
    """Everyone a request may be for (active users), by name."""
    users = db.session.scalars(select(User).where(User.active.is_(True))).all()
    return sorted(users, key=lambda u: (u.display_name or u.username).lower())


def add_for_beneficiaries(
    user: User,
    application: str,
    beneficiaries: list[str],
    account_mode: str = "create",
    justification: str | None = None,
    role: str | None = None,
    end_date: str | None = None,
) -> list[CartItem]:
    """Batch provisioning: one cart line per beneficiary for the same application; all of them
    or none (they land in the caller's one unit of work). Someone who holds several accounts
    gets a line whose account is chosen in the cart (refused at submit until it is)."""
    names = list(dict.fromkeys(b.strip() for b in beneficiaries if b and b.strip()))
    if not names:
        raise Invalid("choose at least one person the access is for", field="beneficiary")
    people = [user_by_username(name, field="beneficiary") for name in names]
    in_cart = {(line.application.key, line.beneficiary_id) for line in cart.list_cart(user)}
    for person in people:
        if (application, person.id) in in_cart:
            raise Conflict(
                f"{application} for {person.username} is already in your cart", field="beneficiary"
            )
    role = (role or "").strip() or None
    return [
        cart.add_to_cart(
            user,
            application,
            person.username,
            account_mode,
            justification,
            role,
            choose_account_later=True,
            end_date=end_date,
        )
        for person in people
    ]


def default_account_mode(person: User, app: Application) -> str:
    """What the add-to-cart form proposes: an update when the person holds an account there."""
    return "update" if accounts.active_accounts(person.id, app.id) else "create"


def cart_line_accounts(lines: Sequence[CartItem]) -> dict[str, Sequence[Account]]:
    """{line id: the accounts its person holds in its app}, for the lines holding several (the
    cart asks which one an update or a removal acts on)."""
    found = {}
    for line in lines:
        held = accounts.active_accounts(line.beneficiary_id, line.application_id)
        if len(held) > 1:
            found[line.id] = held
    return found


@dataclass
class LineEdit:
    """What the cart form says of one line."""

    account_mode: str
    justification: str | None = None
    role: str | None = None
    account_id: str | None = None


def update_cart_line(user: User, line_id: str, edit: LineEdit) -> CartItem:
    """Change a cart line's account mode (create, update or remove), role, account and
    justification, under the rules `cart.add_to_cart` applies."""
    line = db.session.get(CartItem, line_id)
    if line is None or line.owner_id != user.id:
        raise NotFound("no such cart item")
    mode = edit.account_mode
    if mode not in ACCOUNT_MODES:
        raise Invalid(
            f"account_mode must be one of {', '.join(ACCOUNT_MODES)}", field="account_mode"
        )
    app, person = line.application, line.beneficiary
    # The account select may still say something after the mode went back to create.
    account_id = None if mode == "create" else (edit.account_id or "").strip() or None
    held = accounts.active_accounts(person.id, app.id)
    chosen = line_rules.check_account(person, app, mode, held, account_id, required=False)
    role = (edit.role or "").strip() or None
    if mode == "remove":
        line_rules.guard_not_from_group(person, app)
        role = None
    else:
        line_rules.guard_role(app, role)
    line.account_mode = mode
    if mode == "remove":  # a removal ends the access now: an end date no longer applies
        line.ends_at = None
    line.role = role
    line.account_id = chosen.id if chosen else None
    line.justification = (edit.justification or "").strip() or None
    return line


def update_cart(user: User, edits: dict[str, LineEdit]) -> list[CartItem]:
    """Apply {line id: its edit} to the lines still in the cart (a line submitted or removed
    meanwhile is skipped); an error names its line in `extra["line"]`."""
    changed = []
    for line in cart.list_cart(user):
        if line.id not in edits:
            continue
        try:
            changed.append(update_cart_line(user, line.id, edits[line.id]))
        except DomainError as err:
            err.extra.setdefault("line", line.id)
            raise
    return changed


def get_application(key: str) -> Application:
    """An application open for requests, by key; NotFound for a disabled one too."""
    app = find_application(key)
    if app is None or not app.enabled:
        raise NotFound(f"no application {key!r} is open for requests")
    return app
