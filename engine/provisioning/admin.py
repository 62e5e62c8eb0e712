"""What administrators look at about provisioning: applications and their connectors."""

from collections.abc import Sequence

from sqlalchemy import select

from engine.db import db
from engine.directory.authentication import require_admin
from engine.models import Application, User
from engine.provisioning import connected_apps


def list_applications(user: User) -> Sequence[Application]:
    require_admin(user)
    return db.session.scalars(select(Application).order_by(Application.name)).all()


def get_application(user: User, key: str) -> Application:
    """Any application, enabled or not, by key (NotFound when there is none)."""
    require_admin(user)
    return connected_apps.application(key)


def check_connection(user: User, key: str) -> dict:
    """Ask the application's connector whether the target answers; raise Invalid when not."""
    require_admin(user)
    return connected_apps.test_application(key)
