"""The cart: what a requester gathers for themselves or colleagues, then submits at once."""

import gc
import logging
from collections.abc import Sequence
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from engine.access import sod
from engine.audit import trail
from engine.db import db, new_id
from engine.directory.lookup import application_by_key, user_by_username
from engine.errors import Conflict, DomainError, Invalid, NotFound
from engine.models import (
    AccessRequest,
    Account,
    Application,
    CartItem,
    RequestItem,
    User,
    WorkflowVersion,
)
from engine.models.access import ACCOUNT_MODES
from engine.provisioning import accounts
from engine.requests import end_dates, line_rules
from engine.requests.drafts import ItemDraft
from engine.tasks import candidates
from engine.unit_of_work import savepoint
from engine.workflow import faults, instances
from engine.workflow.batch import StartBatch
from engine.workflow.bpmn import latest_version

log = logging.getLogger(__name__)


def add_to_cart(
    user: User,
    application: str,
    beneficiary: str | None = None,
    account_mode: str = "create",
    justification: str | None = None,
    role: str | None = None,
    account_id: str | None = None,
    *,
    choose_account_later: bool = False,
    end_date: str | None = None,
) -> CartItem:
    """Put one application for one beneficiary (default: the requester) in the cart.

    An application with roles needs one of them (unless the account is removed); `update`
    and `remove` need an account to act on, and `account_id` (its id, or the id the target
    knows it by) says which when the person holds several; `create` is refused when the person
    holds an account and the app allows one only; access a group grants is removed from the
    group. `choose_account_later` (the pages' cart, where each line has an account select)
    lets an update or a removal wait for its account until the submit. `end_date` (ISO 8601
    date or date-time) makes the access time-bound, within the application's maximum."""
    if account_mode not in ACCOUNT_MODES:
        raise Invalid(
            f"account_mode must be one of {', '.join(ACCOUNT_MODES)}", field="account_mode"
        )
    app = application_by_key(application)
    _guard_enabled(app)
    person = user_by_username(beneficiary, field="beneficiary") if beneficiary else user
    held = accounts.active_accounts(person.id, app.id)
    chosen = line_rules.check_account(
        person, app, account_mode, held, account_id, required=not choose_account_later
    )
    if account_mode == "remove":
        line_rules.guard_not_from_group(person, app)
        role = None
    else:
        line_rules.guard_role(app, role)
        why = sod.refusal(person, app)
        if why is not None:
            raise Invalid(why, field="application")
    ends_at = end_dates.parse_end_date(end_date)
    end_dates.check_end_date(app, ends_at, account_mode)
    line = CartItem(
        owner_id=user.id,
        application=app,
        beneficiary=person,
        account_mode=account_mode,
        justification=justification,
        role=role,
        account_id=chosen.id if chosen else None,
        ends_at=ends_at,
    )
    db.session.add(line)
    return line


def list_cart(user: User) -> list[CartItem]:
    return db.session.scalars(
        select(CartItem)
        .where(CartItem.owner_id == user.id)
        .order_by(CartItem.created_at, CartItem.id)
    ).all()


def remove_from_cart(user: User, line_id: str) -> None:
    line = db.session.get(CartItem, line_id)
    if line is None or line.owner_id != user.id:
        raise NotFound("no such cart item")
    db.session.delete(line)


def submit_cart(user: User, idempotency_key: str | None = None) -> AccessRequest:
    """Turn the cart into one request whose items each start their own process instance; a key
    this requester used before returns that request and creates nothing."""
    return submit_cart_once(user, idempotency_key)[0]


def _create_request(user: User, idempotency_key: str | None) -> AccessRequest:
    # The beneficiaries' managers come along: the first approval lane names them.
    lines = db.session.scalars(
        select(CartItem)
        .where(CartItem.owner_id == user.id)
        .order_by(CartItem.created_at, CartItem.id)
        .options(joinedload(CartItem.beneficiary).joinedload(User.manager))
    ).all()
    if not lines:
        raise Invalid("the cart is empty")
    # An empty, loaded collection: the items join it as they are made, with no reload later.
    request = AccessRequest(id=new_id(), requester=user, idempotency_key=idempotency_key, items=[])
    db.session.add(request)
    with _no_cyclic_gc():
        _open_items(request, lines)
        db.session.flush()  # inside the pause: the flush makes as many objects as the submit
    return request


