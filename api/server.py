"""Running the app under gunicorn, configured in code."""

from gunicorn.app.base import BaseApplication


class AccessflowServer(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from api.app import create_app, freeze_startup_objects

        app = create_app()
        freeze_startup_objects()
        return app


def serve_forever(host: str, port: int, workers: int) -> None:
    AccessflowServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": 4,
            "accesslog": "-",
            # Never log query strings or headers: a token could ride in either.
            "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
            # Its default socket path is shared by every server on the machine; we never use it.
            "control_socket_disable": True,
        }
    ).run()
