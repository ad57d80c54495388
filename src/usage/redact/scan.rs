//! Finding and replacing: one automaton searched over two views of the same
//! bytes, the raw text and its HTML-decoded view ([`super::html`]). A byte is
//! redacted when a match in either view covers it; each run of redacted bytes
//! becomes the replacement of each value matched in it, once.
//!
//! [`Scan`] is the state of that search over a byte stream fed in pieces, and
//! the answer never depends on where the pieces were cut: each view resumes
//! where it stopped (the end of its last match; the decoded view never inside
//! a reference), and matches are only taken up to a point `safe` that no
//! later input can change — before every suffix of either view that is a
//! proper prefix of a form, and before an unfinished reference. What lies
//! after is kept for the next piece.

use super::Redactor;
use super::html::View;

/// Search state over a stream. Offsets are into the caller's buffer, whose
/// first bytes (up to [`Scan::keep_from`]) it drops between calls.
#[derive(Default)]
pub struct Scan {
    /// Where the raw view's search resumes.
    raw_at: usize,
    /// Where the decoded view's search resumes (always a reference boundary).
    dec_at: usize,
    /// Bytes emitted (or replaced) so far.
    out_at: usize,
    /// Labels already written for the run of redacted bytes ending at
    /// `out_at` (a match starting before `out_at` extends that run).
    run: Vec<usize>,
    /// Matches found in this call: (start, end, label), raw view first.
    found: Vec<(usize, usize, usize)>,
    /// The decoded view of this call's bytes.
    view: View,
    /// Whether anything was replaced.
    pub redacted: bool,
}

/// How much of the input a call may decide.
#[derive(Clone, Copy)]
pub enum Until {
    /// More input may follow.
    More,
    /// The input is complete: decide everything.
    End,
    /// The input is complete, but emit nothing that starts at or after this
    /// offset (a match that starts before it is replaced whole).
    Cut(usize),
}

impl Scan {
    /// Searches `buf` (the bytes kept from earlier calls, then the new ones)
    /// and appends to `out` what can be decided now.
    pub fn run(&mut self, r: &Redactor, buf: &[u8], until: Until, out: &mut Vec<u8>) {
        let Some(ac) = &r.ac else {
            let end = match until {
                Until::Cut(cut) => cut.clamp(self.out_at, buf.len()),
                _ => buf.len(),
            };
            out.extend_from_slice(&buf[self.out_at..end]);
            (self.raw_at, self.dec_at, self.out_at) = (end, end, end);
            return;
        };
        let more = matches!(until, Until::More);
        let raw = &buf[self.raw_at..];
        let view = &mut self.view;
        view.decode(&buf[self.dec_at..], !more, &r.decoder);
        let view = &self.view;
        let dec = view.text(&buf[self.dec_at..]);
        // When the decoded view is the raw text from the same place, its
        // matches before `safe` are the raw ones (a raw match crossing
        // `view.open` would make the view's tail a prefix of a form, so
        // `safe` stays before it): search once.
        let same = view.is_verbatim() && self.raw_at == self.dec_at;
        let mut safe = buf.len();
        if more {
            safe = self.raw_at + r.held_from(raw);
            if !same || view.open < raw.len() {
                safe = safe.min(self.dec_at + view.src_start(r.held_from(dec)));
            }
        }
        if let Until::Cut(cut) = until {
            safe = safe.min(cut);
        }

        self.found.clear();
        let mut raw_end = self.raw_at;
        for m in ac.find_iter(raw) {
            let (start, end) = (self.raw_at + m.start(), self.raw_at + m.end());
            if start >= safe {
                break;
            }
            self.found
                .push((start, end, r.label[m.pattern().as_usize()]));
            raw_end = end;
        }
        let raw_found = self.found.len();
        let mut dec_end = self.dec_at;
        if same {
            dec_end = raw_end;
        } else {
            for m in ac.find_iter(dec) {
                let start = self.dec_at + view.src_start(m.start());
                if start >= safe {
                    break;
                }
                let end = self.dec_at + view.src_end(m.end());
                self.found
                    .push((start, end, r.label[m.pattern().as_usize()]));
                dec_end = end;
            }
        }
        self.raw_at = raw_end.max(safe);
        // The decoded view resumes at a reference's start, never inside it
        // (`safe` may fall inside one when the raw view holds from there).
        let snapped = match safe.checked_sub(self.dec_at) {
            Some(d) => self.dec_at + view.boundary(d),
            None => self.dec_at,
        };
        self.dec_at = dec_end.max(snapped);
        if self.found.len() > raw_found {
            // Stable: for equal spans the raw view's match comes first.
            self.found
                .sort_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
        }

        for &(start, end, label) in &self.found {
            if start >= self.out_at {
                out.extend_from_slice(&buf[self.out_at..start]);
                self.run.clear();
            }
            if !self.run.contains(&label) {
                out.extend_from_slice(&r.labels[label]);
                self.run.push(label);
            }
            self.out_at = self.out_at.max(end);
            self.redacted = true;
        }
        if self.out_at < safe {
            out.extend_from_slice(&buf[self.out_at..safe]);
            self.out_at = safe;
        }
    }

    /// The first byte a later call still needs; the caller drops those
    /// before it and then calls [`Scan::dropped`].
    pub fn keep_from(&self) -> usize {
        self.raw_at.min(self.dec_at).min(self.out_at)
    }

    /// Shifts the offsets after the caller dropped `n` leading bytes.
    pub fn dropped(&mut self, n: usize) {
        self.raw_at -= n;
        self.dec_at -= n;
        self.out_at -= n;
    }

    /// Bytes kept but not yet emitted, of a buffer `len` long.
    #[cfg(test)]
    pub fn held(&self, len: usize) -> usize {
        len - self.out_at
    }
}
