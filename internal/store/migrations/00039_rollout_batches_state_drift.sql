-- Fleet operations, second part (issue 14): a rollout's batch size (the
-- next batch of targets starts only once every target of the one before
-- has ended), and when each node was last told a new compiled policy
-- fingerprint, so that a node still enforcing another ruleset longer than
-- a bound after that counts as drifted. Portable SQL for SQLite and
-- PostgreSQL.

-- +goose Up
ALTER TABLE executions ADD COLUMN batch_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policy_node_state ADD COLUMN fingerprint_at BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE policy_node_state DROP COLUMN fingerprint_at;
ALTER TABLE executions DROP COLUMN batch_size;
