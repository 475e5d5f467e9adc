-- Authorization storage (issue 3): the append-only change log that carries
-- every relation-tuple write to every replica's in-memory index, and the
-- structural flag that separates object-graph tuples (domain#platform,
-- project#domain, resource#project, the creator's grant) from role grants.

-- +goose Up
ALTER TABLE relation_tuples ADD COLUMN structural BOOLEAN NOT NULL DEFAULT FALSE;

-- relation_tuple_log_head is a one-row counter. A writer bumps it inside its
-- transaction and keeps the row lock until commit, so change sequence numbers
-- commit in order and a replica tailing "seq > last" never skips one.
CREATE TABLE relation_tuple_log_head (
    id  INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO relation_tuple_log_head (id, seq) VALUES (1, 0);

CREATE TABLE relation_tuple_changes (
    seq        BIGINT PRIMARY KEY,
    changes    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE relation_tuple_changes;
DROP TABLE relation_tuple_log_head;
ALTER TABLE relation_tuples DROP COLUMN structural;
