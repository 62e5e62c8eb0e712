"""Creating or upgrading the database schema with Alembic."""

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the schema at `url` to the newest migration (creating it when empty).

    Every head: migrations written side by side on branches share a parent until re-chained."""
    command.upgrade(alembic_config(url), "heads")
