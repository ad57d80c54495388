//! The shared nouns (DESIGN §14): who is calling ([`Caller`]), credential
//! types, cursors and page sizes,
//! bounded argument fields, and one type per tool input that is both the
//! JSON Schema `tools/list` serves and what the parser in the `validate` layer
//! returns. Every bound is a `pub const` here, read by both.
//!
//! Imports only leaves (`secret`, `catalog`, `mask`, `crypto`).

mod call_input;
pub mod caller;
mod credential_input;
mod credential_output;
mod fields;
mod paging;
mod secret_input;
mod secret_output;
mod status;
mod time;

pub use call_input::{
    Body, CallApi, DEFAULT_TIMEOUT_MS, HttpMethod, MAX_ENTRIES, MAX_REQUEST_BODY, MAX_TIMEOUT_MS,
    METHODS, RequestUrl, TimeoutMs,
};
pub use caller::Caller;
pub use credential_input::{CredentialSpec, ListCredentials, Selector, StoreCredential};
pub use credential_output::{
    CredentialItem, DeleteCredentialOutput, ListCredentialsOutput, RequestCredentialOutput,
    StoreCredentialOutput,
};
pub use fields::{
    BLANK, CredentialType, DEFAULT_NAME, Invalid, Label, MAX_ALLOWED_HOSTS, MAX_NAME_CHARS,
    MAX_SERVICE_ID_CHARS, MAX_VALUE_BYTES, Provider, SecretName, SecretValue, ServiceId, bounded,
    is_invisible,
};
pub use paging::{Cursor, DEFAULT_LIMIT, MAX_LIMIT, PageSize};
pub use secret_input::{CreateSecret, DeleteSecret, ListSecrets};
pub use secret_output::{CreateSecretOutput, DeleteSecretOutput, ListSecretsOutput, SecretItem};
pub use status::VaultStatus;
pub use time::rfc3339;
