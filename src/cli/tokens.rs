//! `token create|list|revoke`: bearer tokens for `serve --http`.

use super::args::TokenCommand;
use super::{CliError, Settings, print_table};
use crate::validate;

pub(super) fn token(s: &Settings, cmd: TokenCommand) -> Result<(), CliError> {
    let vault = s.open()?;
    match cmd {
        TokenCommand::Create { name } => {
            let name = name.trim().to_owned();
            validate::check_name(&name).map_err(|m| CliError::Usage(format!("--name {m}")))?;
            let (token, info) = vault.create_token(&name, "cli")?;
            eprintln!(
                "created token {} ({}); it is shown once:",
                info.id, info.name
            );
            println!("{}", token.expose());
        }
        TokenCommand::List => {
            let rows: Vec<[String; 3]> = vault
                .list_tokens()?
                .into_iter()
                .map(|t| [t.id, t.name, crate::model::rfc3339(t.created_at)])
                .collect();
            print_table(["ID", "NAME", "CREATED"], &rows);
        }
        TokenCommand::Revoke { which } => match vault.revoke_token(&which, "cli")? {
            0 => {
                return Err(CliError::Other(format!(
                    "no token with id or name {which:?}"
                )));
            }
            n => println!("revoked {n} token(s)"),
        },
    }
    Ok(())
}
