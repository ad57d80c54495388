//! Serving HTTP on a listener, below every front end that does (`serve --http`
//! and stdio mode's entry-page listener).

pub mod authority;
mod connections;
pub mod server;
