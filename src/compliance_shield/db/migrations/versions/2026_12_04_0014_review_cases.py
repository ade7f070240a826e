"""Review cases for escalated checks: the case, its history, notes, AI-drafted narratives and STR drafts.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

One case per check (``check_id`` is unique). A case's ``version`` is bumped by every change, so
the API can refuse a confirmation made against a proposal that changed meanwhile. History rows
mirror the audit-chain entries of the case for the console (the audit chain stays the record).
Narratives are append-only: each draft keeps the model, prompt version and a hash of its inputs.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    _sql(
        """
        CREATE TABLE review_cases (
            id                 uuid PRIMARY KEY,
            check_id           uuid NOT NULL UNIQUE,
            check_created_at   timestamptz NOT NULL,
            token_id           uuid NOT NULL,
            origin             text NOT NULL CHECK (origin IN ('escalated', 'requested')),
            reason_codes       text[] NOT NULL,
            primary_reason     text NOT NULL,
            risk_score         smallint NOT NULL CHECK (risk_score BETWEEN 0 AND 100),
            -- the engine's answer when the case opened (the check's row then carries the officers'):
            -- replay compares the re-evaluation with these
            engine_status      text NOT NULL CHECK (engine_status IN ('REJECTED', 'ESCALATED')),
            engine_restriction_code smallint NOT NULL,
            four_eyes          boolean NOT NULL,
            status             text NOT NULL
                               CHECK (status IN ('open', 'proposed', 'awaiting_info', 'resolved')),
            assignee           text,
            opened_at          timestamptz NOT NULL,
            opened_by          text NOT NULL,
            due_at             timestamptz NOT NULL,
            proposal           jsonb,
            outcome            text CHECK (outcome IN ('approved', 'rejected')),
            resolved_by        text,
            resolved_at        timestamptz,
            version            integer NOT NULL DEFAULT 1
        );
        CREATE INDEX review_cases_queue_idx ON review_cases (due_at) WHERE status <> 'resolved';
        CREATE INDEX review_cases_token_idx ON review_cases (token_id, opened_at DESC);

        CREATE TABLE review_case_history (
            id        bigserial PRIMARY KEY,
            case_id   uuid NOT NULL REFERENCES review_cases (id),
            at        timestamptz NOT NULL,
            actor     text NOT NULL,
            action    text NOT NULL,
            payload   jsonb NOT NULL
        );
        CREATE INDEX review_case_history_case_idx ON review_case_history (case_id, id);

        CREATE TABLE review_case_notes (
            id           bigserial PRIMARY KEY,
            case_id      uuid NOT NULL REFERENCES review_cases (id),
            at           timestamptz NOT NULL,
            author       text NOT NULL,
            body         text NOT NULL,
            attachments  jsonb NOT NULL DEFAULT '[]'
        );
        CREATE INDEX review_case_notes_case_idx ON review_case_notes (case_id, id);

        CREATE TABLE review_case_narratives (
            id              bigserial PRIMARY KEY,
            case_id         uuid NOT NULL REFERENCES review_cases (id),
            created_at      timestamptz NOT NULL,
            model           text NOT NULL,
            prompt_version  text NOT NULL,
            inputs_sha256   text NOT NULL CHECK (inputs_sha256 ~ '^[0-9a-f]{64}$'),
            sent_fields     text[] NOT NULL,
            narrative       jsonb NOT NULL
        );
        CREATE INDEX review_case_narratives_case_idx ON review_case_narratives (case_id, id DESC);

        -- Suspicious-transaction report drafts (FIU-IND STR, FinCEN SAR) of a case. A filed
        -- report is immutable: the trigger refuses any change to it, and its content hash is in
        -- the audit chain.
        CREATE TABLE case_reports (
            id              uuid PRIMARY KEY,
            case_id         uuid NOT NULL REFERENCES review_cases (id),
            format          text NOT NULL CHECK (format IN ('fiu-ind-str', 'fincen-sar')),
            status          text NOT NULL CHECK (status IN ('draft', 'pending_signoff', 'filed')),
            document        jsonb NOT NULL,
            created_by      text NOT NULL,
            created_at      timestamptz NOT NULL,
            updated_at      timestamptz NOT NULL,
            submitted_by    text,
            submitted_at    timestamptz,
            signed_by       text,
            filed_at        timestamptz,
            content_sha256  text CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
            version         integer NOT NULL DEFAULT 1,
            CHECK (status <> 'filed' OR (content_sha256 IS NOT NULL AND signed_by IS NOT NULL))
        );
        CREATE INDEX case_reports_case_idx ON case_reports (case_id, created_at);

        CREATE FUNCTION forbid_filed_report_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'report % is filed and cannot change', OLD.id USING ERRCODE = 'check_violation';
        END
        $$;
        CREATE TRIGGER case_reports_filed_immutable
            BEFORE UPDATE OR DELETE ON case_reports
            FOR EACH ROW WHEN (OLD.status = 'filed') EXECUTE FUNCTION forbid_filed_report_change();

        -- where the case opener has read the escalated checks up to
        CREATE TABLE review_case_cursor (
            name        text PRIMARY KEY,
            high_water  timestamptz NOT NULL
        );
        """
    )


def downgrade() -> None:
    _sql(
        """
        DROP TABLE review_case_cursor;
        DROP TABLE case_reports;
        DROP FUNCTION forbid_filed_report_change();
        DROP TABLE review_case_narratives;
        DROP TABLE review_case_notes;
        DROP TABLE review_case_history;
        DROP TABLE review_cases;
        """
    )
