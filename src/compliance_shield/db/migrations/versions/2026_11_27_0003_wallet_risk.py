"""Wallet risk labels; when an investor's KYC was last confirmed by an external provider.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

``wallet_labels`` is the built-in wallet-risk source: an address carries a category (mixer,
darknet, scam, exchange, …) and a risk level from a named source. It notifies ``cs_refdata``
like the other reference tables, so the in-memory snapshot serves it on the check path.

``investors.kyc_checked_at`` is the time of the provider answer (webhook or pull) that set the
investor's KYC status: an answer older than the one applied is ignored, so webhooks delivered
out of order or replayed cannot roll a status back.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    _sql(
        """
        CREATE TABLE wallet_labels (
            address     text NOT NULL CHECK (address !~* '^0x' OR address ~ '^0x[0-9a-f]{40}$'),
            source      text NOT NULL CHECK (source <> ''),
            category    text NOT NULL CHECK (category ~ '^[a-z][a-z0-9_]*$'),
            risk_level  text NOT NULL CHECK (risk_level IN ('low', 'medium', 'high', 'severe')),
            note        text,
            added_at    timestamptz NOT NULL DEFAULT now(),
            added_by    text,
            PRIMARY KEY (address, source)
        );

        CREATE TRIGGER wallet_labels_notify AFTER INSERT OR UPDATE OR DELETE ON wallet_labels
            FOR EACH ROW EXECUTE FUNCTION notify_refdata('address');
        CREATE TRIGGER wallet_labels_notify_truncate AFTER TRUNCATE ON wallet_labels
            FOR EACH STATEMENT EXECUTE FUNCTION notify_refdata('address');

        ALTER TABLE investors ADD COLUMN kyc_checked_at timestamptz;
        CREATE INDEX investors_kyc_provider_ref_idx ON investors (kyc_provider, kyc_provider_ref)
            WHERE kyc_provider_ref IS NOT NULL;
        """
    )


def downgrade() -> None:
    _sql(
        """
        DROP INDEX investors_kyc_provider_ref_idx;
        ALTER TABLE investors DROP COLUMN kyc_checked_at;
        DROP TABLE wallet_labels;
        """
    )
