//! HTML character references: every reference style, mixed with raw
//! characters, over the value and its encodings, cut anywhere (issue 20.6).
use super::*;

/// How one character is written in an HTML-escaped echo.
#[derive(Clone, Copy, Debug)]
enum Esc {
    Raw,
    /// `&#43;`
    Dec,
    /// `&#0000043;`
    DecZeros,
    /// `&#x2b;`
    Hex,
    /// `&#X2B;`
    HexUpper,
    /// `&#X0002b;`
    HexZeros,
    /// `&plus;` (a decimal reference for a character without a name)
    Named,
}

const STYLES: [Esc; 7] = [
    Esc::Raw,
    Esc::Dec,
    Esc::DecZeros,
    Esc::Hex,
    Esc::HexUpper,
    Esc::HexZeros,
    Esc::Named,
];

/// Named references of the WHATWG list for the characters these tests
/// escape, written out here (not taken from the code under test).
const NAMES: &[(char, &str)] = &[
    ('/', "sol"),
    ('+', "plus"),
    ('=', "equals"),
    ('&', "amp"),
    ('"', "quot"),
    ('\'', "apos"),
    ('<', "lt"),
    ('>', "gt"),
    ('%', "percnt"),
    ('\\', "bsol"),
    (':', "colon"),
    ('_', "lowbar"),
    ('.', "period"),
    ('!', "excl"),
    ('(', "lpar"),
    (')', "rpar"),
    ('*', "ast"),
    (',', "comma"),
    (';', "semi"),
    ('?', "quest"),
    ('@', "commat"),
    ('[', "lsqb"),
    (']', "rsqb"),
    ('{', "lcub"),
    ('}', "rcub"),
    ('|', "vert"),
    ('#', "num"),
    ('$', "dollar"),
    ('\n', "NewLine"),
    ('é', "eacute"),
];

/// `text` HTML-escaped, each character in the style `pick` gives it (`&`
/// is never left raw, as no HTML escaper leaves it).
fn escape(text: &str, pick: impl Fn(usize, char) -> Esc) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        let n = c as u32;
        let style = match pick(i, c) {
            Esc::Raw if c == '&' => Esc::Named,
            s => s,
        };
        match style {
            Esc::Raw => out.push(c),
            Esc::Dec => out.push_str(&format!("&#{n};")),
            Esc::DecZeros => out.push_str(&format!("&#{n:07};")),
            Esc::Hex => out.push_str(&format!("&#x{n:x};")),
            Esc::HexUpper => out.push_str(&format!("&#X{n:X};")),
            Esc::HexZeros => out.push_str(&format!("&#X{n:05x};")),
            Esc::Named => match NAMES.iter().find(|(k, _)| *k == c) {
                Some((_, name)) => out.push_str(&format!("&{name};")),
                None => out.push_str(&format!("&#{n};")),
            },
        }
    }
    out
}

/// A value with `/`, `+`, `=`, `&`, quotes and brackets; its base64 has `+`
/// and `=` too.
const W: &str = "sk/live+Key=99&\"q'<8>~";

