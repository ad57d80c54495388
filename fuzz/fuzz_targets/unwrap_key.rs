//! The wrapped data key: arbitrary wrapped bytes, header and vault id never
//! panic and never unwrap under a key that did not wrap them.
#![no_main]
use credvault::secret::Key32;
use credvault::vault::format::unwrap_key;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let master = Key32::random().unwrap();
    let (a, rest) = data.split_at(data.len().min(30));
    let (b, wrapped) = rest.split_at(rest.len().min(16));
    assert!(unwrap_key(&master, wrapped, a, b).is_err());
});
