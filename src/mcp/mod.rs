//! The MCP face of the vault: the [`CredVaultServer`] handler and the unlock
//! that runs beside it.
//!
//! The handler answers `initialize` / `server/discover` and `tools/list` at once;
//! the Argon2id derivation runs on a blocking thread started with the server, and
//! tool calls wait for it ([`VaultAccess`]).

mod call_tool;
mod confirm;
mod credential_tools;
mod entry_tool;
pub mod rendered;
mod schema;
mod secret_tools;
mod server;
pub mod stdio;

pub use server::CredVaultServer;
