//! Resolved settings: where the vault lives and the KDF parameters for new vaults.

use std::path::PathBuf;

/// The default vault path: `$XDG_DATA_HOME/credvault/vault.redb`, else
/// `~/.local/share/credvault/vault.redb`.
pub fn default_vault_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("share"))
        })?;
    Some(base.join("credvault").join("vault.redb"))
}
