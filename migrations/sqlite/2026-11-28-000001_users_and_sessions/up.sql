-- Same logical schema as migrations/postgres: uuid = 16-byte BLOB, timestamptz =
-- fixed-width RFC 3339 UTC text (so text order is time order), boolean = 0/1.
CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    email         TEXT NOT NULL,
    password_hash TEXT,
    first_name    TEXT NOT NULL,
    last_name     TEXT,
    phone_number  TEXT,
    is_active     INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    is_superuser  INTEGER NOT NULL DEFAULT 0 CHECK (is_superuser IN (0, 1)),
    preferences   TEXT,
    locale        TEXT,
    deleted_at    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE INDEX ix_users_is_active ON users (is_active);
CREATE INDEX ix_users_is_superuser ON users (is_superuser);
CREATE INDEX ix_users_locale ON users (locale);
CREATE INDEX ix_users_deleted_at ON users (deleted_at);
CREATE INDEX ix_users_created_at ON users (created_at);
CREATE INDEX ix_users_active_live ON users (is_active) WHERE deleted_at IS NULL;

CREATE TABLE user_sessions (
    id                BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    user_id           BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_token_jti TEXT NOT NULL,
    device_name       TEXT,
    device_id         TEXT,
    ip_address        TEXT,
    user_agent        TEXT,
    last_used_at      TEXT NOT NULL,
    expires_at        TEXT NOT NULL,
    is_active         INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    location_city     TEXT,
    location_country  TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX ix_user_sessions_user_id ON user_sessions (user_id);
CREATE UNIQUE INDEX ix_user_sessions_refresh_token_jti ON user_sessions (refresh_token_jti);
CREATE INDEX ix_user_sessions_expires_at ON user_sessions (expires_at);
CREATE INDEX ix_user_sessions_is_active ON user_sessions (is_active);
CREATE INDEX ix_user_sessions_user_active ON user_sessions (user_id, is_active);
CREATE INDEX ix_user_sessions_last_used ON user_sessions (last_used_at);
