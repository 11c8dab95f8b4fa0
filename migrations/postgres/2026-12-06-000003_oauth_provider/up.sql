-- OAuth 2.1 authorization server: clients, authorization requests, codes,
-- refresh tokens (stored hashed), consents, and the signing keys of access
-- tokens (private parts encrypted).

CREATE TABLE oauth_clients (
    id                     uuid PRIMARY KEY,
    client_id              varchar(64) NOT NULL,
    client_secret_hash     varchar(255),
    client_name            varchar(255) NOT NULL,
    client_description     varchar(1000),
    client_type            varchar(20) NOT NULL DEFAULT 'public'
                           CONSTRAINT ck_oauth_clients_client_type CHECK (client_type IN ('public', 'confidential')),
    redirect_uris          text NOT NULL DEFAULT '[]',
    allowed_scopes         text NOT NULL DEFAULT '[]',
    access_token_lifetime  integer NOT NULL DEFAULT 3600,
    refresh_token_lifetime integer NOT NULL DEFAULT 604800,
    is_active              boolean NOT NULL DEFAULT true,
    owner_user_id          uuid REFERENCES users (id) ON DELETE SET NULL,
    mcp_server_url         varchar(2048),
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);
CREATE UNIQUE INDEX ix_oauth_clients_client_id ON oauth_clients (client_id);
CREATE INDEX ix_oauth_clients_is_active ON oauth_clients (is_active);

CREATE TABLE oauth_authorization_requests (
    id                    uuid PRIMARY KEY,
    client_id             varchar(64) NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id               uuid REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri          varchar(2048) NOT NULL,
    requested_scope       varchar(1000) NOT NULL DEFAULT '',
    scope                 varchar(1000) NOT NULL,
    state                 varchar(512) NOT NULL DEFAULT '',
    code_challenge        varchar(128),
    code_challenge_method varchar(10),
    nonce                 varchar(512),
    expires_at            timestamptz NOT NULL,
    consumed_at           timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX ix_oauth_authorization_requests_expires_at ON oauth_authorization_requests (expires_at);
CREATE INDEX ix_oauth_authorization_requests_client_user ON oauth_authorization_requests (client_id, user_id);

CREATE TABLE oauth_authorization_codes (
    id                    uuid PRIMARY KEY,
    code_hash             varchar(64) NOT NULL,
    client_id             varchar(64) NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri          varchar(2048) NOT NULL,
    scope                 varchar(1000) NOT NULL DEFAULT '',
    code_challenge        varchar(128),
    code_challenge_method varchar(10),
    state                 varchar(512),
    nonce                 varchar(512),
    expires_at            timestamptz NOT NULL,
    used                  boolean NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE UNIQUE INDEX ix_oauth_authorization_codes_code_hash ON oauth_authorization_codes (code_hash);
CREATE INDEX ix_oauth_authorization_codes_expires_at ON oauth_authorization_codes (expires_at);
CREATE INDEX ix_oauth_authorization_codes_client_user ON oauth_authorization_codes (client_id, user_id);

CREATE TABLE oauth_provider_refresh_tokens (
    id           uuid PRIMARY KEY,
    token_hash   varchar(64) NOT NULL,
    jti          varchar(64) NOT NULL,
    -- Every token rotated from one authorization code shares its family.
    family_id    uuid NOT NULL,
    client_id    varchar(64) NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope        varchar(1000) NOT NULL DEFAULT '',
    nonce        varchar(512),
    expires_at   timestamptz NOT NULL,
    revoked      boolean NOT NULL DEFAULT false,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    device_info  varchar(500),
    ip_address   varchar(45),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
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
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id      varchar(64) NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    granted_scopes varchar(1000) NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX ix_oauth_consents_user_client ON oauth_consents (user_id, client_id);

CREATE TABLE oauth_signing_keys (
    kid                   varchar(64) PRIMARY KEY,
    algorithm             varchar(16) NOT NULL,
    public_jwk            text NOT NULL,
    private_key_encrypted text NOT NULL,
    created_at            timestamptz NOT NULL,
    -- Signs from here on (published in the JWKS before that).
    active_from           timestamptz NOT NULL,
    -- Published until here (after the last token it signed has expired).
    retire_after          timestamptz
);
