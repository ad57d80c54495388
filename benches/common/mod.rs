//! What every bench shares (a module, not a bench target: cargo only
//! discovers `benches/*.rs` and `benches/*/main.rs`).

use std::time::Duration;

/// The credvault under test: this build's, or `CREDVAULT_BENCH_BIN` (another
/// build to set beside it, e.g. the previous commit's).
pub fn bin() -> String {
    std::env::var("CREDVAULT_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_credvault").into())
}

/// The `p` quantile (0.5 = median) of `v`, which it sorts.
pub fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}
