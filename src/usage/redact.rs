//! Redaction: every occurrence of a secret value, in every common encoding, is
//! replaced by `[REDACTED:<label>]` before bytes leave credvault (a `call_api`
//! response, an `exec` child's output).
//!
//! One Aho-Corasick automaton (leftmost-longest) matches all forms of all values
//! at once, searched over the raw bytes and over their HTML-decoded view (so a
//! form with any of its characters written as character references is found;
//! [`html`]). [`Stream`] applies it to a byte stream chunk by chunk and is exact
//! across chunk boundaries: it emits everything except the shortest tail that
//! could still be the start of a form (or of a reference), so a value split
//! over two writes is redacted while ordinary output (a line ending in `\n`)
//! flows at once.

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

mod entities;
mod html;
mod scan;

use scan::{Scan, Until};

/// Values shorter than this are not redacted (as substrings they would hit
/// ordinary text everywhere). The README names this limit.
pub const MIN_REDACT_LEN: usize = 8;

/// A set of values to redact, each under a label.
pub struct Redactor {
    ac: Option<AhoCorasick>,
    /// Label (index into `labels`) per pattern.
    label: Vec<usize>,
    /// Replacement text per label.
    labels: Vec<Box<[u8]>>,
    /// The patterns themselves (for the streaming hold-back), wiped on drop.
    patterns: Vec<Zeroizing<Vec<u8>>>,
    starts: [bool; 256],
    max_len: usize,
    /// What the HTML-decoded view decodes for these forms.
    decoder: html::Decoder,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.patterns.len())
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor for `(label, value)` pairs. Values under [`MIN_REDACT_LEN`]
    /// bytes are skipped. Fails (never silently passes text through) when the
    /// automaton cannot be built.
    pub fn new<'a>(items: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Result<Self, String> {
        let mut patterns: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut label = Vec::new();
        let mut labels: Vec<Box<[u8]>> = Vec::new();
        for (name, value) in items {
            if value.len() < MIN_REDACT_LEN {
                continue;
            }
            let text = format!("[REDACTED:{name}]").into_bytes();
            let index = match labels.iter().position(|l| **l == *text) {
                Some(i) => i,
                None => {
                    labels.push(text.into());
                    labels.len() - 1
                }
            };
            for form in forms(value) {
                if !patterns.iter().any(|p| **p == *form) {
                    patterns.push(form);
                    label.push(index);
                }
            }
        }
        let mut starts = [false; 256];
        for p in &patterns {
            if let Some(b) = p.first() {
                starts[*b as usize] = true;
            }
        }
        let max_len = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        let ac = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    // Measured: the prefilter's pick depends on the values'
                    // bytes and ran at 140-2,200 MB/s on the same text; the
                    // automaton alone holds ~600 MB/s whatever the values.
                    .prefilter(false)
                    .build(patterns.iter().map(|p| p.as_slice()))
                    .map_err(|e| format!("building the redaction automaton: {e}"))?,
            )
        };
        let decoder = html::Decoder::new(patterns.iter().map(|p| p.as_slice()));
        Ok(Self {
            ac,
            label,
            labels,
            patterns,
            starts,
            max_len,
            decoder,
        })
    }

    /// Redacts the first `keep` bytes of `input`, a body cut short: matches
    /// are found over the whole of `input` (so one straddling `keep` is
    /// replaced whole), and nothing at or after `keep` is emitted. Callers
    /// pass a `keep` that does not depend on the values (the input length
    /// minus [`Self::lookahead`]), so how much comes back says nothing about
    /// them.
    pub fn redact_prefix(&self, input: &[u8], keep: usize) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(keep.min(input.len()));
        let mut scan = Scan::default();
        scan.run(self, input, Until::Cut(keep), &mut out);
        (out, scan.redacted)
    }

    /// Bytes a cut-short input must give up at its end: the longest a proper
    /// prefix of a form can be in the source, each of its characters written
    /// as a reference of up to [`html::MAX_REF`] bytes, plus an unfinished
    /// reference after it (`longest form * MAX_REF - 1`).
    pub fn lookahead(&self) -> usize {
        (self.max_len * html::MAX_REF).saturating_sub(1)
    }

    /// True when there is nothing to redact.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Redacts a whole buffer; the flag tells whether anything was replaced.
    pub fn redact(&self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        let mut scan = Scan::default();
        scan.run(self, input, Until::End, &mut out);
        (out, scan.redacted)
    }

    /// Redacts a string (lossy for bytes a replacement cannot split: none).
    pub fn redact_str(&self, input: &str) -> (String, bool) {
        let (out, hit) = self.redact(input.as_bytes());
        (String::from_utf8_lossy(&out).into_owned(), hit)
    }

    /// A streaming redactor over this set.
    pub fn stream(&self) -> Stream<'_> {
        Stream {
            r: self,
            pending: Vec::new(),
            scan: Scan::default(),
        }
    }

    /// Start of the longest suffix of `buf` that is a proper prefix of some
    /// pattern (`buf.len()` when none): those bytes must wait for more input.
    fn held_from(&self, buf: &[u8]) -> usize {
        let len = buf.len();
        let from = len.saturating_sub(self.max_len.saturating_sub(1));
        for s in from..len {
            if !self.starts[buf[s] as usize] {
                continue;
            }
            let tail = &buf[s..];
            if self
                .patterns
                .iter()
                .any(|p| p.len() > tail.len() && p.starts_with(tail))
            {
                return s;
            }
        }
        len
    }
}

