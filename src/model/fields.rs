//! The bounded nouns tool arguments are made of: each bound is one `pub
//! const`, read both by the type's JSON Schema (what `tools/list` serves) and
//! by its check (what the parser in `validate` applies), so the two cannot
//! drift apart.

use std::borrow::Cow;
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::catalog::{self, SERVICE_HELP, Service};
use crate::secret::SecretString;

/// Largest credential or secret value accepted, in bytes after trimming.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
/// Longest credential name (label), in characters.
pub const MAX_NAME_CHARS: usize = 128;
/// Longest service id: `custom.` and the longest custom name.
pub const MAX_SERVICE_ID_CHARS: usize = "custom.".len() + catalog::MAX_CUSTOM_NAME;
/// Longest secret (environment variable) name, in bytes.
pub const MAX_SECRET_NAME_CHARS: usize = 128;
/// Longest provider slug, in bytes.
pub const MAX_PROVIDER_CHARS: usize = 64;
/// Most allowed-hosts entries one credential may carry.
pub const MAX_ALLOWED_HOSTS: usize = 16;
/// Default credential name.
pub const DEFAULT_NAME: &str = "default";

/// `s` cut to `max` characters, with `…` when cut.
pub fn bounded(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// The message for a string that is empty after trimming.
pub const BLANK: &str = "must not be empty or only white space";

/// Why one argument was refused: the §3 `type` and `msg` of its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// `too_long`, `value_error`, `missing`, …
    pub kind: &'static str,
    /// What is wrong, never echoing a value.
    pub msg: String,
}

impl Invalid {
    fn new(kind: &'static str, msg: impl Into<String>) -> Self {
        Self {
            kind,
            msg: msg.into(),
        }
    }
}

/// A string schema `{type: string, minLength: 1, maxLength: max}`.
fn bounded_string(max: usize) -> Schema {
    json_schema!({ "type": "string", "minLength": 1, "maxLength": max })
}

/// Declares `$t` an inline schema named `$name` built by `$schema`.
macro_rules! inline_schema {
    ($t:ty, $name:literal, $schema:expr) => {
        impl JsonSchema for $t {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $schema
            }
        }
    };
}
pub(crate) use inline_schema;

/// How a credential is presented to its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialType {
    /// `Authorization: Bearer <value>`.
    Bearer,
    /// An API key sent in the service's own header.
    ApiKey,
}

inline_schema!(
    CredentialType,
    "CredentialType",
    json_schema!({ "type": "string", "enum": CredentialType::ALL.map(CredentialType::as_str) })
);

impl CredentialType {
    /// Every type, in the order messages list them.
    pub const ALL: [Self; 2] = [Self::Bearer, Self::ApiKey];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::ApiKey => "api_key",
        }
    }

    /// The type spelled `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A service id as a caller writes it (trimmed, lower-cased) and the
/// catalog service it resolves to.
#[derive(Debug, Clone)]
pub struct ServiceId {
    /// The id as given, trimmed and lower-cased.
    pub given: String,
    /// The resolved service.
    pub service: Service,
}

inline_schema!(ServiceId, "ServiceId", bounded_string(MAX_SERVICE_ID_CHARS));

impl ServiceId {
    /// Resolves a trimmed id (lower-cased here). An unknown id longer than
    /// any valid one is not echoed: it may be a value pasted into the wrong
    /// field.
    pub fn resolve(trimmed: &str) -> Result<Self, Invalid> {
        let id = trimmed.to_lowercase();
        match catalog::resolve(&id) {
            Some(service) => Ok(Self { given: id, service }),
            None if id.chars().count() > MAX_SERVICE_ID_CHARS => Err(Invalid::new(
                "too_long",
                format!(
                    "must be at most {MAX_SERVICE_ID_CHARS} characters (got {}): {SERVICE_HELP}",
                    id.chars().count()
                ),
            )),
            None => Err(Invalid::new(
                "value_error",
                format!("unknown service {id:?}: {SERVICE_HELP}"),
            )),
        }
    }
}

/// A credential's label (`default`, `prod`, …): at most
/// [`MAX_NAME_CHARS`] characters, no control or invisible characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label(String);

inline_schema!(Label, "Label", bounded_string(MAX_NAME_CHARS));

impl Default for Label {
    fn default() -> Self {
        Self(DEFAULT_NAME.to_owned())
    }
}

