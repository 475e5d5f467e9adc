-- Alert rules and incidents (issue 15, internal/obs/alerts): a Domain's
-- alert rules (the contract's AlertRule plus kind, hold duration, labels
-- and an optional webhook whose signing secret is sealed with the
-- keyring); incidents with their append-only timeline, where open_key
-- (rule id and alert fingerprint) is set while an incident an alert rule
-- opened is open, so that one (rule, label set) has at most one open
-- incident; and the webhook outbox, written in the transaction that opens
-- or resolves an incident, so that a restart loses no notification.
-- Times are unix microseconds. Portable SQL for SQLite and PostgreSQL.

-- +goose Up
CREATE TABLE alert_rules (
    id              TEXT PRIMARY KEY,
    domain_id       TEXT NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    signal          TEXT NOT NULL,
    comparator      TEXT NOT NULL,
    threshold       DOUBLE PRECISION NOT NULL,
    severity        TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    for_ms          BIGINT NOT NULL,
    labels          TEXT NOT NULL DEFAULT '{}',
    webhook_url     TEXT NOT NULL DEFAULT '',
    webhook_secret  TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX alert_rules_name ON alert_rules (domain_id, name);

CREATE TABLE incidents (
    id            TEXT PRIMARY KEY,
    domain_id     TEXT NOT NULL,
    title         TEXT NOT NULL,
    severity      TEXT NOT NULL,
    status        TEXT NOT NULL,
    opened_at     BIGINT NOT NULL,
    resolved_at   BIGINT,
    rule_id       TEXT NOT NULL DEFAULT '',
    fingerprint   TEXT NOT NULL DEFAULT '',
    labels        TEXT NOT NULL DEFAULT '{}',
    active_at     BIGINT NOT NULL DEFAULT 0,
    open_key      TEXT
);
CREATE UNIQUE INDEX incidents_open_key ON incidents (open_key);
CREATE INDEX incidents_domain ON incidents (domain_id, id);
CREATE INDEX incidents_rule ON incidents (rule_id, fingerprint, active_at);

CREATE TABLE incident_events (
    id           TEXT PRIMARY KEY,
    incident_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    message      TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, occurred_at, id);

CREATE TABLE alert_notifications (
    id               TEXT PRIMARY KEY,
    domain_id        TEXT NOT NULL,
    rule_id          TEXT NOT NULL,
    incident_id      TEXT NOT NULL,
    url              TEXT NOT NULL,
    secret           TEXT NOT NULL DEFAULT '',
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL
);
CREATE INDEX alert_notifications_due ON alert_notifications (state, next_attempt_at);

-- +goose Down
DROP TABLE alert_notifications;
DROP TABLE incident_events;
DROP TABLE incidents;
DROP TABLE alert_rules;
