//! Directive values: parsing arguments into a [`Value`], showing it for CONFIG GET and writing
//! it back as config lines for CONFIG REWRITE.
//!
//! Follows the type interfaces of Redis 7.0's `config.c` (`boolConfigSet`, `numericParseString`,
//! `numericBoundaryCheck`, `enumConfigSet`, the special `set/get/rewrite` functions for `save`,
//! `client-output-buffer-limit`, `bind`, `replicaof`, `dir`, ...) and `memtoull()` in `util.c`.
//! The reason strings are Redis's, word for word, because they end up in error replies and in
//! the fatal start-up report.

use std::path::{Path, PathBuf};

use super::args::repr;
use super::table::{Directive, Kind};
use super::{ClientOutputBufferLimits, ObufLimit};

/// A directive's value, in the form its [`Kind`] gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Mem(u64),
    Enum(&'static str),
    /// `None`: not set (an empty string for directives where empty means none).
    Str(Option<String>),
    Words(Vec<String>),
    Save(Vec<(u64, u64)>),
    Obuf(ClientOutputBufferLimits),
    Bind(Vec<String>),
    ReplicaOf(Option<(String, u16)>),
    Dir(PathBuf),
}

/// What a parse may build on: the current value (for `client-output-buffer-limit`, which
/// changes only the classes named, and for `save` lines that accumulate in a file) and the
/// directory relative paths are resolved from.
pub struct ParseCtx<'a> {
    pub current: &'a Value,
    pub base_dir: &'a Path,
    /// Append to the current save points instead of replacing them.
    pub append_save: bool,
}

/// Parse `args` (the arguments after the directive name) for `d`. The caller has checked the
/// argument count of single-argument kinds. The error is Redis's reason text.
pub fn parse(d: &Directive, args: &[String], ctx: &ParseCtx) -> Result<Value, String> {
    let one = || args.first().map(String::as_str).unwrap_or("");
    match d.kind {
        Kind::Bool => match one().to_ascii_lowercase().as_str() {
            "yes" => Ok(Value::Bool(true)),
            "no" => Ok(Value::Bool(false)),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int { min, max } => {
            let v = string2ll(one()).ok_or("argument couldn't be parsed into an integer")?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(Value::Int(v))
        }
        Kind::Octal { min, max } => {
            let v = i64::from_str_radix(one(), 8)
                .map_err(|_| "argument couldn't be parsed as an octal number")?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min:o} and {max:o} inclusive"
                ));
            }
            Ok(Value::Int(v))
        }
        Kind::Mem { min, max } => {
            let v = memtoull(one()).ok_or("argument must be a memory value")?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(Value::Mem(v))
        }
        Kind::MemPercent { min, max } => {
            let s = one();
            let v = match memtoull(s) {
                Some(v) => i64::try_from(v).unwrap_or(i64::MAX),
                None => match s.strip_suffix('%').and_then(string2ll) {
                    Some(p) if p >= 0 && s.len() > 1 => -p,
                    _ => return Err("argument must be a memory or percent value".into()),
                },
            };
            if v < 0 && v < min {
                return Err(format!(
                    "percentage argument must be less or equal to {}",
                    -min
                ));
            }
            if v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(Value::Int(v))
        }
        Kind::Enum(values) => {
            let s = one();
            let found = values.iter().find(|(n, _)| n.eq_ignore_ascii_case(s));
            match found {
                // Aliases (oom-score-adj `relative`) show as the first name with that id.
                Some(&(_, id)) => Ok(Value::Enum(
                    values
                        .iter()
                        .find(|(_, i)| *i == id)
                        .map_or(values[0].0, |(n, _)| *n),
                )),
                None => Err(one_of(values.iter().map(|(n, _)| *n))),
            }
        }
        Kind::Flags(values) => {
            let mut words = Vec::new();
            for a in args.iter().filter(|a| !a.is_empty()) {
                match values.iter().find(|n| n.eq_ignore_ascii_case(a)) {
                    Some(n) => words.push(n.to_string()),
                    None => return Err(one_of(values.iter().copied())),
                }
            }
            if words.len() > 1 {
                words.retain(|w| w != "default");
            }
            if words.is_empty() {
                words.push(values[0].to_string());
            }
            Ok(Value::Words(words))
        }
        Kind::Str {
            empty_is_null,
            check,
        } => {
            let s = one();
            if let Some(check) = check {
                check(s)?;
            }
            if empty_is_null && s.is_empty() {
                Ok(Value::Str(None))
            } else {
                Ok(Value::Str(Some(s.to_string())))
            }
        }
        Kind::Save => parse_save(args, ctx),
        Kind::ClientOutputBufferLimit => parse_obuf(args, ctx.current),
        Kind::Bind => {
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            if args.len() == 1 && args[0].is_empty() {
                return Ok(Value::Bind(Vec::new()));
            }
            Ok(Value::Bind(args.to_vec()))
        }
        Kind::ReplicaOf => {
            if args.len() != 2 {
                return Err("wrong number of arguments".into());
            }
            if args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one") {
                return Ok(Value::ReplicaOf(None));
            }
            let port = args[1].parse::<u16>().map_err(|_| "Invalid master port")?;
            Ok(Value::ReplicaOf(Some((args[0].clone(), port))))
        }
        Kind::Dir => {
            if args.len() != 1 {
                return Err("wrong number of arguments".into());
            }
            resolve_dir(ctx.base_dir, &args[0]).map(Value::Dir)
        }
        Kind::NotifyKeyspaceEvents => {
            if args.len() != 1 {
                return Err("wrong number of arguments".into());
            }
            keyspace_events_canonical(&args[0])
                .map(|s| Value::Str(Some(s)))
                .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into())
        }
        Kind::OomScoreAdjValues => {
            if args.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let mut words = Vec::new();
            for a in args {
                match a.parse::<i64>() {
                    Ok(v) if (-2000..=2000).contains(&v) => words.push(v.to_string()),
                    _ => {
                        return Err("Invalid oom-score-adj-values, elements must be between \
                                    -2000 and 2000."
                            .into())
                    }
                }
            }
            Ok(Value::Words(words))
        }
        Kind::LatencyPercentiles => {
            if args.len() == 1 && args[0].is_empty() {
                return Ok(Value::Words(Vec::new()));
            }
            let mut words = Vec::new();
            for a in args {
                let p: f64 = a
                    .parse()
                    .ok()
                    .filter(|p: &f64| p.is_finite())
                    .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                if !(0.0..=100.0).contains(&p) {
                    return Err("latency-tracking-info-percentiles parameters should sit \
                                between [0.0,100.0]"
                        .into());
                }
                words.push(format!("{p}"));
            }
            Ok(Value::Words(words))
        }
    }
}

