//! Logging: tracing-subscriber on stderr only (stdout belongs to JSON-RPC), no
//! colour, quiet by default. `RUST_LOG` wins over `--log-level`.
//!
//! rmcp logs whole requests (tool arguments included) at debug level, so its
//! events are capped at `error` whatever the filter says: trace-level logs must
//! never carry a credential value.

use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::prelude::*;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber. `level` is used when `RUST_LOG` is unset.
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let no_protocol_dumps =
        FilterFn::new(|meta| !(meta.target().starts_with("rmcp") && *meta.level() > Level::ERROR));
    let base = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(true);
    let registry = tracing_subscriber::registry();
    let result = match format {
        LogFormat::Text => registry
            .with(base.with_filter(filter).with_filter(no_protocol_dumps))
            .try_init(),
        LogFormat::Json => registry
            .with(
                base.json()
                    .with_filter(filter)
                    .with_filter(no_protocol_dumps),
            )
            .try_init(),
    };
    // Already initialised (tests): keep the first subscriber.
    let _ = result;
}
