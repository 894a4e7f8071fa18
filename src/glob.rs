//! Glob-style pattern matching with Redis's semantics.
//!
//! Used wherever Redis matches a pattern against a name: `CONFIG GET`, `KEYS`, `SCAN ... MATCH`,
//! `PSUBSCRIBE`. It follows `stringmatchlen()` in Redis's `util.c`:
//!
//! - `*` matches any run of bytes (also none), `?` matches exactly one byte;
//! - `[abc]` one byte of the set, `[^abc]` one byte not in it, `[a-z]` a range (reversed ranges
//!   such as `[z-a]` are swapped), `\x` inside brackets is the literal `x`, and a bracket left
//!   open at the end of the pattern is closed there;
//! - `\x` outside brackets is the literal `x`;
//! - with `nocase`, letters compare ASCII case-insensitively (escaped bytes inside brackets
//!   compare exactly, as in Redis).
//!
//! Redis matches recursively and caps the nesting of stars to survive patterns such as
//! `*a*a*a*a*...b`. Here every element other than `*` consumes exactly one byte, so a greedy
//! scan that backtracks only to the most recent star is exact and runs in
//! O(pattern × text) time with no recursion at all.

/// Does `text` match the glob `pattern`? See the module docs for the syntax.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let mut p = 0; // next pattern byte
    let mut t = 0; // next text byte
                   // Where to resume after the last star: (pattern index after the star, text index it took).
    let mut star: Option<(usize, usize)> = None;

    loop {
        if p < pattern.len() && pattern[p] == b'*' {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            if p == pattern.len() {
                return true; // a trailing star matches whatever is left
            }
            star = Some((p, t));
            continue;
        }
        if t == text.len() {
            // Only stars may remain in the pattern.
            return pattern[p..].iter().all(|&b| b == b'*');
        }
        if p < pattern.len() {
            let (matched, next) = match_one(pattern, p, text[t], nocase);
            if matched {
                p = next;
                t += 1;
                continue;
            }
        }
        // Mismatch (or pattern exhausted with text left): let the last star take one more byte.
        match star {
            Some((sp, st)) if st < text.len() => {
                star = Some((sp, st + 1));
                p = sp;
                t = st + 1;
            }
            _ => return false,
        }
    }
}

/// Match the single-byte element of `pattern` starting at `p` (anything but `*`) against `c`.
/// Returns whether it matched and the index just past the element.
fn match_one(pattern: &[u8], mut p: usize, c: u8, nocase: bool) -> (bool, usize) {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    match pattern[p] {
        b'?' => (true, p + 1),
        b'[' => {
            p += 1;
            let not = pattern.get(p) == Some(&b'^');
            if not {
                p += 1;
            }
            let mut matched = false;
            loop {
                match pattern.get(p) {
                    None => break, // unterminated: the set ends with the pattern
                    Some(b']') => {
                        p += 1;
                        break;
                    }
                    Some(b'\\') if p + 1 < pattern.len() => {
                        if pattern[p + 1] == c {
                            matched = true;
                        }
                        p += 2;
                    }
                    Some(&lo) if p + 2 < pattern.len() && pattern[p + 1] == b'-' => {
                        let hi = pattern[p + 2];
                        let (mut start, mut end) = if lo > hi { (hi, lo) } else { (lo, hi) };
                        let mut ch = c;
                        if nocase {
                            start = start.to_ascii_lowercase();
                            end = end.to_ascii_lowercase();
                            ch = ch.to_ascii_lowercase();
                        }
                        if ch >= start && ch <= end {
                            matched = true;
                        }
                        p += 3;
                    }
                    Some(&b) => {
                        if eq(b, c) {
                            matched = true;
                        }
                        p += 1;
                    }
                }
            }
            (matched != not, p)
        }
        b'\\' if p + 1 < pattern.len() => (eq(pattern[p + 1], c), p + 2),
        b => (eq(b, c), p + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, t: &str) -> bool {
        glob_match(p.as_bytes(), t.as_bytes(), false)
    }

    #[test]
    fn literals_and_wildcards() {
        let cases: &[(&str, &str, bool)] = &[
            ("", "", true),
            ("", "a", false),
            ("a", "", false),
            ("abc", "abc", true),
            ("abc", "abd", false),
            ("abc", "ab", false),
            ("ab", "abc", false),
            ("*", "", true),
            ("*", "anything", true),
            ("**", "x", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbb", false),
            ("*c", "abc", true),
            ("*b*", "abc", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("?", "", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXcYb", false),
            ("*a*", "bbb", false),
        ];
        for &(p, t, want) in cases {
            assert_eq!(m(p, t), want, "pattern {p:?} text {t:?}");
        }
    }

    #[test]
    fn brackets() {
        let cases: &[(&str, &str, bool)] = &[
            ("h[ae]llo", "hello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[a-b]llo", "hcllo", false),
            ("h[b-a]llo", "hallo", true), // reversed range is swapped
            ("[\\]]", "]", true),
            ("[\\-]", "-", true),
            // As in Redis, `a-]` is read as the range a..']' (then the set is unterminated).
            ("[a-]", "-", false),
            ("[a-]", "_", true),
            ("[abc", "c", true), // unterminated set closes at the end
            ("[abc", "d", false),
            ("x[", "x", false),
            ("[^]", "a", true),
            ("[]", "a", false),
            ("*[0-9]", "key9", true),
            ("*[0-9]", "key", false),
        ];
        for &(p, t, want) in cases {
            assert_eq!(m(p, t), want, "pattern {p:?} text {t:?}");
        }
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("a\\?b", "a?b"));
        assert!(!m("a\\?b", "axb"));
        assert!(m("\\[x]", "[x]"));
        assert!(m("a\\", "a\\")); // a lone trailing backslash is literal
    }

    #[test]
    fn nocase() {
        assert!(glob_match(b"SAVE", b"save", true));
        assert!(!glob_match(b"SAVE", b"save", false));
        assert!(glob_match(b"[A-C]x", b"bX", true));
        assert!(glob_match(b"[abc]", b"B", true));
        assert!(!glob_match(b"[abc]", b"B", false));
        assert!(glob_match(b"*MAX*", b"maxmemory", true));
    }

    #[test]
    fn binary_bytes() {
        assert!(glob_match(b"\xff*", b"\xff\x00\x01", false));
        assert!(glob_match(b"?", b"\x00", false));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        // Exponential for a naive recursive matcher; here O(pattern x text).
        let pattern = format!("{}b", "*a".repeat(100));
        let text = "a".repeat(10_000);
        assert!(!glob_match(pattern.as_bytes(), text.as_bytes(), false));
        let text_b = format!("{text}b");
        assert!(glob_match(pattern.as_bytes(), text_b.as_bytes(), false));
        let stars = "*".repeat(100_000);
        assert!(glob_match(stars.as_bytes(), text.as_bytes(), true));
    }
}
