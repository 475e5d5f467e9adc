-- The mesh context (issue 9): per-Domain mesh facts (the IPv6 ULA /64 and
-- the pairwise-PSK secret, wrapped under the master key), the per-node
-- IPv6 address and PSK epoch, and the quarantine of released mesh IPs so a
-- released address is not handed to a new node while peers may still
-- route to the old one.

-- +goose Up
ALTER TABLE nodes ADD COLUMN mesh_ipv6 TEXT;
ALTER TABLE nodes ADD COLUMN psk_epoch BIGINT NOT NULL DEFAULT 0;
CREATE INDEX nodes_domain_live ON nodes (domain_id, id) WHERE revoked_at IS NULL;

CREATE TABLE mesh_domains (
    domain_id         TEXT PRIMARY KEY,
    ipv6_cidr         TEXT NOT NULL,
    psk_kid           TEXT NOT NULL,
    psk_wrapped       TEXT NOT NULL,
    wrap_key_version  INTEGER NOT NULL,
    created_at        BIGINT NOT NULL
);

CREATE TABLE mesh_ip_releases (
    domain_id    TEXT NOT NULL,
    ip           TEXT NOT NULL,
    released_at  BIGINT NOT NULL,
    PRIMARY KEY (domain_id, ip)
);

-- +goose Down
DROP TABLE mesh_ip_releases;
DROP TABLE mesh_domains;
DROP INDEX nodes_domain_live;
ALTER TABLE nodes DROP COLUMN psk_epoch;
ALTER TABLE nodes DROP COLUMN mesh_ipv6;
