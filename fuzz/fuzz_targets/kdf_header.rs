//! The KDF header read from the file: any bytes decode or fail cleanly, and a
//! decoded header is within bounds and re-encodes to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = credvault::crypto::kdf::KdfHeader::decode(data) {
        assert_eq!(h.encode().as_slice(), data);
    }
});
