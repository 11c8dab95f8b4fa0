//! The one integration test binary: a real server on port 0 per test, spoken
//! to over REST, native gRPC and grpc-web, on SQLite and (with
//! `TEST_POSTGRES_URL`) PostgreSQL.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed step should fail the test loudly"
)]

mod helpers;

mod admin;
mod auth_grpc;
mod auth_rest;
mod cimd;
mod cleanup;
mod concurrency;
mod connections;
mod deploy;
mod fake_provider;
mod faults;
mod fuzz_corpus;
mod grpc_coverage;
mod grpc_web;
mod hostile;
mod limits;
mod mcp;
mod oauth_provider;
mod oidc;
mod openapi;
mod operations;
mod organizations;
mod password_reset;
mod rate_limits;
mod replicas;
mod schema;
mod security;
mod sessions;
mod social_login;
mod tokens;
mod transport;
mod users;
