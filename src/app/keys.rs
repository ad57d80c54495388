//! The master password and the data key: `passwd`, `rekey`, and `backup`
//! (a copy the same password opens).

use std::path::PathBuf;

use super::{AppError, VaultAccess};
use crate::crypto::kdf::KdfParams;
use crate::model::Caller;
use crate::secret::SecretString;
use crate::vault::{Rekeyed, Relock};

/// What locks a new data key (see [`Relock`]), owned.
pub enum NewLock {
    /// A team vault: every member's slot.
    Members,
    /// A vault file: the password that opened it, with a fresh salt.
    Password(SecretString),
    /// A vault file: a new password, at `params` (default: the current cost).
    NewPassword(SecretString, Option<KdfParams>),
}

/// Changes the password that opened the vault (a member's own, in a team
/// vault); `params` re-derives at a new KDF cost.
pub async fn change_password(
    access: &VaultAccess,
    caller: &Caller,
    new: SecretString,
    params: Option<KdfParams>,
) -> Result<(), AppError> {
    let via = caller.to_string();
    access
        .run(move |v| v.change_password(&new, params, &via))
        .await
}

/// Draws a new data key, re-seals everything under it and locks it with `lock`.
pub async fn rekey(
    access: &VaultAccess,
    caller: &Caller,
    lock: NewLock,
) -> Result<Rekeyed, AppError> {
    let via = caller.to_string();
    access
        .run(move |v| {
            let relock = match &lock {
                NewLock::Members => Relock::Members,
                NewLock::Password(pw) => Relock::Password(pw),
                NewLock::NewPassword(pw, params) => Relock::NewPassword(pw, *params),
            };
            v.rekey(relock, &via)
        })
        .await
}

/// Writes a consistent copy of the vault to `to` (which must not exist).
pub async fn backup(access: &VaultAccess, caller: &Caller, to: PathBuf) -> Result<(), AppError> {
    let via = caller.to_string();
    access.run(move |v| v.backup(&to, &via)).await
}
