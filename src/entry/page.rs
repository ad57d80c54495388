//! The entry page's HTML: plain markup with inline CSS, no JavaScript, no
//! external assets. Every caller-supplied string is escaped.

use std::fmt::Write as _;

use crate::app::entry_desk::Slot;
use crate::usage::auth_header_for;
use crate::usage::destination::effective_hosts;

/// `s` escaped for HTML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}\
h1{font-size:1.4rem}dl{display:grid;grid-template-columns:auto 1fr;gap:.2rem 1rem}dt{color:#666}dd{margin:0}\
label{display:block;margin-top:1rem;font-weight:600}input,textarea{width:100%;box-sizing:border-box;font:inherit;padding:.4rem}\
textarea{height:5rem;font-family:ui-monospace,monospace}.hint{color:#666;font-size:.9rem;margin:.2rem 0}\
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.5rem .8rem}.ok{background:#e6f4ea;border:1px solid #9fd0ad;padding:.5rem .8rem}\
button{margin-top:1.2rem;margin-right:.6rem;font:inherit;padding:.4rem 1rem}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n",
        escape(title)
    )
}

fn summary(slot: &Slot) -> String {
    let spec = &slot.spec;
    let mut dl = String::from("<dl>");
    let _ = write!(
        dl,
        "<dt>Service</dt><dd>{} (<code>{}</code>)</dd><dt>Name</dt><dd>{}</dd><dt>Sent as</dt><dd>{}</dd>",
        escape(&spec.service.service_name),
        escape(&spec.service.id),
        escape(&spec.name),
        escape(&sent_as(slot)),
    );
    dl.push_str("</dl>");
    dl
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
    let mut body = String::from("<h1>Enter a key for credvault</h1>\n");
    if let Some(e) = error {
        let _ = writeln!(body, "<p class=\"error\" role=\"alert\">{}</p>", escape(e));
    }
    body.push_str(&summary(slot));
    let default_hosts = effective_hosts(&slot.spec.service.id, &[])
        .first()
        .map(|h| {
            format!(
                "Leave empty for the service's own API host ({}).",
                escape(h)
            )
        })
        .unwrap_or_else(|| "Needed for this service: without one the key cannot be used.".into());
    let _ = write!(
        body,
        "\n<form method=\"post\" autocomplete=\"off\">\
         <label for=\"allowed_hosts\">Hosts this key may be sent to</label>\
         <p class=\"hint\">One per line, <code>host</code> or <code>host:port</code>. {default_hosts} \
         You decide this, not the agent: the key will never be sent anywhere else.</p>\
         <textarea id=\"allowed_hosts\" name=\"allowed_hosts\" spellcheck=\"false\">{}</textarea>\
         <label for=\"value\">Key</label>\
         <input id=\"value\" name=\"value\" type=\"password\" required maxlength=\"16384\" \
         autocomplete=\"off\" autocapitalize=\"off\" spellcheck=\"false\" autofocus>\
         <p class=\"hint\">Stored encrypted on this machine. The agent never sees it; it can only use it.</p>\
         <button type=\"submit\" name=\"action\" value=\"store\">Store key</button>\
         <button type=\"submit\" name=\"action\" value=\"decline\" formnovalidate>Decline</button>\
         </form>\n<p class=\"hint\">This link works once and expires at {}.</p>",
        escape(hosts),
        crate::model::rfc3339(slot.expires_at),
    );
    document("credvault: enter a key", &body)
}

/// After a successful store: what was stored and where it may go.
pub fn stored(slot: &Slot, replaced: bool, hosts: &[String]) -> String {
    let what = if replaced {
        "replaced the previous value"
    } else {
        "stored"
    };
    let hosts = effective_hosts(&slot.spec.service.id, hosts);
    let hosts = if hosts.is_empty() {
        "none yet: store it again with hosts to use it".to_owned()
    } else {
        hosts
            .iter()
            .map(|h| escape(h))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let body = format!(
        "<h1>Key {what}</h1>\n<p class=\"ok\" role=\"status\">The key is {what} in your credvault vault. \
         You can close this tab and go back to your agent.</p>\n{}<dl><dt>May go to</dt><dd>{hosts}</dd></dl>",
        summary(slot)
    );
    document("credvault: key stored", &body)
}

/// After "Decline".
pub fn declined() -> String {
    document(
        "credvault: declined",
        "<h1>Declined</h1>\n<p>Nothing was stored. You can close this tab.</p>",
    )
}

/// A link that can no longer be used, and why.
pub fn gone(why: &str) -> String {
    let body = format!(
        "<h1>This link cannot be used</h1>\n<p class=\"error\">{}</p>\n\
         <p>Ask your agent for a new link, or store the key from a terminal: \
         <code>credvault store --service SERVICE</code>.</p>",
        escape(why)
    );
    document("credvault: link not usable", &body)
}

/// A refused request (foreign Origin, Host or peer).
pub fn refused(why: &str) -> String {
    let body = format!("<h1>Refused</h1>\n<p class=\"error\">{}</p>", escape(why));
    document("credvault: refused", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
