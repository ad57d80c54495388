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
//!
//! Only references to text with a byte that occurs in some form are
//! replaced: any other could not be part of a match. So a page whose
//! references are all `&lt;`, `&quot;`, `&nbsp;`… while the values hold none
//! of those characters has a view equal to itself, and is searched once.

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

/// What a view decodes, for one set of forms.
pub struct Decoder {
    /// Bytes that occur in some form.
    alphabet: [bool; 256],
    /// The named references whose text has such a byte, sorted by name.
    named: Vec<(&'static [u8], &'static str)>,
    /// The first bytes of those names.
    name_starts: [bool; 256],
}

impl Decoder {
    /// A decoder for these forms.
    pub fn new<'a>(forms: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut alphabet = [false; 256];
        for f in forms {
            for &b in f {
                alphabet[b as usize] = true;
            }
        }
        let named: Vec<(&[u8], &str)> = NAMED
            .iter()
            .filter(|(_, text)| text.bytes().any(|b| alphabet[b as usize]))
            .map(|(name, text)| (name.as_bytes(), *text))
            .collect();
        let mut name_starts = [false; 256];
        for (name, _) in &named {
            if let Some(&b) = name.first() {
                name_starts[b as usize] = true;
            }
        }
        Self {
            alphabet,
            named,
            name_starts,
        }
    }

    /// Whether `c` is worth decoding.
    fn wanted(&self, c: char) -> bool {
        let mut utf8 = [0u8; 4];
        c.encode_utf8(&mut utf8)
            .bytes()
            .any(|b| self.alphabet[b as usize])
    }
}

/// The decoded view of a source text. One is kept and refilled for each
/// piece of a stream, so its buffers are reused.
#[derive(Default)]
pub struct View {
    /// The view's bytes, unless `verbatim`. Wiped on drop: it holds what
    /// the source holds.
    text: Zeroizing<Vec<u8>>,
    /// No reference was replaced: the view is the source's first `open`
    /// bytes.
    verbatim: bool,
    /// References replaced, in order.
    replaced: Vec<Replaced>,
    /// Where an unfinished reference at the end of the source begins (the
    /// source's length when there is none): the bytes from here are not in
    /// the view until more input decides them.
    pub open: usize,
}

impl View {
    /// Decodes `src` into this view. Unless `at_end`, a trailing `&…` that
    /// more input could still make a reference is left out of the view (see
    /// [`View::open`]).
    pub fn decode(&mut self, src: &[u8], at_end: bool, decoder: &Decoder) {
        self.text.clear();
        self.replaced.clear();
        self.verbatim = true;
        self.open = src.len();
        if !src.contains(&b'&') {
            // The common case, at memchr speed.
            return;
        }
        let mut i = 0;
        let mut copied = 0;
        while let Some(p) = find_amp(&src[i..]) {
            let at = i + p;
            match reference(&src[at..], at_end, decoder) {
                Parsed::Text(chars, len) => {
                    self.verbatim = false;
                    self.text.extend_from_slice(&src[copied..at]);
                    let dec = self.text.len();
                    let mut utf8 = [0u8; 4];
                    for c in chars.into_iter().flatten() {
                        self.text
                            .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                    }
                    self.replaced.push(Replaced {
                        src: at,
                        dec,
                        src_len: len as u8,
                        dec_len: (self.text.len() - dec) as u8,
                    });
                    i = at + len;
                    copied = i;
                }
                Parsed::Unfinished => {
                    self.open = at;
                    break;
                }
                Parsed::Not => i = at + 1,
            }
        }
        if !self.verbatim {
            self.text.extend_from_slice(&src[copied..self.open]);
        }
    }

    /// The view's bytes (`src` is the text it was made from).
    pub fn text<'a>(&'a self, src: &'a [u8]) -> &'a [u8] {
        if self.verbatim {
            &src[..self.open]
        } else {
            &self.text
        }
    }

    /// True when the view differs from the source only by leaving out an
    /// unfinished reference at its end.
    pub fn is_verbatim(&self) -> bool {
        self.verbatim
    }

    /// The start of the replaced reference whose source holds byte `x`, or
    /// `x` when none does.
    pub fn boundary(&self, x: usize) -> usize {
        let k = self.replaced.partition_point(|r| r.src <= x);
        match k.checked_sub(1).map(|k| self.replaced[k]) {
            Some(r) if x < r.src + r.src_len as usize => r.src,
            _ => x,
        }
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

/// The first `&` in `s`, eight bytes a step (a page may hold one every few
/// bytes, or none for kilobytes).
fn find_amp(s: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let amp = ONES * u64::from(b'&');
    let mut words = s.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        // A zero byte where `&` was; the lowest one flagged is exact (a
        // borrow can only flag bytes above a real zero).
        let x = u64::from_le_bytes(bytes) ^ amp;
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        if zero != 0 {
            return Some(base + zero.trailing_zeros() as usize / 8);
        }
        base += 8;
    }
    let rest = words.remainder();
    rest.iter().position(|&b| b == b'&').map(|p| base + p)
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

/// Parses a reference at the start of `s` (which starts with `&`); one
/// whose text the decoder does not want is [`Parsed::Not`].
fn reference(s: &[u8], at_end: bool, decoder: &Decoder) -> Parsed {
    let numeric = s.get(1) == Some(&b'#');
    let hex = numeric && matches!(s.get(2), Some(b'x' | b'X'));
    let body = 1 + usize::from(numeric) + usize::from(hex);
    let is_body = |b: u8| match (numeric, hex) {
        (true, true) => b.is_ascii_hexdigit(),
        (true, false) => b.is_ascii_digit(),
        _ => b.is_ascii_alphanumeric(),
    };
    if !numeric && s.len() > 1 && !decoder.name_starts[s[1] as usize] {
        // The common case in a page: `&lt;`, `&quot;`… that no form needs.
        return Parsed::Not;
    }
    let named = &decoder.named;
    // The `;` must come by MAX_REF - 1.
    let limit = s.len().min(MAX_REF);
    let mut end = body.min(limit);
    while end < limit && is_body(s[end]) {
        end += 1;
    }
    if end == s.len() {
        // The input ran out: more could follow, unless this can no longer
        // become one (too long, or a name no wanted reference starts with).
        let could = !at_end
            && end < MAX_REF
            && (numeric || {
                let part = &s[1..end];
                let k = named.partition_point(|(n, _)| *n < part);
                named.get(k).is_some_and(|(n, _)| n.starts_with(part))
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
            Some(c) if decoder.wanted(c) => [Some(c), None],
            _ => return Parsed::Not,
        }
    } else {
        match named.binary_search_by(|(n, _)| (*n).cmp(digits)) {
            Ok(k) => {
                let mut chars = named[k].1.chars();
                [chars.next(), chars.next()]
            }
            Err(_) => return Parsed::Not,
        }
    };
    Parsed::Text(text, end + 1)
}
