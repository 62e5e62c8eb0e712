"""SCIM filters (parsed by scim2-models) turned into SQL over users and groups, never run over
rows loaded in memory. Only attributes with a column can be searched; any other is refused."""

from datetime import UTC, datetime
from typing import Any

from scim2_models import InvalidFilterException
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import String, and_, exists, func, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from engine.models import Group, User, group_members
from engine.scim.protocol import ENTERPRISE

CORE = "urn:ietf:params:scim:schemas:core:2.0:"
# Compared as they are written (RFC 7643: ids are caseExact); every other string ignores case.
CASE_EXACT = {
    "id",
    "externalid",
    "members",
    "members.value",
    "groups",
    "groups.value",
    f"{ENTERPRISE}:manager.value",
}


def _members(condition: ColumnElement) -> ColumnElement:
    """A group with a member matching `condition` (on group_members.user_id)."""
    members = select(group_members.c.user_id).where(group_members.c.group_id == Group.id)
    return exists(members.where(condition))


def _groups(condition: ColumnElement) -> ColumnElement:
    """A person in a group matching `condition` (on group_members.group_id)."""
    groups = select(group_members.c.group_id).where(group_members.c.user_id == User.id)
    return exists(groups.where(condition))


# Multi-valued references held in group_members: a test on them is "one of them matches".
THROUGH = {"members": (_members, "user_id"), "groups": (_groups, "group_id")}

USER_COLUMNS: dict[str, Any] = {
    "id": User.id,
    "username": User.username,
    "externalid": User.external_id,
    "displayname": User.display_name,
    "title": User.title,
    "active": User.active,
    "name.givenname": User.first_name,
    "name.familyname": User.last_name,
    "emails": User.email,
    "emails.value": User.email,
    "meta.created": User.created_at,
    "meta.lastmodified": func.coalesce(User.modified_at, User.created_at),
    f"{ENTERPRISE}:department": User.department,
    f"{ENTERPRISE}:manager": User.manager_id,
    f"{ENTERPRISE}:manager.value": User.manager_id,
    "groups": group_members.c.group_id,
    "groups.value": group_members.c.group_id,
}
GROUP_COLUMNS: dict[str, Any] = {
    "id": Group.id,
    "displayname": Group.name,
    "externalid": Group.external_id,
    "meta.created": Group.created_at,
    "meta.lastmodified": func.coalesce(Group.modified_at, Group.created_at),
    "members": group_members.c.user_id,
    "members.value": group_members.c.user_id,
}


def attribute_key(path: AttrPath, prefix: str | None = None) -> str:
    """`name.familyName` as `name.familyname`: the core URN dropped, an extension's kept."""
    uri = (path.uri or "").lower()
    name = path.attr.lower() + (f".{path.sub_attr.lower()}" if path.sub_attr else "")
    if prefix:
        name = f"{prefix}.{name}"
    if uri and not uri.startswith(CORE.lower()):
        return f"{ENTERPRISE}:{name}" if uri == ENTERPRISE.lower() else f"{uri}:{name}"
    return name


class SqlFilter(FilterVisitor[ColumnElement]):
    """One SQL condition per filter node; a comparison is never NULL, so `not` means not."""

    def __init__(self, columns: dict[str, Any]):
        self.columns = columns
        self.prefix: str | None = None

    def column(self, path: AttrPath) -> tuple[str, Any]:
        key = attribute_key(path, self.prefix)
        if key not in self.columns:
            raise InvalidFilterException(detail=f"filtering on {key!r} is not supported")
        return key, self.columns[key]

    def visit_comparison(self, node: Comparison) -> ColumnElement:
        key, column = self.column(node.attr_path)
        through = THROUGH.get(key.partition(".")[0])
        if through is not None:
            wrap, name = through
            return wrap(self._compare(key, group_members.c[name], node.op, node.value))
        condition = self._compare(key, column, node.op, node.value)
        return and_(column.is_not(None), condition)

    def _compare(self, key: str, column, op: CompareOperator, value: Any) -> ColumnElement:
        if value is None:
            return column.is_(None) if op == CompareOperator.eq else column.is_not(None)
        if isinstance(value, bool):
            if op not in (CompareOperator.eq, CompareOperator.ne):
                raise InvalidFilterException(detail=f"{op.value} cannot compare a boolean")
            return column == value if op == CompareOperator.eq else column != value
        if key.startswith("meta."):
            value = _moment(value)
        elif isinstance(value, str) and key not in CASE_EXACT:
            column, value = func.lower(column), value.lower()
        elif not isinstance(value, str):
            column, value = func.cast(column, String), str(value)
        match op:
            case CompareOperator.eq:
                return column == value
            case CompareOperator.ne:
                return column != value
            case CompareOperator.co:
                return column.contains(value, autoescape=True)
            case CompareOperator.sw:
                return column.startswith(value, autoescape=True)
            case CompareOperator.ew:
                return column.endswith(value, autoescape=True)
            case CompareOperator.gt:
                return column > value
            case CompareOperator.ge:
                return column >= value
            case CompareOperator.lt:
                return column < value
            case _:
                return column <= value

    def visit_present(self, node: Present) -> ColumnElement:
        key, column = self.column(node.attr_path)
        through = THROUGH.get(key.partition(".")[0])
        if through is not None:
            return through[0](true())
        if key.startswith("meta.") or key in ("active", "id"):
            return column.is_not(None)
        return and_(column.is_not(None), column != "")

    def visit_not(self, node: Not) -> ColumnElement:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_value_path(self, node: ValuePath) -> ColumnElement:
        if self.prefix is not None:
            raise InvalidFilterException(detail="a value filter cannot hold another one")
        self.prefix = attribute_key(node.attr_path)
        try:
            return self.visit(node.val_filter)
        finally:
            self.prefix = None


def _moment(value: Any) -> datetime:
    """A dateTime compared with our naive-UTC columns."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError as err:
        raise InvalidFilterException(detail=f"{value!r} is not a dateTime") from err
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def condition(scim_filter, columns: dict[str, Any]) -> ColumnElement:
    """The SQL condition of a parsed filter (or everything, without one)."""
    if scim_filter is None:
        return true()
    try:
        return SqlFilter(columns).visit(scim_filter.ast)
    except RecursionError as err:  # bounded before parsing; kept as a last guard
        raise InvalidFilterException(detail="the filter nests too deep") from err


def sort_column(sort_by, columns: dict[str, Any]):
    """The column a `sortBy` names (a member list sorts nothing: the id decides)."""
    if sort_by is None:
        return None
    text = str(sort_by)
    uri, _, name = text.rpartition(":") if text.lower().startswith("urn:") else ("", "", text)
    attr, _, sub = name.partition(".")
    key = attribute_key(AttrPath(attr=attr, sub_attr=sub or None, uri=uri or None))
    if key.partition(".")[0] in THROUGH or key not in columns:
        if key.partition(".")[0] in THROUGH:
            return None
        raise InvalidFilterException(detail=f"sorting on {key!r} is not supported")
    return columns[key]
