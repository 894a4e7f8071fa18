//! The config layer's errors: [`ConfigError`], fatal at start-up and reported like Redis's
//! `*** FATAL CONFIG FILE ERROR ***` (`loadServerConfigFromString` in `config.c`), and
//! [`ConfigCommandError`], the error replies of CONFIG SET and CONFIG REWRITE.

use std::fmt;

/// The Redis version whose configuration redislab follows and names in its reports.
pub const REDIS_VERSION: &str = "7.0.15";

/// A configuration that cannot be loaded. The server prints it and exits non-zero.
///
/// Display follows Redis's report and, unlike Redis, names the file:
///
/// ```text
/// *** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***
/// Reading the configuration file 'redis.conf', at line 2
/// >>> 'port "abc"'
/// argument couldn't be parsed into an integer
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file being read, or `command line` for the overrides.
    pub file: String,
    /// The 1-based line in `file` (for the command line: the n-th `--option`); `None` when
    /// the error is not about one line (a file that cannot be opened).
    pub line: Option<usize>,
    /// The line as written (trimmed); for the command line, as Redis renders the option.
    pub text: Option<String>,
    /// Why, in Redis's words.
    pub reason: String,
}

/// The name [`ConfigError::file`] holds for errors in command-line overrides.
pub const COMMAND_LINE: &str = "command line";

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***")?;
        let source = if self.file == COMMAND_LINE {
            "Reading the command line options".to_string()
        } else {
            format!("Reading the configuration file '{}'", self.file)
        };
        match self.line {
            Some(line) => writeln!(f, "{source}, at line {line}")?,
            None => writeln!(f, "{source}")?,
        }
        if let Some(text) = &self.text {
            writeln!(f, ">>> '{text}'")?;
        }
        write!(f, "{}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// An error reply of CONFIG SET or CONFIG REWRITE. Display is the reply text, `ERR ...`,
/// word for word as Redis 7.0 sends it (without the leading `-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigCommandError {
    /// CONFIG SET with an odd number of arguments.
    Syntax,
    /// CONFIG SET with no arguments.
    Arity,
    /// A name CONFIG SET does not know.
    UnknownOption(String),
    /// A known name whose value was refused; `reason` is empty when Redis gives none.
    SetFailed { name: String, reason: String },
    /// CONFIG REWRITE on a server started without a config file.
    NoConfigFile,
    /// CONFIG REWRITE could not read or write the file.
    Rewrite(String),
}

impl fmt::Display for ConfigCommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax => write!(f, "ERR syntax error"),
            Self::Arity => write!(f, "ERR wrong number of arguments for 'config|set' command"),
            Self::UnknownOption(name) => write!(
                f,
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ),
            Self::SetFailed { name, reason } if reason.is_empty() => {
                write!(
                    f,
                    "ERR CONFIG SET failed (possibly related to argument '{name}')"
                )
            }
            Self::SetFailed { name, reason } => write!(
                f,
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
            ),
            Self::NoConfigFile => write!(f, "ERR The server is running without a config file"),
            Self::Rewrite(reason) => write!(f, "ERR Rewriting config file: {reason}"),
        }
    }
}

impl std::error::Error for ConfigCommandError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fatal_report_names_the_file() {
        let e = ConfigError {
            file: "redis.conf".into(),
            line: Some(2),
            text: Some("port \"abc\"".into()),
            reason: "argument couldn't be parsed into an integer".into(),
        };
        assert_eq!(
            e.to_string(),
            "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n\
             Reading the configuration file 'redis.conf', at line 2\n\
             >>> 'port \"abc\"'\n\
             argument couldn't be parsed into an integer"
        );
    }

    #[test]
    fn command_errors_are_redis_replies() {
        let cases = [
            (ConfigCommandError::Syntax, "ERR syntax error"),
            (
                ConfigCommandError::UnknownOption("foo".into()),
                "ERR Unknown option or number of arguments for CONFIG SET - 'foo'",
            ),
            (
                ConfigCommandError::SetFailed {
                    name: "port".into(),
                    reason: "argument couldn't be parsed into an integer".into(),
                },
                "ERR CONFIG SET failed (possibly related to argument 'port') - argument \
                 couldn't be parsed into an integer",
            ),
            (
                ConfigCommandError::NoConfigFile,
                "ERR The server is running without a config file",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }
}
