-- Per-Domain telemetry retention (issue 15, internal/obs/retention): how
-- long a Domain's node metric samples and node log lines (with host audit
-- events) are kept, each at most the server-wide maximum
-- (metrics_retention, node_log_retention); a NULL column is the server's
-- value. The logs sweeper deletes a Domain's rows older than its own
-- retention in bounded batches; the metrics sweep deletes its series'
-- older samples from the TSDB. Durations in seconds, times in unix
-- microseconds. Portable SQL for SQLite and PostgreSQL.

-- +goose Up
CREATE TABLE domain_telemetry_retention (
    domain_id         TEXT PRIMARY KEY,
    metrics_seconds   BIGINT,
    logs_seconds      BIGINT,
    updated_at        BIGINT NOT NULL
);

-- +goose Down
DROP TABLE domain_telemetry_retention;
