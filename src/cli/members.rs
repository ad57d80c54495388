//! Team vault commands (DESIGN §12): `init --store`, `member add/list/remove`
//! (`rekey`, for both kinds of vault, is in `master_password`).

use std::path::PathBuf;

use super::{CliError, Settings, block_on, master_password::new_password, print_table};
use crate::app;
use crate::error::VaultError;
use crate::model::Caller;
use crate::password::{self, Prompt};
use crate::store::postgres::PgStore;
use crate::vault::{DEFAULT_MEMBER, Vault};

/// Creates a team vault in the database `url`, its first member named by
/// `--member` (default `owner`).
pub(super) fn init(s: &Settings, url: &str) -> Result<(), CliError> {
    let member = s.member.as_deref().unwrap_or(DEFAULT_MEMBER);
    crate::vault::members::check_member_name(member)
        .map_err(|m| CliError::Usage(format!("--member: {m}")))?;
    let store = PgStore::connect(url).map_err(VaultError::from)?;
    store.ensure_schema().map_err(VaultError::from)?;
    let pw = password::read(Prompt::Confirm)?.ok_or(VaultError::NoPassword)?;
    if pw.expose().trim().is_empty() {
        return Err(VaultError::EmptyPassword.into());
    }
    let vault = Vault::create_in(Box::new(store), &pw, s.kdf, member, "cli")?;
    println!(
        "created team vault {} in {} with member {member}",
        vault.id(),
        vault.location()
    );
    Ok(())
}

pub(super) fn member_add(s: &Settings, name: &str, file: Option<PathBuf>) -> Result<(), CliError> {
    crate::vault::members::check_member_name(name).map_err(CliError::Usage)?;
    let access = s.access()?;
    let pw = new_password(file)?;
    block_on(app::members::add_member(
        &access,
        &Caller::Cli,
        name.to_owned(),
        pw,
        s.kdf,
    ))??;
    println!(
        "added member {name}: they open the vault with --member {name} (CREDVAULT_MEMBER={name}) and their own password"
    );
    Ok(())
}

pub(super) fn member_list(s: &Settings) -> Result<(), CliError> {
    let access = s.access()?;
    let rows: Vec<[String; 2]> = block_on(app::members::list_members(&access))??
        .into_iter()
        .map(|m| {
            let note = if m.default { "default" } else { "" };
            [m.name, note.to_owned()]
        })
        .collect();
    print_table(["MEMBER", ""], &rows);
    Ok(())
}

pub(super) fn member_remove(s: &Settings, name: &str) -> Result<(), CliError> {
    let access = s.access()?;
    if !block_on(app::members::remove_member(
        &access,
        &Caller::Cli,
        name.to_owned(),
    ))?? {
        return Err(CliError::Other(format!("no member named {name}")));
    }
    println!(
        "removed member {name}; run `credvault rekey` now so that their copy of the key opens nothing written from here on"
    );
    Ok(())
}
