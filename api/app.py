"""The Flask application factory."""

import secrets
from pathlib import Path

from flask import Flask

from api.config import Config, instance_home
from api.request_body import BoundedRequest, refuse_nul_characters
from api.rest import register_api
from engine.db import db, tune_sqlite
from ui import init_ui

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"


def create_app(config: dict | None = None) -> Flask:
    """Build the app; `config` overrides the environment-derived settings (tests use it)."""
    app = Flask(__name__, instance_relative_config=True)
    app.request_class = BoundedRequest
    app.before_request(refuse_nul_characters)
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key()
    db.init_app(app)
    with app.app_context():
        tune_sqlite(db.engine)
    register_api(app)
    init_ui(app)
    return app


def _instance_secret_key() -> str:
    """A key generated once and kept in the instance folder, so every worker process shares it."""
    path = instance_home() / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def deploy_shipped_workflows() -> list:
    """Deploy every BPMN file in workflows/ whose content is not yet the newest version."""
    from engine.bpmn import deploy

    versions = [deploy(path.read_text()) for path in sorted(WORKFLOWS.glob("*.bpmn"))]
    db.session.commit()
    return versions
