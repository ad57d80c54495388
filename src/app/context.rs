//! The process context every front end shares: the unlock in progress or
//! done, the outbound HTTPS client `call_api` uses, the entry desk, and the
//! bookkeeping writes still in flight.
//!
//! The Argon2id derivation runs on a blocking thread started with the server;
//! operations wait for it ([`VaultAccess::vault`]).

use std::sync::Arc;

use tokio::sync::watch;

use super::AppError;
use super::entry_desk::Desk;
use super::page_cache::PageCache;
use crate::crypto::kdf::KdfParams;
use crate::error::{ApiError, VaultError};
use crate::secret::SecretString;
use crate::usage::Outbound;
use crate::vault::Vault;

/// How the server finds and unlocks its vault.
#[derive(Debug, Clone)]
pub struct UnlockConfig {
    /// Where the vault lives.
    pub location: crate::store::Location,
    /// The team vault member to open as (`None`: the default).
    pub member: Option<String>,
    /// The master password, `Ok(None)` when no source had one, or why reading it failed.
    pub password: Result<Option<SecretString>, String>,
    /// KDF parameters for a vault created on first run.
    pub kdf: KdfParams,
}

type UnlockState = Option<Result<Arc<Vault>, ApiError>>;

/// A vault that is being unlocked or is unlocked (or failed to unlock).
/// Cheap to clone; every clone sees the same outcome.
#[derive(Clone)]
pub struct VaultAccess {
    rx: watch::Receiver<UnlockState>,
    /// Ends the grace period of [`Self::start_after`].
    kick: Arc<tokio::sync::Notify>,
    outbound: Arc<Outbound>,
    /// Held (shared) by each bookkeeping write still in flight; a list takes it
    /// exclusively first, so it sees every use this process has answered.
    pending: Arc<tokio::sync::RwLock<()>>,
    /// request_credential's one-time entry links.
    entry: Arc<Desk>,
    /// The last list page a front end rendered.
    pages: Arc<PageCache>,
}

impl VaultAccess {
    /// Starts unlocking (or creating, on first run) on a blocking thread.
    pub fn start(config: UnlockConfig) -> Self {
        Self::start_after(config, std::time::Duration::ZERO)
    }

