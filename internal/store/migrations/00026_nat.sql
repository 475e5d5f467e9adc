-- Endpoints, NAT and relays (issue 9, internal/nat): what each node last
-- reported about its public endpoint and NAT (PUT …/endpoint) with the
-- source address the control plane saw; the per-peer paths level-2 nodes
-- report in their heartbeats; each bridge Resource's relay configuration;
-- and the relay sessions assigned to pairs that cannot reach each other
-- directly (node_a < node_b, one session per pair).
-- Portable SQL for SQLite and PostgreSQL: BIGINT Unix-microsecond times.

-- +goose Up
CREATE TABLE node_endpoints (
    node_id      TEXT PRIMARY KEY,
    domain_id    TEXT NOT NULL,
    endpoint     TEXT NOT NULL,
    nat_type     TEXT NOT NULL,
    candidates   TEXT NOT NULL DEFAULT '[]',
    observed_ip  TEXT NOT NULL DEFAULT '',
    reported_at  BIGINT NOT NULL,
    accepted_at  BIGINT NOT NULL,
    stale_after  BIGINT NOT NULL,
    tombstoned   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX node_endpoints_stale ON node_endpoints (stale_after);

CREATE TABLE peer_paths (
    node_id         TEXT NOT NULL,
    peer_id         TEXT NOT NULL,
    path            TEXT NOT NULL,
    endpoint        TEXT NOT NULL DEFAULT '',
    last_handshake  BIGINT,
    rtt_us          BIGINT NOT NULL DEFAULT 0,
    direct_failed   BOOLEAN NOT NULL DEFAULT FALSE,
    reported_at     BIGINT NOT NULL,
    PRIMARY KEY (node_id, peer_id)
);

CREATE TABLE bridge_relays (
    resource_id  TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL,
    domain_id    TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    listen_port  INTEGER NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX bridge_relays_domain ON bridge_relays (domain_id);

CREATE TABLE relay_sessions (
    id              TEXT PRIMARY KEY,
    domain_id       TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    relay_node_id   TEXT NOT NULL,
    relay_endpoint  TEXT NOT NULL,
    node_a          TEXT NOT NULL,
    node_b          TEXT NOT NULL,
    endpoint_a      TEXT NOT NULL,
    endpoint_b      TEXT NOT NULL,
    token_a         TEXT NOT NULL,
    token_b         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    UNIQUE (node_a, node_b)
);
CREATE INDEX relay_sessions_relay ON relay_sessions (relay_node_id);
CREATE INDEX relay_sessions_b ON relay_sessions (node_b);
CREATE INDEX relay_sessions_domain ON relay_sessions (domain_id);

-- +goose Down
DROP TABLE relay_sessions;
DROP TABLE bridge_relays;
DROP TABLE peer_paths;
DROP TABLE node_endpoints;
