-- OIDC federation (issue 3): IdP bindings (per Domain or platform-wide),
-- in-flight sign-ins (state, nonce and the sealed PKCE verifier, single use),
-- browser sessions (only a hash of the cookie value is stored), and groups
-- with their members (IdP-synced groups come from the groups claim).
--
-- scope_key is the Domain id, or '' for platform-scoped rows: unique
-- constraints cannot rely on NULL domain ids, which never collide.

-- +goose Up
CREATE TABLE idp_bindings (
    id                    TEXT PRIMARY KEY,
    domain_id             TEXT,
    scope_key             TEXT NOT NULL,
    issuer                TEXT NOT NULL,
    discovery_url         TEXT NOT NULL,
    client_id             TEXT NOT NULL,
    client_secret_ref     TEXT NOT NULL,
    client_secret_sealed  TEXT NOT NULL DEFAULT '',
    scopes                TEXT NOT NULL,
    claim_mappings        TEXT NOT NULL,
    required_acr          TEXT NOT NULL,
    required_amr          TEXT NOT NULL,
    jit_policy            TEXT NOT NULL,
    status                TEXT NOT NULL,
    alias                 TEXT,
    is_primary            BOOLEAN NOT NULL,
    spiffe_bundle_url     TEXT NOT NULL DEFAULT '',
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE UNIQUE INDEX idp_bindings_active_issuer ON idp_bindings (scope_key, issuer) WHERE status = 'active';
CREATE UNIQUE INDEX idp_bindings_active_primary ON idp_bindings (scope_key) WHERE status = 'active' AND is_primary;
CREATE UNIQUE INDEX idp_bindings_active_alias ON idp_bindings (scope_key, alias) WHERE status = 'active' AND alias IS NOT NULL;
CREATE INDEX idp_bindings_scope ON idp_bindings (scope_key, id);

CREATE TABLE oidc_flows (
    id               TEXT PRIMARY KEY,
    state_hash       TEXT NOT NULL UNIQUE,
    idp_binding_id   TEXT NOT NULL REFERENCES idp_bindings (id) ON DELETE CASCADE,
    domain_id        TEXT,
    nonce            TEXT NOT NULL,
    verifier_sealed  TEXT NOT NULL,
    redirect_uri     TEXT NOT NULL,
    return_to        TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    consumed_at      BIGINT
);
CREATE INDEX oidc_flows_expires ON oidc_flows (expires_at);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    identity_id     TEXT NOT NULL REFERENCES identities (id),
    idp_binding_id  TEXT NOT NULL,
    secret_hash     TEXT NOT NULL UNIQUE,
    acr             TEXT NOT NULL,
    amr             TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX sessions_identity ON sessions (identity_id);

ALTER TABLE identities ADD COLUMN last_sign_in_at BIGINT;

CREATE TABLE principal_groups (
    id               TEXT PRIMARY KEY,
    domain_id        TEXT,
    scope_key        TEXT NOT NULL,
    slug             TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    source           TEXT NOT NULL,
    idp_binding_id   TEXT,
    idp_claim_value  TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (scope_key, slug)
);
CREATE UNIQUE INDEX principal_groups_idp_claim ON principal_groups (idp_binding_id, idp_claim_value);

CREATE TABLE principal_group_members (
    group_id        TEXT NOT NULL REFERENCES principal_groups (id),
    principal_kind  TEXT NOT NULL,
    principal_id    TEXT NOT NULL,
    source          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (group_id, principal_kind, principal_id)
);
CREATE INDEX principal_group_members_principal ON principal_group_members (principal_kind, principal_id);

-- +goose Down
DROP TABLE principal_group_members;
DROP TABLE principal_groups;
ALTER TABLE identities DROP COLUMN last_sign_in_at;
DROP TABLE sessions;
DROP TABLE oidc_flows;
DROP TABLE idp_bindings;
