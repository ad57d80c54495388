//! Errors: the vault layer's [`VaultError`] (a store's [`StoreError`] becomes
//! one in a single `From`), the §3 envelope [`ApiError`] that
//! tools and REST routes answer with, and the process exit codes.

use serde::Serialize;

use crate::crypto::CryptoError;
use crate::store::StoreError;

/// A failure of a vault operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The password does not open the vault's key.
    #[error("wrong master password: the vault's key could not be unlocked")]
    WrongPassword,
    /// No password was available to unlock the vault.
    #[error(
        "the vault is locked: no master password (set CREDVAULT_PASSWORD_FILE to a file holding it, or run from a terminal)"
    )]
    NoPassword,
    /// An empty (or blank) master password where a vault would be created.
    #[error(
        "the master password is empty: refusing to create a vault protected by nothing (put a password in the file CREDVAULT_PASSWORD_FILE names)"
    )]
    EmptyPassword,
    /// A vault path or file that is not safe to use (a link, another user's
    /// file, writable by others, a foreign file where a vault would be created).
    #[error("{0}")]
    Unsafe(String),
    /// No vault file at the path.
    #[error("no vault at {0}: run `credvault init` to create one")]
    Missing(String),
    /// `init` on a path that already holds a vault.
    #[error("a vault already exists at {0}")]
    AlreadyExists(String),
    /// Another process held the write lock past the retry window.
    #[error(
        "the vault is busy: another credvault process held the write lock for too long (2 s for a file, 5 s for a team vault); retry"
    )]
    Busy,
    /// A create_secret name that exists already.
    #[error("a secret named {0} already exists")]
    SecretExists(String),
    /// Sealed data failed authentication or a record did not match where it is stored.
    #[error("vault integrity check failed: {0}")]
    Corrupt(String),
    /// A record (or key slot) is not the version the audit trail last wrote:
    /// replayed or planted outside credvault. Nothing was used or written.
    #[error("vault integrity check failed: {0}")]
    Tampered(String),
    /// A read saw an older state of the trail than this process has already
    /// checked (another thread read a newer one meanwhile): read again. Uses
    /// retry it with a new snapshot; one that stays older is refused as a
    /// trail put back ([`VaultError::Tampered`]).
    #[error("the vault changed while it was being read; retry")]
    Stale,
    /// The file was written by a newer credvault.
    #[error(
        "the vault format version is {found}, this credvault reads up to {supported}: upgrade credvault"
    )]
    NewerFormat {
        /// Version in the file.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// Out-of-range KDF parameters (from a flag or the file's header).
    #[error("{0}")]
    Crypto(#[from] CryptoError),
    /// The storage engine failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// A request refused as it stands (nothing changed), e.g. removing the last member.
    #[error("{0}")]
    Refused(String),
    /// `member add` with a name that is taken.
    #[error("a member named {0} already exists")]
    MemberExists(String),
    /// No such member, or `--member` on a vault without members: nothing
    /// this password opens (locked).
    #[error("{0}")]
    NoMember(String),
    /// A team-vault operation (`member add|list|remove`) on a vault file,
    /// which has one password and no members: a usage error.
    #[error(
        "this vault has one password and no members: members belong to a team vault (--store postgres://…)"
    )]
    NotTeam,
    /// A member name that is not allowed (a usage error).
    #[error("{0}")]
    BadMemberName(String),
    /// The store (a team vault's database) cannot be reached; nothing was written.
    #[error("the vault's store is unavailable: {0} (nothing was written; retry when it is back)")]
    StoreUnavailable(String),
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl VaultError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether this error is a request that cannot work as given (exit code 2,
    /// HTTP/tool 400), rather than a vault that refused it.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::NotTeam | Self::BadMemberName(_))
    }

    /// Whether this error means "locked" (exit code 3, HTTP/tool 423).
    pub fn is_locked(&self) -> bool {
        matches!(
            self,
            Self::WrongPassword | Self::NoPassword | Self::EmptyPassword | Self::NoMember(_)
        )
    }
}

/// The one place a store's error becomes the vault's: each kind keeps the
/// message, exit code and HTTP status it has always had.
impl From<StoreError> for VaultError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => VaultError::Busy,
            StoreError::Unavailable(why) => VaultError::StoreUnavailable(why),
            StoreError::Corrupt(why) => VaultError::Corrupt(why),
            StoreError::Missing(at) => VaultError::Missing(at),
            StoreError::Unsafe(why) => VaultError::Unsafe(why),
            StoreError::NewerSchema { found, supported } => {
                VaultError::NewerFormat { found, supported }
            }
            StoreError::Io { context, source } => VaultError::Io { context, source },
            StoreError::Engine(why) => VaultError::Storage(why),
        }
    }
}

