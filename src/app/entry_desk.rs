//! Entering a value without the model (DESIGN §9): the one-time entry slots
//! the local page (the `entry` front end) fills.
//!
//! `request_credential` opens a [`Slot`]: everything store_credential needs but
//! the value, a random 32-byte token, a 10-minute expiry. The person opens
//! `http://127.0.0.1:<port>/enter/<token>`, types the value into a password
//! field and submits; the page stores it exactly as store_credential would and
//! the slot is done. Slots live only in this process's memory: a restart voids
//! every open link.
//!
//! The page is served by the `--http` server itself (outside bearer auth,
//! inside the Host/Origin guard) or, in stdio mode, by a loopback listener on
//! an ephemeral port started on the first request ([`Desk::base_url`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blake2::{Blake2b, Digest, digest::consts::U32};
use rmcp::model::{RequestStateCodec, SealOptions};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use futures::future::BoxFuture;

use super::VaultAccess;
use crate::error::ApiError;
use crate::model::Caller;
use crate::validate::CredentialSpec;
use crate::vault::Stored;

/// Starts a loopback listener serving the entry page; returns its base URL.
/// The page is a front end (`entry`), so the desk is handed its starter.
pub type PageStarter =
    Arc<dyn Fn(VaultAccess) -> BoxFuture<'static, Result<String, ApiError>> + Send + Sync>;

/// How long an entry link stays usable.
pub const SLOT_TTL: Duration = Duration::from_secs(600);
/// Most links open (not yet used or expired) at once: an agent calling
/// request_credential in a loop cannot grow memory without bound.
pub const MAX_OPEN_SLOTS: usize = 64;
/// Most links remembered at all, finished ones included.
const MAX_REMEMBERED: usize = 1024;
/// How long a used, declined or expired link is remembered, so opening it
/// again says what happened rather than "unknown".
const TOMBSTONE: Duration = Duration::from_secs(600);

/// What became of a slot.
#[derive(Debug, Clone)]
pub enum SlotState {
    /// Waiting for the person.
    Open,
    /// A submission is being stored (a second one is refused meanwhile).
    Submitting,
    /// The value was stored: the store's outcome.
    Stored(Box<Stored>),
    /// The person (or their client) declined.
    Declined,
}

/// One pending entry: a credential without its value.
#[derive(Debug)]
pub struct Slot {
    /// Public id: the elicitation id a client sees, and what requestState names.
    pub id: String,
    /// What will be stored (allowed hosts may be edited on the page).
    pub spec: CredentialSpec,
    /// The link (carries the token, never a value).
    pub url: String,
    /// Who asked for it: the page's store is recorded as the page acting for them.
    pub caller: Caller,
    /// When the link dies.
    pub expires: Instant,
    /// The same, as Unix seconds.
    pub expires_at: i64,
    state: watch::Sender<SlotState>,
}

/// How long a submission in flight at the link's expiry may take to land.
const SUBMIT_GRACE: Duration = Duration::from_secs(30);

fn is_final(s: &SlotState) -> bool {
    matches!(s, SlotState::Stored(_) | SlotState::Declined)
}

/// How a wait for the person ended.
#[derive(Debug)]
pub enum Outcome {
    /// Stored.
    Stored(Box<Stored>),
    /// Declined on the page.
    Declined,
    /// Ten minutes passed.
    Expired,
    /// The tool call was cancelled.
    Cancelled,
}

impl Slot {
    /// An open slot for `spec` whose link is `url`, living `ttl` from now.
    pub fn new(spec: CredentialSpec, url: String, caller: Caller, ttl: Duration) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            spec,
            url,
            caller,
            expires: Instant::now() + ttl,
            expires_at: crate::vault::now() + ttl.as_secs() as i64,
            state: watch::Sender::new(SlotState::Open),
        }
    }

    /// The current state (a slot past its expiry that was never used reads `Open`).
    pub fn state(&self) -> SlotState {
        self.state.borrow().clone()
    }

    /// True when the link can still be used.
    pub fn is_open(&self) -> bool {
        matches!(*self.state.borrow(), SlotState::Open) && Instant::now() < self.expires
    }

    /// Open → Submitting, atomically; false when the slot is not open.
    fn claim(&self) -> bool {
        if Instant::now() >= self.expires {
            return false;
        }
        self.state.send_if_modified(|s| {
            let open = matches!(s, SlotState::Open);
            if open {
                *s = SlotState::Submitting;
            }
            open
        })
    }

    /// Submitting → Open after a failed store (the person may try again).
    fn release(&self) {
        self.state.send_if_modified(|s| {
            let submitting = matches!(s, SlotState::Submitting);
            if submitting {
                *s = SlotState::Open;
            }
            submitting
        });
    }

    /// Submitting → Stored (the only way a slot is stored).
    fn finish(&self, stored: Stored) {
        let mut stored = Some(stored);
        self.state.send_if_modified(|s| match (&*s, stored.take()) {
            (SlotState::Submitting, Some(st)) => {
                *s = SlotState::Stored(Box::new(st));
                true
            }
            _ => false,
        });
    }

    /// Open → Declined; the link dies. A submission already being stored
    /// wins: returns false and changes nothing.
    pub fn decline(&self) -> bool {
        self.state.send_if_modified(|s| {
            let open = matches!(s, SlotState::Open);
            if open {
                *s = SlotState::Declined;
            }
            open
        })
    }

    /// Waits until the value is stored or declined, the slot expires, or `ct` fires.
    pub async fn wait(&self, ct: &CancellationToken) -> Outcome {
        let mut rx = self.state.subscribe();
        let left = self.expires.saturating_duration_since(Instant::now());
        // A submission in flight at the expiry gets time to finish (a store
        // waits at most a few seconds for another process's write lock).
        let finishing = async {
            if tokio::time::timeout(left, rx.wait_for(is_final))
                .await
                .is_err()
                && matches!(*rx.borrow(), SlotState::Submitting)
            {
                let _ = tokio::time::timeout(SUBMIT_GRACE, rx.wait_for(is_final)).await;
            }
            match &*rx.borrow() {
                SlotState::Stored(stored) => Outcome::Stored(stored.clone()),
                SlotState::Declined => Outcome::Declined,
                _ => Outcome::Expired,
            }
        };
        tokio::select! {
            o = finishing => o,
            () = ct.cancelled() => Outcome::Cancelled,
        }
    }
}

