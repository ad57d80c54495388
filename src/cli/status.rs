//! `status`: which vault this is and how much it holds.

use super::{CliError, Settings, block_on};
use crate::app;

/// Prints the vault's id, store, member and counts (never a value).
pub(super) fn status(s: &Settings, as_json: bool) -> Result<(), CliError> {
    let access = s.access()?;
    let st = block_on(app::status::status(&access))??;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&st).unwrap_or_default());
        return Ok(());
    }
    println!("vault        {}", st.vault_id);
    println!("store        {} {}", st.store, st.location);
    println!("member       {}", st.member.as_deref().unwrap_or("-"));
    println!("credentials  {}", st.credentials);
    println!("secrets      {}", st.secrets);
    Ok(())
}
