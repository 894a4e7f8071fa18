//! Listpacks in RDB files: the format itself lives in [`crate::store::listpack`] (the keyspace
//! keeps lists in it); this module adds what only the file format needs, the text form of
//! zset scores stored in listpacks and ziplists.

pub use crate::store::listpack::{decode, entry_size, Builder, Entry, HEADER_SIZE};

/// The element read as a zset score (`zzlGetScore`): integers exactly, strings parsed.
pub fn entry_score(entry: Entry<'_>) -> Result<f64, String> {
    let score = match entry {
        Entry::Int(i) => i as f64,
        Entry::Str(s) => parse_score(s)?,
    };
    if score.is_nan() {
        return Err("zset with NaN score detected".into());
    }
    Ok(score)
}

/// Parses a score written as text (listpack, ziplist and the old zset type 3).
pub fn parse_score(s: &[u8]) -> Result<f64, String> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .ok_or_else(|| format!("bad zset score {:?}", String::from_utf8_lossy(s)))
}

/// Formats a score as Redis's `d2string` would, but with the shortest digits that read back to
/// the same double (Redis 7.0 uses `%.17g`; both load identically).
pub fn format_score(score: f64) -> String {
    if score.is_infinite() {
        return if score > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if score.fract() == 0.0 && score.abs() < 4_503_599_627_370_496.0 {
        return (score as i64).to_string();
    }
    format!("{score:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_format_shortest_and_parse_back() {
        assert_eq!(format_score(1.0), "1");
        assert_eq!(format_score(-3.0), "-3");
        assert_eq!(format_score(2.5), "2.5");
        assert_eq!(format_score(0.1), "0.1");
        assert_eq!(format_score(f64::INFINITY), "inf");
        assert_eq!(format_score(f64::NEG_INFINITY), "-inf");
        for s in [0.1, 1e300, -1.5e-7, 1e16, f64::INFINITY] {
            assert_eq!(parse_score(format_score(s).as_bytes()).unwrap(), s);
        }
        assert!(entry_score(Entry::Str(b"nan")).is_err());
        assert_eq!(entry_score(Entry::Int(3)), Ok(3.0));
    }
}
