//! Where the master password comes from, in order: `CREDVAULT_PASSWORD_FILE`
//! (preferred: a process's environment is readable by the same user),
//! `CREDVAULT_PASSWORD`, then an interactive prompt when stdin is a terminal.
//!
//! These variables are read here, never through clap's `env =`, so `--help`
//! cannot print them.

use std::io::IsTerminal;

use crate::error::VaultError;
use crate::secret::SecretString;

/// Environment variable naming a file that holds the password.
pub const ENV_FILE: &str = "CREDVAULT_PASSWORD_FILE";
/// Environment variable holding the password itself.
pub const ENV_PASSWORD: &str = "CREDVAULT_PASSWORD";

/// Whether to ask on the terminal when no variable is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Never prompt (stdio server: stdin is the protocol).
    Never,
    /// Prompt once.
    Once,
    /// Prompt twice and require a match (creating a vault).
    Confirm,
}

/// Reads the password from the first available source; `Ok(None)` when none is.
pub fn read(prompt: Prompt) -> Result<Option<SecretString>, VaultError> {
    if let Some(path) = std::env::var_os(ENV_FILE) {
        let mut text = SecretString::new(std::fs::read_to_string(&path).map_err(|e| {
            VaultError::io(
                format!(
                    "reading {ENV_FILE} ({})",
                    std::path::Path::new(&path).display()
                ),
                e,
            )
        })?);
        strip_newline(&mut text);
        return Ok(Some(text));
    }
    if let Some(value) = std::env::var_os(ENV_PASSWORD) {
        return Ok(Some(SecretString::new(
            value.to_string_lossy().into_owned(),
        )));
    }
    if prompt == Prompt::Never || !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let first = ask("Master password: ")?;
    if prompt == Prompt::Confirm && ask("Repeat master password: ")?.expose() != first.expose() {
        return Err(VaultError::io(
            "reading the password",
            std::io::Error::other("the two passwords differ"),
        ));
    }
    Ok(Some(first))
}

/// Asks on the terminal without echo.
pub fn ask(label: &str) -> Result<SecretString, VaultError> {
    rpassword::prompt_password(label)
        .map(SecretString::new)
        .map_err(|e| VaultError::io("reading from the terminal", e))
}

/// A password file ends with one newline, which is not part of the password.
fn strip_newline(text: &mut SecretString) {
    let s = text.expose();
    let cut = s.strip_suffix("\r\n").or_else(|| s.strip_suffix('\n'));
    if let Some(cut) = cut {
        *text = SecretString::from(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_newline_is_dropped_and_no_more() {
        let mut s = SecretString::from("pw \n");
        strip_newline(&mut s);
        assert_eq!(s.expose(), "pw ");
        let mut s = SecretString::from("pw\n\n");
        strip_newline(&mut s);
        assert_eq!(s.expose(), "pw\n");
    }
}