/// The open slots of this process, and where their page is served.
pub struct Desk {
    slots: Mutex<HashMap<[u8; 32], Arc<Slot>>>,
    /// Set by `serve --http` when its own listener can serve the page.
    fixed_base: OnceLock<String>,
    /// Started on demand (stdio mode).
    listener: tokio::sync::OnceCell<String>,
    /// How to start it.
    starter: OnceLock<PageStarter>,
    ttl: Duration,
    /// Seals the slot id into a 2026-07-28 `requestState` (per-process key).
    codec: Option<RequestStateCodec>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk").finish_non_exhaustive()
    }
}

impl Default for Desk {
    fn default() -> Self {
        Self::new(ttl_from_env())
    }
}

/// `CREDVAULT_ENTRY_TTL_SECS` may only shorten the 10-minute expiry (tests use it
/// to see a link expire); it can never lengthen it.
fn ttl_from_env() -> Duration {
    std::env::var("CREDVAULT_ENTRY_TTL_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.max(1)).min(SLOT_TTL))
        .unwrap_or(SLOT_TTL)
}

fn state_codec() -> Option<RequestStateCodec> {
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    crate::crypto::random_bytes(key.as_mut_slice()).ok()?;
    RequestStateCodec::try_new(key.to_vec()).ok()
}

fn token_key(token: &str) -> [u8; 32] {
    Blake2b::<U32>::new()
        .chain_update(b"credvault entry token\0")
        .chain_update(token.as_bytes())
        .finalize()
        .into()
}

/// What a token names.
pub enum Lookup {
    /// A slot (in any state; check [`Slot::is_open`]).
    Found(Arc<Slot>),
    /// Nothing: forged, or forgotten after a restart or long after expiry.
    Unknown,
}

impl Desk {
    /// A desk whose links live `ttl` (at most [`SLOT_TTL`]).
    pub fn new(ttl: Duration) -> Self {
        Self {
            slots: Mutex::default(),
            fixed_base: OnceLock::new(),
            listener: tokio::sync::OnceCell::new(),
            starter: OnceLock::new(),
            ttl: ttl.min(SLOT_TTL),
            codec: state_codec(),
        }
    }

    /// `requestState` for `slot`: its id, sealed and bound to `binding` (the
    /// call's arguments), valid until the slot expires.
    pub fn seal(&self, slot: &Slot, binding: &[u8]) -> String {
        let left = slot.expires.saturating_duration_since(Instant::now());
        self.seal_state(slot.id.as_bytes(), binding, left)
    }

    /// A `requestState` carrying `payload`, bound to `binding`, valid for `ttl`
    /// (also used by the delete tools' confirmation on 2026-07-28).
    pub fn seal_state(&self, payload: &[u8], binding: &[u8], ttl: Duration) -> String {
        match &self.codec {
            Some(c) => c.seal_with(
                payload,
                &SealOptions::new().associated_data(binding).ttl(ttl),
            ),
            // Without a codec no retry can open a state: the call fails closed.
            None => String::new(),
        }
    }

    /// The payload of a state sealed by [`Self::seal_state`] for `binding`;
    /// `None` when forged, altered, bound elsewhere or expired.
    pub fn open_state_bytes(&self, state: &str, binding: &[u8]) -> Option<Vec<u8>> {
        self.codec.as_ref()?.open_with(state, binding).ok()
    }

    /// The slot a retried call's `requestState` names; 400 when forged,
    /// altered, bound to other arguments or expired, 404 when the slot is gone.
    pub fn open_state(&self, state: &str, binding: &[u8]) -> Result<Arc<Slot>, ApiError> {
        let opened = self
            .open_state_bytes(state, binding)
            .and_then(|id| String::from_utf8(id).ok());
        let Some(id) = opened else {
            return Err(ApiError::bad_request(
                "requestState is not one this server issued for these arguments (or it expired): call request_credential again without it",
            ));
        };
        self.by_id(&id).ok_or_else(|| {
            ApiError::new(
                404,
                "not_found_error",
                "this entry request is gone (expired, or the server restarted): call request_credential again",
            )
        })
    }

    /// Serves the page on the main `--http` listener at `base` (`http://127.0.0.1:PORT`).
    pub fn serve_at(&self, base: String) {
        let _ = self.fixed_base.set(base);
    }

    /// Serves the page, when a link is first needed, on a listener `start` opens (stdio mode).
    pub fn serve_on_demand(&self, start: PageStarter) {
        let _ = self.starter.set(start);
    }

    /// Where links point: the `--http` listener, or a loopback listener
    /// started now (stdio mode).
    async fn base_url(&self, access: &VaultAccess) -> Result<String, ApiError> {
        if let Some(b) = self.fixed_base.get() {
            return Ok(b.clone());
        }
        let Some(start) = self.starter.get() else {
            return Err(ApiError::new(
                500,
                "internal_error",
                "no entry page is served by this process",
            ));
        };
        self.listener
            .get_or_try_init(|| start(access.clone()))
            .await
            .cloned()
    }

    /// Opens a slot for `spec`; the returned slot carries its link.
    pub async fn open(
        &self,
        spec: CredentialSpec,
        caller: Caller,
        access: &VaultAccess,
    ) -> Result<Arc<Slot>, ApiError> {
        let base = self.base_url(access).await?;
        let mut raw = [0u8; 32];
        crate::crypto::random_bytes(&mut raw)
            .map_err(|_| ApiError::new(500, "internal_error", "the system random source failed"))?;
        let token = URL_SAFE_NO_PAD.encode(raw);
        let now = Instant::now();
        let slot = Arc::new(Slot::new(
            spec,
            format!("{base}/enter/{token}"),
            caller,
            self.ttl,
        ));
        let mut slots = self.lock();
        slots.retain(|_, s| now < s.expires + TOMBSTONE);
        // Finished links are remembered for their page's sake only: never
        // more than MAX_REMEMBERED of them in all.
        if slots.len() >= MAX_REMEMBERED {
            slots.retain(|_, s| s.is_open());
        }
        let open = slots.values().filter(|s| s.is_open()).count();
        if open >= MAX_OPEN_SLOTS {
            return Err(ApiError::new(
                429,
                "too_many_requests",
                format!(
                    "{open} entry links are already waiting for the person: let them be used or expire (10 minutes) first"
                ),
            ));
        }
        slots.insert(token_key(&token), slot.clone());
        Ok(slot)
    }

    /// The slot a link's token names.
    pub fn lookup(&self, token: &str) -> Lookup {
        if token.len() != 43 {
            return Lookup::Unknown;
        }
        match self.lock().get(&token_key(token)) {
            Some(s) => Lookup::Found(s.clone()),
            None => Lookup::Unknown,
        }
    }

    /// The slot with public id `id`.
    pub fn by_id(&self, id: &str) -> Option<Arc<Slot>> {
        self.lock().values().find(|s| s.id == id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<Slot>>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Why a submission was not stored.
#[derive(Debug)]
pub enum Submit {
    /// The slot is not open (used, declined, expired, or a submission is in flight).
    NotOpen,
    /// The store failed; the slot is open again for another try.
    Failed(ApiError),
}

/// Stores what the person entered into `slot` (its hosts replaced by
/// `hosts`), recorded as from the page: the slot is claimed first, so two
/// submissions cannot both store.
pub async fn submit(
    access: &VaultAccess,
    slot: &Slot,
    value: crate::secret::SecretString,
    hosts: Vec<String>,
) -> Result<Stored, Submit> {
    if !slot.claim() {
        return Err(Submit::NotOpen);
    }
    let mut spec = slot.spec.clone();
    spec.allowed_hosts = hosts;
    let request = spec.with_value(value);
    match super::credentials::store_credential(access, &slot.caller.page(), request).await {
        Ok(stored) => {
            slot.finish(stored.clone());
            Ok(stored)
        }
        Err(e) => {
            slot.release();
            Err(Submit::Failed(e.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_env_can_only_shorten() {
        assert_eq!(Desk::new(Duration::from_secs(99_999)).ttl, SLOT_TTL);
        assert_eq!(
            Desk::new(Duration::from_secs(5)).ttl,
            Duration::from_secs(5)
        );
    }

    #[test]
    fn token_keys_differ_and_are_stable() {
        assert_eq!(token_key("a"), token_key("a"));
        assert_ne!(token_key("a"), token_key("b"));
    }
}
