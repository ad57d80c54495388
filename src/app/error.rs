//! The application layer's error: a vault failure kept as it is, so each
//! front end renders it its own way (the CLI prints it and exits 3 when the
//! vault is locked; MCP and REST answer the §3 status), or a refusal already
//! in the §3 shape (not found, validation, a call_api refusal).

use crate::error::{ApiError, VaultError};

/// Why an operation failed.
#[derive(Debug)]
pub enum AppError {
    /// The vault refused or failed.
    Vault(VaultError),
    /// Refused before or outside the vault, in the §3 shape.
    Api(ApiError),
}

impl From<VaultError> for AppError {
    fn from(e: VaultError) -> Self {
        Self::Vault(e)
    }
}

impl From<ApiError> for AppError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Vault(e) => e.fmt(f),
            Self::Api(e) => e.fmt(f),
        }
    }
}

impl From<AppError> for ApiError {
    /// The §3 shape; a vault failure is logged here, unless it is one a
    /// caller expects (a secret name that is taken).
    fn from(e: AppError) -> Self {
        match e {
            AppError::Api(e) => e,
            AppError::Vault(e) => {
                if !matches!(e, VaultError::SecretExists(_)) {
                    tracing::warn!("vault operation failed: {e}");
                }
                ApiError::from(e)
            }
        }
    }
}
