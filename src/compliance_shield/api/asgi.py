"""ASGI entry point for server processes: ``uvicorn compliance_shield.api.asgi:app``."""

from compliance_shield.api.app import create_app
from compliance_shield.observability.logging import configure_logging
from compliance_shield.settings import load_settings

settings = load_settings()
configure_logging(settings.log_level)
app = create_app(settings)
