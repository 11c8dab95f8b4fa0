-- OpenID Connect and the MCP-facing authorization server: how a client came
-- to exist (managed, dynamically registered, or a client ID metadata
-- document whose URL is its id), the audience (resource) of grants, and the
-- login facts an ID token reports.

-- A metadata document's client_id is its https URL (at most 255 characters).
ALTER TABLE oauth_consents ALTER COLUMN client_id TYPE varchar(255);
ALTER TABLE oauth_provider_refresh_tokens ALTER COLUMN client_id TYPE varchar(255);
ALTER TABLE oauth_authorization_codes ALTER COLUMN client_id TYPE varchar(255);
ALTER TABLE oauth_authorization_requests ALTER COLUMN client_id TYPE varchar(255);
ALTER TABLE oauth_clients ALTER COLUMN client_id TYPE varchar(255);

ALTER TABLE oauth_clients
    ADD COLUMN application_type varchar(10) NOT NULL DEFAULT 'web'
        CONSTRAINT ck_oauth_clients_application_type CHECK (application_type IN ('web', 'native')),
    ADD COLUMN grant_types text NOT NULL DEFAULT '["authorization_code","refresh_token"]',
    ADD COLUMN registration varchar(20) NOT NULL DEFAULT 'managed'
        CONSTRAINT ck_oauth_clients_registration CHECK (registration IN ('managed', 'dynamic', 'metadata_document')),
    ADD COLUMN registration_token_hash varchar(255),
    ADD COLUMN metadata_expires_at timestamptz,
    ADD COLUMN client_uri varchar(2048);

ALTER TABLE oauth_authorization_requests
    ADD COLUMN resource text,
    ADD COLUMN prompt varchar(64),
    ADD COLUMN max_age integer;

ALTER TABLE oauth_authorization_codes
    ADD COLUMN resource text,
    ADD COLUMN auth_time timestamptz,
    ADD COLUMN sid varchar(64);

ALTER TABLE oauth_provider_refresh_tokens
    ADD COLUMN resource text,
    ADD COLUMN auth_time timestamptz,
    ADD COLUMN sid varchar(64);
