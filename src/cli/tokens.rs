//! `token create|list|revoke`: bearer tokens for `serve --http`.

use super::args::TokenCommand;
use super::{CliError, Settings, block_on, print_table};
use crate::app;
use crate::model::Caller;
use crate::validate;

pub(super) fn token(s: &Settings, cmd: TokenCommand) -> Result<(), CliError> {
    let access = s.access()?;
    match cmd {
        TokenCommand::Create { name } => {
            let name = name.trim().to_owned();
            validate::check_name(&name).map_err(|m| CliError::Usage(format!("--name {m}")))?;
            let (token, info) = block_on(app::tokens::create_token(&access, &Caller::Cli, name))??;
            eprintln!(
                "created token {} ({}); it is shown once:",
                info.id, info.name
            );
            println!("{}", token.expose());
        }
        TokenCommand::List => {
            let rows: Vec<[String; 3]> = block_on(app::tokens::list_tokens(&access))??
                .into_iter()
                .map(|t| [t.id, t.name, crate::model::rfc3339(t.created_at)])
                .collect();
            print_table(["ID", "NAME", "CREATED"], &rows);
        }
        TokenCommand::Revoke { which } => match block_on(app::tokens::revoke_token(
            &access,
            &Caller::Cli,
            which.clone(),
        ))?? {
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