impl Label {
    /// Checks a trimmed, non-empty label.
    pub fn parse(name: &str) -> Result<Self, Invalid> {
        let n = name.chars().count();
        if n > MAX_NAME_CHARS {
            return Err(Invalid::new(
                "too_long",
                format!("must be at most {MAX_NAME_CHARS} characters (got {n})"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(Invalid::new(
                "value_error",
                "must not contain control characters",
            ));
        }
        if name.chars().any(is_invisible) {
            return Err(Invalid::new(
                "value_error",
                "must not contain invisible or bidirectional-control characters (zero-width spaces, joiners, direction marks)",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The label as text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl Deref for Label {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// Invisible or direction-changing characters that make two different names
/// look the same (`prod` and `prod\u{200b}`): zero-width and joiner
/// characters, bidirectional marks, embeddings, overrides and isolates, the
/// byte-order mark, soft hyphen and other format characters.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// An environment-variable style secret name (`OPENAI_API_KEY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretName(String);

inline_schema!(
    SecretName,
    "SecretName",
    json_schema!({ "type": "string", "pattern": SecretName::pattern() })
);

impl SecretName {
    /// The pattern a name matches, as served and as messages quote it.
    pub fn pattern() -> String {
        format!("^[A-Za-z_][A-Za-z0-9_]{{0,{}}}$", MAX_SECRET_NAME_CHARS - 1)
    }

    /// Whether `name` matches [`Self::pattern`].
    pub fn is_valid(name: &str) -> bool {
        let b = name.as_bytes();
        !b.is_empty()
            && b.len() <= MAX_SECRET_NAME_CHARS
            && (b[0].is_ascii_alphabetic() || b[0] == b'_')
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
    }

    /// `name` when it is valid.
    pub fn parse(name: &str) -> Option<Self> {
        Self::is_valid(name).then(|| Self(name.to_owned()))
    }

    /// The name as text.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A secret's provider: a catalog provider id or a lower-case slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider(String);

inline_schema!(
    Provider,
    "Provider",
    json_schema!({ "type": "string", "pattern": Provider::pattern() })
);

impl Provider {
    /// The slug pattern, as served and as messages quote it (without anchors).
    pub fn slug() -> String {
        format!("[a-z0-9][a-z0-9._-]{{0,{}}}", MAX_PROVIDER_CHARS - 1)
    }

    /// The served pattern.
    pub fn pattern() -> String {
        format!("^{}$", Self::slug())
    }

    /// Whether `p` (already lower-cased) is a catalog id or matches [`Self::slug`].
    pub fn is_valid(p: &str) -> bool {
        let b = p.as_bytes();
        catalog::provider(p).is_some()
            || (!b.is_empty()
                && b.len() <= MAX_PROVIDER_CHARS
                && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
                && b.iter().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
                }))
    }

    /// `p` lower-cased, when valid.
    pub fn parse(p: &str) -> Option<Self> {
        let p = p.to_lowercase();
        Self::is_valid(&p).then_some(Self(p))
    }

    /// The provider as text.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The hosts a credential may be sent to: at most [`MAX_ALLOWED_HOSTS`]
/// `host` / `host:port` entries, normalised (parsed by the usage layer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostList(pub Vec<String>);

inline_schema!(
    HostList,
    "HostList",
    json_schema!({ "type": "array", "items": { "type": "string" }, "maxItems": MAX_ALLOWED_HOSTS })
);

/// A credential or secret value: trimmed, non-empty, at most
/// [`MAX_VALUE_BYTES`] bytes; held in a [`SecretString`] from the moment it
/// is read and never echoed.
#[derive(Debug, Clone)]
pub struct SecretValue(SecretString);

inline_schema!(SecretValue, "SecretValue", bounded_string(MAX_VALUE_BYTES));

impl SecretValue {
    /// Trims `value` in place and checks it; the error never carries it.
    pub fn new(mut value: SecretString) -> Result<Self, Invalid> {
        value.trim_in_place();
        if value.is_empty() {
            Err(Invalid::new("missing", BLANK))
        } else if value.len() > MAX_VALUE_BYTES {
            Err(Invalid::new(
                "too_long",
                format!(
                    "must be at most {MAX_VALUE_BYTES} bytes after trimming (got {} bytes)",
                    value.len()
                ),
            ))
        } else {
            Ok(Self(value))
        }
    }

    /// The value.
    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

impl Deref for SecretValue {
    type Target = SecretString;
    fn deref(&self) -> &SecretString {
        &self.0
    }
}
