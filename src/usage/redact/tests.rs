//! Tests of the redaction module: every form, streaming, cut bodies, and
//! property tests over random values, encodings and split points; HTML
//! character references in [`html`].
use super::*;
use proptest::prelude::*;

mod html;

/// `input` through a stream of `r`, pushed in pieces split at `cuts` (taken
/// modulo its length, in order): what came out, and whether the stream
/// replaced anything.
fn streamed(r: &Redactor, input: &[u8], cuts: Vec<usize>) -> (Vec<u8>, bool) {
    let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut s = r.stream();
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts {
        s.push(&input[at..c], &mut out);
        at = c;
    }
    s.push(&input[at..], &mut out);
    let hit = s.finish(&mut out);
    (out, hit)
}

const V: &str = "sk-test-1234567890abcdef";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every encoding a test upstream might echo, computed independently of `forms`.
fn encodings(v: &[u8]) -> Vec<Vec<u8>> {
    let mut e = vec![v.to_vec()];
    for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        e.push(engine.encode(v).into_bytes());
    }
    e.push(hex(v, false));
    e.push(hex(v, true));
    e.push(
        serde_json::to_string(std::str::from_utf8(v).unwrap())
            .unwrap()
            .trim_matches('"')
            .as_bytes()
            .to_vec(),
    );
    e
}

#[test]
fn every_form_is_redacted_in_one_buffer() {
    let r = Redactor::new([("openai/default", V.as_bytes())]).unwrap();
    let mut body = Vec::new();
    for prefix in ["", "u", "us", "user:"] {
        let mut s = prefix.as_bytes().to_vec();
        s.extend_from_slice(V.as_bytes());
        s.extend_from_slice(b":tail");
        body.extend_from_slice(STANDARD.encode(&s).as_bytes());
        body.push(b' ');
        body.extend_from_slice(URL_SAFE_NO_PAD.encode(&s).as_bytes());
        body.push(b' ');
    }
    for e in encodings(V.as_bytes()) {
        body.extend_from_slice(&e);
        body.push(b'\n');
    }
    body.extend_from_slice(percent(b"a b/c+d=e&f 12345678", true, false, b"").as_slice());
    let (out, hit) = r.redact(&body);
    assert!(hit);
    for e in encodings(V.as_bytes()) {
        assert!(!contains(&out, &e), "{}", String::from_utf8_lossy(&e));
    }
    // Inside base64 of a longer text: the core of each offset is gone.
    for f in forms(V.as_bytes()) {
        assert!(!contains(&out, &f), "{}", String::from_utf8_lossy(&f));
    }
    assert!(contains(&out, b"[REDACTED:openai/default]"));
}

#[test]
fn special_characters_percent_and_json() {
    let v = "p@ss w/rd\"é\\12345";
    let r = Redactor::new([("x", v.as_bytes())]).unwrap();
    for text in [
        serde_json::to_string(v).unwrap(),
        serde_json::to_string(v).unwrap().replace('/', "\\/"),
        String::from_utf8(percent(v.as_bytes(), true, false, b"")).unwrap(),
        String::from_utf8(percent(v.as_bytes(), true, false, b"/")).unwrap(),
        String::from_utf8(percent(v.as_bytes(), false, true, b"!'()*")).unwrap(),
        "p@ss w/rd\\\"\\u00E9\\\\12345".to_owned(),
        "p@ss w/rd\\\"\\u00e9\\\\12345".to_owned(),
    ] {
        let (out, hit) = r.redact_str(&format!("a {text} b"));
        assert!(hit, "{text}");
        assert_eq!(out.matches("[REDACTED:x]").count(), 1, "{text} -> {out}");
    }
}

#[test]
fn short_values_and_empty_sets_pass_through() {
    let r = Redactor::new([("x", b"short".as_slice())]).unwrap();
    assert!(r.is_empty());
    assert_eq!(r.redact(b"short short").0, b"short short");
}