/// Streaming redaction state (see the module docs).
pub struct Stream<'r> {
    r: &'r Redactor,
    /// Bytes kept from earlier chunks (some already emitted, still needed by
    /// a view's search); wiped on drop.
    pending: Vec<u8>,
    scan: Scan,
}

impl Stream<'_> {
    /// Takes the next chunk and appends to `out` what is safe to emit now.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.pending.is_empty() {
            // Nothing kept: every offset is 0, search the chunk in place.
            self.scan.run(self.r, chunk, Until::More, out);
            let keep = self.scan.keep_from();
            self.pending.extend_from_slice(&chunk[keep..]);
            self.scan.dropped(keep);
        } else {
            self.pending.extend_from_slice(chunk);
            self.scan.run(self.r, &self.pending, Until::More, out);
            let keep = self.scan.keep_from();
            self.pending.drain(..keep);
            self.scan.dropped(keep);
        }
    }

    /// Bytes held back waiting for more input.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.scan.held(self.pending.len())
    }

    /// Ends the stream: redacts and emits what was held. Returns whether
    /// anything was redacted over the whole stream.
    pub fn finish(mut self, out: &mut Vec<u8>) -> bool {
        self.scan.run(self.r, &self.pending, Until::End, out);
        self.scan.redacted
    }
}

impl Drop for Stream<'_> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.pending);
    }
}

/// Every form of `value` that is redacted: raw, JSON-escaped (plain, with `\/`,
/// ASCII-only), percent-encoded (upper/lower hex, `+` for spaces), hex
/// (lower/upper), and standard and URL-safe base64, padded and unpadded, at
/// byte offsets 0, 1 and 2 (the part of the encoding that depends on the value
/// alone, so a value inside a longer base64 text such as `user:value` is found).
/// Each is also found HTML-escaped, through the decoded view, not as a form.
pub fn forms(value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    let mut add = |f: Vec<u8>| {
        let f = Zeroizing::new(f);
        if !f.is_empty() && !out.contains(&f) {
            out.push(f);
        }
    };
    add(value.to_vec());
    if let Ok(text) = std::str::from_utf8(value) {
        for style in [Json::Plain, Json::Ascii, Json::AsciiUpper, Json::HtmlSafe] {
            let escaped = json_escape(text, style);
            if escaped.contains('/') {
                add(escaped.replace('/', "\\/").into_bytes());
            }
            add(escaped.into_bytes());
        }
    }
    for upper in [true, false] {
        // RFC 3986 unreserved only; also leaving `/` (Python's quote) or
        // `!'()*` (JavaScript's encodeURIComponent); `+` for spaces (forms).
        for keep in [&b""[..], b"/", b"!'()*"] {
            for plus in [false, true] {
                add(percent(value, upper, plus, keep));
            }
        }
        add(hex(value, upper));
    }
    for engine in [&STANDARD, &URL_SAFE] {
        add(engine.encode(value).into_bytes());
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3usize {
            let mut shifted = Zeroizing::new(vec![0u8; offset]);
            shifted.extend_from_slice(value);
            let enc = Zeroizing::new(engine.encode(shifted.as_slice()).into_bytes());
            let n = offset + value.len();
            let first = (8 * offset).div_ceil(6);
            let last = (8 * n) / 6;
            if first < last && last <= enc.len() {
                add(enc[first..last].to_vec());
            }
        }
    }
    // Base64 inside JSON written by encoders that escape `/` (PHP's json_encode).
    let slashed: Vec<Vec<u8>> = out
        .iter()
        .filter(|f| {
            f.contains(&b'/')
                && f.iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
        })
        .map(|f| {
            let mut s = Vec::with_capacity(f.len() + 8);
            for &b in f.iter() {
                if b == b'/' {
                    s.push(b'\\');
                }
                s.push(b);
            }
            s
        })
        .collect();
    for s in slashed {
        let s = Zeroizing::new(s);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// JSON string escaping styles in use by common encoders.
#[derive(Clone, Copy, PartialEq)]
enum Json {
    /// Only what JSON requires (serde_json, JavaScript).
    Plain,
    /// Non-ASCII as `\u00e9` (Python's json.dumps).
    Ascii,
    /// Non-ASCII as `\u00E9`.
    AsciiUpper,
    /// Also `<`, `>`, `&` as `\u003c`… (Go's encoding/json).
    HtmlSafe,
}

fn json_escape(s: &str, style: Json) -> String {
    let ascii_only = matches!(style, Json::Ascii | Json::AsciiUpper);
    let html = style == Json::HtmlSafe;
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20
                || (ascii_only && !c.is_ascii())
                || (html && matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}')) =>
            {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    if style == Json::AsciiUpper {
                        out.push_str(&format!("\\u{u:04X}"));
                    } else {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn percent(value: &[u8], upper: bool, plus_for_space: bool, keep: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || keep.contains(&b)
        {
            out.push(b);
        } else if b == b' ' && plus_for_space {
            out.push(b'+');
        } else {
            out.extend_from_slice(
                if upper {
                    format!("%{b:02X}")
                } else {
                    format!("%{b:02x}")
                }
                .as_bytes(),
            );
        }
    }
    out
}

fn hex(value: &[u8], upper: bool) -> Vec<u8> {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    value
        .iter()
        .flat_map(|b| [digits[(b >> 4) as usize], digits[(b & 15) as usize]])
        .collect()
}

#[cfg(test)]
mod tests;
