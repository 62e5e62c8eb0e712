"""Where scim2-server reads and writes: accessflow's users and groups, through the services.

The protocol (validation, PATCH, ETags, errors) is scim2-server's; this storage only maps
resources to rows. Reads for a write lock the row (PostgreSQL), so concurrent PATCHes of one
group queue up instead of losing a member."""

from contextvars import ContextVar
from typing import Any

from scim2_models import (
    NotImplementedException,
    PreconditionFailedException,
    SearchRequest,
)
from scim2_server.storage import ScimStorage, SearchPage
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from engine.db import db
from engine.models import Group, User
from engine.scim import filters, groups, people
from engine.scim.protocol import SERVICE

# True while a request that writes is served: its reads lock what they read.
writing: ContextVar[bool] = ContextVar("scim_writing", default=False)


def _model(resource_type):
    return SERVICE.get_model(resource_type)


class DirectoryStorage(ScimStorage):
    """Users and Groups of the accessflow directory, as scim2-server's storage."""

    def get(self, resource_type, resource_id, *, response_parameters=None):
        return _model(resource_type).model_validate(self._read(resource_type, resource_id))

    def _read(self, resource_type, resource_id: str) -> dict:
        lock = writing.get()
        if resource_type.name == "User":
            user = people.find_person(resource_id, lock=lock)
            return people.person_resource(user, people.groups_of([user.id])[user.id])
        group = groups.find_group(resource_id, lock=lock)
        return groups.group_resource(group, groups.members_of([group.id])[group.id])

    def search(self, resource_types, search_request: SearchRequest[Any], *, position=None):
        if len(resource_types) != 1:
            raise NotImplementedException(detail="search /Users or /Groups, not the root")
        resource_type = resource_types[0]
        is_user = resource_type.name == "User"
        table, columns = (User, filters.USER_COLUMNS) if is_user else (Group, filters.GROUP_COLUMNS)
        base = people.visible() if is_user else groups.visible()
        query = base.where(filters.condition(search_request.filter, columns))
        total = db.session.scalar(select(func.count()).select_from(query.subquery()))
        order = filters.sort_column(search_request.sort_by, columns)
        descending = search_request.sort_order == SearchRequest.SortOrder.descending
        if order is not None:
            query = query.order_by(order.is_(None), order.desc() if descending else order)
        query = query.order_by(table.id)
        start = search_request.start_index_0 or 0
        if search_request.count is not None:
            query = query.limit(search_request.count)
        if is_user:
            query = query.options(selectinload(User.manager))
        rows = list(db.session.scalars(query.offset(start)))
        model = _model(resource_type)
        ids = [row.id for row in rows]
        if is_user:
            by_id = people.groups_of(ids)
            found = [model.model_validate(people.person_resource(r, by_id[r.id])) for r in rows]
        else:
            by_id = groups.members_of(ids)
            found = [model.model_validate(groups.group_resource(r, by_id[r.id])) for r in rows]
        return SearchPage(total=total, resources=found)

    def create(self, resource_type, resource):
        if resource_type.name == "User":
            user = people.create_person(resource)
            db.session.flush()
            data = people.person_resource(user, people.groups_of([user.id])[user.id])
        else:
            group = groups.create_group(resource)
            db.session.flush()
            data = groups.group_resource(group, groups.members_of([group.id])[group.id])
        return _model(resource_type).model_validate(data)

    def update(self, resource_type, resource, *, expected_version=None):
        current = self._read(resource_type, resource.id)
        if expected_version is not None and current["meta"]["version"] != expected_version:
            raise PreconditionFailedException(detail="the resource changed meanwhile")
        if resource_type.name == "User":
            people.update_person(people.find_person(resource.id), resource)
        else:
            groups.update_group(groups.find_group(resource.id), resource)
        db.session.flush()
        db.session.expire_all()
        return self.get(resource_type, resource.id)

    def delete(self, resource_type, resource_id, *, expected_version=None):
        current = self._read(resource_type, resource_id)
        if expected_version is not None and current["meta"]["version"] != expected_version:
            raise PreconditionFailedException(detail="the resource changed meanwhile")
        if resource_type.name == "User":
            people.delete_person(people.find_person(resource_id))
        else:
            groups.delete_group(groups.find_group(resource_id))
