CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         varchar(255) NOT NULL,
    password_hash varchar(255),
    first_name    varchar(100) NOT NULL,
    last_name     varchar(100),
    phone_number  varchar(20),
    is_active     boolean NOT NULL DEFAULT true,
    is_superuser  boolean NOT NULL DEFAULT false,
    preferences   text,
    locale        varchar(10),
    deleted_at    timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE INDEX ix_users_is_active ON users (is_active);
CREATE INDEX ix_users_is_superuser ON users (is_superuser);
CREATE INDEX ix_users_locale ON users (locale);
CREATE INDEX ix_users_deleted_at ON users (deleted_at);
CREATE INDEX ix_users_created_at ON users (created_at);
CREATE INDEX ix_users_active_live ON users (is_active) WHERE deleted_at IS NULL;

CREATE TABLE user_sessions (
    id                uuid PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_token_jti varchar(255) NOT NULL,
    device_name       varchar(255),
    device_id         varchar(255),
    ip_address        varchar(45),
    user_agent        varchar(500),
    last_used_at      timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    is_active         boolean NOT NULL DEFAULT true,
    location_city     varchar(100),
    location_country  varchar(100),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX ix_user_sessions_user_id ON user_sessions (user_id);
CREATE UNIQUE INDEX ix_user_sessions_refresh_token_jti ON user_sessions (refresh_token_jti);
CREATE INDEX ix_user_sessions_expires_at ON user_sessions (expires_at);
CREATE INDEX ix_user_sessions_is_active ON user_sessions (is_active);
CREATE INDEX ix_user_sessions_user_active ON user_sessions (user_id, is_active);
CREATE INDEX ix_user_sessions_last_used ON user_sessions (last_used_at);
