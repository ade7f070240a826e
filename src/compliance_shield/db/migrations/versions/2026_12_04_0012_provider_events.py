"""Provider events: each KYC event a provider delivered, kept by the provider's own event id.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

A webhook delivered twice (a provider retry, a replay) is found by ``(provider, event_id)`` and
answered ``duplicate`` without touching the investor. Each row also keeps what the event said,
when it says it happened, when it arrived and what became of it (``applied`` or ``stale``), so
an officer can see the investor's KYC history next to the status it produced.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    _sql(
        """
        CREATE TABLE provider_events (
            provider      text        NOT NULL,
            event_id      text        NOT NULL,
            investor_id   uuid        NOT NULL REFERENCES investors (id),
            event_name    text        NOT NULL,
            kyc_status    text        NOT NULL
                          CHECK (kyc_status IN ('pending', 'verified', 'rejected', 'expired')),
            occurred_at   timestamptz NOT NULL,
            received_at   timestamptz NOT NULL DEFAULT now(),
            outcome       text        NOT NULL CHECK (outcome IN ('applied', 'stale')),
            PRIMARY KEY (provider, event_id)
        );
        CREATE INDEX provider_events_investor_idx ON provider_events (investor_id, received_at DESC);
        """
    )


def downgrade() -> None:
    _sql("DROP TABLE provider_events;")
