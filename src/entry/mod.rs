//! The entry page (DESIGN §9): the local page where a person types a value
//! into one of the desk's one-time slots ([`crate::app::entry_desk`]).
//!
//! The page is served by the `--http` server itself (outside bearer auth,
//! inside the Host/Origin guard) or, in stdio mode, by a loopback listener on
//! an ephemeral port started on the first request ([`starter`]).

mod page;
mod routes;

pub use routes::{router, starter};
