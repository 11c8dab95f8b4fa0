ALTER TABLE oauth_provider_refresh_tokens DROP COLUMN sid, DROP COLUMN auth_time, DROP COLUMN resource;
ALTER TABLE oauth_authorization_codes DROP COLUMN sid, DROP COLUMN auth_time, DROP COLUMN resource;
ALTER TABLE oauth_authorization_requests DROP COLUMN max_age, DROP COLUMN prompt, DROP COLUMN resource;
ALTER TABLE oauth_clients
    DROP COLUMN client_uri,
    DROP COLUMN metadata_expires_at,
    DROP COLUMN registration_token_hash,
    DROP COLUMN registration,
    DROP COLUMN grant_types,
    DROP COLUMN application_type;
