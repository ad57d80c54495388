//! Tool-argument parsing: any JSON object must give Ok or a 422/400 ApiError,
//! never a panic, and an error never echoes a long string argument.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(args)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let long: Vec<String> = args
        .values()
        .filter_map(|v| v.as_str())
        .filter(|s| s.trim().len() >= 72)
        .map(|s| s.trim().to_owned())
        .collect();
    for r in [
        credvault::validate::store_credential(args.clone()).err(),
        credvault::validate::create_secret(args.clone()).err(),
        credvault::validate::list_credentials(args.clone()).err(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(r.code == 422 || r.code == 400, "code {}", r.code);
        let json = r.to_json();
        for s in &long {
            assert!(
                !json.contains(s.as_str()),
                "an error echoes a long argument"
            );
        }
    }
});
