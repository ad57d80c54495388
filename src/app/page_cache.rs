//! The last list page a front end rendered, kept per process so repeated lists
//! of unchanged metadata reuse the rendering (MCP keeps its serialised result
//! there, see `mcp::rendered`).

use std::any::Any;
use std::sync::{Arc, Mutex};

/// What identifies a rendered list page: metadata generation, service
/// filter, cursor, limit. The generation changes whenever any process
/// writes, so a hit is always the current metadata.
pub type PageKey = (
    crate::vault::Generation,
    Option<String>,
    Option<crate::vault::Cursor>,
    usize,
);

/// The last page rendered, as the front end that rendered it stored it.
#[derive(Default)]
pub struct PageCache {
    last: Mutex<Option<(PageKey, Arc<dyn Any + Send + Sync>)>>,
}

impl PageCache {
    /// The rendering of `key`, if it is the last one kept and a `T`.
    pub fn get<T: Any + Send + Sync>(&self, key: &PageKey) -> Option<Arc<T>> {
        let last = self.last.lock().ok()?;
        match &*last {
            Some((k, r)) if k == key => r.clone().downcast::<T>().ok(),
            _ => None,
        }
    }

    /// Keeps `rendering` as the rendering of `key`.
    pub fn put<T: Any + Send + Sync>(&self, key: PageKey, rendering: Arc<T>) -> Arc<T> {
        if let Ok(mut last) = self.last.lock() {
            *last = Some((key, rendering.clone()));
        }
        rendering
    }
}
