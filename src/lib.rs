//! identityd: accounts, logins, per-device sessions, organizations and their
//! administration, served as gRPC, grpc-web and REST/JSON from one protobuf
//! definition. How the API behaves: `docs/api.md`.
//!
//! Map of the crate (dependencies flow downwards only):
//!
//! - [`app`]: start-up (migrate, bootstrap) and serving on one listener.
//! - [`server`]: the listener: connection caps, timeouts, draining.
//! - [`http`]: cross-cutting layers, dispatch, health, the REST transcoder.
//! - [`grpc`]: tonic services, the authentication layer, proto conversions.
//! - [`service`]: use cases shared by every transport.
//! - [`auth`]: password hashing, JWTs, reset tokens (pure crypto).
//! - [`db`]: diesel-async storage for PostgreSQL and SQLite, migrations.
//! - [`domain`]: validation and normalisation rules, device and client IP.
//! - [`error`]: the error code table and the service error type.
//! - [`config`], [`clock`], [`mail`], [`state`]: settings, time, email and the
//!   shared application state; [`redis`]: a small Redis client (health probe, shared rate limits).

pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod grpc;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod ratelimit;
pub mod redis;
pub mod server;
pub mod service;
pub mod social;
pub mod state;