fn one_of<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    format!(
        "argument(s) must be one of the following: {}",
        names.join(", ")
    )
}

fn parse_save(args: &[String], ctx: &ParseCtx) -> Result<Value, String> {
    let args: &[String] = if args.len() == 1 && args[0].is_empty() {
        &[]
    } else {
        args
    };
    const BAD: &str = "Invalid save parameters";
    if args.len() % 2 == 1 {
        return Err(BAD.into());
    }
    let mut points = match (ctx.append_save, ctx.current) {
        (true, Value::Save(old)) => old.clone(),
        _ => Vec::new(),
    };
    for pair in args.chunks(2) {
        let seconds: i64 = pair[0].parse().map_err(|_| BAD)?;
        let changes: i64 = pair[1].parse().map_err(|_| BAD)?;
        if seconds < 1 || changes < 0 {
            return Err(BAD.into());
        }
        points.push((seconds as u64, changes as u64));
    }
    Ok(Value::Save(points))
}

fn parse_obuf(args: &[String], current: &Value) -> Result<Value, String> {
    if !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut limits = match current {
        Value::Obuf(l) => *l,
        _ => ClientOutputBufferLimits::default(),
    };
    // Check every class before changing any, as Redis does.
    let mut updates = Vec::new();
    for group in args.chunks(4) {
        let class = group[0].to_ascii_lowercase();
        if !matches!(class.as_str(), "normal" | "replica" | "slave" | "pubsub") {
            return Err("Invalid client class specified in buffer limit configuration.".into());
        }
        let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let hard = memtoull(&group[1]).ok_or_else(bad)?;
        let soft = memtoull(&group[2]).ok_or_else(bad)?;
        let secs = group[3].parse::<u64>().map_err(|_| bad())?;
        updates.push((
            class,
            ObufLimit {
                hard_bytes: hard,
                soft_bytes: soft,
                soft_seconds: secs,
            },
        ));
    }
    for (class, limit) in updates {
        match class.as_str() {
            "normal" => limits.normal = limit,
            "pubsub" => limits.pubsub = limit,
            _ => limits.replica = limit,
        }
    }
    Ok(Value::Obuf(limits))
}

/// Resolve `dir` against `base` and check it is an existing directory, as Redis's `chdir()`
/// would. The error is the system's reason (`No such file or directory`).
pub fn resolve_dir(base: &Path, dir: &str) -> Result<PathBuf, String> {
    let path = base.join(dir);
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Ok(std::fs::canonicalize(&path).unwrap_or(path)),
        Ok(_) => Err("Not a directory".into()),
        Err(e) => Err(strerror(&e)),
    }
}

