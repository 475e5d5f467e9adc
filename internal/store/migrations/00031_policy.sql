-- Network policies (issue 10, internal/policy, api.md §3.7): a Project's
-- Policies and their append-only revisions. policies.head_revision_id is
-- the compare-and-swap pointer a PATCH advances with a conditional UPDATE;
-- the unique parent_id keeps each Policy's history a single line, so two
-- revisions can never claim the same predecessor. Rules and tests are the
-- canonical JSON arrays of the API (rule_count mirrors the 1..1024 cap).
-- Portable SQL for SQLite and PostgreSQL: BIGINT Unix-microsecond times.

-- +goose Up
CREATE TABLE policies (
    id                TEXT PRIMARY KEY,
    project_id        TEXT NOT NULL,
    domain_id         TEXT NOT NULL,
    slug              TEXT NOT NULL,
    display_name      TEXT NOT NULL DEFAULT '',
    head_revision_id  TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (project_id, slug)
);
CREATE INDEX policies_domain ON policies (domain_id, id);

CREATE TABLE policy_revisions (
    id                    TEXT PRIMARY KEY,
    policy_id             TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    parent_id             TEXT UNIQUE,
    source_selector       TEXT NOT NULL,
    destination_selector  TEXT NOT NULL,
    rules                 TEXT NOT NULL,
    rule_count            INTEGER NOT NULL CHECK (rule_count BETWEEN 1 AND 1024),
    tests                 TEXT NOT NULL DEFAULT '[]',
    created_by            TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    correlation_id        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX policy_revisions_policy ON policy_revisions (policy_id, created_at, id);

-- +goose Down
DROP TABLE policy_revisions;
DROP TABLE policies;
