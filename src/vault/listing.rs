//! Listing at scale (DESIGN §11): decrypted *metadata* (never values) kept in
//! memory, proven fresh on every list, and pages in the §2 order.
//!
//! Freshness: every write transaction of every credvault process appends an
//! audit entry and so rewrites the sealed audit head (a fresh nonce each
//! time). A list opens one read transaction, compares the head's bytes with
//! the ones the cache was built from, and rebuilds when they differ — so the
//! next list after any process's write sees it. A rebuild walks the tables but
//! opens only records whose sealed bytes changed (their nonce differs).
//! Format-1 vaults (no head until their first write) are read in full.
//!
//! Pages: items are ordered by (`created_at`, id); a cursor is the key of the
//! last item returned, so records that exist throughout are neither skipped
//! nor repeated while other processes write (a replaced credential keeps its
//! id and `created_at`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Vault;
use super::credentials::{Credential, CredentialRecord, credential};
use super::format::open_record;
use super::secrets::{Secret, SecretRecord, secret};
use crate::error::VaultError;
use crate::store::{Read, Table, meta_key, scan_all};

pub use crate::model::{Cursor, DEFAULT_LIMIT, MAX_LIMIT};

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, in order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` at the end.
    pub next: Option<Cursor>,
}

/// Identifies the metadata snapshot a list was served from: equal numbers
/// mean equal metadata (a new number is taken at every rebuild, and a
/// rebuild follows every write any process commits).
pub type Generation = u64;

static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The version of a sealed record the metadata came from (its nonce).
type Nonce = super::UseStamp;

/// Metadata decrypted from the tables at one head.
#[derive(Default)]
struct Snapshot {
    /// The sealed audit head's bytes it was built at (`None`: no head, never reused).
    stamp: Option<Vec<u8>>,
    /// Taken from [`GENERATIONS`] when built.
    generation: Generation,
    creds: Arc<Vec<Credential>>,
    secrets: Arc<Vec<Secret>>,
    /// Per record: the nonce of the sealed bytes its metadata came from.
    cred_nonces: HashMap<u128, Nonce>,
    secret_nonces: HashMap<u128, Nonce>,
}

/// The per-vault cache.
#[derive(Default)]
pub(super) struct Listing {
    current: Mutex<Option<Arc<Snapshot>>>,
}

fn page<T: Clone>(
    all: &[T],
    key: impl Fn(&T) -> Cursor,
    keep: impl Fn(&T) -> bool,
    after: Option<Cursor>,
    limit: usize,
) -> Page<T> {
    let start = match after {
        Some(c) => all.partition_point(|x| key(x) <= c),
        None => 0,
    };
    let mut items = Vec::with_capacity(limit.min(all.len()));
    let mut rest = all[start..].iter().filter(|x| keep(x));
    for x in rest.by_ref() {
        items.push(x.clone());
        if items.len() == limit {
            break;
        }
    }
    let next = match (items.last(), rest.next()) {
        (Some(last), Some(_)) => Some(key(last)),
        _ => None,
    };
    Page { items, next }
}

/// The metadata as of one moment (one proven-fresh snapshot): take it once
/// per call and read what the call needs from it.
pub struct Metadata(Arc<Snapshot>);

impl Metadata {
    /// What a caller keys a rendering of a page by: equal generations mean
    /// equal metadata.
    pub fn generation(&self) -> Generation {
        self.0.generation
    }

    /// Every credential, in the §2 order.
    pub fn credentials(&self) -> &[Credential] {
        &self.0.creds
    }

    /// Up to `limit` credentials (optionally of one service) after `after`.
    pub fn credentials_page(
        &self,
        service: Option<&str>,
        after: Option<Cursor>,
        limit: usize,
    ) -> Page<Credential> {
        page(
            &self.0.creds,
            |c| Cursor::of(c.created_at, c.id),
            |c| service.is_none_or(|s| s == c.service),
            after,
            limit,
        )
    }

    /// Up to `limit` secrets (optionally of one provider) after `after`.
    pub fn secrets_page(
        &self,
        provider: Option<&str>,
        after: Option<Cursor>,
        limit: usize,
    ) -> Page<Secret> {
        page(
            &self.0.secrets,
            |s| Cursor::of(s.created_at, s.id),
            |s| provider.is_none_or(|p| p == s.provider),
            after,
            limit,
        )
    }

    /// How many secrets there are.
    pub fn secret_count(&self) -> usize {
        self.0.secrets.len()
    }

    /// The first credential `matches` accepts, without copying the others.
    pub fn find_credential(&self, matches: impl Fn(&Credential) -> bool) -> Option<Credential> {
        self.0.creds.iter().find(|c| matches(c)).cloned()
    }

    /// The first secret `matches` accepts, without copying the others.
    pub fn find_secret(&self, matches: impl Fn(&Secret) -> bool) -> Option<Secret> {
        self.0.secrets.iter().find(|s| matches(s)).cloned()
    }
}

impl Vault {
    /// Every credential (optionally of one service), ordered by `created_at` then id.
    pub fn list_credentials(&self, service: Option<&str>) -> Result<Vec<Credential>, VaultError> {
        Ok(self.credentials_page(service, None, usize::MAX)?.items)
    }

    /// Every secret's metadata, ordered by `created_at` then id.
    pub fn list_secrets(&self) -> Result<Vec<Secret>, VaultError> {
        Ok(self.secrets_page(None, None, usize::MAX)?.items)
    }

    /// The metadata as of now, proven fresh (rebuilt when any process wrote).
    pub fn metadata(&self) -> Result<Metadata, VaultError> {
        Ok(Metadata(self.snapshot()?))
    }

    /// Up to `limit` credentials (optionally of one service) after `after`.
    pub fn credentials_page(
        &self,
        service: Option<&str>,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<Credential>, VaultError> {
        Ok(self.metadata()?.credentials_page(service, after, limit))
    }

    /// Up to `limit` secrets (optionally of one provider) after `after`.
    pub fn secrets_page(
        &self,
        provider: Option<&str>,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<Secret>, VaultError> {
        Ok(self.metadata()?.secrets_page(provider, after, limit))
    }

    /// The cached metadata when it is still current (one read of the audit
    /// head), `None` when it needs the rebuild [`Self::metadata`] does.
    pub fn current_metadata(&self) -> Result<Option<Metadata>, VaultError> {
        let stamp = self
            .store
            .read()?
            .get(Table::Meta, meta_key::AUDIT_HEAD.as_bytes())?;
        Ok(self.cached_at(stamp.as_deref()).ok().map(Metadata))
    }

    /// The cached snapshot if it was built at audit head `stamp`, else
    /// whatever is cached (the rebuild's starting point).
    fn cached_at(&self, stamp: Option<&[u8]>) -> Result<Arc<Snapshot>, Option<Arc<Snapshot>>> {
        let cached = self
            .listing
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match (cached, stamp) {
            (Some(c), Some(now)) if c.stamp.as_deref() == Some(now) => Ok(c),
            (cached, _) => Err(cached),
        }
    }

    /// The metadata as of now: the cached snapshot when the audit head is the
    /// one it was built at, else a rebuild from one read transaction.
    fn snapshot(&self) -> Result<Arc<Snapshot>, VaultError> {
        let txn = self.store.read()?;
        let stamp = txn.get(Table::Meta, meta_key::AUDIT_HEAD.as_bytes())?;
        let previous = match self.cached_at(stamp.as_deref()) {
            Ok(current) => return Ok(current),
            Err(previous) => previous,
        };
        // A head this process's key does not open: rekeyed by another
        // process (or altered). Say so rather than list nothing.
        self.check_head(stamp.as_deref())?;
        let old = previous.unwrap_or_default();
        let (creds, cred_nonces) = self.rebuild::<CredentialRecord, Credential>(
            &*txn,
            Table::Credentials,
            &old.creds,
            &old.cred_nonces,
            |c| c.id.as_u128(),
            credential,
        )?;
        let (secrets, secret_nonces) = self.rebuild::<SecretRecord, Secret>(
            &*txn,
            Table::Secrets,
            &old.secrets,
            &old.secret_nonces,
            |s| s.id.as_u128(),
            secret,
        )?;
        let fresh = Arc::new(Snapshot {
            stamp,
            generation: GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            creds: Arc::new(creds),
            secrets: Arc::new(secrets),
            cred_nonces,
            secret_nonces,
        });
        *self
            .listing
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fresh.clone());
        Ok(fresh)
    }

    /// Walks `table`, reusing the metadata of records whose nonce is unchanged
    /// and opening the others. A record that does not open is left out (and
    /// logged): it must not hide the rest; `audit --verify` names it.
    #[allow(clippy::too_many_arguments)]
    fn rebuild<M: serde::de::DeserializeOwned, T: Clone + HasKey>(
        &self,
        txn: &dyn Read,
        table: Table,
        old: &[T],
        old_nonces: &HashMap<u128, Nonce>,
        id_of: impl Fn(&T) -> u128,
        make: impl Fn(u128, M) -> T,
    ) -> Result<(Vec<T>, HashMap<u128, Nonce>), VaultError> {
        let by_id: HashMap<u128, &T> = old.iter().map(|x| (id_of(x), x)).collect();
        let mut out = Vec::with_capacity(old.len().max(16));
        let mut nonces = HashMap::with_capacity(old.len().max(16));
        for (id, sealed) in scan_all(txn, table)? {
            let id = super::id_of(&id)?;
            let sealed = sealed.as_slice();
            let nonce = super::UseStamp::of(sealed);
            if old_nonces.get(&id) == Some(&nonce)
                && let Some(x) = by_id.get(&id)
            {
                out.push((*x).clone());
                nonces.insert(id, nonce);
                continue;
            }
            match open_record::<M>(self.keys.seal_key(), table, id, sealed) {
                Ok(opened) => {
                    out.push(make(id, opened.meta));
                    nonces.insert(id, nonce);
                }
                Err(e) => {
                    tracing::error!("skipped a damaged record: {e} (run credvault audit --verify)")
                }
            }
        }
        out.sort_by_key(HasKey::key);
        Ok((out, nonces))
    }
}

/// The §2 order.
trait HasKey {
    fn key(&self) -> (i64, uuid::Uuid);
}

impl HasKey for Credential {
    fn key(&self) -> (i64, uuid::Uuid) {
        (self.created_at, self.id)
    }
}

impl HasKey for Secret {
    fn key(&self) -> (i64, uuid::Uuid) {
        (self.created_at, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = Cursor::of(1_700_000_000, uuid::Uuid::new_v4());
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(c.encode().len(), 32);
        for junk in ["", "abc", "!!!!", &"A".repeat(33)] {
            assert_eq!(Cursor::decode(junk), None, "{junk}");
        }
    }

    #[test]
    fn pages_cover_everything_once() {
        let all: Vec<(i64, u128)> = (0..25).map(|i| (i / 3, i as u128)).collect();
        let key = |x: &(i64, u128)| Cursor {
            created_at: x.0,
            id: x.1,
        };
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let p = page(&all, key, |x| x.1 % 5 != 0, after, 4);
            seen.extend(p.items.iter().map(|x| x.1));
            match p.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let want: Vec<u128> = (0..25).filter(|i| i % 5 != 0).collect();
        assert_eq!(seen, want);
        let exact = page(&all, key, |_| true, None, 25);
        assert!(exact.next.is_none(), "no next cursor when nothing is left");
    }
}
