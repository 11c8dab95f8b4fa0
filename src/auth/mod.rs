//! Credentials: password hashing, first-party JWTs and password-reset tokens.
//! Pure crypto and encoding; no database, no transport.

pub mod password;
pub mod reset;
pub mod tokens;
