//! `store`, `list` and `delete`: credentials from the command line.

use serde_json::json;

use super::{CliError, Settings, block_on, print_table, read_value};
use crate::app;
use crate::model::Caller;
use crate::validate::{self, DeleteCredentialArgs, StoreCredentialArgs};
use crate::vault::Selector;

/// `store`: a credential, its value read from the terminal or stdin.
pub(super) fn store(
    s: &Settings,
    service: String,
    credential_type: super::args::CliCredentialType,
    name: Option<String>,
    allowed_hosts: Vec<String>,
    auth_header: Option<String>,
) -> Result<(), CliError> {
    let req = StoreCredentialArgs {
        service_id: service,
        credential_type: credential_type.into(),
        credential_value: read_value("Credential value: ")?,
        name,
        allowed_hosts,
        auth_header,
    }
    .parse()?;
    let access = s.access()?;
    let stored = block_on(app::credentials::store_credential(
        &access,
        &Caller::Cli,
        req,
    ))??;
    let c = &stored.credential;
    println!(
        "{} {}/{} ({})",
        if stored.replaced {
            "replaced"
        } else {
            "stored"
        },
        c.service,
        c.name,
        c.id
    );
    Ok(())
}

pub(super) fn list(s: &Settings, as_json: bool, service: Option<String>) -> Result<(), CliError> {
    let filter = validate::list_credentials_of(service)?;
    let access = s.access()?;
    let creds = block_on(app::credentials::all_credentials(&access, filter.filter))??;
    if as_json {
        let items: Vec<_> = creds
            .iter()
            .map(crate::model::CredentialItem::from)
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "credentials": items })).unwrap_or_default()
        );
        return Ok(());
    }
    let rows: Vec<[String; 6]> = creds
        .iter()
        .map(|c| {
            [
                c.id.to_string(),
                c.service.clone(),
                c.name.clone(),
                c.credential_type.as_str().to_owned(),
                crate::model::rfc3339(c.created_at),
                c.last_used_at
                    .map(crate::model::rfc3339)
                    .unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    print_table(
        ["ID", "SERVICE", "NAME", "TYPE", "CREATED", "LAST USED"],
        &rows,
    );
    Ok(())
}

pub(super) fn delete(
    s: &Settings,
    target: Option<String>,
    id: Option<String>,
) -> Result<(), CliError> {
    let args = match (&target, id) {
        (_, Some(id)) => DeleteCredentialArgs::Id(id),
        (Some(t), None) => {
            let (service, name) = t.split_once('/').unwrap_or((t.as_str(), "default"));
            DeleteCredentialArgs::Name {
                service_id: service.to_owned(),
                name: name.to_owned(),
            }
        }
        (None, None) => return Err(CliError::Usage("give SERVICE[/NAME] or --id ID".into())),
    };
    let which = args.parse()?;
    let access = s.access()?;
    match block_on(app::credentials::delete_credential(
        &access,
        &Caller::Cli,
        which.clone(),
    ))?? {
        Some(d) => {
            println!(
                "deleted {}/{} ({})",
                d.service.unwrap_or_default(),
                d.name,
                d.id
            );
            Ok(())
        }
        None => Err(CliError::Other(match which {
            Selector::Id(id) => format!("no credential with id {id} (credvault list shows them)"),
            Selector::Name { service, name } => {
                format!("no credential {service}/{name} (credvault list shows them)")
            }
        })),
    }
}
