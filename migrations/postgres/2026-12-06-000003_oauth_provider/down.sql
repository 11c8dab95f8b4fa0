DROP TABLE oauth_signing_keys;
DROP TABLE oauth_consents;
DROP TABLE oauth_provider_refresh_tokens;
DROP TABLE oauth_authorization_codes;
DROP TABLE oauth_authorization_requests;
DROP TABLE oauth_clients;
