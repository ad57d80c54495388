//! The shared nouns every layer above `crypto` speaks: who is calling, and the
//! typed inputs and outputs of the operations.

pub mod caller;

pub use caller::Caller;
