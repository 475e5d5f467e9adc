-- Device login for plexctl and service identities (issue 3, items 4–5).
--
-- device_authorizations: RFC 8628 requests. Only the SHA-256 of the device
-- code is stored; the user code is short-lived, single use, and stored
-- normalised (no dash). The approving user becomes the token's identity.
--
-- oauth_tokens: the opaque bearer tokens plexsphere issues itself (device
-- flow and client_credentials). One row is one token family: the current
-- access token, the current refresh token (device flow only) and the
-- previous refresh token, kept to detect reuse. Only SHA-256 hashes are
-- stored. A family lives only as long as the IdP binding it came through.
--
-- service_identities: the machine principals of a Domain (their identities
-- row has kind service_identity). plexsphere stores no client secret: the
-- bound IdP verifies it.

-- +goose Up
CREATE TABLE device_authorizations (
    id                 TEXT PRIMARY KEY,
    device_code_hash   TEXT NOT NULL UNIQUE,
    user_code          TEXT NOT NULL UNIQUE,
    domain_id          TEXT NOT NULL,
    idp_binding_id     TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    status             TEXT NOT NULL,
    identity_id        TEXT,
    interval_seconds   BIGINT NOT NULL,
    last_polled_at     BIGINT,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    approved_at        BIGINT,
    consumed_at        BIGINT
);

CREATE TABLE oauth_tokens (
    id                   TEXT PRIMARY KEY,
    identity_id          TEXT NOT NULL REFERENCES identities (id),
    idp_binding_id       TEXT NOT NULL,
    grant_type           TEXT NOT NULL,
    client_id            TEXT NOT NULL,
    access_hash          TEXT NOT NULL UNIQUE,
    access_expires_at    BIGINT NOT NULL,
    refresh_hash         TEXT UNIQUE,
    prev_refresh_hash    TEXT,
    refresh_expires_at   BIGINT,
    created_at           BIGINT NOT NULL,
    refreshed_at         BIGINT,
    revoked_at           BIGINT
);
CREATE INDEX oauth_tokens_identity ON oauth_tokens (identity_id);
CREATE INDEX oauth_tokens_prev_refresh ON oauth_tokens (prev_refresh_hash);

CREATE TABLE service_identities (
    id                TEXT PRIMARY KEY REFERENCES identities (id),
    domain_id         TEXT NOT NULL,
    idp_binding_id    TEXT NOT NULL,
    federation_kind   TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    subject           TEXT,
    disabled_at       BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX service_identities_client ON service_identities (idp_binding_id, client_id);
CREATE INDEX service_identities_domain ON service_identities (domain_id, id);

-- +goose Down
DROP TABLE service_identities;
DROP TABLE oauth_tokens;
DROP TABLE device_authorizations;
