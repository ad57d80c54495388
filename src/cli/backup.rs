//! `backup`: a consistent copy of the vault file.

use std::path::Path;

use super::{CliError, Settings};

pub(super) fn backup(s: &Settings, to: &Path) -> Result<(), CliError> {
    let vault = s.open()?;
    vault.backup(to, "cli")?;
    println!(
        "wrote a backup to {} ({})",
        to.display(),
        match vault.member() {
            Some(_) =>
                "a vault file: each member's password opens it with --vault FILE --member NAME",
            None => "the same master password opens it",
        }
    );
    Ok(())
}
