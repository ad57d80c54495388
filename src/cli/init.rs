//! `init`: a new vault file.

use super::{CliError, Settings};
use crate::error::VaultError;
use crate::password::{self, Prompt};
use crate::store::Location;
use crate::vault::Vault;

pub(super) fn init(s: &Settings) -> Result<(), CliError> {
    let path = match &s.location {
        Location::Postgres(url) => return super::members::init(s, url),
        Location::File(path) => path,
    };
    if s.member.is_some() {
        return Err(CliError::Usage(
            "--member names a team vault's member: a vault file has one password (use --store for a team vault, or unset CREDVAULT_MEMBER)".into(),
        ));
    }
    if crate::store::redb::exists(path) {
        return Err(VaultError::AlreadyExists(path.display().to_string()).into());
    }
    let pw = password::read(Prompt::Confirm)?.ok_or(VaultError::NoPassword)?;
    if pw.expose().trim().is_empty() {
        return Err(VaultError::EmptyPassword.into());
    }
    let vault = Vault::create(path, &pw, s.kdf)?;
    println!("created vault {} at {}", vault.id(), path.display());
    Ok(())
}