/// `W`, and encodings of it, echoed through HTML escapers of every style.
fn html_echoes() -> Vec<(String, String)> {
    let special = |style: Esc| {
        move |_: usize, c: char| {
            if c.is_ascii_alphanumeric() {
                Esc::Raw
            } else {
                style
            }
        }
    };
    let mut e = vec![
        (
            "Go html/template".to_owned(),
            W.replace('&', "&amp;")
                .replace('+', "&#43;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;")
                .replace('<', "&lt;")
                .replace('>', "&gt;"),
        ),
        (
            "Python html.escape".to_owned(),
            W.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#x27;"),
        ),
        (
            "upper-case names".to_owned(),
            W.replace('&', "&AMP;")
                .replace('"', "&QUOT;")
                .replace('<', "&LT;")
                .replace('>', "&GT;")
                .replace('/', "&sol;")
                .replace('+', "&plus;")
                .replace('=', "&equals;"),
        ),
    ];
    for style in STYLES {
        e.push((format!("{style:?} for specials"), escape(W, special(style))));
        e.push((format!("{style:?} for all"), escape(W, |_, _| style)));
    }
    e.push(("mixed".into(), escape(W, |i, _| STYLES[i % 7])));
    e.push((
        "mixed, shifted".into(),
        escape(W, |i, _| STYLES[(i + 3) % 7]),
    ));
    let json = serde_json::to_string(W).unwrap();
    let json = json.trim_matches('"');
    let json_slashed = json.replace('/', "\\/");
    let pct = String::from_utf8(percent(W.as_bytes(), true, false, b"")).unwrap();
    let encoded = [
        ("base64", STANDARD.encode(W)),
        ("url-safe base64", URL_SAFE.encode(W)),
        ("percent", pct),
        ("JSON", json.to_owned()),
        ("JSON with \\/", json_slashed),
        ("hex", String::from_utf8(hex(W.as_bytes(), false)).unwrap()),
    ];
    for (what, text) in encoded {
        for (how, escaped) in [
            ("named", escape(&text, special(Esc::Named))),
            ("hex", escape(&text, special(Esc::HexZeros))),
            ("mixed", escape(&text, |i, _| STYLES[i % 7])),
        ] {
            // (hex has nothing but letters and digits to escape)
            if escaped != text {
                e.push((format!("{what}, {how}"), escaped));
            }
        }
    }
    for (what, text) in &e {
        assert!(text.contains('&'), "{what} escapes something: {text}");
    }
    assert_eq!(e.len(), 35);
    e
}

#[test]
fn html_escaped_echoes_are_redacted_in_every_reference_style() {
    let r = Redactor::new([("x", W.as_bytes())]).unwrap();
    for (what, text) in html_echoes() {
        let (out, hit) = r.redact_str(&format!("<td>{text}</td>\n"));
        assert!(hit, "{what}: {text}");
        assert_eq!(out, "<td>[REDACTED:x]</td>\n", "{what}: {text}");
    }
    // Inside base64 of a longer text (`user:value`), escaped: its core goes.
    let basic = escape(&STANDARD.encode(format!("user:{W}")), |_, c| {
        if c.is_ascii_alphanumeric() {
            Esc::Raw
        } else {
            Esc::Named
        }
    });
    let (out, hit) = r.redact_str(&basic);
    assert!(hit && out.contains("[REDACTED:x]"), "{out}");
    assert!(out.len() < "[REDACTED:x]".len() + 12, "{basic} -> {out}");
}

#[test]
fn html_escaped_echoes_split_anywhere_are_redacted() {
    let r = Redactor::new([("x", W.as_bytes())]).unwrap();
    let run = |parts: &[&[u8]]| {
        let mut s = r.stream();
        let mut out = Vec::new();
        for p in parts {
            s.push(p, &mut out);
        }
        assert!(s.finish(&mut out));
        String::from_utf8(out).unwrap()
    };
    for (what, text) in html_echoes() {
        let line = format!("<td>{text}</td>\n");
        let line = line.as_bytes();
        for i in 0..=line.len() {
            let out = run(&[&line[..i], &line[i..]]);
            assert_eq!(out, "<td>[REDACTED:x]</td>\n", "{what} cut at {i}");
            let j = (i + 5).min(line.len());
            let out = run(&[&line[..i], &line[i..j], &line[j..]]);
            assert_eq!(out, "<td>[REDACTED:x]</td>\n", "{what} cut at {i}, {j}");
        }
        let bytes: Vec<&[u8]> = line.chunks(1).collect();
        assert_eq!(
            run(&bytes),
            "<td>[REDACTED:x]</td>\n",
            "{what} byte by byte"
        );
    }
}