    /// Like [`Self::start`], but lets the MCP handshake go first: the
    /// Argon2id run (256 MiB of page faults on a second core) starts after
    /// `grace`, or at once when a tool needs the vault before then. stdio
    /// clients send initialize and tools/list within milliseconds of the spawn
    /// and their first tool call much later, so neither waits longer.
    pub fn start_after(config: UnlockConfig, grace: std::time::Duration) -> Self {
        let (tx, rx) = watch::channel(None);
        let kick = Arc::new(tokio::sync::Notify::new());
        let go = kick.clone();
        let unlock_task = move || {
            for attempt in 0u64.. {
                let started = std::time::Instant::now();
                let outcome = unlock(&config);
                match &outcome {
                    Ok(_) => tracing::info!(
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "vault unlocked"
                    ),
                    // Retries of an unreachable store: logged once a minute.
                    Err(e) if attempt % 60 == 0 => {
                        tracing::error!(code = e.code, "vault not available: {}", e.detail)
                    }
                    Err(e) => tracing::debug!(code = e.code, "vault not available: {}", e.detail),
                }
                // A team vault's database that is down answers store_unavailable
                // meanwhile; the server unlocks by itself once it is back.
                let retry = matches!(&outcome, Err(e) if e.kind == "store_unavailable");
                let _ = tx.send(Some(outcome));
                if !retry || tx.is_closed() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        };
        if grace.is_zero() {
            tokio::task::spawn_blocking(unlock_task);
        } else {
            tokio::spawn(async move {
                tokio::select! {
                    () = tokio::time::sleep(grace) => {}
                    () = go.notified() => {}
                }
                let _ = tokio::task::spawn_blocking(unlock_task).await;
            });
        }
        Self::over(rx, kick)
    }

    /// A context over a vault already open (the CLI): no unlock runs.
    pub fn ready(vault: Vault) -> Self {
        let (_, rx) = watch::channel(Some(Ok(Arc::new(vault))));
        Self::over(rx, Arc::default())
    }

    /// A fresh context around an unlock's outcome `rx` (woken early by `kick`).
    fn over(rx: watch::Receiver<UnlockState>, kick: Arc<tokio::sync::Notify>) -> Self {
        Self {
            kick,
            rx,
            outbound: Arc::new(Outbound::new(None)),
            pending: Arc::default(),
            entry: Arc::default(),
            pages: Arc::default(),
        }
    }

    /// Runs a bookkeeping write (`last_used_at`) after the caller has its
    /// answer: the reply does not wait for its fsync. [`Self::settled`] waits
    /// for every such write started so far.
    pub async fn run_after<F>(&self, what: &'static str, op: F)
    where
        F: FnOnce(&Vault) -> Result<bool, VaultError> + Send + 'static,
    {
        let guard = self.pending.clone().read_owned().await;
        let access = self.clone();
        tokio::spawn(async move {
            if let Err(e) = access.run(op).await {
                tracing::warn!("{what}: {}", ApiError::from(e).detail);
            }
            drop(guard);
        });
    }

    /// Waits until the bookkeeping writes started so far are committed.
    pub async fn settled(&self) {
        drop(self.pending.write().await);
    }

    /// Uses `outbound` for call_api (e.g. one trusting `--ca-file`).
    pub fn with_outbound(mut self, outbound: Outbound) -> Self {
        self.outbound = Arc::new(outbound);
        self
    }

    /// request_credential's entry links (shared by every session of this process).
    pub fn entry(&self) -> &Desk {
        &self.entry
    }

    /// The last list page rendered (shared by every session).
    pub fn pages(&self) -> &PageCache {
        &self.pages
    }

    /// The HTTPS client call_api uses.
    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// Waits for the unlock to finish; returns the vault or the §3 error.
    pub async fn vault(&self) -> Result<Arc<Vault>, ApiError> {
        // Needed now: end a deferred start's grace period.
        self.kick.notify_one();
        let mut rx = self.rx.clone();
        let state = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| ApiError::new(500, "internal_error", "the vault unlock task stopped"))?;
        match &*state {
            Some(Ok(v)) => Ok(v.clone()),
            Some(Err(e)) => Err(e.clone()),
            None => Err(ApiError::new(
                500,
                "internal_error",
                "the vault is not unlocked",
            )),
        }
    }

    /// Runs a short read: on this task where the vault's reads are local (the
    /// file store), saving the hand-off to a blocking thread and back; on a
    /// blocking thread like [`Self::run`] where they are not (a team vault).
    pub async fn read<T, F>(&self, op: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Vault) -> Result<T, VaultError> + Send + 'static,
    {
        let vault = self.vault().await?;
        if !vault.reads_are_local() {
            return self.run(op).await;
        }
        Ok(op(&vault)?)
    }

    /// Runs a blocking vault operation off the async runtime.
    pub async fn run<T, F>(&self, op: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Vault) -> Result<T, VaultError> + Send + 'static,
    {
        let vault = self.vault().await?;
        match tokio::task::spawn_blocking(move || op(&vault)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(ApiError::new(
                500,
                "internal_error",
                "a vault operation stopped unexpectedly",
            )
            .into()),
        }
    }
}

fn unlock(config: &UnlockConfig) -> Result<Arc<Vault>, ApiError> {
    let password = match &config.password {
        Ok(Some(p)) => p,
        Ok(None) => return Err(VaultError::NoPassword.into()),
        Err(why) => {
            return Err(ApiError::new(
                423,
                "vault_locked",
                format!("the vault is locked: {why}"),
            ));
        }
    };
    let (vault, created) = Vault::open_or_create_at(
        &config.location,
        password,
        config.kdf,
        config.member.as_deref(),
    )?;
    if created {
        tracing::info!(path = %config.location.describe(), "created a new vault");
    }
    // Read the trail once now: from here on a record or trail put back
    // under this server is refused, and each use reads only what is new.
    if let Err(e) = vault.warm_trail() {
        tracing::error!("the audit trail does not check: {e}");
    }
    Ok(Arc::new(vault))
}
