"""The HTTP side of accessflow: app factory, REST blueprints, auth and the CLI."""

from api.app import create_app

__all__ = ["create_app"]
