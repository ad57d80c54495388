//! credvault: a local, encrypted credential vault for AI agents, served over the
//! Model Context Protocol.
//!
//! Values go in through `store_credential` and `create_secret`; they are sealed
//! with crypto_secretbox under a data key wrapped by an Argon2id-derived master
//! key, kept in one redb file, and never come back out to the model.
//!
//! The layers, and which module owns what, are in `docs/ARCHITECTURE.md`.
//! Public here are the modules the tests, benches and fuzz targets reach
//! (the vault and its store, argument parsing, the nouns in `model`); the
//! process context (`app`) and the front ends are internal to the binary.
//!
//! ```no_run
//! use credvault::{KdfParams, SecretString, Vault};
//! # fn main() -> Result<(), credvault::VaultError> {
//! let vault = Vault::open_or_create(
//!     std::path::Path::new("/tmp/demo.redb"),
//!     &SecretString::from("correct horse battery staple"),
//!     KdfParams::DEFAULT,
//! )?.0;
//! let services: Vec<String> = vault.list_credentials(None)?.into_iter().map(|c| c.service).collect();
//! assert!(services.iter().all(|s| !s.is_empty()));
//! # Ok(()) }
//! ```

pub(crate) mod app;
pub(crate) mod catalog;
pub mod crypto;
pub(crate) mod entry;
pub mod error;
pub(crate) mod http;
pub(crate) mod mask;
pub(crate) mod mcp;
pub mod model;
pub(crate) mod net;
pub mod secret;
pub mod store;
pub(crate) mod usage;
pub mod validate;
pub mod vault;

pub use crypto::kdf::KdfParams;
pub use error::{ApiError, VaultError};
pub use secret::SecretString;
pub use vault::Vault;

// The binary's command line; everything else it reaches through these.
pub mod cli;
pub(crate) mod config;
pub(crate) mod fileperm;
pub mod logging;
pub(crate) mod password;
