//! The entry page's HTML: plain markup with inline CSS, no JavaScript, no
//! external assets. Built with `maud`, which escapes every interpolated
//! string: a caller-supplied label or host can never become markup.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::app::entry_desk::Slot;
use crate::usage::auth_header_for;
use crate::usage::destination::effective_hosts;

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}\
h1{font-size:1.4rem}dl{display:grid;grid-template-columns:auto 1fr;gap:.2rem 1rem}dt{color:#666}dd{margin:0}\
label{display:block;margin-top:1rem;font-weight:600}input,textarea{width:100%;box-sizing:border-box;font:inherit;padding:.4rem}\
textarea{height:5rem;font-family:ui-monospace,monospace}.hint{color:#666;font-size:.9rem;margin:.2rem 0}\
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.5rem .8rem}.ok{background:#e6f4ea;border:1px solid #9fd0ad;padding:.5rem .8rem}\
button{margin-top:1.2rem;margin-right:.6rem;font:inherit;padding:.4rem 1rem}";

fn document(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) }
                // A constant of this file (CSS is raw text: escaping would change it).
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

fn summary(slot: &Slot) -> Markup {
    let spec = &slot.spec;
    html! {
        dl {
            dt { "Service" }
            dd { (spec.service.service_name) " (" code { (spec.service.id) } ")" }
            dt { "Name" }
            dd { (spec.name) }
            dt { "Sent as" }
            dd { (sent_as(slot)) }
        }
    }
}

fn sent_as(slot: &Slot) -> String {
    let spec = &slot.spec;
    let (header, prefix) = auth_header_for(
        &spec.service.id,
        spec.credential_type,
        spec.auth_header.as_deref(),
    );
    format!("{header}: {prefix}…")
}

/// The form: the slot's summary, editable allowed hosts, the password field.
pub fn form(slot: &Slot, hosts: &str, error: Option<&str>) -> String {
    let default_hosts = match effective_hosts(&slot.spec.service.id, &[]).first() {
        Some(h) => format!("Leave empty for the service's own API host ({h})."),
        None => "Needed for this service: without one the key cannot be used.".to_owned(),
    };
    let body = html! {
        h1 { "Enter a key for credvault" }
        @if let Some(e) = error {
            p class="error" role="alert" { (e) }
        }
        (summary(slot))
        form method="post" autocomplete="off" {
            label for="allowed_hosts" { "Hosts this key may be sent to" }
            p class="hint" {
                "One per line, " code { "host" } " or " code { "host:port" } ". "
                (default_hosts)
                " You decide this, not the agent: the key will never be sent anywhere else."
            }
            textarea id="allowed_hosts" name="allowed_hosts" spellcheck="false" { (hosts) }
            label for="value" { "Key" }
            input id="value" name="value" type="password" required maxlength=(crate::model::MAX_VALUE_BYTES)
                autocomplete="off" autocapitalize="off" spellcheck="false" autofocus;
            p class="hint" {
                "Stored encrypted on this machine. The agent never sees it; it can only use it."
            }
            button type="submit" name="action" value="store" { "Store key" }
            button type="submit" name="action" value="decline" formnovalidate { "Decline" }
        }
        p class="hint" {
            "This link works once and expires at " (crate::model::rfc3339(slot.expires_at)) "."
        }
    };
    document("credvault: enter a key", body)
}

/// After a successful store: what was stored and where it may go.
pub fn stored(slot: &Slot, replaced: bool, hosts: &[String]) -> String {
    let what = if replaced {
        "replaced the previous value"
    } else {
        "stored"
    };
    let hosts = effective_hosts(&slot.spec.service.id, hosts);
    let may_go = if hosts.is_empty() {
        "none yet: store it again with hosts to use it".to_owned()
    } else {
        hosts.join(", ")
    };
    let body = html! {
        h1 { "Key " (what) }
        p class="ok" role="status" {
            "The key is " (what) " in your credvault vault. "
            "You can close this tab and go back to your agent."
        }
        (summary(slot))
        dl { dt { "May go to" } dd { (may_go) } }
    };
    document("credvault: key stored", body)
}

/// After "Decline".
pub fn declined() -> String {
    let body = html! {
        h1 { "Declined" }
        p { "Nothing was stored. You can close this tab." }
    };
    document("credvault: declined", body)
}

/// A link that can no longer be used, and why.
pub fn gone(why: &str) -> String {
    let body = html! {
        h1 { "This link cannot be used" }
        p class="error" { (why) }
        p {
            "Ask your agent for a new link, or store the key from a terminal: "
            code { "credvault store --service SERVICE" } "."
        }
    };
    document("credvault: link not usable", body)
}

/// A refused request (foreign Origin, Host or peer).
pub fn refused(why: &str) -> String {
    let body = html! {
        h1 { "Refused" }
        p class="error" { (why) }
    };
    document("credvault: refused", body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{CredentialSpec, CredentialType};

    const HOSTILE: &str = "<script>alert(1)</script>\"'><img onerror=alert(2)>";

    fn slot(name: &str) -> Slot {
        Slot::new(
            CredentialSpec {
                service_id: "custom.acme".into(),
                service: crate::catalog::Service {
                    id: "custom.acme".into(),
                    service_name: HOSTILE.into(),
                },
                credential_type: CredentialType::ApiKey,
                name: name.into(),
                allowed_hosts: vec![],
                auth_header: Some("X-Acme-Key".into()),
            },
            "http://127.0.0.1:1/enter/t".into(),
            crate::model::Caller::Stdio,
            std::time::Duration::ZERO,
        )
    }

    /// No caller-supplied string reaches a page as markup: every page that
    /// shows one carries it escaped, and no tag but the page's own.
    #[test]
    fn caller_strings_render_escaped_on_every_page() {
        let s = slot(HOSTILE);
        let escaped = "&lt;img onerror=alert(2)&gt;";
        for page in [
            form(&s, HOSTILE, Some(HOSTILE)),
            stored(&s, false, &[HOSTILE.into()]),
            gone(HOSTILE),
            refused(HOSTILE),
        ] {
            assert!(!page.contains("<script"), "{page}");
            assert!(!page.contains("<img"), "{page}");
            assert!(!page.contains("\"'>"), "{page}");
            assert!(
                page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{page}"
            );
            assert!(page.contains(escaped), "{page}");
        }
        // Service name, label, hosts and error: four escaped copies on the form.
        assert_eq!(form(&s, HOSTILE, Some(HOSTILE)).matches(escaped).count(), 4);
    }
}
