-- OAuth 2.1 authorization server: clients, authorization requests, codes,
-- refresh tokens (stored hashed), consents, and the signing keys of access
-- tokens (private parts encrypted).

CREATE TABLE oauth_clients (
    id                     BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    client_id              TEXT NOT NULL,
    client_secret_hash     TEXT,
    client_name            TEXT NOT NULL,
    client_description     TEXT,
    client_type            TEXT NOT NULL DEFAULT 'public'
                           CONSTRAINT ck_oauth_clients_client_type CHECK (client_type IN ('public', 'confidential')),
    redirect_uris          TEXT NOT NULL DEFAULT '[]',
    allowed_scopes         TEXT NOT NULL DEFAULT '[]',
    access_token_lifetime  INTEGER NOT NULL DEFAULT 3600,
    refresh_token_lifetime INTEGER NOT NULL DEFAULT 604800,
    is_active              INTEGER NOT NULL DEFAULT 1,
    owner_user_id          BLOB REFERENCES users (id) ON DELETE SET NULL,
    mcp_server_url         TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);
CREATE UNIQUE INDEX ix_oauth_clients_client_id ON oauth_clients (client_id);
CREATE INDEX ix_oauth_clients_is_active ON oauth_clients (is_active);

CREATE TABLE oauth_authorization_requests (
    id                    BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    client_id             TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id               BLOB REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL,
    requested_scope       TEXT NOT NULL DEFAULT '',
    scope                 TEXT NOT NULL,
    state                 TEXT NOT NULL DEFAULT '',
    code_challenge        TEXT,
    code_challenge_method TEXT,
    nonce                 TEXT,
    expires_at            TEXT NOT NULL,
    consumed_at           TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
);
CREATE INDEX ix_oauth_authorization_requests_expires_at ON oauth_authorization_requests (expires_at);
CREATE INDEX ix_oauth_authorization_requests_client_user ON oauth_authorization_requests (client_id, user_id);

CREATE TABLE oauth_authorization_codes (
    id                    BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    code_hash             TEXT NOT NULL,
    client_id             TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id               BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL,
    scope                 TEXT NOT NULL DEFAULT '',
    code_challenge        TEXT,
    code_challenge_method TEXT,
    state                 TEXT,
    nonce                 TEXT,
    expires_at            TEXT NOT NULL,
    used                  INTEGER NOT NULL DEFAULT 0,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
);
CREATE UNIQUE INDEX ix_oauth_authorization_codes_code_hash ON oauth_authorization_codes (code_hash);
CREATE INDEX ix_oauth_authorization_codes_expires_at ON oauth_authorization_codes (expires_at);
CREATE INDEX ix_oauth_authorization_codes_client_user ON oauth_authorization_codes (client_id, user_id);

CREATE TABLE oauth_provider_refresh_tokens (
    id           BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    token_hash   TEXT NOT NULL,
    jti          TEXT NOT NULL,
    -- Every token rotated from one authorization code shares its family.
    family_id    BLOB NOT NULL,
    client_id    TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope        TEXT NOT NULL DEFAULT '',
    nonce        TEXT,
    expires_at   TEXT NOT NULL,
    revoked      INTEGER NOT NULL DEFAULT 0,
    revoked_at   TEXT,
    last_used_at TEXT,
    device_info  TEXT,
    ip_address   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX ix_oauth_provider_refresh_tokens_token_hash ON oauth_provider_refresh_tokens (token_hash);
CREATE UNIQUE INDEX ix_oauth_provider_refresh_tokens_jti ON oauth_provider_refresh_tokens (jti);
CREATE INDEX ix_oauth_provider_refresh_tokens_family ON oauth_provider_refresh_tokens (family_id);
CREATE INDEX ix_oauth_provider_refresh_tokens_expires_at ON oauth_provider_refresh_tokens (expires_at);
CREATE INDEX ix_oauth_provider_refresh_tokens_revoked ON oauth_provider_refresh_tokens (revoked);
CREATE INDEX ix_oauth_provider_refresh_tokens_revoked_at ON oauth_provider_refresh_tokens (revoked_at);
CREATE INDEX ix_oauth_provider_refresh_tokens_client_user ON oauth_provider_refresh_tokens (client_id, user_id);
CREATE INDEX ix_oauth_provider_refresh_tokens_user_revoked ON oauth_provider_refresh_tokens (user_id, revoked);

CREATE TABLE oauth_consents (
    id             BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    granted_scopes TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX ix_oauth_consents_user_client ON oauth_consents (user_id, client_id);

CREATE TABLE oauth_signing_keys (
    kid                   TEXT PRIMARY KEY NOT NULL,
    algorithm             TEXT NOT NULL,
    public_jwk            TEXT NOT NULL,
    private_key_encrypted TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    -- Signs from here on (published in the JWKS before that).
    active_from           TEXT NOT NULL,
    -- Published until here (after the last token it signed has expired).
    retire_after          TEXT
);