#[test]
fn a_value_that_looks_like_references_is_redacted_raw_and_escaped() {
    let v = "tok&amp;en=&#43;12";
    let r = Redactor::new([("x", v.as_bytes())]).unwrap();
    for text in [
        v.to_owned(),
        v.replace('&', "&amp;"),
        escape(v, |_, _| Esc::Hex),
    ] {
        let (out, hit) = r.redact_str(&format!("a {text} b"));
        assert!(hit, "{text}");
        assert_eq!(out, "a [REDACTED:x] b", "{text}");
    }
    // Its decoded text is another string.
    assert!(!r.redact(b"tok&en=+12").1);
}

#[test]
fn text_with_references_flows_and_only_an_unfinished_one_waits() {
    // No form of this value starts with a byte of the text below; its raw
    // form has `&`, so `&amp;` is a reference worth waiting for.
    let r = Redactor::new([("x", b"~~~~&~~~~".as_slice())]).unwrap();
    let mut s = r.stream();
    let mut out = Vec::new();
    s.push(b"AT&T &amp; &lt;b&gt; &#43; &nbsp;&\n", &mut out);
    assert_eq!(out, b"AT&T &amp; &lt;b&gt; &#43; &nbsp;&\n");
    assert_eq!(s.held(), 0);
    out.clear();
    s.push(b"Q&", &mut out);
    assert_eq!((&out[..], s.held()), (&b"Q"[..], 1));
    s.push(b"#x00", &mut out);
    assert_eq!((&out[..], s.held()), (&b"Q"[..], 5));
    s.push(b"2C;", &mut out);
    assert_eq!((&out[..], s.held()), (&b"Q&#x002C;"[..], 0));
    out.clear();
    // A name no reference starts with, or a reference too long, is text.
    s.push(b"a &zz", &mut out);
    assert_eq!((&out[..], s.held()), (&b"a &zz"[..], 0));
    out.clear();
    let long = format!("b &#{}", "0".repeat(40));
    s.push(long.as_bytes(), &mut out);
    assert_eq!(out, long.as_bytes());
    out.clear();
    s.push(b" &am", &mut out);
    assert_eq!((&out[..], s.held()), (&b" "[..], 3));
    s.push(b"p;\n", &mut out);
    assert_eq!(out, b" &amp;\n");
    assert!(!s.finish(&mut out));
}

#[test]
fn a_stream_held_inside_a_reference_decodes_it_whole_later() {
    // Cut after `x&#43;`: the raw view holds from `#` (a prefix of `v`),
    // inside the reference; the decoded view must still see `+` there next
    // time, where `p` starts.
    let r = Redactor::new([("v", b"#43;abc+defgh".as_slice()), ("p", b"abc+defgh")]).unwrap();
    let text = b"x&#43;abc+defgh y";
    let want = "x&[REDACTED:v][REDACTED:p] y";
    assert_eq!(r.redact_str(std::str::from_utf8(text).unwrap()).0, want);
    for i in 0..=text.len() {
        let mut s = r.stream();
        let mut out = Vec::new();
        s.push(&text[..i], &mut out);
        s.push(&text[i..], &mut out);
        assert!(s.finish(&mut out));
        assert_eq!(String::from_utf8(out).unwrap(), want, "cut at {i}");
    }
}

