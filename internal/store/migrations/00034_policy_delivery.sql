-- Policy delivery (issue 10, internal/policy/deliver,
-- docs/design/0006-policy.md): each Domain's default for nodes no policy
-- covers (deny for new Domains; Domains that existed before policies keep
-- their full mesh with allow), a per-Domain generation counter every
-- recompilation bumps first (it serialises recompilations of one Domain and
-- tells the in-memory index whether it is current), and what each node was
-- last told: its compiled fingerprint, its level-1 policy id and a digest of
-- its peer set, so that only nodes whose view changed get an event.
-- Portable SQL for SQLite and PostgreSQL.

-- +goose Up
ALTER TABLE domains ADD COLUMN policy_default TEXT NOT NULL DEFAULT 'deny';
UPDATE domains SET policy_default = 'allow';

CREATE TABLE policy_generations (
    domain_id   TEXT PRIMARY KEY,
    generation  BIGINT NOT NULL
);

CREATE TABLE policy_node_state (
    node_id       TEXT PRIMARY KEY,
    domain_id     TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    level1_id     TEXT NOT NULL,
    peers_digest  TEXT NOT NULL
);
CREATE INDEX policy_node_state_domain ON policy_node_state (domain_id, node_id);

-- +goose Down
DROP TABLE policy_node_state;
DROP TABLE policy_generations;
ALTER TABLE domains DROP COLUMN policy_default;
