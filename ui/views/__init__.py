"""Page views, one module per feature; importing them registers their routes on `ui.bp`."""

from ui import filters  # noqa: F401
from ui.views import admin, auth, catalog, designer, inbox, provisioning, requests  # noqa: F401