/// One failing field of a 422 (`errors[]` of the §3 envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path of the field, e.g. `["credential_value"]`.
    pub loc: Vec<String>,
    /// What is wrong and how to fix it. Never contains the submitted value.
    pub msg: String,
    /// Machine-readable kind: `missing`, `type_error`, `enum`, `too_long`, `value_error`, `extra_forbidden`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl FieldError {
    /// A failing field.
    pub fn new(field: &str, kind: &'static str, msg: impl Into<String>) -> Self {
        Self {
            loc: vec![field.to_owned()],
            msg: msg.into(),
            kind,
        }
    }
}

/// The canonical error envelope of seed 002 / DESIGN §3.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    /// HTTP-style status code.
    pub code: u16,
    /// Stable machine-readable type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// One sentence an LLM can act on. Never contains a secret.
    pub detail: String,
    /// Failing fields, for 422.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    /// An error with no field list.
    pub fn new(code: u16, kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            kind,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// 400 bad_request.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400, "bad_request", detail)
    }

    /// 422 validation_error with a one-sentence summary of `errors`.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let fields: Vec<&str> = errors
            .iter()
            .filter_map(|e| e.loc.first().map(String::as_str))
            .collect();
        let detail = if errors.iter().all(|e| e.kind == "missing") {
            format!(
                "{} {} required",
                join_and(&fields),
                if fields.len() == 1 { "is" } else { "are" }
            )
        } else if let [only] = errors.as_slice() {
            format!("{}: {}", only.loc.join("."), only.msg)
        } else {
            format!(
                "invalid arguments: {}; see errors for each",
                join_and(&fields)
            )
        };
        Self {
            code: 422,
            kind: "validation_error",
            detail,
            errors,
        }
    }

    /// The envelope as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!(
                r#"{{"code":{},"type":"{}","detail":"error"}}"#,
                self.code, self.kind
            )
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.kind, self.detail)
    }
}

fn join_and(items: &[&str]) -> String {
    match items {
        [] => "arguments".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl From<&VaultError> for ApiError {
    fn from(e: &VaultError) -> Self {
        match e {
            VaultError::WrongPassword
            | VaultError::NoPassword
            | VaultError::EmptyPassword
            | VaultError::NoMember(_) => Self::new(423, "vault_locked", e.to_string()),
            VaultError::Busy | VaultError::Stale => Self::new(503, "vault_busy", e.to_string()),
            VaultError::StoreUnavailable(_) => Self::new(503, "store_unavailable", e.to_string()),
            VaultError::SecretExists(_) => Self::new(
                409,
                "conflict_error",
                format!("{e}: choose another name (secrets are never overwritten)"),
            ),
            VaultError::Missing(_) => Self::new(423, "vault_locked", e.to_string()),
            VaultError::NotTeam | VaultError::BadMemberName(_) => {
                Self::new(400, "bad_request", e.to_string())
            }
            VaultError::MemberExists(_) | VaultError::Refused(_) => {
                Self::new(409, "conflict_error", e.to_string())
            }
            VaultError::Unsafe(why) => {
                Self::new(423, "vault_locked", format!("the vault is locked: {why}"))
            }
            // Storage and crypto failures: the detail names the failure kind, never data.
            _ => Self::new(500, "internal_error", e.to_string()),
        }
    }
}

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        Self::from(&e)
    }
}

/// Process exit codes (DESIGN §6).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Any other failure.
    pub const FAILURE: i32 = 1;
    /// Usage error (clap's own code).
    pub const USAGE: i32 = 2;
    /// Wrong password or vault locked.
    pub const LOCKED: i32 = 3;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_detail_reads_as_a_sentence() {
        let e = ApiError::validation(vec![
            FieldError::new("service_id", "missing", "is required"),
            FieldError::new("credential_type", "missing", "is required"),
            FieldError::new("credential_value", "missing", "must not be empty"),
        ]);
        assert_eq!(
            e.detail,
            "service_id, credential_type and credential_value are required"
        );
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["code"], 422);
        assert_eq!(v["type"], "validation_error");
        assert_eq!(v["errors"][2]["loc"][0], "credential_value");
        assert_eq!(v["errors"][2]["type"], "missing");
    }
}