@contextmanager
def _no_cyclic_gc():
    """Pause Python's cycle collector while a cart makes its objects: every full collection
    walks all of them (the live workflows stay referenced until the commit anyway), which made
    a 10,000-item submit spend a quarter of its time collecting. Reference counting still runs,
    and a collector paused by someone else stays paused."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _guard_enabled(app: Application) -> None:
    if not app.enabled:
        raise Conflict(
            f"{app.name} ({app.key}) is disabled: it takes no new requests", field="application"
        )


def _open_items(request: AccessRequest, lines: list[CartItem]) -> None:
    """Turn every cart line into an item and start its process instance.

    The guards read the database once for the whole cart, each workflow's newest version is
    looked up once, each group's members once, and the rows are written with one INSERT per
    table (`StartBatch`); an item whose workflow ends or fails at once takes the ordinary path."""
    open_items = _open_items_for(lines)
    held = _accounts_for(lines)
    versions: dict[str, WorkflowVersion | None] = {}
    batch = StartBatch()
    with trail.batched(), candidates.cached():
        for position, line in enumerate(lines):
            _guard_enabled(line.application)  # disabled since the line was added
            _recheck_account(line, held.get((line.beneficiary_id, line.application_id), []))
            key = _open_key(line)
            _guard_no_open_item(open_items.get(key), line)
            draft = _draft(request, position, line)
            open_items[key] = draft.id  # a second line for the same slot in this cart
            workflow_key = line.application.workflow_key
            if workflow_key not in versions:
                with db.session.no_autoflush:  # the pending items are not needed by this lookup
                    versions[workflow_key] = latest_version(workflow_key)
            version = versions[workflow_key]
            if version is None or not batch.start(draft, version):
                _start(draft, version)
            db.session.delete(line)
        db.session.flush()  # the request row, which the batch's items refer to
        batch.write()
    db.session.expire(request, ["items"])  # read again, with the items written in bulk


def _start(draft: ItemDraft, version: WorkflowVersion | None) -> None:
    """The ordinary path: an ORM item, its instance started (and an incident if it fails)."""
    item = draft.build()
    db.session.add(item)
    trail.record("submitted", item.requester_id, item=item, comment=item.justification)
    instance, fault = instances.start_instance(item, version)
    if fault is not None:  # the designer's workflow failed: the item goes to an incident
        faults.record_workflow_fault(instance, fault.detail)


def _recheck_account(line: CartItem, held: Sequence[Account]) -> None:
    """The account rules again: accounts made or ended since the line was added, and the
    account a line left to choose (the pages' cart) must be chosen now; the end date again
    (time has passed, the application's maximum may have changed)."""
    try:
        line_rules.check_account(
            line.beneficiary, line.application, line.account_mode, held, line.account_id
        )
        end_dates.check_end_date(line.application, line.ends_at, line.account_mode)
    except DomainError as err:
        err.extra.setdefault("line", line.id)
        raise


def _accounts_for(lines: list[CartItem]) -> dict[tuple[str, str], list[Account]]:
    """{(person id, application id): their active accounts, oldest first} for these lines' slots,
    in one query joined to the cart."""
    owner_ids = {line.owner_id for line in lines}
    slots = {(line.beneficiary_id, line.application_id) for line in lines}
    with db.session.no_autoflush:
        in_cart = (
            select(CartItem.id)
            .where(
                CartItem.owner_id.in_(owner_ids),
                CartItem.beneficiary_id == Account.user_id,
                CartItem.application_id == Account.application_id,
            )
            .exists()
        )
        rows = db.session.scalars(
            select(Account).where(in_cart, Account.status == "active", Account.ended_at.is_(None))
        ).all()
    found: dict[tuple[str, str], list[Account]] = {}
    for account in sorted(rows, key=lambda a: (a.created_at, a.id)):
        slot = (account.user_id, account.application_id)
        if slot in slots:
            found.setdefault(slot, []).append(account)
    return found


def _open_key(line: CartItem) -> str:
    return f"{line.beneficiary_id}:{line.application_id}"


def _open_items_for(lines: list[CartItem]) -> dict[str, str]:
    """{open key: item id} of the open items in the slots these lines ask for, in one query."""
    keys = {_open_key(line) for line in lines}
    owner_ids = {line.owner_id for line in lines}
    # Joined to the cart itself rather than sent as thousands of parameters.
    slot = CartItem.beneficiary_id + ":" + CartItem.application_id
    with db.session.no_autoflush:
        rows = db.session.execute(
            select(RequestItem.open_key, RequestItem.id)
            .join(CartItem, RequestItem.open_key == slot)
            .where(CartItem.owner_id.in_(owner_ids))
        ).all()
    return {key: item_id for key, item_id in rows if key in keys}


def _draft(request: AccessRequest, position: int, line: CartItem) -> ItemDraft:
    """The item one cart line becomes (its process is started by the caller)."""
    return ItemDraft(
        requester=request.requester,
        beneficiary=line.beneficiary,
        application=line.application,
        account_mode=line.account_mode,
        justification=line.justification,
        role=line.role,
        account_id=line.account_id,
        request=request,
        position=position,
        ends_at=line.ends_at,
    )


def _guard_no_open_item(open_item_id: str | None, line: CartItem) -> None:
    if open_item_id is not None:
        person = line.beneficiary.display_name or line.beneficiary.username
        raise Conflict(
            f"{person} already has an open request for {line.application.name}",
            item=open_item_id,
            line=line.id,
        )


def open_items_in_cart(user: User) -> dict[str, RequestItem]:
    """{cart line id: the open item already holding that line's person and application}: such
    a line would refuse the submit, so the cart can say so as soon as the line is added."""
    lines = list_cart(user)
    found = _open_items_for(lines) if lines else {}
    rows = db.session.scalars(select(RequestItem).where(RequestItem.id.in_(set(found.values()))))
    items = {item.id: item for item in rows}
    return {line.id: items[found[_open_key(line)]] for line in lines if _open_key(line) in found}


def submit_cart_once(user: User, idempotency_key: str | None = None) -> tuple[AccessRequest, bool]:
    """Submit, or with a key already used by this requester, return that request: (request,
    replayed). Two concurrent submits with one key create one request; the loser replays it."""
    if idempotency_key and len(idempotency_key) > 200:  # the column's width
        raise Invalid("idempotency_key must be at most 200 characters", field="idempotency_key")
    if idempotency_key:
        earlier = _request_with_key(user, idempotency_key)
        if earlier is not None:
            return earlier, True
    try:
        if not idempotency_key:
            # Nothing to replay: a refused submit raises, and the caller's unit rolls it back.
            return _create_request(user, idempotency_key), False
        # Written now, in a savepoint, so that a lost race with a concurrent submit of the same
        # key can be undone alone and the winner's request replayed in the caller's unit.
        with savepoint():
            return _create_request(user, idempotency_key), False
    except (Conflict, Invalid, IntegrityError, StaleDataError) as err:
        # A concurrent submit with the same key may have won: it took the lines and wrote the
        # request this call would have written.
        earlier = _request_with_key(user, idempotency_key) if idempotency_key else None
        if earlier is not None:
            log.info(
                "submit by %s: a concurrent submit with the same key won (%s): replayed",
                user.username,
                type(err).__name__,
            )
            return earlier, True
        if isinstance(err, DomainError):
            raise
        # It took the same cart lines, key or person-and-application slot.
        raise Conflict("the cart or an open request changed meanwhile; try again") from err


def _request_with_key(user: User, idempotency_key: str) -> AccessRequest | None:
    return db.session.scalar(
        select(AccessRequest).where(
            AccessRequest.requester_id == user.id,
            AccessRequest.idempotency_key == idempotency_key,
        )
    )