/// The system's message for an I/O error without Rust's " (os error N)" suffix, like
/// C's `strerror()`.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Redis's `string2ll()`: an optional `-`, then digits without leading zeros, no spaces.
pub fn string2ll(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let ok = !digits.is_empty()
        && digits.bytes().all(|c| c.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0";
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

/// Redis's `memtoull()`: a number of bytes with an optional unit, case-insensitive:
/// `b`, `k` (1000), `kb` (1024), `m` (10^6), `mb` (2^20), `g` (10^9), `gb` (2^30).
pub fn memtoull(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if num.is_empty() {
        return None;
    }
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// Bytes as a config file writes them: `64mb`, `1gb`, `3kb`, or plain (`rewriteConfigFormatMemory`).
pub fn format_memory(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    const GB: u64 = 1024 * 1024 * 1024;
    match bytes {
        0 => "0".into(),
        b if b % GB == 0 => format!("{}gb", b / GB),
        b if b % MB == 0 => format!("{}mb", b / MB),
        b if b % KB == 0 => format!("{}kb", b / KB),
        b => b.to_string(),
    }
}

/// Keyspace event classes in Redis's order (`keyspaceEventsFlagsToString`): the ones `A`
/// stands for, then K, E, m, n.
const EVENTS_ALL: &str = "g$lshzxetd";

/// Validate a `notify-keyspace-events` value and write it as Redis shows it.
pub fn keyspace_events_canonical(s: &str) -> Option<String> {
    let mut set = std::collections::BTreeSet::new();
    for c in s.chars() {
        match c {
            'A' => set.extend(EVENTS_ALL.chars()),
            'g' | '$' | 'l' | 's' | 'h' | 'z' | 'x' | 'e' | 'K' | 'E' | 't' | 'm' | 'd' | 'n' => {
                set.insert(c);
            }
            _ => return None,
        }
    }
    let mut out = String::new();
    if EVENTS_ALL.chars().all(|c| set.contains(&c)) {
        out.push('A');
    } else {
        out.extend(EVENTS_ALL.chars().filter(|c| set.contains(c)));
    }
    out.extend("KEmn".chars().filter(|c| set.contains(c)));
    Some(out)
}

/// The value of `d` as CONFIG GET shows it.
pub fn show(d: &Directive, v: &Value) -> String {
    match (d.kind, v) {
        (Kind::Octal { .. }, Value::Int(i)) => return format!("{i:o}"),
        (Kind::MemPercent { .. }, Value::Int(i)) if *i < 0 => return format!("{}%", -i),
        _ => {}
    }
    match v {
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Mem(m) => m.to_string(),
        Value::Enum(e) => e.to_string(),
        Value::Str(s) => s.clone().unwrap_or_default(),
        Value::Words(w) | Value::Bind(w) => w.join(" "),
        Value::Save(points) => points
            .iter()
            .map(|(s, c)| format!("{s} {c}"))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Obuf(l) => {
            let f = |name: &str, o: &ObufLimit| {
                format!(
                    "{name} {} {} {}",
                    o.hard_bytes, o.soft_bytes, o.soft_seconds
                )
            };
            format!(
                "{} {} {}",
                f("normal", &l.normal),
                f("slave", &l.replica),
                f("pubsub", &l.pubsub)
            )
        }
        Value::ReplicaOf(r) => r
            .as_ref()
            .map(|(h, p)| format!("{h} {p}"))
            .unwrap_or_default(),
        Value::Dir(d) => d.display().to_string(),
    }
}

/// What CONFIG REWRITE writes for a directive.
#[derive(Debug, PartialEq)]
pub enum Rewrite {
    /// Drop every line of this directive from the file (unset, or at a default that must be
    /// left implicit, like `bind` or a master's `replicaof`).
    Remove,
    /// These lines; `force` says whether to add a line missing from the file (the value is
    /// not the default).
    Lines(Vec<(String, bool)>),
}

/// The config lines for directive `d` holding `v`, given its default `def` (`None` for
/// `dir`, which is always written), as Redis's `rewrite*Option` functions build them.
pub fn rewrite_lines(d: &Directive, v: &Value, def: Option<&Value>) -> Rewrite {
    let name = d.name;
    let force = def != Some(v);
    let one = |text: String| Rewrite::Lines(vec![(format!("{name} {text}"), force)]);
    match (d.kind, v) {
        (_, Value::Bool(b)) => one(if *b { "yes" } else { "no" }.into()),
        (Kind::Octal { .. }, Value::Int(i)) => one(format!("{i:o}")),
        (Kind::MemPercent { .. }, Value::Int(i)) if *i < 0 => one(format!("{}%", -i)),
        (Kind::MemPercent { .. }, Value::Int(i)) => one(format_memory(*i as u64)),
        (_, Value::Int(i)) => one(i.to_string()),
        (_, Value::Mem(m)) => one(format_memory(*m)),
        (_, Value::Enum(e)) => one(e.to_string()),
        (Kind::NotifyKeyspaceEvents, Value::Str(s)) => one(repr(s.as_deref().unwrap_or_default())),
        (_, Value::Str(None)) => Rewrite::Remove,
        (_, Value::Str(Some(s))) => one(repr(s)),
        (Kind::LatencyPercentiles, Value::Words(w)) if w.is_empty() => {
            Rewrite::Lines(vec![(format!("{name} \"\""), true)])
        }
        (_, Value::Words(w)) => one(w.join(" ")),
        (_, Value::Save(points)) if points.is_empty() => {
            Rewrite::Lines(vec![("save \"\"".into(), true)])
        }
        // Redis always writes save points; at the defaults they are implied, so (unlike
        // Redis) a file without `save` lines stays without them.
        (_, Value::Save(points)) => Rewrite::Lines(
            points
                .iter()
                .map(|(s, c)| (format!("save {s} {c}"), force))
                .collect(),
        ),
        (_, Value::Obuf(l)) => {
            let dflt = match def {
                Some(Value::Obuf(dl)) => *dl,
                _ => ClientOutputBufferLimits::default(),
            };
            let line = |class: &str, o: &ObufLimit, dl: &ObufLimit| {
                (
                    format!(
                        "{name} {class} {} {} {}",
                        format_memory(o.hard_bytes),
                        format_memory(o.soft_bytes),
                        o.soft_seconds
                    ),
                    o != dl,
                )
            };
            Rewrite::Lines(vec![
                line("normal", &l.normal, &dflt.normal),
                line("replica", &l.replica, &dflt.replica),
                line("pubsub", &l.pubsub, &dflt.pubsub),
            ])
        }
        (_, Value::Bind(_)) if !force => Rewrite::Remove,
        (_, Value::Bind(addrs)) if addrs.is_empty() => one("\"\"".into()),
        (_, Value::Bind(addrs)) => one(addrs.join(" ")),
        (_, Value::ReplicaOf(None)) => Rewrite::Remove,
        (_, Value::ReplicaOf(Some((h, p)))) => {
            Rewrite::Lines(vec![(format!("{name} {h} {p}"), true)])
        }
        (_, Value::Dir(p)) => Rewrite::Lines(vec![(
            format!("{name} {}", repr(&p.display().to_string())),
            true,
        )]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        let cases = [
            ("0", Some(0)),
            ("1", Some(1)),
            ("1b", Some(1)),
            ("1k", Some(1000)),
            ("1kb", Some(1024)),
            ("1K", Some(1000)),
            ("1KB", Some(1024)),
            ("1m", Some(1_000_000)),
            ("1mb", Some(1 << 20)),
            ("64mb", Some(64 << 20)),
            ("1g", Some(1_000_000_000)),
            ("1gb", Some(1 << 30)),
            ("1Gb", Some(1 << 30)),
            ("", None),
            ("mb", None),
            ("1tb", None),
            ("-1", None),
            ("1 mb", None),
            ("99999999999999999999", None),
            ("18446744073709551615gb", None),
        ];
        for (s, want) in cases {
            assert_eq!(memtoull(s), want, "{s:?}");
        }
    }

    #[test]
    fn memory_format() {
        assert_eq!(format_memory(0), "0");
        assert_eq!(format_memory(64 << 20), "64mb");
        assert_eq!(format_memory(1 << 30), "1gb");
        assert_eq!(format_memory(3 * 1024), "3kb");
        assert_eq!(format_memory(1000), "1000");
    }

    #[test]
    fn strict_integers() {
        assert_eq!(string2ll("0"), Some(0));
        assert_eq!(string2ll("-5"), Some(-5));
        assert_eq!(string2ll("6379"), Some(6379));
        for bad in [
            "",
            "-",
            "+1",
            " 1",
            "1 ",
            "01",
            "-0",
            "1.0",
            "abc",
            "99999999999999999999",
        ] {
            assert_eq!(string2ll(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keyspace_events() {
        assert_eq!(keyspace_events_canonical("").as_deref(), Some(""));
        assert_eq!(keyspace_events_canonical("KEA").as_deref(), Some("AKE"));
        assert_eq!(keyspace_events_canonical("Elg").as_deref(), Some("glE"));
        assert_eq!(keyspace_events_canonical("Kx").as_deref(), Some("xK"));
        assert_eq!(keyspace_events_canonical("q"), None);
    }
}
