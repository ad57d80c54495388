//! `delete`, `secret list|delete|rotate`, `passwd`, `rekey`, `backup`, `audit`
//! (DESIGN §10, §12, §13).

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::{CliError, Settings, block_on, emit, print_table, read_value};
use crate::app;
use crate::error::{ApiError, VaultError, exit};
use crate::model::Caller;
use crate::model::{SecretItem, rfc3339};
use crate::password;
use crate::secret::SecretString;
use crate::validate;
use crate::vault::{Rekeyed, Relock, Selector};

fn invalid(msg: String) -> CliError {
    CliError::Invalid(ApiError::bad_request(msg))
}

pub(super) fn delete(
    s: &Settings,
    target: Option<String>,
    id: Option<String>,
) -> Result<(), CliError> {
    let mut args = Map::new();
    match (&target, &id) {
        (_, Some(id)) => {
            args.insert("id".into(), json!(id));
        }
        (Some(t), None) => {
            let (service, name) = t.split_once('/').unwrap_or((t.as_str(), "default"));
            args.insert("service_id".into(), json!(service));
            args.insert("name".into(), json!(name));
        }
        (None, None) => return Err(CliError::Usage("give SERVICE[/NAME] or --id ID".into())),
    }
    let which = validate::delete_credential(args)?;
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

pub(super) fn secret_list(
    s: &Settings,
    as_json: bool,
    provider: Option<String>,
) -> Result<(), CliError> {
    let mut args = Map::new();
    if let Some(p) = provider {
        args.insert("provider".into(), json!(p));
    }
    let mut listing = validate::list_secrets(args)?;
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
    let mut args = Map::new();
    args.insert("name".into(), json!(name));
    Ok(validate::delete_secret(args)?.name)
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
        return match s.open()?.delete_secret_by_id(id, "cli")? {
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
    let vault = s.open()?;
    // Validated like create_secret's value: trimmed, 1..=16 KiB.
    let mut args = Map::new();
    args.insert("name".into(), json!(name));
    args.insert("provider".into(), json!("rotate"));
    args.insert(
        "value".into(),
        Value::String(read_value("New secret value: ")?.take()),
    );
    let req = validate::create_secret(args)?;
    match vault.rotate_secret(&name, &req.value, "cli")? {
        Some(x) => {
            println!("rotated {} {} ({})", x.name, x.masked_value, x.id);
            Ok(())
        }
        None => Err(CliError::Other(format!(
            "no secret named {name} (credvault secret create makes one)"
        ))),
    }
}

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
    let vault = s.open()?;
    if rekey && vault.member().is_some() {
        return Err(CliError::Usage(
            "passwd --rekey is for a vault file: in a team vault run `credvault passwd`, then `credvault rekey` (members keep their own passwords)".into(),
        ));
    }
    let new = new_password(file)?;
    if rekey {
        let done = vault.rekey(Relock::NewPassword(&new, rekdf.then_some(s.kdf)), "cli")?;
        println!(
            "changed the master password of {} and drew a new data key (the old password, even with a copy taken before, opens nothing written from now on); {}",
            s.location.describe(),
            rekeyed(&done)
        );
        return Ok(());
    }
    vault.change_password(&new, rekdf.then_some(s.kdf), "cli")?;
    println!(
        "changed the {} of {}; the old one no longer opens it",
        match vault.member() {
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
    let relock = match vault.member() {
        Some(_) => Relock::Members,
        None => Relock::Password(&pw),
    };
    let done = vault.rekey(relock, "cli")?;
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

fn parse_since(t: &str) -> Result<i64, CliError> {
    if let Ok(at) = humantime::parse_rfc3339_weak(t) {
        return Ok(crate::vault::unix_seconds(at));
    }
    let age = humantime::parse_duration(t).map_err(|_| {
        CliError::Usage(format!(
            "--since {t:?}: expected RFC 3339 or an age like 2h"
        ))
    })?;
    Ok(crate::vault::now() - age.as_secs() as i64)
}

pub(super) fn audit(
    s: &Settings,
    as_json: bool,
    since: Option<String>,
    verify: bool,
) -> Result<i32, CliError> {
    let vault = s.open()?;
    if verify {
        let report = vault.verify_audit()?;
        if as_json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        }
        if report.problems.is_empty() {
            if !as_json {
                println!(
                    "ok: {} entries, chain and head intact; {} live records match the trail",
                    report.entries, report.records
                );
            }
            return Ok(exit::OK);
        }
        if !as_json {
            for p in &report.problems {
                let at = p.entry.map(|e| format!("entry #{e}: ")).unwrap_or_default();
                let rec = p
                    .record
                    .as_deref()
                    .map(|r| format!("{r} "))
                    .unwrap_or_default();
                eprintln!("credvault: audit: {at}{rec}{}", p.what);
            }
            eprintln!(
                "credvault: audit: {} problem(s); the first is above",
                report.problems.len()
            );
        }
        return Ok(exit::FAILURE);
    }
    let since = since.as_deref().map(parse_since).transpose()?;
    let entries = vault.audit_entries(since)?;
    if as_json {
        for e in &entries {
            emit(&serde_json::to_string(&entry_json(e)).unwrap_or_default());
        }
        return Ok(exit::OK);
    }
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|e| {
            [
                e.seq.to_string(),
                rfc3339(e.at),
                e.action.clone(),
                match &e.detail {
                    Some(d) if !e.subject.is_empty() => format!("{} ({d})", e.subject),
                    Some(d) => d.clone(),
                    None => e.subject.clone(),
                },
                e.via.clone(),
                e.outcome.clone(),
            ]
        })
        .collect();
    print_table(["#", "TIME", "ACTION", "SUBJECT", "VIA", "OUTCOME"], &rows);
    Ok(exit::OK)
}

/// One entry for `audit --json`: what happened, never the chain's internals.
fn entry_json(e: &crate::vault::AuditEntry) -> Value {
    let mut v = json!({
        "seq": e.seq, "at": rfc3339(e.at), "action": e.action, "subject": e.subject,
        "via": e.via, "outcome": e.outcome,
    });
    if let Some(d) = &e.detail {
        v["detail"] = json!(d);
    }
    if let Some(r) = &e.record {
        v["record"] = json!({"table": r.table, "id": r.id, "deleted": r.mac.is_none()});
    }
    v
}
