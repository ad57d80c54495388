//! `backup`: a consistent copy of the vault file.

use std::path::Path;

use super::{CliError, Settings, block_on};
use crate::app;
use crate::model::Caller;

pub(super) fn backup(s: &Settings, to: &Path) -> Result<(), CliError> {
    let access = s.access()?;
    block_on(app::keys::backup(&access, &Caller::Cli, to.to_owned()))??;
    let member = block_on(app::status::member(&access))??;
    println!(
        "wrote a backup to {} ({})",
        to.display(),
        match member {
            Some(_) =>
                "a vault file: each member's password opens it with --vault FILE --member NAME",
            None => "the same master password opens it",
        }
    );
    Ok(())
}
