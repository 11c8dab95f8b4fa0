-- Social login: identities at Google, GitHub or a configured OpenID provider
-- linked to users, and the short-lived states of flows in progress.

CREATE TABLE oauth_accounts (
    id                      uuid PRIMARY KEY,
    user_id                 uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider                varchar(50) NOT NULL
                            CONSTRAINT ck_oauth_accounts_provider CHECK (provider IN ('google', 'github', 'oidc')),
    provider_user_id        varchar(255) NOT NULL,
    provider_email          varchar(255),
    access_token_encrypted  text,
    refresh_token_encrypted text,
    token_expires_at        timestamptz,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);
CREATE INDEX ix_oauth_accounts_user_id ON oauth_accounts (user_id);
CREATE INDEX ix_oauth_accounts_provider ON oauth_accounts (provider);
CREATE INDEX ix_oauth_accounts_provider_email ON oauth_accounts (provider_email);
CREATE UNIQUE INDEX uq_oauth_provider_user ON oauth_accounts (provider, provider_user_id);
CREATE UNIQUE INDEX uq_oauth_accounts_user_provider ON oauth_accounts (user_id, provider);

CREATE TABLE oauth_states (
    id            uuid PRIMARY KEY,
    -- SHA-256 hex of the state sent to the provider.
    state         varchar(255) NOT NULL,
    code_verifier varchar(128),
    nonce         varchar(255),
    provider      varchar(50) NOT NULL,
    redirect_uri  varchar(500),
    user_id       uuid REFERENCES users (id) ON DELETE CASCADE,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX ix_oauth_states_state ON oauth_states (state);
CREATE INDEX ix_oauth_states_expires_at ON oauth_states (expires_at);
