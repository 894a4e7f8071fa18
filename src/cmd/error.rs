//! [`CmdError`]: a command's error reply, with Redis's exact texts in one place.
//!
//! A `CmdError` becomes an error reply and the connection stays open (unlike a protocol error).

use std::borrow::Cow;

use crate::resp::Reply;
use crate::store::WrongType;

/// An error reply: the full text after `-`, including the error code (`ERR`, `WRONGTYPE`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError(pub Cow<'static, str>);

impl CmdError {
    /// An error with its complete text, code included.
    pub fn new(text: impl Into<Cow<'static, str>>) -> CmdError {
        CmdError(text.into())
    }

    /// `ERR <message>`.
    pub fn err(message: impl std::fmt::Display) -> CmdError {
        CmdError(format!("ERR {message}").into())
    }

    pub fn syntax() -> CmdError {
        CmdError::new("ERR syntax error")
    }

    pub fn not_integer() -> CmdError {
        CmdError::new("ERR value is not an integer or out of range")
    }

    pub fn not_float() -> CmdError {
        CmdError::new("ERR value is not a valid float")
    }

    pub fn wrong_type() -> CmdError {
        CmdError::new("WRONGTYPE Operation against a key holding the wrong kind of value")
    }

    pub fn no_such_key() -> CmdError {
        CmdError::new("ERR no such key")
    }

    pub fn index_out_of_range() -> CmdError {
        CmdError::new("ERR index out of range")
    }

    pub fn overflow() -> CmdError {
        CmdError::new("ERR increment or decrement would overflow")
    }

    pub fn invalid_expire(command: &str) -> CmdError {
        CmdError(format!("ERR invalid expire time in '{command}' command").into())
    }

    pub fn not_positive(what: &str) -> CmdError {
        CmdError(format!("ERR {what} is out of range, must be positive").into())
    }

    pub fn timeout_not_float() -> CmdError {
        CmdError::new("ERR timeout is not a float or out of range")
    }

    pub fn timeout_negative() -> CmdError {
        CmdError::new("ERR timeout is negative")
    }

    pub fn timeout_out_of_range() -> CmdError {
        CmdError::new("ERR timeout is out of range")
    }

    /// `getRangeLongFromObjectOrReply` without a custom message.
    pub fn range_between(min: i64, max: i64) -> CmdError {
        CmdError(format!("ERR value is out of range, value must between {min} and {max}").into())
    }

    /// LPOS `RANK 0`.
    pub fn lpos_rank_zero() -> CmdError {
        CmdError::new(
            "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
             or use negative to start from the end of the list",
        )
    }

    /// `ERR COUNT can't be negative` (LPOS COUNT, MAXLEN; SINTERCARD LIMIT).
    pub fn cant_be_negative(what: &str) -> CmdError {
        CmdError(format!("ERR {what} can't be negative").into())
    }

    pub fn hash_not_integer() -> CmdError {
        CmdError::new("ERR hash value is not an integer")
    }

    pub fn hash_not_float() -> CmdError {
        CmdError::new("ERR hash value is not a float")
    }

    /// HINCRBYFLOAT with an infinite increment.
    pub fn nan_or_infinity() -> CmdError {
        CmdError::new("ERR value is NaN or Infinity")
    }

    pub fn would_produce_nan() -> CmdError {
        CmdError::new("ERR increment would produce NaN or Infinity")
    }

    /// HRANDFIELD with WITHVALUES and a count beyond ±LONG_MAX/2.
    pub fn value_out_of_range() -> CmdError {
        CmdError::new("ERR value is out of range")
    }

    pub fn invalid_cursor() -> CmdError {
        CmdError::new("ERR invalid cursor")
    }

    pub fn numkeys_not_positive() -> CmdError {
        CmdError::new("ERR numkeys should be greater than 0")
    }

    pub fn numkeys_too_many() -> CmdError {
        CmdError::new("ERR Number of keys can't be greater than number of args")
    }

    /// `ERR wrong number of arguments for 'get' command` (the name as the client typed it,
    /// lowercased; `client|kill` for subcommands).
    pub fn arity(name: &str) -> CmdError {
        CmdError(
            format!(
                "ERR wrong number of arguments for '{}' command",
                name.to_lowercase()
            )
            .into(),
        )
    }

    /// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `
    pub fn unknown_command(argv: &[bytes::Bytes]) -> CmdError {
        let name = String::from_utf8_lossy(&argv[0]);
        let mut text = format!(
            "ERR unknown command '{}', with args beginning with: ",
            truncate(&name, 128)
        );
        for arg in argv.iter().skip(1) {
            if text.len() >= 128 + 50 {
                break;
            }
            text.push_str(&format!(
                "'{}' ",
                truncate(&String::from_utf8_lossy(arg), 128)
            ));
        }
        CmdError(text.into())
    }

    /// `ERR unknown subcommand 'x'. Try CLIENT HELP.`
    pub fn unknown_subcommand(sub: &[u8], command: &str) -> CmdError {
        CmdError(
            format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                truncate(&String::from_utf8_lossy(sub), 128),
                command.to_uppercase()
            )
            .into(),
        )
    }

    pub fn noauth() -> CmdError {
        CmdError::new("NOAUTH Authentication required.")
    }

    pub fn wrong_pass() -> CmdError {
        CmdError::new("WRONGPASS invalid username-password pair or user is disabled.")
    }

    pub fn readonly_replica() -> CmdError {
        CmdError::new("READONLY You can't write against a read only replica.")
    }

    /// A bad score range (ZRANGEBYSCORE, ZCOUNT...).
    pub fn min_max_not_float() -> CmdError {
        CmdError::new("ERR min or max is not a float")
    }

    /// A bad lexicographic range (ZRANGEBYLEX, ZLEXCOUNT...).
    pub fn min_max_not_lex() -> CmdError {
        CmdError::new("ERR min or max not valid string range item")
    }

    /// MOVE to the same db, COPY onto itself.
    pub fn same_object() -> CmdError {
        CmdError::new("ERR source and destination objects are the same")
    }

    pub fn db_index_out_of_range() -> CmdError {
        CmdError::new("ERR DB index is out of range")
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl From<WrongType> for CmdError {
    fn from(_: WrongType) -> CmdError {
        CmdError::wrong_type()
    }
}

impl From<CmdError> for Reply {
    fn from(e: CmdError) -> Reply {
        Reply::Error(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn texts_match_redis() {
        assert_eq!(
            CmdError::arity("GET").0,
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            CmdError::unknown_command(&[Bytes::from("foo"), Bytes::from("a"), Bytes::from("b")]).0,
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            CmdError::unknown_subcommand(b"x", "client").0,
            "ERR unknown subcommand 'x'. Try CLIENT HELP."
        );
    }
}
