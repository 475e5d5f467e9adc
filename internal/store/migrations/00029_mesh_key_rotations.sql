-- Mesh key rotations (issue 9 item 6, api.md §3.6): a row per requested
-- WireGuard key rotation of a node. A rotation is pending from the
-- operator's trigger (or the schedule) until the node reports its new key
-- (POST /v1/keys/rotate), which completes it in the transaction that swaps
-- the key. At most one rotation of a node is pending (the partial unique
-- index: a repeated trigger finds the pending row, and replicas racing on
-- the schedule insert it once). A completed row keeps the key it installed,
-- so a node retrying its report gets the same receipt, and its completion
-- time is the age of the node's key.

-- +goose Up
CREATE TABLE mesh_key_rotations (
    id                TEXT PRIMARY KEY,
    node_id           TEXT NOT NULL,
    domain_id         TEXT NOT NULL,
    state             TEXT NOT NULL,
    origin            TEXT NOT NULL,
    requested_at      BIGINT NOT NULL,
    old_public_key    TEXT NOT NULL,
    new_public_key    TEXT NOT NULL DEFAULT '',
    kid               TEXT NOT NULL DEFAULT '',
    wrap_key_version  INTEGER NOT NULL DEFAULT 0,
    completed_at      BIGINT
);
CREATE UNIQUE INDEX mesh_key_rotations_pending ON mesh_key_rotations (node_id) WHERE state = 'pending';
CREATE INDEX mesh_key_rotations_node ON mesh_key_rotations (node_id, completed_at);

-- +goose Down
DROP TABLE mesh_key_rotations;
