-- Accounts, bearer tokens and the trace (留痕) of who did what.
-- Passwords are argon2 PHC strings; tokens are kept only as the hex SHA-256 of the bearer value,
-- with their expiry and revocation in Unix seconds.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE CHECK (length(name) > 0),
    role          TEXT NOT NULL CHECK (role IN ('admin', 'planner', 'cadre', 'secretary')),
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE tokens (
    hash        TEXT   PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX tokens_user ON tokens (user_id);

-- user_id NULL means the operator at the command line.
CREATE TABLE audit (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    user_id     BIGINT REFERENCES users (id),
    action      TEXT   NOT NULL CHECK (length(action) > 0),
    entity      TEXT   NOT NULL CHECK (length(entity) > 0),
    entity_id   BIGINT,
    before      JSONB,
    after       JSONB
);
CREATE INDEX audit_entity ON audit (entity, entity_id);
