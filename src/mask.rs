//! The `masked_value` rule of create_secret: never more than 3/8 of a value.
//!
//! For a value of `n` characters, show the first `min(6, n/4)` and the last
//! `min(3, n/8)` characters around `••••`.

use crate::secret::SecretString;

/// The masked form of `value`.
pub fn mask(value: &SecretString) -> String {
    let chars: Vec<char> = value.expose().chars().collect();
    let n = chars.len();
    let head = (n / 4).min(6);
    let tail = (n / 8).min(3);
    let mut out: String = chars[..head].iter().collect();
    out.push_str("••••");
    out.extend(&chars[n - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> String {
        mask(&SecretString::from(s))
    }

    #[test]
    fn matches_seed_002_example() {
        assert_eq!(m("sk-proj-abcdefghijklm0123456789"), "sk-pro••••789");
    }

    #[test]
    fn short_values_show_little_or_nothing() {
        assert_eq!(m("a"), "••••");
        assert_eq!(m("abcdefg"), "a••••");
        assert_eq!(m("abcdefgh"), "ab••••h");
        assert_eq!(m("example"), "e••••");
    }

    #[test]
    fn never_more_than_three_eighths_and_counts_characters() {
        for n in 0..80usize {
            let v: String = "é".repeat(n);
            let shown = m(&v).chars().filter(|c| *c == 'é').count();
            assert!(shown * 8 <= n * 3, "n={n} shown={shown}");
        }
    }
}
