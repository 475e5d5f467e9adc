-- Invitations (issue 16, internal/invitation): an e-mail address invited to
-- a Domain with initial relation tuples, redeemed once at the invitee's
-- first sign-in through that Domain. The address is never stored: the row
-- keeps its per-Domain pseudonym (HMAC under the audit pepper of the
-- lower-cased address), which is also what sign-in looks up. Status is
-- pending, accepted, revoked or expired; a pending row past expires_at is
-- expired whatever its stored status says. Portable SQL for SQLite and
-- PostgreSQL.

-- +goose Up
CREATE TABLE invitations (
    id                 TEXT PRIMARY KEY,
    domain_id          TEXT NOT NULL,
    subject_pseudonym  TEXT NOT NULL,
    status             TEXT NOT NULL,
    initial_tuples     TEXT NOT NULL DEFAULT '[]',
    created_by         TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    accepted_at        BIGINT,
    accepted_user_id   TEXT,
    revoked_at         BIGINT,
    expired_at         BIGINT
);
CREATE INDEX invitations_domain ON invitations (domain_id, created_at, id);
CREATE UNIQUE INDEX invitations_pending ON invitations (domain_id, subject_pseudonym) WHERE status = 'pending';

-- +goose Down
DROP TABLE invitations;
