"""Page views, one module per feature; importing them registers their routes on `ui.bp`."""

from ui import filters  # noqa: F401
from ui.views import (  # noqa: F401
    admin,
    auth,
    catalog,
    designer,
    expiring,
    groups,
    inbox,
    people,
    provisioning,
    requests,
    sso,
    sync,
)
