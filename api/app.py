"""The Flask application factory."""

import secrets
from pathlib import Path

from flask import Flask

from api.config import Config
from engine.db import db, tune_sqlite

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"


def create_app(config: dict | None = None) -> Flask:
    """Build the app; `config` overrides the environment-derived settings (tests use it)."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        # A per-process key keeps sessions safe by default; set one to share sessions across workers.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    db.init_app(app)
    with app.app_context():
        tune_sqlite(db.engine)
    return app


def deploy_shipped_workflows() -> list:
    """Deploy every BPMN file in workflows/ whose content is not yet the newest version."""
    from engine.bpmn import deploy

    versions = [deploy(path.read_text()) for path in sorted(WORKFLOWS.glob("*.bpmn"))]
    db.session.commit()
    return versions
