"""Initial schema: reference data, ledger, decisions, audit log, outbox, sanctions.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Hand-written SQL: every statement is reviewed as it will run. ``_sql`` sends the text verbatim,
so ``%`` and ``:name`` inside PL/pgSQL bodies are not mistaken for bind parameters.

Conventions: amounts are integer base units in ``numeric(78,0)`` (a uint256 fits); times are
``timestamptz``; EVM addresses are stored lower-case (a CHECK rejects any other spelling of an
``0x…`` value, so a mixed-case key can never silently miss).

Immutable by trigger: ``policy_versions`` (no UPDATE/DELETE) and ``audit_log`` (no UPDATE,
DELETE or TRUNCATE). Reference-data tables notify ``cs_refdata`` on change and ``token_state``
notifies ``cs_token_state``, so in-memory snapshots can be invalidated.

``transfer_compliance_checks`` is range-partitioned by month on ``created_at`` with a DEFAULT
partition, so an insert never fails for want of a partition. ``ensure_check_partitions(n)``
creates the current month's and the next ``n`` months' partitions (idempotent; call it at
start-up and daily). A new partition whose range already has rows in the DEFAULT partition is
built beside it, the rows are moved into it and it is then attached — plain
``CREATE TABLE … PARTITION OF`` would fail in that case.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


_EVM_NORMALIZED = "CHECK ({col} !~* '^0x' OR {col} ~ '^0x[0-9a-f]{{40}}$')"


def upgrade() -> None:
    _reference_data()
    _ledger()
    _decisions()
    _audit_and_events()
    _notifications()


def _reference_data() -> None:
    _sql(
        f"""
        CREATE TABLE investors (
            id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            external_ref              text UNIQUE,
            type                      text NOT NULL DEFAULT 'individual'
                                      CHECK (type IN ('individual', 'entity')),
            name                      text NOT NULL,
            country                   char(2) NOT NULL CHECK (country ~ '^[A-Z]{{2}}$'),
            nationality               char(2) CHECK (nationality ~ '^[A-Z]{{2}}$'),
            category                  text NOT NULL,
            kyc_status                text NOT NULL DEFAULT 'pending'
                                      CHECK (kyc_status IN ('pending', 'verified', 'rejected', 'expired')),
            kyc_expires_at            timestamptz,
            kyc_provider              text,
            kyc_provider_ref          text,
            accreditation_expires_at  timestamptz,
            pep                       boolean NOT NULL DEFAULT false,
            risk_rating               text NOT NULL DEFAULT 'low'
                                      CHECK (risk_rating IN ('low', 'medium', 'high')),
            screening_status          text NOT NULL DEFAULT 'clear',
            designated_tokens         uuid[] NOT NULL DEFAULT '{{}}',
            created_at                timestamptz NOT NULL DEFAULT now(),
            updated_at                timestamptz NOT NULL DEFAULT now(),
            version                   integer NOT NULL DEFAULT 1
        );

        CREATE TABLE wallets (
            address      text PRIMARY KEY {_EVM_NORMALIZED.format(col="address")},
            investor_id  uuid NOT NULL REFERENCES investors (id),
            status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen')),
            custody      text NOT NULL DEFAULT 'custodial' CHECK (custody IN ('custodial', 'self_hosted')),
            label        text,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX wallets_investor_id_idx ON wallets (investor_id);

        CREATE TABLE policies (
            id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            name              text NOT NULL UNIQUE,
            title             text,
            description       text,
            draft             jsonb,
            draft_updated_at  timestamptz,
            current_version   integer,
            created_at        timestamptz NOT NULL DEFAULT now(),
            updated_at        timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE policy_versions (
            policy_id       uuid NOT NULL REFERENCES policies (id),
            version         integer NOT NULL CHECK (version >= 1),
            document        jsonb NOT NULL,
            content_hash    text NOT NULL,
            engine_version  text NOT NULL,
            published_at    timestamptz NOT NULL DEFAULT now(),
            published_by    text NOT NULL,
            PRIMARY KEY (policy_id, version),
            UNIQUE (policy_id, content_hash)
        );
        -- the published version a policy points at must exist (NULL: nothing published yet)
        ALTER TABLE policies ADD CONSTRAINT policies_current_version_fkey
            FOREIGN KEY (id, current_version) REFERENCES policy_versions (policy_id, version);

        CREATE TABLE tokens (
            id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            symbol            text NOT NULL,
            name              text,
            contract_address  text UNIQUE {_EVM_NORMALIZED.format(col="contract_address")},
            blockchain_type   text NOT NULL DEFAULT 'permissioned'
                              CHECK (blockchain_type IN ('permissioned', 'public')),
            decimals          integer NOT NULL DEFAULT 0 CHECK (decimals BETWEEN 0 AND 36),
            asset_type        text,
            issuer            text,
            price_per_unit    numeric CHECK (price_per_unit >= 0),
            price_currency    char(3) CHECK (price_currency ~ '^[A-Z]{{3}}$'),
            total_supply      numeric(78,0) CHECK (total_supply >= 0),
            policy_id         uuid REFERENCES policies (id),
            paused            boolean NOT NULL DEFAULT false,
            lockup_until      timestamptz,
            trading_windows   jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(trading_windows) = 'array'),
            created_at        timestamptz NOT NULL DEFAULT now(),
            updated_at        timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE sanctioned_addresses (
            address       text NOT NULL {_EVM_NORMALIZED.format(col="address")},
            chain         text NOT NULL DEFAULT 'any',
            source        text NOT NULL,
            entity        text,
            list_version  text,
            added_at      timestamptz NOT NULL DEFAULT now(),
            added_by      text,
            PRIMARY KEY (address, source)
        );

        CREATE FUNCTION forbid_modification() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'raise_exception', HINT = 'rows of this table are immutable';
        END
        $$;

        CREATE TRIGGER policy_versions_immutable
            BEFORE UPDATE OR DELETE ON policy_versions
            FOR EACH ROW EXECUTE FUNCTION forbid_modification();
        """
    )


def _ledger() -> None:
    _sql(
        """
        CREATE TABLE holdings (
            token_id     uuid NOT NULL REFERENCES tokens (id),
            investor_id  uuid NOT NULL REFERENCES investors (id),
            balance      numeric(78,0) NOT NULL CHECK (balance >= 0),
            updated_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (token_id, investor_id)
        );

        CREATE TABLE holding_lots (
            id           bigserial PRIMARY KEY,
            token_id     uuid NOT NULL REFERENCES tokens (id),
            investor_id  uuid NOT NULL REFERENCES investors (id),
            amount       numeric(78,0) NOT NULL CHECK (amount > 0),
            acquired_at  timestamptz NOT NULL
        );
        CREATE INDEX holding_lots_token_investor_acquired_idx
            ON holding_lots (token_id, investor_id, acquired_at);

        -- No foreign keys on the hot path: a KEY SHARE lock on the token row per insert would
        -- pile up multixacts under thousands of reservations a second.
        CREATE TABLE reservations (
            check_id          uuid PRIMARY KEY,
            token_id          uuid NOT NULL,
            from_investor_id  uuid,
            to_investor_id    uuid,
            amount            numeric(78,0) NOT NULL CHECK (amount >= 0),
            created_at        timestamptz NOT NULL DEFAULT now(),
            expires_at        timestamptz NOT NULL,
            status            text NOT NULL DEFAULT 'active'
                              CHECK (status IN ('active', 'settled', 'cancelled', 'expired')),
            released_at       timestamptz
        );
        CREATE INDEX reservations_active_token_idx ON reservations (token_id) WHERE status = 'active';

        -- Bumped by every transaction that changes the token's holdings or reservations; an
        -- in-memory ledger that has seen an older version reloads.
        CREATE TABLE token_state (
            token_id  uuid PRIMARY KEY,
            version   bigint NOT NULL DEFAULT 0
        );
        """
    )


def _decisions() -> None:
    _sql(
        """
        -- The primary key of a partitioned table must contain the partition key, hence
        -- (id, created_at); it also serves look-ups by id alone (one probe per partition).
        CREATE TABLE transfer_compliance_checks (
            id                 uuid NOT NULL,
            created_at         timestamptz NOT NULL,
            token_id           uuid NOT NULL,
            from_address       text NOT NULL,
            to_address         text NOT NULL,
            amount             numeric(78,0) NOT NULL CHECK (amount >= 0),
            transfer_type      text NOT NULL,
            blockchain_type    text NOT NULL,
            status             text NOT NULL CHECK (status IN ('APPROVED', 'REJECTED', 'ESCALATED')),
            risk_score         smallint NOT NULL CHECK (risk_score BETWEEN 0 AND 100),
            restriction_code   smallint NOT NULL DEFAULT 0 CHECK (restriction_code BETWEEN 0 AND 255),
            reasons            jsonb NOT NULL,
            rules              jsonb NOT NULL,
            facts              jsonb NOT NULL,
            request            jsonb NOT NULL,
            reference          text,
            policy_id          uuid,
            policy_version     integer,
            policy_hash        text,
            engine_version     text NOT NULL,
            idempotency_key    text,
            principal          text,
            expires_at         timestamptz,
            processing_ms      real,
            settlement_status  text NOT NULL DEFAULT 'not_applicable'
                               CHECK (settlement_status IN
                                      ('pending', 'settled', 'cancelled', 'expired', 'not_applicable')),
            tx_hash            text,
            settled_at         timestamptz,
            PRIMARY KEY (id, created_at)
        ) PARTITION BY RANGE (created_at);

        CREATE INDEX transfer_compliance_checks_token_idx
            ON transfer_compliance_checks (token_id, created_at DESC);
        CREATE INDEX transfer_compliance_checks_status_idx
            ON transfer_compliance_checks (status, created_at DESC);
        CREATE INDEX transfer_compliance_checks_from_idx
            ON transfer_compliance_checks (from_address, created_at DESC);
        CREATE INDEX transfer_compliance_checks_to_idx
            ON transfer_compliance_checks (to_address, created_at DESC);
        CREATE INDEX transfer_compliance_checks_recent_idx
            ON transfer_compliance_checks (created_at DESC, id DESC);

        CREATE TABLE transfer_compliance_checks_default
            PARTITION OF transfer_compliance_checks DEFAULT;

        CREATE FUNCTION ensure_check_partitions(months_ahead integer) RETURNS integer
        LANGUAGE plpgsql AS $$
        DECLARE
            parent      constant regclass := 'transfer_compliance_checks'::regclass;
            schema_name text;
            default_rel regclass;
            first_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
            lower_utc   timestamp;
            upper_utc   timestamp;
            lower_bound timestamptz;
            upper_bound timestamptz;
            part_name   text;
            part_ident  text;
            created     integer := 0;
        BEGIN
            IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
                RAISE EXCEPTION 'months_ahead must be between 0 and 120, got %', months_ahead;
            END IF;
            -- one caller at a time (every replica calls this at start-up)
            PERFORM pg_advisory_xact_lock(7166121392771069043);  -- 'cs-parts'

            SELECT n.nspname INTO schema_name
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = parent;
            default_rel := to_regclass(
                format('%I.%I', schema_name, 'transfer_compliance_checks_default'));

            FOR i IN 0..months_ahead LOOP
                lower_utc := first_month + make_interval(months => i);
                upper_utc := lower_utc + interval '1 month';
                lower_bound := lower_utc AT TIME ZONE 'UTC';
                upper_bound := upper_utc AT TIME ZONE 'UTC';
                part_name := 'transfer_compliance_checks_' || to_char(lower_utc, '"y"YYYY"m"MM');
                part_ident := format('%I.%I', schema_name, part_name);
                CONTINUE WHEN to_regclass(part_ident) IS NOT NULL;

                -- Built beside the parent and attached, rather than CREATE TABLE … PARTITION OF:
                -- rows of this range already in the DEFAULT partition are moved in first
                -- (PARTITION OF would fail on them), and ATTACH takes a weaker lock on the parent.
                -- Inserts routed to DEFAULT wait until this transaction ends.
                EXECUTE format('CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                               part_ident, parent);
                IF default_rel IS NOT NULL THEN
                    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', default_rel);
                    EXECUTE format(
                        'WITH moved AS (DELETE FROM %s WHERE created_at >= $1 AND created_at < $2 '
                        'RETURNING *) INSERT INTO %s SELECT * FROM moved',
                        default_rel, part_ident)
                    USING lower_bound, upper_bound;
                END IF;
                EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L)',
                               parent, part_ident,
                               to_char(lower_utc, 'YYYY-MM-DD HH24:MI:SS') || '+00',
                               to_char(upper_utc, 'YYYY-MM-DD HH24:MI:SS') || '+00');
                created := created + 1;
            END LOOP;
            RETURN created;
        END
        $$;

        COMMENT ON FUNCTION ensure_check_partitions(integer) IS
            'Create the monthly partitions of transfer_compliance_checks from the current (UTC) '
            'month through months_ahead months ahead; idempotent; returns how many it created.';

        SELECT ensure_check_partitions(3);

        CREATE TABLE idempotency_keys (
            principal     text NOT NULL,
            key           text NOT NULL,
            request_hash  text NOT NULL,
            check_id      uuid NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (principal, key)
        );
        CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
        """
    )


def _audit_and_events() -> None:
    _sql(
        """
        -- Hash chain: hash = sha256(prev_hash || canonical JSON of the row), computed by
        -- compliance_shield.db.audit. prev_hash is UNIQUE as well, so two writers can never fork
        -- the chain from the same tail, whatever their isolation level.
        CREATE TABLE audit_log (
            seq          bigserial PRIMARY KEY,
            occurred_at  timestamptz NOT NULL,
            actor        text NOT NULL,
            action       text NOT NULL,
            entity_type  text NOT NULL,
            entity_id    text NOT NULL,
            payload      jsonb NOT NULL,
            prev_hash    text NOT NULL UNIQUE CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
            hash         text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
        );
        CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id, seq);

        CREATE TRIGGER audit_log_append_only
            BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION forbid_modification();
        CREATE TRIGGER audit_log_no_truncate
            BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION forbid_modification();

        CREATE TABLE outbox (
            id            bigserial PRIMARY KEY,
            event_id      uuid NOT NULL UNIQUE,
            topic         text NOT NULL,
            key           text NOT NULL,
            event_type    text NOT NULL,
            payload       jsonb NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now(),
            published_at  timestamptz
        );
        CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
        """
    )


def _notifications() -> None:
    _sql(
        """
        -- Payload {"table", "key", "op"}: key is the row's primary key as text (the column named
        -- by the trigger argument). A key that changes notifies the old key too. TRUNCATE sends
        -- key null: reload the whole table.
        CREATE FUNCTION notify_refdata() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            key_column constant text := TG_ARGV[0];
            new_key text;
            old_key text;
        BEGIN
            IF TG_LEVEL = 'STATEMENT' THEN
                PERFORM pg_notify('cs_refdata', json_build_object(
                    'table', TG_TABLE_NAME, 'key', NULL, 'op', lower(TG_OP))::text);
                RETURN NULL;
            END IF;
            IF TG_OP <> 'INSERT' THEN
                old_key := to_jsonb(OLD) ->> key_column;
            END IF;
            IF TG_OP <> 'DELETE' THEN
                new_key := to_jsonb(NEW) ->> key_column;
            END IF;
            IF new_key IS NOT NULL THEN
                PERFORM pg_notify('cs_refdata', json_build_object(
                    'table', TG_TABLE_NAME, 'key', new_key, 'op', lower(TG_OP))::text);
            END IF;
            IF old_key IS NOT NULL AND old_key IS DISTINCT FROM new_key THEN
                PERFORM pg_notify('cs_refdata', json_build_object(
                    'table', TG_TABLE_NAME, 'key', old_key, 'op', lower(TG_OP))::text);
            END IF;
            RETURN NULL;
        END
        $$;

        CREATE TRIGGER investors_notify AFTER INSERT OR UPDATE OR DELETE ON investors
            FOR EACH ROW EXECUTE FUNCTION notify_refdata('id');
        CREATE TRIGGER wallets_notify AFTER INSERT OR UPDATE OR DELETE ON wallets
            FOR EACH ROW EXECUTE FUNCTION notify_refdata('address');
        CREATE TRIGGER tokens_notify AFTER INSERT OR UPDATE OR DELETE ON tokens
            FOR EACH ROW EXECUTE FUNCTION notify_refdata('id');
        CREATE TRIGGER policies_notify AFTER INSERT OR UPDATE OR DELETE ON policies
            FOR EACH ROW EXECUTE FUNCTION notify_refdata('id');
        CREATE TRIGGER policy_versions_notify AFTER INSERT OR UPDATE OR DELETE ON policy_versions
            FOR EACH ROW EXECUTE FUNCTION notify_refdata('policy_id');
        CREATE TRIGGER sanctioned_addresses_notify AFTER INSERT OR UPDATE OR DELETE ON sanctioned_addresses
            FOR EACH ROW EXECUTE FUNCTION notify_refdata('address');

        CREATE TRIGGER investors_notify_truncate AFTER TRUNCATE ON investors
            FOR EACH STATEMENT EXECUTE FUNCTION notify_refdata('id');
        CREATE TRIGGER wallets_notify_truncate AFTER TRUNCATE ON wallets
            FOR EACH STATEMENT EXECUTE FUNCTION notify_refdata('address');
        CREATE TRIGGER tokens_notify_truncate AFTER TRUNCATE ON tokens
            FOR EACH STATEMENT EXECUTE FUNCTION notify_refdata('id');
        CREATE TRIGGER policies_notify_truncate AFTER TRUNCATE ON policies
            FOR EACH STATEMENT EXECUTE FUNCTION notify_refdata('id');
        CREATE TRIGGER policy_versions_notify_truncate AFTER TRUNCATE ON policy_versions
            FOR EACH STATEMENT EXECUTE FUNCTION notify_refdata('policy_id');
        CREATE TRIGGER sanctioned_addresses_notify_truncate AFTER TRUNCATE ON sanctioned_addresses
            FOR EACH STATEMENT EXECUTE FUNCTION notify_refdata('address');

        -- "<token_id>:<version>" on every change of a token's ledger version
        CREATE FUNCTION notify_token_state() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('cs_token_state', NEW.token_id::text || ':' || NEW.version);
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER token_state_notify AFTER INSERT OR UPDATE ON token_state
            FOR EACH ROW EXECUTE FUNCTION notify_token_state();
        """
    )


def downgrade() -> None:
    _sql(
        """
        DROP TABLE outbox;
        DROP TABLE audit_log;
        DROP TABLE idempotency_keys;
        DROP TABLE transfer_compliance_checks;  -- with every partition
        DROP FUNCTION ensure_check_partitions(integer);
        DROP TABLE token_state;
        DROP TABLE reservations;
        DROP TABLE holding_lots;
        DROP TABLE holdings;
        DROP TABLE sanctioned_addresses;
        DROP TABLE tokens;
        ALTER TABLE policies DROP CONSTRAINT policies_current_version_fkey;
        DROP TABLE policy_versions;
        DROP TABLE policies;
        DROP TABLE wallets;
        DROP TABLE investors;
        DROP FUNCTION notify_token_state();
        DROP FUNCTION notify_refdata();
        DROP FUNCTION forbid_modification();
        """
    )
