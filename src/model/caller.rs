//! Who asked for an operation, as the audit trail records it.

use std::fmt;

/// The front end (and, over HTTP, the bearer token) an operation came from.
/// Its [`Display`](fmt::Display) is the `via` of the audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The command line.
    Cli,
    /// An MCP client on stdio.
    Stdio,
    /// An HTTP client: the name of the bearer token it presented, or `None`
    /// where none is needed (a loopback server without tokens).
    Http(Option<String>),
    /// The entry page, filling a slot that `0` opened.
    Page(Box<Caller>),
}

impl Caller {
    /// The entry page acting for this caller.
    pub fn page(&self) -> Self {
        Self::Page(Box::new(self.clone()))
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cli => f.write_str("cli"),
            Self::Stdio => f.write_str("stdio"),
            Self::Http(None) => f.write_str("http"),
            Self::Http(Some(token)) => write!(f, "http:{token}"),
            Self::Page(by) => write!(f, "page:{by}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Caller;

    #[test]
    fn audit_spellings_are_the_ones_the_trail_has_always_had() {
        assert_eq!(Caller::Cli.to_string(), "cli");
        assert_eq!(Caller::Stdio.to_string(), "stdio");
        assert_eq!(Caller::Http(None).to_string(), "http");
        assert_eq!(Caller::Http(Some("ci".into())).to_string(), "http:ci");
        assert_eq!(
            Caller::Http(Some("ci".into())).page().to_string(),
            "page:http:ci"
        );
    }
}
