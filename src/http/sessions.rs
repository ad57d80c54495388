//! Which token opened each Streamable HTTP session.

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

/// The header carrying a Streamable HTTP session id.
pub const MCP_SESSION_ID: &str = "mcp-session-id";

/// Most Streamable HTTP sessions one token may hold open at once.
pub const MAX_SESSIONS_PER_TOKEN: usize = 64;

type SessionMap = std::collections::HashMap<String, String>;

/// Which token opened each Streamable HTTP session: a session id is never an
/// authenticator, so another token presenting it gets 404. Entries for
/// sessions rmcp has closed (idle expiry, DELETE) are pruned on every new
/// session, and a token at [`MAX_SESSIONS_PER_TOKEN`] gets no new one.
#[derive(Clone)]
pub struct McpSessions {
    owners: std::sync::Arc<std::sync::Mutex<SessionMap>>,
    manager: std::sync::Arc<LocalSessionManager>,
    /// Held across a bind's snapshot of live sessions and its update, so two
    /// binds never prune each other's fresh entries.
    binding: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl McpSessions {
    /// Session ownership over rmcp's session manager.
    pub fn new(manager: std::sync::Arc<LocalSessionManager>) -> Self {
        Self {
            owners: Default::default(),
            manager,
            binding: Default::default(),
        }
    }

    /// Records `session` as `token`'s; false (and the session closed) when
    /// the token already holds the maximum.
    pub async fn bind(&self, session: &str, token: &str) -> bool {
        let _binding = self.binding.lock().await;
        let live: std::collections::HashSet<String> = self
            .manager
            .sessions
            .read()
            .await
            .keys()
            .map(|k| k.to_string())
            .collect();
        let admitted = match self.owners.lock() {
            Ok(mut m) => {
                m.retain(|id, _| live.contains(id));
                let held = m.values().filter(|t| *t == token).count();
                if held < MAX_SESSIONS_PER_TOKEN {
                    m.insert(session.to_owned(), token.to_owned());
                }
                held < MAX_SESSIONS_PER_TOKEN
            }
            Err(_) => false,
        };
        if !admitted {
            use rmcp::transport::streamable_http_server::session::SessionManager;
            let _ = self.manager.close_session(&session.into()).await;
        }
        admitted
    }

    pub fn forget(&self, session: &str) {
        if let Ok(mut m) = self.owners.lock() {
            m.remove(session);
        }
    }

    /// True when the session is unknown here (rmcp answers for it) or was opened by `token`.
    pub fn belongs_to(&self, session: &str, token: &str) -> bool {
        self.owners
            .lock()
            .map(|m| m.get(session).is_none_or(|t| t == token))
            .unwrap_or(false)
    }
}
