-- OpenID Connect and the MCP-facing authorization server: how a client came
-- to exist (managed, dynamically registered, or a client ID metadata
-- document whose URL is its id), the audience (resource) of grants, and the
-- login facts an ID token reports.

ALTER TABLE oauth_clients ADD COLUMN application_type TEXT NOT NULL DEFAULT 'web'
    CONSTRAINT ck_oauth_clients_application_type CHECK (application_type IN ('web', 'native'));
ALTER TABLE oauth_clients ADD COLUMN grant_types TEXT NOT NULL DEFAULT '["authorization_code","refresh_token"]';
ALTER TABLE oauth_clients ADD COLUMN registration TEXT NOT NULL DEFAULT 'managed'
    CONSTRAINT ck_oauth_clients_registration CHECK (registration IN ('managed', 'dynamic', 'metadata_document'));
ALTER TABLE oauth_clients ADD COLUMN registration_token_hash TEXT;
ALTER TABLE oauth_clients ADD COLUMN metadata_expires_at TEXT;
ALTER TABLE oauth_clients ADD COLUMN client_uri TEXT;

ALTER TABLE oauth_authorization_requests ADD COLUMN resource TEXT;
ALTER TABLE oauth_authorization_requests ADD COLUMN prompt TEXT;
ALTER TABLE oauth_authorization_requests ADD COLUMN max_age INTEGER;

ALTER TABLE oauth_authorization_codes ADD COLUMN resource TEXT;
ALTER TABLE oauth_authorization_codes ADD COLUMN auth_time TEXT;
ALTER TABLE oauth_authorization_codes ADD COLUMN sid TEXT;

ALTER TABLE oauth_provider_refresh_tokens ADD COLUMN resource TEXT;
ALTER TABLE oauth_provider_refresh_tokens ADD COLUMN auth_time TEXT;
ALTER TABLE oauth_provider_refresh_tokens ADD COLUMN sid TEXT;
