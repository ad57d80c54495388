//! Times as the outputs spell them.

use std::time::{Duration, UNIX_EPOCH};

/// RFC 3339 UTC seconds.
pub fn rfc3339(unix: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}
