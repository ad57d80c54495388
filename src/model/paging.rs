//! Pages of a list (DESIGN §11): the page size a caller may ask for and the
//! opaque cursor that says where the next page starts.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::fields::inline_schema;

/// Largest page.
pub const MAX_LIMIT: usize = 1000;
/// Page size when none is asked for.
pub const DEFAULT_LIMIT: usize = 200;

/// A page size, 1..=[`MAX_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(usize);

inline_schema!(
    PageSize,
    "PageSize",
    json_schema!({ "type": "integer", "minimum": 1, "maximum": MAX_LIMIT })
);

impl Default for PageSize {
    fn default() -> Self {
        Self(DEFAULT_LIMIT)
    }
}

impl PageSize {
    /// `n` when it is a page size.
    pub fn new(n: u64) -> Option<Self> {
        (1..=MAX_LIMIT as u64)
            .contains(&n)
            .then_some(Self(n as usize))
    }

    /// The size.
    pub fn get(self) -> usize {
        self.0
    }
}

/// Where a page starts: just after the item with this key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub(crate) created_at: i64,
    pub(crate) id: u128,
}

inline_schema!(Cursor, "Cursor", json_schema!({ "type": "string" }));

impl Cursor {
    /// The cursor just after the item created at `created_at` with `id`.
    pub fn of(created_at: i64, id: uuid::Uuid) -> Self {
        Self {
            created_at,
            id: id.as_u128(),
        }
    }

    /// The opaque text form (32 URL-safe characters).
    pub fn encode(&self) -> String {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&self.created_at.to_be_bytes());
        b[8..].copy_from_slice(&self.id.to_be_bytes());
        URL_SAFE_NO_PAD.encode(b)
    }

    /// Parses [`Self::encode`]'s output; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        let b = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        if b.len() != 24 {
            return None;
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(&b[..8]);
        let mut i = [0u8; 16];
        i.copy_from_slice(&b[8..]);
        Some(Self {
            created_at: i64::from_be_bytes(t),
            id: u128::from_be_bytes(i),
        })
    }
}
