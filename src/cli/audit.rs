//! `audit`: the trail, printed or verified.

use serde_json::{Value, json};

use super::{CliError, Settings, block_on, emit, print_table};
use crate::app;
use crate::error::exit;
use crate::model::rfc3339;

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
    let access = s.access()?;
    if verify {
        let report = block_on(app::audit::verify(&access))??;
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
    let entries = block_on(app::audit::entries(&access, since))??;
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
