//! Domain rules that need no I/O: field validation and normalisation
//! (contract section 1.10), device naming and client-IP resolution (1.12).

pub mod client_ip;
pub mod device;
pub mod email;
pub mod organization;
pub mod page;
pub mod password;
pub mod profile;
pub mod role;