#[test]
fn ordinary_lines_are_not_held_back() {
    let r = Redactor::new([("x", V.as_bytes())]).unwrap();
    let mut s = r.stream();
    let mut out = Vec::new();
    s.push(b"hello world\n", &mut out);
    assert_eq!(out, b"hello world\n");
    s.push(b"prefix sk-te", &mut out);
    assert_eq!(out, b"hello world\nprefix ");
    assert_eq!(s.held(), 5);
    s.push(b"st-1234567890abcdef and more\n", &mut out);
    assert_eq!(out, b"hello world\nprefix [REDACTED:x] and more\n");
    assert!(s.finish(&mut out));
}

#[test]
fn a_cut_body_gives_up_a_fixed_tail_whatever_the_value() {
    // Two different values, the same body ending in a prefix of the first:
    // what comes back must be identical (no prefix oracle), and hold
    // neither the prefix nor anything after the fixed cut.
    let mut body = vec![b'a'; 3000];
    body.extend_from_slice(&V.as_bytes()[..10]);
    let other = "zz-test-1234567890abcdef";
    let (r1, r2) = (
        Redactor::new([("x", V.as_bytes())]).unwrap(),
        Redactor::new([("x", other.as_bytes())]).unwrap(),
    );
    assert_eq!(r1.lookahead(), r2.lookahead());
    let keep = body.len() - r1.lookahead();
    let (a, _) = r1.redact_prefix(&body, keep);
    let (b, _) = r2.redact_prefix(&body, keep);
    assert_eq!(a, b);
    assert_eq!(a.len(), keep);
    assert!(!contains(&a, &V.as_bytes()[..4]));
    // A whole value straddling the cut is replaced whole.
    let mut body = vec![b'a'; 100];
    body.extend_from_slice(V.as_bytes());
    body.extend_from_slice(&[b'b'; 100]);
    let (out, hit) = r1.redact_prefix(&body, 110);
    assert!(hit);
    assert_eq!(out, [&[b'a'; 100][..], b"[REDACTED:x]"].concat());
}

fn arb_encoding() -> impl Strategy<Value = usize> {
    0usize..8
}

fn encode(kind: usize, v: &[u8]) -> Vec<u8> {
    match kind {
        0 => v.to_vec(),
        1 => STANDARD.encode(v).into_bytes(),
        2 => URL_SAFE_NO_PAD.encode(v).into_bytes(),
        3 => hex(v, false),
        4 => hex(v, true),
        5 => percent(v, true, false, b""),
        6 => {
            let mut s = b"user:".to_vec();
            s.extend_from_slice(v);
            STANDARD.encode(s).into_bytes()
        }
        _ => serde_json::to_string(&String::from_utf8_lossy(v))
            .unwrap()
            .into_bytes(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    /// Random value, random encoding, random surrounding text, random split
    /// points: the output never holds the value or any of its encodings.
    #[test]
    fn streamed_output_never_contains_a_form(
        value in proptest::collection::vec(
            prop_oneof![4 => (0x20u8..0x7f).prop_map(char::from), 1 => any::<char>()],
            8..48,
        ).prop_map(|c| c.into_iter().collect::<String>().into_bytes()),
        kind in arb_encoding(),
        before in proptest::collection::vec(any::<u8>(), 0..40),
        after in proptest::collection::vec(any::<u8>(), 0..40),
        cuts in proptest::collection::vec(0usize..200, 0..6),
    ) {
        let r = Redactor::new([("v", value.as_slice())]).unwrap();
        let mut input = before.clone();
        input.extend_from_slice(&encode(kind, &value));
        input.extend_from_slice(&after);
        let (out, hit) = streamed(&r, &input, cuts);
        prop_assert!(hit);
        prop_assert!(!contains(&out, &value));
        for e in encodings(&value) {
            prop_assert!(!contains(&out, &e));
        }
        // Same result whatever the split points.
        prop_assert_eq!(out, r.redact(&input).0);
    }

    #[test]
    fn text_without_values_is_unchanged(
        text in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(0usize..300, 0..6),
    ) {
        let r = Redactor::new([("v", b"\x01\x02\x03\x04\x05\x06\x07\x08".as_slice())]).unwrap();
        prop_assume!(!contains(&text, b"\x01\x02\x03"));
        let (out, hit) = streamed(&r, &text, cuts);
        prop_assert!(!hit);
        prop_assert_eq!(out, text);
    }
}
