//! A team vault's members: add (with their own password), list, remove.

use super::{AppError, VaultAccess};
use crate::crypto::kdf::KdfParams;
use crate::model::Caller;
use crate::secret::SecretString;
use crate::vault::MemberInfo;

/// Adds member `name`, whose own password (one KDF at `params`) opens their slot.
pub async fn add_member(
    access: &VaultAccess,
    caller: &Caller,
    name: String,
    password: SecretString,
    params: KdfParams,
) -> Result<(), AppError> {
    let via = caller.to_string();
    access
        .run(move |v| v.member_add(&name, &password, params, &via))
        .await
}

/// Every member's name (and which is the default).
pub async fn list_members(access: &VaultAccess) -> Result<Vec<MemberInfo>, AppError> {
    access.run(|v| v.members()).await
}

/// Removes member `name`; false when there is none.
pub async fn remove_member(
    access: &VaultAccess,
    caller: &Caller,
    name: String,
) -> Result<bool, AppError> {
    let via = caller.to_string();
    access.run(move |v| v.member_remove(&name, &via)).await
}
