-- Fleet operations (issue 14, internal/actions): executions of a built-in
-- action or a hook on a set of nodes resolved at dispatch, one target row
-- per node with its status, output (capped) and timing; the nodes skipped
-- at dispatch and why; integrity violations nodes report. Portable SQL
-- for SQLite and PostgreSQL.

-- +goose Up
CREATE TABLE executions (
    id                   TEXT PRIMARY KEY,
    domain_id            TEXT NOT NULL,
    project_id           TEXT NOT NULL,
    action               TEXT NOT NULL,
    type                 TEXT NOT NULL,
    parameters           TEXT NOT NULL DEFAULT '{}',
    selector             TEXT NOT NULL DEFAULT '',
    timeout_seconds      INTEGER NOT NULL,
    max_in_flight        INTEGER NOT NULL,
    stop_after_failures  INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL,
    idempotency_key      TEXT NOT NULL DEFAULT '',
    created_by           TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    cancelled_at         BIGINT
);
CREATE INDEX executions_project ON executions (project_id, created_at, id);
CREATE INDEX executions_live ON executions (status);
CREATE UNIQUE INDEX executions_idempotency ON executions (created_by, idempotency_key) WHERE idempotency_key <> '';

CREATE TABLE execution_targets (
    execution_id   TEXT NOT NULL,
    node_id        TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    status         TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT '',
    exit_code      INTEGER,
    stdout         TEXT NOT NULL DEFAULT '',
    stderr         TEXT NOT NULL DEFAULT '',
    duration_ms    BIGINT,
    sent_at        BIGINT,
    deadline       BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (execution_id, node_id)
);
CREATE INDEX execution_targets_order ON execution_targets (execution_id, seq);
CREATE INDEX execution_targets_deadline ON execution_targets (deadline);
CREATE INDEX execution_targets_node ON execution_targets (node_id);

CREATE TABLE execution_skips (
    execution_id  TEXT NOT NULL,
    node_id       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    PRIMARY KEY (execution_id, node_id)
);

CREATE TABLE integrity_violations (
    id                 TEXT PRIMARY KEY,
    node_id            TEXT NOT NULL,
    domain_id          TEXT NOT NULL,
    project_id         TEXT NOT NULL,
    kind               TEXT NOT NULL,
    status             TEXT NOT NULL,
    artifact_id        TEXT NOT NULL,
    expected_checksum  TEXT NOT NULL DEFAULT '',
    actual_checksum    TEXT NOT NULL DEFAULT '',
    detail             TEXT NOT NULL DEFAULT '',
    detected_at        BIGINT NOT NULL,
    acknowledged_at    BIGINT,
    acknowledged_by    TEXT,
    acknowledge_reason TEXT
);
CREATE INDEX integrity_violations_node ON integrity_violations (node_id, status);
CREATE INDEX integrity_violations_domain ON integrity_violations (domain_id, detected_at, id);

-- +goose Down
DROP TABLE integrity_violations;
DROP TABLE execution_skips;
DROP TABLE execution_targets;
DROP TABLE executions;
