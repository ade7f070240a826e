"""One error tree. Every error carries a stable ``code`` and an HTTP ``status``.

    ComplianceShieldError (500 INTERNAL_ERROR)           a failure a retry will not cure (a bug);
    │                                                    ``details.error_id`` is on the log line
    ├── ValidationFailed (422 VALIDATION_FAILED)        a field of a request is invalid
    │   ├── PolicyInvalid (422 POLICY_INVALID)           a policy document is invalid
    │   ├── ListInvalid (422 LIST_INVALID)               a sanctions list file is malformed
    │   └── EventTimeOutOfRange (422 EVENT_TIME_OUT_OF_RANGE)  a provider event dated too far ahead or back
    ├── NotAuthenticated (401 NOT_AUTHENTICATED)         missing/invalid/expired bearer token
    ├── Forbidden (403 FORBIDDEN)                        the token lacks the role
    ├── NotFound (404 NOT_FOUND)                         an entity does not exist
    ├── Conflict (409 CONFLICT)                          state forbids the change
    │   └── IdempotencyKeyReused (409 IDEMPOTENCY_KEY_REUSED)
    ├── RateLimited (429 RATE_LIMITED)                   the caller's rate is spent (Retry-After)
    └── ServiceUnavailable (503 SERVICE_UNAVAILABLE)     the database is unreachable: a retry can help
        └── Overloaded (503 OVERLOADED)                  too many checks waiting: refused at once

Only ``ServiceUnavailable`` is answered with ``Retry-After``: it is the one failure that a retry
can cure. Anything else unexpected is a 500 with an error id, never "retry later".

A REJECTED transfer is a result, not an error. One renderer in ``api/errors.py`` turns these
into ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

import uuid
from typing import Any


class ComplianceShieldError(Exception):
    code = "INTERNAL_ERROR"
    status = 500

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def new_error_id() -> str:
    """An id for one unexpected failure: in the answer's ``details.error_id`` and on its log line."""
    return uuid.uuid4().hex


class InternalError(ComplianceShieldError):
    """A failure that will recur on retry (a bug, a value the database refuses). Logged with its id."""

    def __init__(self, message: str = "internal error", *, error_id: str | None = None) -> None:
        self.error_id = error_id or new_error_id()
        super().__init__(message, details={"error_id": self.error_id})


class ValidationFailed(ComplianceShieldError):
    code = "VALIDATION_FAILED"
    status = 422

    def __init__(self, message: str, *, field: str | None = None, details: Any = None) -> None:
        if details is None and field is not None:
            details = [{"field": field, "message": message}]
        super().__init__(message, details=details)
        self.field = field


class PolicyInvalid(ValidationFailed):
    """A policy document failed validation; ``details`` lists ``{"field": path, "message"}``."""

    code = "POLICY_INVALID"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        super().__init__(f"invalid policy document: {summary}", details=errors)
        self.errors = errors


class ListInvalid(ValidationFailed):
    """A sanctions list file failed to parse; ``details`` lists ``{"field": file:line, "message"}``."""

    code = "LIST_INVALID"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        super().__init__(f"invalid list file: {summary}", details=errors)
        self.errors = errors


class EventTimeOutOfRange(ValidationFailed):
    """A provider event dated beyond the allowed clock skew into the future, or older than the horizon."""

    code = "EVENT_TIME_OUT_OF_RANGE"


class NotAuthenticated(ComplianceShieldError):
    code = "NOT_AUTHENTICATED"
    status = 401


class Forbidden(ComplianceShieldError):
    code = "FORBIDDEN"
    status = 403


class NotFound(ComplianceShieldError):
    code = "NOT_FOUND"
    status = 404


class Conflict(ComplianceShieldError):
    code = "CONFLICT"
    status = 409


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"


class RateLimited(ComplianceShieldError):
    """The caller (token subject) sent more than its rate: refused before any work; retry after
    ``retry_after`` seconds (HTTP ``Retry-After``)."""

    code = "RATE_LIMITED"
    status = 429

    def __init__(self, message: str, *, retry_after: int = 1, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class ServiceUnavailable(ComplianceShieldError):
    """The database (or another dependency a retry can wait out) is unavailable: nothing was
    recorded; answered with ``Retry-After: retry_after``."""

    code = "SERVICE_UNAVAILABLE"
    status = 503

    def __init__(self, message: str, *, retry_after: int = 1, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class Overloaded(ServiceUnavailable):
    """Too many checks are waiting to be decided: this one is refused before any work (nothing is
    recorded); the caller should retry after ``retry_after`` seconds (HTTP ``Retry-After``)."""

    code = "OVERLOADED"
