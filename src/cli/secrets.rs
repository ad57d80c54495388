//! `secret create|list|delete|rotate`: named secrets from the command line.

use serde_json::json;

use super::{CliError, Settings, block_on, print_table, read_value};
use crate::app;
use crate::model::{Caller, SecretItem, rfc3339};
use crate::validate::{self, CreateSecretArgs};

/// `secret create`: a named secret, its value read from the terminal or stdin.
pub(super) fn secret_create(
    s: &Settings,
    name: Option<String>,
    name_option: Option<String>,
    provider: Option<String>,
) -> Result<(), CliError> {
    // NAME or --name (clap refuses both); no --provider: guessed from NAME.
    let name = name.or(name_option).unwrap_or_default();
    let provider = provider.unwrap_or_else(|| crate::catalog::provider_for_secret_name(&name));
    let req = CreateSecretArgs {
        name,
        provider,
        value: read_value("Secret value: ")?,
    }
    .parse()?;
    let access = s.access()?;
    let s = block_on(app::secrets::create_secret(&access, &Caller::Cli, req))??;
    println!("created {} {} ({})", s.name, s.masked_value, s.id);
    Ok(())
}

pub(super) fn secret_list(
    s: &Settings,
    as_json: bool,
    provider: Option<String>,
) -> Result<(), CliError> {
    let mut listing = validate::list_secrets_of(provider)?;
    listing.limit = usize::MAX;
    let access = s.access()?;
    let secrets = block_on(app::secrets::list_secrets(&access, listing))??.items;
    if as_json {
        let items: Vec<SecretItem> = secrets.iter().map(Into::into).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "secrets": items })).unwrap_or_default()
        );
        return Ok(());
    }
    let rows: Vec<[String; 6]> = secrets
        .iter()
        .map(|x| {
            [
                x.name.clone(),
                x.provider.clone(),
                x.masked_value.clone(),
                rfc3339(x.created_at),
                rfc3339(x.updated_at),
                x.last_used_at
                    .map(rfc3339)
                    .unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    print_table(
        [
            "NAME",
            "PROVIDER",
            "VALUE",
            "CREATED",
            "UPDATED",
            "LAST USED",
        ],
        &rows,
    );
    Ok(())
}

fn checked_name(name: &str) -> Result<String, CliError> {
    Ok(validate::secret_name(name)?)
}

pub(super) fn secret_delete(
    s: &Settings,
    name: Option<String>,
    id: Option<String>,
) -> Result<(), CliError> {
    if let Some(id) = id {
        let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| {
            CliError::Usage(format!(
                "--id {:?} is not a secret id (a UUID)",
                crate::validate::bounded(&id, 64)
            ))
        })?;
        let access = s.access()?;
        return match block_on(app::secrets::delete_secret_by_id(&access, &Caller::Cli, id))?? {
            Some(d) => {
                println!("deleted {} ({})", d.name, d.id);
                Ok(())
            }
            None => Err(CliError::Other(format!("no secret with id {id}"))),
        };
    }
    let name = checked_name(name.as_deref().unwrap_or_default())?;
    let access = s.access()?;
    match block_on(app::secrets::delete_secret(
        &access,
        &Caller::Cli,
        name.clone(),
    ))?? {
        Some(d) => {
            println!("deleted {} ({})", d.name, d.id);
            Ok(())
        }
        None => Err(CliError::Other(format!(
            "no secret named {name} (credvault secret list shows them)"
        ))),
    }
}

pub(super) fn secret_rotate(s: &Settings, name: &str) -> Result<(), CliError> {
    let name = checked_name(name)?;
    let access = s.access()?;
    // Validated like create_secret's value: trimmed, 1..=16 KiB.
    let req = CreateSecretArgs {
        name: name.clone(),
        provider: "rotate".into(),
        value: read_value("New secret value: ")?,
    }
    .parse()?;
    match block_on(app::secrets::rotate_secret(
        &access,
        &Caller::Cli,
        name.clone(),
        req.value,
    ))?? {
        Some(x) => {
            println!("rotated {} {} ({})", x.name, x.masked_value, x.id);
            Ok(())
        }
        None => Err(CliError::Other(format!(
            "no secret named {name} (credvault secret create makes one)"
        ))),
    }
}
