//! Storage of the OAuth 2.1 authorization server: clients, authorization
//! requests and codes, refresh tokens (hashed), consents and signing keys.

pub mod clients;
pub mod consents;
pub mod grants;
pub mod keys;
pub mod tokens;
