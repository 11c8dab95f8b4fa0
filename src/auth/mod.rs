//! Credentials: password hashing, first-party JWTs, password-reset tokens,
//! the authorization server's signing keys, and the primitives they share
//! (derived keys, digests, random tokens, sealing). Pure crypto and
//! encoding; no database, no transport.

pub mod digest;
pub mod password;
pub mod provider_keys;
pub mod reset;
pub mod sealed;
pub mod tokens;
