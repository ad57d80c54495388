//! The HTML-decoded view of a text: every character reference (`&#43;`,
//! `&#x2B;`, `&#X02b;`, `&plus;`, `&amp;`, …) replaced by the text it stands
//! for, with a map from each decoded byte back to the source bytes it came
//! from. Redaction searches this view beside the raw text, so a value echoed
//! by an HTML escaper (any characters escaped, in any of the reference styles,
//! mixed with raw ones) is found without listing every mix as a form.
//!
//! A reference is `&` + a name from the WHATWG list, or `#` + decimal digits,
//! or `#x`/`#X` + hex digits (leading zeros allowed), then `;`; at most
//! [`MAX_REF`] bytes in all. A numeric one must name a Unicode scalar value.
//! Anything else (no `;`, an unknown name, a surrogate) stays as it is.
//! Decoding is one level: `&amp;#43;` becomes `&#43;`, not `+`.

use zeroize::Zeroizing;

use super::entities::NAMED;

/// The longest reference decoded, in bytes: `&CounterClockwiseContourIntegral;`.
/// Numeric references with more leading zeros than fit are left as they are.
pub const MAX_REF: usize = 33;

/// One reference replaced in the view.
#[derive(Clone, Copy)]
struct Replaced {
    /// Offset of its `&` in the source.
    src: usize,
    /// Offset of its text in the view.
    dec: usize,
    /// Its length in the source (at most [`MAX_REF`]).
    src_len: u8,
    /// The length of its text (at most two characters).
    dec_len: u8,
}

/// The decoded view of a source text.
pub struct View {
    /// The view's bytes; `None` when no reference was replaced (the view is
    /// then the source's first `open` bytes). Wiped on drop: it holds what
    /// the source holds.
    text: Option<Zeroizing<Vec<u8>>>,
    /// References replaced, in order.
    replaced: Vec<Replaced>,
    /// Where an unfinished reference at the end of the source begins (the
    /// source's length when there is none): the bytes from here are not in
    /// the view until more input decides them.
    pub open: usize,
}

impl View {
    /// Decodes `src`. Unless `at_end`, a trailing `&…` that more input could
    /// still make a reference is left out of the view (see [`View::open`]).
    pub fn new(src: &[u8], at_end: bool) -> Self {
        let mut view = Self {
            text: None,
            replaced: Vec::new(),
            open: src.len(),
        };
        if !src.contains(&b'&') {
            // The common case, at memchr speed.
            return view;
        }
        let mut i = 0;
        let mut copied = 0;
        while let Some(p) = src[i..].iter().position(|&b| b == b'&') {
            let at = i + p;
            match reference(&src[at..], at_end) {
                Parsed::Text(chars, len) => {
                    let text = view
                        .text
                        .get_or_insert_with(|| Zeroizing::new(Vec::with_capacity(src.len())));
                    text.extend_from_slice(&src[copied..at]);
                    let dec = text.len();
                    let mut utf8 = [0u8; 4];
                    for c in chars.into_iter().flatten() {
                        text.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                    }
                    view.replaced.push(Replaced {
                        src: at,
                        dec,
                        src_len: len as u8,
                        dec_len: (text.len() - dec) as u8,
                    });
                    i = at + len;
                    copied = i;
                }
                Parsed::Unfinished => {
                    view.open = at;
                    break;
                }
                Parsed::Not => i = at + 1,
            }
        }
        if let Some(text) = &mut view.text {
            text.extend_from_slice(&src[copied..view.open]);
        }
        view
    }

    /// The view's bytes (`src` is the text it was made from).
    pub fn text<'a>(&'a self, src: &'a [u8]) -> &'a [u8] {
        match &self.text {
            Some(t) => t,
            None => &src[..self.open],
        }
    }

    /// True when the view differs from the source only by leaving out an
    /// unfinished reference at its end.
    pub fn is_verbatim(&self) -> bool {
        self.text.is_none()
    }

    /// Source offset of the start of what view byte `d` came from
    /// (`open` for the view's end).
    pub fn src_start(&self, d: usize) -> usize {
        match self.unit(d) {
            Unit::Reference(r) => r.src,
            Unit::Literal(s) => s,
        }
    }

    /// Source offset of the end of what view byte `e - 1` came from: a match
    /// ending inside a reference's text takes the whole reference.
    pub fn src_end(&self, e: usize) -> usize {
        match self.unit(e.saturating_sub(1)) {
            Unit::Reference(r) => r.src + r.src_len as usize,
            Unit::Literal(s) => s + 1,
        }
    }

    fn unit(&self, d: usize) -> Unit {
        let k = self.replaced.partition_point(|r| r.dec <= d);
        let Some(r) = k.checked_sub(1).map(|k| self.replaced[k]) else {
            return Unit::Literal(d);
        };
        let after = r.dec + r.dec_len as usize;
        if d < after {
            Unit::Reference(r)
        } else {
            Unit::Literal(r.src + r.src_len as usize + (d - after))
        }
    }
}

/// What a view byte came from.
enum Unit {
    Reference(Replaced),
    /// A source byte copied as it is, at this offset.
    Literal(usize),
}

enum Parsed {
    /// A reference: its text and its length in the source.
    Text([Option<char>; 2], usize),
    /// The input ends inside what could still become a reference.
    Unfinished,
    /// Not a reference: the `&` is literal.
    Not,
}

/// Parses a reference at the start of `s` (which starts with `&`).
fn reference(s: &[u8], at_end: bool) -> Parsed {
    let numeric = s.get(1) == Some(&b'#');
    let hex = numeric && matches!(s.get(2), Some(b'x' | b'X'));
    let body = 1 + usize::from(numeric) + usize::from(hex);
    let is_body = |b: u8| match (numeric, hex) {
        (true, true) => b.is_ascii_hexdigit(),
        (true, false) => b.is_ascii_digit(),
        _ => b.is_ascii_alphanumeric(),
    };
    // The `;` must come by MAX_REF - 1.
    let limit = s.len().min(MAX_REF);
    let mut end = body.min(limit);
    while end < limit && is_body(s[end]) {
        end += 1;
    }
    if end == s.len() {
        // The input ran out: more could follow, unless this can no longer
        // become one (too long, or a name no reference starts with).
        let could = !at_end
            && end < MAX_REF
            && (numeric || {
                let part = &s[1..end];
                let k = NAMED.partition_point(|(n, _)| n.as_bytes() < part);
                NAMED
                    .get(k)
                    .is_some_and(|(n, _)| n.as_bytes().starts_with(part))
            });
        return if could {
            Parsed::Unfinished
        } else {
            Parsed::Not
        };
    }
    if end == body || s[end] != b';' {
        return Parsed::Not;
    }
    let digits = &s[body..end];
    let text = if numeric {
        let radix = if hex { 16 } else { 10 };
        let mut n: u32 = 0;
        for &b in digits {
            // Digits were checked; saturate past the last scalar value.
            let d = char::from(b).to_digit(radix).unwrap_or(0);
            n = n.saturating_mul(radix).saturating_add(d);
        }
        match char::from_u32(n) {
            Some(c) => [Some(c), None],
            None => return Parsed::Not,
        }
    } else {
        match NAMED.binary_search_by(|(n, _)| n.as_bytes().cmp(digits)) {
            Ok(k) => {
                let mut chars = NAMED[k].1.chars();
                [chars.next(), chars.next()]
            }
            Err(_) => return Parsed::Not,
        }
    };
    Parsed::Text(text, end + 1)
}
