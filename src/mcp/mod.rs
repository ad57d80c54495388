//! The MCP face of the vault: the [`CredVaultServer`] handler and the unlock
//! that runs beside it.
//!
//! The handler answers `initialize` / `server/discover` and `tools/list` at once;
//! the Argon2id derivation runs on a blocking thread started with the server, and
//! tool calls wait for it ([`VaultAccess`]).

mod entry_tool;
mod lifecycle_tools;
pub mod rendered;
mod schema;
pub mod stdio;
mod tools;
mod use_tools;

pub use tools::CredVaultServer;
