//! `passwd` and `rekey`: the master password and the data key.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use super::{CliError, Settings, block_on, invalid};
use crate::app::keys::NewLock;
use crate::app::{self, VaultAccess};
use crate::error::VaultError;
use crate::model::Caller;
use crate::password;
use crate::secret::SecretString;
use crate::vault::Rekeyed;

/// The new password: `--new-password-file`, else stdin's first line when it
/// is not a terminal, else a prompt asked twice.
pub(super) fn new_password(file: Option<PathBuf>) -> Result<SecretString, CliError> {
    // Read exactly as the password sources read it later (one trailing
    // newline dropped, nothing else), or the new password would not open it.
    let pw = if let Some(f) = file {
        let mut pw = password::read_file(&f)?;
        password::strip_newline(&mut pw);
        pw
    } else if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Other(format!("reading the new password from stdin: {e}")))?;
        let mut pw = SecretString::new(line);
        password::strip_newline(&mut pw);
        pw
    } else {
        let first = password::ask("New master password: ")?;
        if password::ask("Repeat new master password: ")?.expose() != first.expose() {
            return Err(invalid(
                "the two new passwords differ: nothing was changed".into(),
            ));
        }
        first
    };
    if pw.expose().trim().is_empty() {
        return Err(VaultError::EmptyPassword.into());
    }
    Ok(pw)
}

pub(super) fn passwd(
    s: &Settings,
    file: Option<PathBuf>,
    rekdf: bool,
    rekey: bool,
) -> Result<(), CliError> {
    let access = s.access()?;
    let member = block_on(app::status::member(&access))??;
    if rekey && member.is_some() {
        return Err(CliError::Usage(
            "passwd --rekey is for a vault file: in a team vault run `credvault passwd`, then `credvault rekey` (members keep their own passwords)".into(),
        ));
    }
    let new = new_password(file)?;
    if rekey {
        let lock = NewLock::NewPassword(new, rekdf.then_some(s.kdf));
        let done = block_on(app::keys::rekey(&access, &Caller::Cli, lock))??;
        println!(
            "changed the master password of {} and drew a new data key (the old password, even with a copy taken before, opens nothing written from now on); {}",
            s.location.describe(),
            rekeyed(&done)
        );
        return Ok(());
    }
    block_on(app::keys::change_password(
        &access,
        &Caller::Cli,
        new,
        rekdf.then_some(s.kdf),
    ))??;
    println!(
        "changed the {} of {}; the old one no longer opens it",
        match member {
            Some(m) => format!("password of member {m}"),
            None => "master password".into(),
        },
        s.location.describe()
    );
    Ok(())
}

/// `credvault rekey`: a team vault's new key goes to every member's slot, a
/// vault file's is locked under the password that opened it (fresh salt).
pub(super) fn rekey(s: &Settings) -> Result<(), CliError> {
    let (vault, pw) = s.unlock()?;
    let lock = match vault.member() {
        Some(_) => NewLock::Members,
        None => NewLock::Password(pw),
    };
    let access = VaultAccess::ready(vault);
    let done = block_on(app::keys::rekey(&access, &Caller::Cli, lock))??;
    println!("{}", rekeyed(&done));
    Ok(())
}

/// What a rekey did, for people.
fn rekeyed(done: &Rekeyed) -> String {
    let what = match done.members {
        0 => format!(
            "{} records and {} audit entries",
            done.records, done.entries
        ),
        n => format!(
            "{} records, {} audit entries and {n} member slots",
            done.records, done.entries
        ),
    };
    format!(
        "rekeyed: {what} re-sealed under a new data key; {} bearer tokens revoked (credvault token create makes new ones). Restart running credvault processes.",
        done.tokens_revoked
    )
}
