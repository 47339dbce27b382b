"""Deploy targets behind one interface: `local` processes, `skypilot` services."""

# the built-in targets register themselves with DeployTarget when their modules are imported
from . import local, skypilot  # noqa: E402,F401
