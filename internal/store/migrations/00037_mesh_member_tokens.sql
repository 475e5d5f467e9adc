-- The mesh's per-Domain member token (internal/mesh/index.go): a random
-- number replaced in the transaction of every change to who is in a
-- Domain's mesh or to a PSK epoch, so each replica's in-memory member
-- index knows whether it is current. Portable SQL for SQLite and
-- PostgreSQL.

-- +goose Up
CREATE TABLE mesh_member_tokens (
    domain_id  TEXT PRIMARY KEY,
    token      BIGINT NOT NULL
);

-- +goose Down
DROP TABLE mesh_member_tokens;
