"""The `accessflow` command line (the README's "Using it").

Each command that changes something does it in one unit of work; a domain error becomes
`error: <detail>` on stderr and exit code 2, in one place (`reports_domain_errors`).
"""

import os
import sys
from functools import wraps

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from engine.errors import DomainError
from engine.unit_of_work import unit_of_work


def _app():
    from api.app import create_app

    return create_app()


def reports_domain_errors(command):
    """Turn a DomainError raised by the command into a message on stderr and exit code 2; so
    too a database that has no accessflow schema yet (an operator who skipped `init`)."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DomainError as err:
            click.echo(f"error: {err.detail}", err=True)
            sys.exit(2)
        except (OperationalError, ProgrammingError) as err:
            if not _missing_table(err):
                raise
            click.echo("error: the database has no accessflow tables yet: run init", err=True)
            sys.exit(2)

    return wrapper


def _missing_table(err: Exception) -> bool:
    """SQLite says "no such table", PostgreSQL "relation ... does not exist"."""
    text = str(getattr(err, "orig", err))
    return "no such table" in text or ("relation" in text and "does not exist" in text)


@click.group()
def main():
    """accessflow: access requests as BPMN workflows."""


@main.command()
@reports_domain_errors
def init():
    """Create or upgrade the database schema, encrypt any connector secret still in clear and
    deploy the shipped workflows."""
    from api.app import deploy_shipped_workflows
    from engine.provisioning.connected_apps import reencrypt_secrets
    from engine.schema import upgrade

    app = _app()
    with app.app_context():
        upgrade(app.config["SQLALCHEMY_DATABASE_URI"])
        with unit_of_work():
            encrypted = reencrypt_secrets(only_plaintext=True)
        if encrypted:
            click.echo(f"connector secrets of {encrypted} applications encrypted")
        for version in deploy_shipped_workflows():
            click.echo(f"workflow {version.key} at version {version.version}")
    click.echo("database ready")


@main.command(name="rotate-secrets")
@reports_domain_errors
def rotate_secrets_():
    """Re-encrypt every stored connector secret with the newest ACCESSFLOW_ENCRYPTION_KEY."""
    from engine.provisioning.connected_apps import reencrypt_secrets

    with _app().app_context(), unit_of_work():
        changed = reencrypt_secrets()
    click.echo(f"connector secrets of {changed} applications re-encrypted with the newest key")


@main.command(name="local-passwords")
@click.argument("state", type=click.Choice(["on", "off"]))
@reports_domain_errors
def local_passwords(state):
    """Turn local password sign-in on or off (the way back in when single sign-on fails)."""
    from engine import settings

    with _app().app_context(), unit_of_work():
        settings.change("local_passwords", state)
    click.echo(f"local passwords {state}")


@main.command(name="import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@reports_domain_errors
def import_(path):
    """Load a directory file (users, groups, applications) in one transaction."""
    from engine.directory.importer import import_directory

    app = _app()
    with app.app_context(), open(path, encoding="utf-8") as handle, unit_of_work():
        counts = import_directory(handle.read())
    click.echo(", ".join(f"{n} {section}" for section, n in counts.items()) + " imported")


@main.command()
@click.argument("username")
@reports_domain_errors
def token(username):
    """Print a new API token for USERNAME."""
    from engine.directory.tokens import issue_token

    app = _app()
    with app.app_context():
        with unit_of_work():
            issued = issue_token(username)
        click.echo(issued)  # only once it is stored


@main.command(name="scim-token")
@click.argument("name", required=False)
@click.option("--revoke", is_flag=True, help="Revoke the token NAME instead.")
@click.option("--list", "list_", is_flag=True, help="List the tokens (never the tokens).")
@reports_domain_errors
def scim_token(name, revoke, list_):
    """Print a new bearer token NAME for the inbound SCIM server at /scim/v2 (one line)."""
    from engine.scim import tokens

    if not list_ and not name:
        raise click.UsageError("give the token a NAME (say, the identity provider's)")
    app = _app()
    with app.app_context():
        with unit_of_work():
            if list_:
                for row in tokens.list_scim_tokens():
                    state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "live"
                    click.echo(f"{row['name']}\t{state}")
                return
            if revoke:
                done = tokens.revoke_scim_token(name)
                click.echo("revoked" if done else "already revoked")
                return
            issued = tokens.issue_scim_token(name)
        click.echo(issued)  # only once it is stored


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@reports_domain_errors
def deploy(path):
    """Deploy a BPMN file as the next version of its process, active at once (no review).

    Designers' deploys in the browser are drafts that a second person approves; an operator
    with shell access to the server is trusted to deploy directly.
    """
    from engine.workflow.designer import deploy_as_operator

    app = _app()
    with app.app_context(), open(path, encoding="utf-8") as handle:
        with unit_of_work():
            version, _created = deploy_as_operator(handle.read())
        click.echo(f"workflow {version.key} at version {version.version}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@reports_domain_errors
def serve(host, port, workers):
    """Serve the API and UI with gunicorn (never Flask's development server)."""
    from api.app import deploy_shipped_workflows
    from api.server import serve_forever

    with _app().app_context():
        deploy_shipped_workflows()  # a broken shipped BPMN stops start-up, naming the element
    serve_forever(host, port, workers)


@main.command()
@click.option("--id", "worker_id", default=None, help="Worker id shown in leases and the log.")
@click.option("--once", is_flag=True, help="Run due jobs and their retries until idle, then exit.")
@click.option(
    "--interval",
    default=1.0,
    show_default=True,
    type=float,
    envvar="ACCESSFLOW_WORKER_POLL",
    help="Seconds between scans (env ACCESSFLOW_WORKER_POLL).",
)
@click.option("--threads", default=1, show_default=True, type=int, help="Jobs run at once.")
@click.option(
    "--lease-seconds", default=120.0, show_default=True, type=float, help="A job's lease."
)
@click.option("--batch", default=20, show_default=True, type=int, help="Jobs taken at once.")
@click.option(
    "--http-concurrency", default=4, show_default=True, type=int, help="Target calls at once."
)
def worker(worker_id, once, interval, threads, lease_seconds, batch, http_concurrency):
    """Run background work: provisioning jobs (with retries) against connected applications."""
    import logging

    from api.worker import Worker

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    runner = Worker(
        _app(),
        worker_id,
        threads=threads,
        lease_seconds=lease_seconds,
        batch=batch,
        http_concurrency=http_concurrency,
    )
    if once:
        click.echo(f"{runner.run_until_idle()} jobs run")
    else:
        from api.app import freeze_startup_objects

        freeze_startup_objects()
        runner.serve(interval)


@main.group()
def app():
    """Connected applications: test the connection, lift a quarantine."""


@app.command(name="test")
@click.argument("key")
@reports_domain_errors
def app_test(key):
    """Check that application KEY's target answers and accepts its credentials."""
    from engine.provisioning.connected_apps import test_application

    with _app().app_context():
        summary = test_application(key)
    click.echo(f"{key}: connection ok")
    for name, value in summary.items():
        if name not in ("application", "ok"):
            click.echo(f"  {name}: {value}")


@app.command(name="resume")
@click.argument("key")
@reports_domain_errors
def app_resume(key):
    """Lift application KEY's quarantine: its paused provisioning jobs run again."""
    from engine.provisioning.connected_apps import resume_application

    with _app().app_context(), unit_of_work():
        resume_application(None, key, "resumed from the command line")
    click.echo(f"{key}: provisioning resumed")


@app.command(name="sync")
@click.argument("key")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@reports_domain_errors
def app_sync(key, dry_run):
    """Run one sync of application KEY now and print its counts."""
    from engine.audit.notifications import Mailer
    from engine.sync.runner import sync_now

    flask_app = _app()
    with flask_app.app_context():
        run = sync_now(key, dry_run, f"cli:{os.getpid()}", Mailer.from_config(flask_app.config))
        status, counts, error, run_id = run.status, dict(run.counts), run.error, run.id
    click.echo(f"{key}: sync {run_id} {status}{' (dry run)' if dry_run else ''}")
    for name, value in counts.items():
        click.echo(f"  {name}: {value}")
    if status == "waiting_approval":
        click.echo("  the deletion threshold stopped it: an admin allows it on the app's page")
    if status == "failed":
        raise click.ClickException(f"sync of {key} failed: {error}")


@main.command(name="mail-catcher")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8025, show_default=True, type=int)
@click.option("--file", "path", help="Where mails go [default: $ACCESSFLOW_HOME/mail.txt].")
@reports_domain_errors
def mail_catcher(host, port, path):
    """Run a local SMTP server that delivers nothing and appends every mail to a text file (for
    the demo: point ACCESSFLOW_SMTP_HOST/PORT at it)."""
    import signal
    import threading

    from api.config import instance_home
    from api.mail_catcher import start_mail_catcher

    path = path or str(instance_home() / "mail.txt")
    controller = start_mail_catcher(path, host, port)
    click.echo(f"mail catcher on {host}:{port}: mails are appended to {path}")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    controller.stop()
