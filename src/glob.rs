//! Placeholder glob until the config work lands.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], text, nocase)
                || (!text.is_empty() && glob_match(pattern, &text[1..], nocase))
        }
        (Some(b'?'), Some(_)) => glob_match(&pattern[1..], &text[1..], nocase),
        (Some(p), Some(t)) if p == t || (nocase && p.eq_ignore_ascii_case(t)) => {
            glob_match(&pattern[1..], &text[1..], nocase)
        }
        _ => false,
    }
}
