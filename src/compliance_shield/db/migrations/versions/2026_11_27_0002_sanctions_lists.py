"""Sanctions lists as versioned data, investor name-screening results and dismissed false positives.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Each import of a list is one row of ``sanctions_list_versions`` (source, publication date, content
hash, counts) with its listed entities and digital-currency addresses; the rows of a version are
never updated. At most one version per source is ``active`` (a partial unique index), and the
active versions are what the check path screens against, next to the operator-managed
``sanctioned_addresses``. A change of a version row notifies ``cs_refdata`` (key: the source), so
every process reloads its address set and name index.

Investors carry the result of their last name screening (status, hits, the list versions used);
``pending`` means not screened yet, which the ``sanctioned_party`` rule treats as missing evidence.
``screening_dismissals`` records an officer's decision that a hit is a false positive for one list
entry (source + entry uid, stable across versions).
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    _sql(
        """
        CREATE TABLE sanctions_list_versions (
            id             bigserial PRIMARY KEY,
            source         text NOT NULL CHECK (source ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
            label          text NOT NULL UNIQUE,
            format         text NOT NULL,
            published_on   date,
            content_hash   text NOT NULL CHECK (content_hash ~ '^sha256:[0-9a-f]{64}$'),
            entity_count   integer NOT NULL CHECK (entity_count >= 0),
            name_count     integer NOT NULL CHECK (name_count >= 0),
            address_count  integer NOT NULL CHECK (address_count >= 0),
            origin         text,
            imported_at    timestamptz NOT NULL DEFAULT now(),
            imported_by    text NOT NULL,
            status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'superseded')),
            superseded_at  timestamptz
        );
        -- one active version per source: what the check path and the name index use
        CREATE UNIQUE INDEX sanctions_list_versions_active_idx
            ON sanctions_list_versions (source) WHERE status = 'active';
        CREATE INDEX sanctions_list_versions_source_idx ON sanctions_list_versions (source, imported_at DESC);

        CREATE TABLE sanctions_list_entities (
            version_id      bigint NOT NULL REFERENCES sanctions_list_versions (id) ON DELETE CASCADE,
            uid             text NOT NULL,
            kind            text NOT NULL
                            CHECK (kind IN ('individual', 'entity', 'vessel', 'aircraft', 'unknown')),
            name            text NOT NULL,
            aliases         text[] NOT NULL DEFAULT '{}',
            dates_of_birth  text[] NOT NULL DEFAULT '{}',
            nationalities   text[] NOT NULL DEFAULT '{}',
            countries       text[] NOT NULL DEFAULT '{}',
            programmes      text[] NOT NULL DEFAULT '{}',
            remarks         text,
            PRIMARY KEY (version_id, uid)
        );

        CREATE TABLE sanctions_list_addresses (
            version_id  bigint NOT NULL REFERENCES sanctions_list_versions (id) ON DELETE CASCADE,
            -- lower-case hex; not necessarily 40 digits: lists carry malformed entries, kept as published
            address     text NOT NULL CHECK (address !~* '^0x' OR address ~ '^0x[0-9a-f]+$'),
            asset       text NOT NULL,
            entity_uid  text
        );
        CREATE INDEX sanctions_list_addresses_version_idx ON sanctions_list_addresses (version_id);
        CREATE INDEX sanctions_list_addresses_address_idx ON sanctions_list_addresses (address);

        -- the content of a list version is what a decision cited: never rewritten
        CREATE TRIGGER sanctions_list_entities_immutable
            BEFORE UPDATE ON sanctions_list_entities
            FOR EACH ROW EXECUTE FUNCTION forbid_modification();
        CREATE TRIGGER sanctions_list_addresses_immutable
            BEFORE UPDATE ON sanctions_list_addresses
            FOR EACH ROW EXECUTE FUNCTION forbid_modification();

        CREATE TRIGGER sanctions_list_versions_notify
            AFTER INSERT OR UPDATE OR DELETE ON sanctions_list_versions
            FOR EACH ROW EXECUTE FUNCTION notify_refdata('source');
        """
    )
    _screening()


def _screening() -> None:
    _sql(
        """
        ALTER TABLE investors
            ADD COLUMN screening_hits jsonb NOT NULL DEFAULT '[]'
                CHECK (jsonb_typeof(screening_hits) = 'array'),
            ADD COLUMN screening_list_versions text[] NOT NULL DEFAULT '{}',
            ADD COLUMN screened_at timestamptz,
            ALTER COLUMN screening_status SET DEFAULT 'pending';
        -- nobody was screened by name before this revision
        UPDATE investors SET screening_status = 'pending' WHERE screened_at IS NULL;
        ALTER TABLE investors ADD CONSTRAINT investors_screening_status_check
            CHECK (screening_status IN ('pending', 'clear', 'review', 'match'));

        CREATE TABLE screening_dismissals (
            id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            investor_id   uuid NOT NULL REFERENCES investors (id),
            source        text NOT NULL,
            entity_uid    text NOT NULL,
            entity_name   text,
            score         real,
            reason        text NOT NULL CHECK (length(reason) >= 3),
            dismissed_by  text NOT NULL,
            dismissed_at  timestamptz NOT NULL DEFAULT now(),
            UNIQUE (investor_id, source, entity_uid)
        );
        """
    )


def downgrade() -> None:
    _sql(
        """
        DROP TABLE screening_dismissals;
        ALTER TABLE investors DROP CONSTRAINT investors_screening_status_check;
        ALTER TABLE investors
            DROP COLUMN screening_hits,
            DROP COLUMN screening_list_versions,
            DROP COLUMN screened_at,
            ALTER COLUMN screening_status SET DEFAULT 'clear';
        UPDATE investors SET screening_status = 'clear';
        DROP TABLE sanctions_list_addresses;
        DROP TABLE sanctions_list_entities;
        DROP TABLE sanctions_list_versions;
        """
    )
