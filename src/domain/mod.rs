//! Domain rules that need no I/O: field validation and normalisation
//! (docs/api.md#field-rules), device naming (docs/endpoints.md#device-information)
//! and client-IP resolution (docs/security.md#network-edge).

pub mod client_ip;
pub mod device;
pub mod email;
pub mod listing;
pub mod oauth;
pub mod organization;
pub mod page;
pub mod password;
pub mod profile;
pub mod role;
pub mod types;
