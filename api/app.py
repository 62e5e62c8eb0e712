"""The Flask application factory."""

import gc
import os
import secrets
from pathlib import Path

from flask import Flask

from api.config import Config, instance_home
from api.request_body import BoundedRequest, refuse_nul_characters
from api.rest import register_api
from api.scim import register_scim
from engine import encryption
from engine.db import db, protect_sqlite_file, tune_sqlite
from engine.unit_of_work import unit_of_work
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
        app.config["SECRET_KEY"] = _instance_secret("secret_key", lambda: secrets.token_hex(32))
    encryption.use_keys(
        app.config.get("ENCRYPTION_KEY")
        or os.environ.get("ACCESSFLOW_ENCRYPTION_KEY")
        or _instance_secret("encryption_key", encryption.new_key)
    )
    db.init_app(app)
    with app.app_context():
        protect_sqlite_file(db.engine)
        tune_sqlite(db.engine)
    register_api(app)
    register_scim(app)
    init_ui(app)
    return app


def freeze_startup_objects() -> None:
    """Take what start-up made (modules, mappers, parsed specs, the app) out of the cycle
    collector's sight: a long-running process otherwise walks all of it in every full
    collection (about 170,000 objects, a sixth of a lifecycle's CPU in benchmarks/lifecycle.py).
    For long-running processes only (server, worker), called once their app is built."""
    gc.collect()
    gc.freeze()


def _instance_secret(name: str, generate) -> str:
    """A secret generated once into an owner-only file of the instance folder, so every process
    shares it; written aside then linked, so two processes starting at once agree on one."""
    path = instance_home() / name
    if not path.exists():
        draft = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(generate())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink()
    return path.read_text().strip()


def deploy_shipped_workflows() -> list:
    """Deploy every BPMN file in workflows/ whose content is not yet the newest version."""
    from engine.workflow.bpmn import deploy

    with unit_of_work():
        return [deploy(path.read_text()) for path in sorted(WORKFLOWS.glob("*.bpmn"))]
