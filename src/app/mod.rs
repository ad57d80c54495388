//! The application layer: the process context every front end shares
//! ([`VaultAccess`]) and one typed function per operation. MCP, REST, the
//! entry page and the CLI call these; they parse their own wire format into
//! the `model` inputs and render the outputs and errors in their own shape.

pub mod audit;
pub mod calls;
mod context;
pub mod credentials;
pub mod entry_desk;
mod error;
pub mod keys;
pub mod members;
mod outputs;
pub mod page_cache;
pub mod secrets;
pub mod status;
pub mod tokens;

pub use context::{UnlockConfig, VaultAccess};
pub use error::AppError;
