"""The catalog a requester browses, and cart lines added for several people at once."""

from collections.abc import Sequence

from sqlalchemy import or_, select

from engine.db import db
from engine.directory.lookup import application_by_key, find_application, user_by_username
from engine.errors import Conflict, DomainError, Invalid, NotFound
from engine.models import Application, CartItem, User
from engine.models.access import ACCOUNT_MODES
from engine.provisioning import accounts
from engine.requests import cart


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
) -> list[CartItem]:
    """Batch provisioning: one cart line per beneficiary for the same application; all of them
    or none (they land in the caller's one unit of work)."""
    names = list(dict.fromkeys(b.strip() for b in beneficiaries if b and b.strip()))
    if not names:
        raise Invalid("choose at least one person the access is for", field="beneficiary")
    people = [user_by_username(name, field="beneficiary") for name in names]
    if account_mode == "remove":  # all or nothing: refuse before any line is added
        app = application_by_key(application)
        for person in people:
            accounts.guard_removable(person, app)
    in_cart = {(line.application.key, line.beneficiary_id) for line in cart.list_cart(user)}
    for person in people:
        if (application, person.id) in in_cart:
            raise Conflict(
                f"{application} for {person.username} is already in your cart", field="beneficiary"
            )
    return [
        cart.add_to_cart(user, application, person.username, account_mode, justification)
        for person in people
    ]


def update_cart_line(
    user: User, line_id: str, account_mode: str, justification: str | None
) -> CartItem:
    """Change a cart line's account mode (create, update or remove) and justification."""
    line = db.session.get(CartItem, line_id)
    if line is None or line.owner_id != user.id:
        raise NotFound("no such cart item")
    if account_mode not in ACCOUNT_MODES:
        raise Invalid(
            f"account_mode must be one of {', '.join(ACCOUNT_MODES)}", field="account_mode"
        )
    if account_mode == "remove":
        accounts.guard_removable(line.beneficiary, line.application)
    line.account_mode = account_mode
    line.justification = (justification or "").strip() or None
    return line


def update_cart(user: User, edits: dict[str, tuple[str, str | None]]) -> list[CartItem]:
    """Apply {line id: (account mode, justification)} to the lines still in the cart (a line
    submitted or removed meanwhile is skipped); an error names its line in `extra["line"]`."""
    changed = []
    for line in cart.list_cart(user):
        if line.id not in edits:
            continue
        try:
            changed.append(update_cart_line(user, line.id, *edits[line.id]))
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
