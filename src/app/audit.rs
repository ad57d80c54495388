//! The audit trail: its entries, and the whole-vault check.

use super::{AppError, VaultAccess};
use crate::vault::{AuditEntry, Verification};

/// The trail's entries (since Unix time `since`, when given), oldest first.
pub async fn entries(
    access: &VaultAccess,
    since: Option<i64>,
) -> Result<Vec<AuditEntry>, AppError> {
    access.run(move |v| v.audit_entries(since)).await
}

/// Checks the chain, the head and every live record against the trail.
pub async fn verify(access: &VaultAccess) -> Result<Verification, AppError> {
    access.run(|v| v.verify_audit()).await
}
