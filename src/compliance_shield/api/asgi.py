"""ASGI entry point for server processes: ``uvicorn compliance_shield.api.asgi:app``."""

from compliance_shield.api.app import create_app
from compliance_shield.observability.process import ProcessKind, configure_process
from compliance_shield.settings import load_settings

settings = load_settings()
configure_process(settings, ProcessKind.API)
app = create_app(settings)
