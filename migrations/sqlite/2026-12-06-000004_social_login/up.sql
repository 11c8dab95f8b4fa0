-- Social login: identities at Google, GitHub or a configured OpenID provider
-- linked to users, and the short-lived states of flows in progress.

CREATE TABLE oauth_accounts (
    id                      BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    user_id                 BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider                TEXT NOT NULL
                            CONSTRAINT ck_oauth_accounts_provider CHECK (provider IN ('google', 'github', 'oidc')),
    provider_user_id        TEXT NOT NULL,
    provider_email          TEXT,
    access_token_encrypted  TEXT,
    refresh_token_encrypted TEXT,
    token_expires_at        TEXT,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL
);
CREATE INDEX ix_oauth_accounts_user_id ON oauth_accounts (user_id);
CREATE INDEX ix_oauth_accounts_provider ON oauth_accounts (provider);
CREATE INDEX ix_oauth_accounts_provider_email ON oauth_accounts (provider_email);
CREATE UNIQUE INDEX uq_oauth_provider_user ON oauth_accounts (provider, provider_user_id);
CREATE UNIQUE INDEX uq_oauth_accounts_user_provider ON oauth_accounts (user_id, provider);

CREATE TABLE oauth_states (
    id            BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    -- SHA-256 hex of the state sent to the provider.
    state         TEXT NOT NULL,
    code_verifier TEXT,
    nonce         TEXT,
    provider      TEXT NOT NULL,
    redirect_uri  TEXT,
    user_id       BLOB REFERENCES users (id) ON DELETE CASCADE,
    expires_at    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX ix_oauth_states_state ON oauth_states (state);
CREATE INDEX ix_oauth_states_expires_at ON oauth_states (expires_at);
