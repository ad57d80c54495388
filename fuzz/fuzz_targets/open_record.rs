//! Sealed records: arbitrary bytes never open (no panic); a record sealed with
//! fuzzer-chosen metadata, value and attachment opens back to the same value
//! only under its own table and id.
#![no_main]
use credvault::secret::{Key32, SecretString};
use credvault::store::Table;
use credvault::vault::format::{Opened, open_record, seal_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = Key32::random().unwrap();
    let id = u128::from_le_bytes(
        data.get(..16)
            .map(|b| b.try_into().unwrap())
            .unwrap_or([0; 16]),
    );
    for kind in [Table::Credentials, Table::Secrets, Table::Tokens] {
        assert!(open_record::<serde_json::Value>(&key, kind, id, data).is_err());
    }
    let text = String::from_utf8_lossy(data).into_owned();
    let mid = (0..=text.len() / 2)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let (value, attachment) = text.split_at(mid);
    let meta = serde_json::json!({"m": attachment});
    let value = SecretString::from(value);
    let attachment = SecretString::from(attachment);
    let sealed = seal_record(&key, Table::Credentials, id, &meta, &value, Some(&attachment)).unwrap();
    let opened: Opened<serde_json::Value> =
        open_record(&key, Table::Credentials, id, &sealed).unwrap();
    assert_eq!(opened.value.expose(), value.expose());
    assert_eq!(opened.meta, meta);
    assert!(open_record::<serde_json::Value>(&key, Table::Secrets, id, &sealed).is_err());
    assert!(open_record::<serde_json::Value>(&key, Table::Credentials, id ^ 1, &sealed).is_err());
});