#[test]
fn a_decoded_match_inside_a_raw_one_extends_it_whatever_the_split() {
    // Raw, `a` is found; decoded (`q&AAAAyyyy`), `b` is found starting
    // inside it. Both are replaced, and a cut anywhere changes nothing.
    let r = Redactor::new([("a", b"q&amp;AAAA".as_slice()), ("b", b"AAAAyyyy")]).unwrap();
    let text = b"<q&amp;AAAAyyyy>";
    let want = "<[REDACTED:a][REDACTED:b]>";
    assert_eq!(r.redact_str(std::str::from_utf8(text).unwrap()).0, want);
    for i in 0..=text.len() {
        for j in i..=text.len() {
            let mut s = r.stream();
            let mut out = Vec::new();
            for part in [&text[..i], &text[i..j], &text[j..]] {
                s.push(part, &mut out);
            }
            assert!(s.finish(&mut out));
            assert_eq!(String::from_utf8(out).unwrap(), want, "cut at {i}, {j}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    /// A random value in a random encoding, HTML-escaped with each character
    /// in a random style (raw, decimal, hex, leading zeros, named), cut at
    /// random points: the output never holds it.
    #[test]
    fn html_escaped_forms_are_redacted_whatever_the_split(
        value in proptest::collection::vec(
            prop_oneof![4 => (0x20u8..0x7f).prop_map(char::from), 1 => any::<char>()],
            8..40,
        ).prop_map(|c| c.into_iter().collect::<String>()),
        kind in arb_encoding(),
        styles in proptest::collection::vec(0usize..7, 1..20),
        before in proptest::collection::vec(any::<u8>(), 0..30),
        after in proptest::collection::vec(any::<u8>(), 0..30),
        cuts in proptest::collection::vec(0usize..600, 0..6),
    ) {
        let r = Redactor::new([("v", value.as_bytes())]).unwrap();
        let encoded = String::from_utf8(encode(kind, value.as_bytes())).unwrap();
        let escaped = escape(&encoded, |i, _| STYLES[styles[i % styles.len()]]);
        // Around it, text that is HTML-escaped too (no raw `&`).
        let no_amp = |b: &Vec<u8>| b.iter().map(|&b| if b == b'&' { b' ' } else { b }).collect::<Vec<u8>>();
        let mut input = no_amp(&before);
        input.extend_from_slice(escaped.as_bytes());
        input.extend_from_slice(&no_amp(&after));
        let (out, hit) = streamed(&r, &input, cuts);
        prop_assert!(hit);
        prop_assert!(!contains(&out, escaped.as_bytes()));
        prop_assert!(!contains(&out, value.as_bytes()));
        prop_assert_eq!(out, r.redact(&input).0);
    }

    /// Three values made of pieces of references, in text of the same pieces
    /// and of whole references (so matches of the two views overlap, and a
    /// cut can fall inside a reference either view holds from): the output
    /// does not depend on where the stream was cut.
    #[test]
    fn overlapping_matches_of_both_views_give_one_answer_whatever_the_split(
        values in proptest::collection::vec(proptest::collection::vec(0usize..18, 2..7), 3),
        tokens in proptest::collection::vec(0usize..21, 0..60),
        cuts in proptest::collection::vec(0usize..400, 0..8),
    ) {
        let pieces: [&[u8]; 18] = [
            b"a", b"b", b"+", b"&", b"#", b";", b"x", b"2B", b"43", b"#43;", b"amp;", b"abc",
            b"&#43;", b"&plus;", b"&amp;", b"&#x2B;", b"&#38;", b"&#x26;",
        ];
        let values: Vec<Vec<u8>> = values
            .iter()
            .map(|v| v.iter().map(|&t| pieces[t]).collect::<Vec<_>>().concat())
            .collect();
        let r = Redactor::new(
            values.iter().zip(["u", "v", "w"]).map(|(v, l)| (l, v.as_slice())),
        )
        .unwrap();
        let mut input = Vec::new();
        for t in tokens {
            input.extend_from_slice(match t {
                18.. => values[t - 18].as_slice(),
                t => pieces[t],
            });
        }
        let (out, hit) = streamed(&r, &input, cuts);
                let (whole, whole_hit) = r.redact(&input);
        prop_assert_eq!(hit, whole_hit);
        prop_assert_eq!(out, whole);
    }

    /// Text full of references (and of `&` that starts none) comes out
    /// byte for byte, whatever the split.
    #[test]
    fn text_with_references_and_no_value_is_unchanged(
        text in proptest::collection::vec(
            proptest::sample::select(b"&&&#;;xX0123456789abcdefAmpltgquos \n".to_vec()),
            0..300,
        ),
        cuts in proptest::collection::vec(0usize..300, 0..6),
    ) {
        let r = Redactor::new([("v", b"~~~~~~~~".as_slice())]).unwrap();
        let (out, hit) = streamed(&r, &text, cuts);
        prop_assert!(!hit);
        prop_assert_eq!(out, text);
    }
}
