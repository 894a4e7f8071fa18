//! Splitting a redis.conf line into arguments, quoting values back, and turning redis-server
//! style command-line overrides into config lines.
//!
//! Follows `sdssplitargs()` and `sdscatrepr()` in Redis's `sds.c`, and the loop in `main()`
//! (`server.c`, Redis 7.0) that appends `--name value ...` arguments to the config text.

/// Split a config line into arguments as `sdssplitargs()` does
/// ([`crate::resp::request::split_args`]), or `None` when its quotes are unbalanced (or a
/// closing quote is followed by something other than a space).
///
/// Bytes that are not UTF-8 (from `\xHH`) are replaced, since the typed config holds strings.
pub fn split_args(line: &str) -> Option<Vec<String>> {
    let args = crate::resp::request::split_args(line.as_bytes())?;
    Some(
        args.iter()
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect(),
    )
}

/// Quote a value so [`split_args`] reads it back unchanged, as `sdscatrepr()` does:
/// `"..."` with `\\ \" \n \r \t \a \b` escaped and other unprintable bytes as `\xHH`.
pub fn repr(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for &c in value.as_bytes() {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x07 => s.push_str("\\a"),
            0x08 => s.push_str("\\b"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// Turn the arguments after the config file (`--port 6380 --save "" --replicaof 127.0.0.1 6379`)
/// into config lines, exactly as redis-server's `main()` does: each `--name` starts a new line
/// and the following arguments are quoted onto it. `--save` with no value (last, or followed
/// by another `--name`) means `save ""`. An argument holding a whole directive
/// (`"--port 6380"`) is taken as written.
pub fn overrides_to_lines(args: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    // False right after a bare `--name`, so that a value starting with `--` stays a value.
    let mut handled_last = true;
    for (j, arg) in args.iter().enumerate() {
        if handled_last && arg.starts_with("--") {
            let mut line = format!("{} ", &arg[2..]);
            let words = split_args(arg).map_or(0, |w| w.len());
            if words == 1 {
                handled_last = false;
                let next_is_name = args.get(j + 1).is_some_and(|n| n.starts_with("--"));
                if arg.eq_ignore_ascii_case("--save") {
                    if next_is_name || j + 1 == args.len() {
                        line.push_str("\"\"");
                        handled_last = true;
                    }
                } else if arg.eq_ignore_ascii_case("--sentinel") && next_is_name {
                    // A pseudo option without a value: `--sentinel --port 26380`.
                    handled_last = true;
                }
            } else {
                handled_last = true;
            }
            lines.push(line);
        } else {
            let quoted = repr(arg);
            match lines.last_mut() {
                Some(line) => {
                    line.push_str(&quoted);
                    line.push(' ');
                }
                None => lines.push(format!("{quoted} ")),
            }
            handled_last = true;
        }
    }
    // Redis keeps the trailing space; trimming changes nothing for parsing and reads better.
    lines.iter().map(|l| l.trim_end().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s)
    }

    fn v(words: &[&str]) -> Option<Vec<String>> {
        Some(words.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn plain_words_and_blanks() {
        assert_eq!(split(""), v(&[]));
        assert_eq!(split("   \t "), v(&[]));
        assert_eq!(split("port 6379"), v(&["port", "6379"]));
        assert_eq!(split("  save\t900  1 \r"), v(&["save", "900", "1"]));
        assert_eq!(split("ab\"cd\""), v(&["abcd"]));
    }

    #[test]
    fn double_quote_escapes() {
        assert_eq!(
            split(r#"x "a\nb\rc\td\be\af\\g\"h\qi""#),
            v(&["x", "a\nb\rc\td\x08e\x07f\\g\"hqi"])
        );
        assert_eq!(split(r#""\x41\x7a\x4A""#), v(&["AzJ"]));
        // Not a valid \x escape: the backslash escapes the 'x' only.
        assert_eq!(split(r#""\xZ1""#), v(&["xZ1"]));
        assert_eq!(split(r#""""#), v(&[""]));
        assert_eq!(split(r#"save """#), v(&["save", ""]));
        assert_eq!(split(r#""a b" c"#), v(&["a b", "c"]));
    }

    #[test]
    fn single_quotes() {
        assert_eq!(split(r"'it\'s' x"), v(&["it's", "x"]));
        assert_eq!(split(r"'a\nb'"), v(&["a\\nb"]));
        assert_eq!(split("''"), v(&[""]));
    }

    #[test]
    fn unbalanced_quotes() {
        assert_eq!(split("port \"abc"), None);
        assert_eq!(split("port 'abc"), None);
        assert_eq!(split("port \"abc\\\""), None);
        // A closing quote must be followed by a space or the end of the line.
        assert_eq!(split("port \"abc\"x"), None);
        assert_eq!(split("port 'abc'x"), None);
        assert_eq!(split("port \"abc\"\tx"), v(&["port", "abc", "x"]));
    }

    #[test]
    fn repr_round_trips() {
        for s in [
            "",
            "plain",
            "a b",
            "q\"uote",
            "back\\slash",
            "\n\r\t\x07\x08",
            "\x01\x7f",
        ] {
            assert_eq!(split(&repr(s)), Some(vec![s.to_string()]), "{s:?}");
        }
        assert_eq!(repr("a\"b\n"), r#""a\"b\n""#);
        assert_eq!(repr("\x01"), r#""\x01""#);
    }

    fn o(args: &[&str]) -> Vec<String> {
        overrides_to_lines(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn overrides_like_redis_server_main() {
        assert_eq!(
            o(&["--port", "6380", "--save", "", "--appendonly", "no"]),
            vec![r#"port "6380""#, r#"save """#, r#"appendonly "no""#]
        );
        assert_eq!(o(&["--save", "900", "1"]), vec![r#"save "900" "1""#]);
        assert_eq!(
            o(&["--save", "900 1 300 10"]),
            vec![r#"save "900 1 300 10""#]
        );
        assert_eq!(
            o(&["--replicaof", "127.0.0.1", "6379"]),
            vec![r#"replicaof "127.0.0.1" "6379""#]
        );
        // `--save` with no value, last or before another option.
        assert_eq!(o(&["--save"]), vec![r#"save """#]);
        assert_eq!(
            o(&["--save", "--port", "1"]),
            vec![r#"save """#, r#"port "1""#]
        );
        // A whole directive in one argument.
        assert_eq!(o(&["--port 6380"]), vec!["port 6380"]);
        // A value that starts with `--` after a bare name stays a value.
        assert_eq!(
            o(&["--requirepass", "--secret"]),
            vec![r#"requirepass "--secret""#]
        );
        assert_eq!(o(&["--sentinel"]), vec!["sentinel"]);
        assert_eq!(
            o(&["--sentinel", "--port", "26380"]),
            vec!["sentinel", "port \"26380\""]
        );
    }
}
