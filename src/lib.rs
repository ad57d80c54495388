//! credvault: a local, encrypted credential vault for AI agents, served over the
//! Model Context Protocol.
//!
//! Values go in through `store_credential` and `create_secret`; they are sealed
//! with crypto_secretbox under a data key wrapped by an Argon2id-derived master
//! key, kept in one redb file, and never come back out to the model.
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

pub mod app;
pub mod catalog;
pub mod crypto;
pub mod entry;
pub mod error;
pub mod http;
pub mod mask;
pub mod mcp;
pub mod model;
pub mod net;
pub mod secret;
pub mod store;
pub mod usage;
pub mod validate;
pub mod vault;

pub use crypto::kdf::KdfParams;
pub use error::{ApiError, VaultError};
pub use secret::SecretString;
pub use vault::Vault;

pub mod cli;
pub mod config;
pub mod fileperm;
pub mod logging;
pub mod password;
