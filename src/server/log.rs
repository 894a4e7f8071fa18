//! Redis-format log lines: `pid:role dd Mon yyyy hh:mm:ss.mmm <level> message`.
//!
//! The role letter is `M` (master), `S` (replica), `X` (sentinel) or `C` (child); the level mark
//! is `.` debug, `-` verbose, `*` notice, `#` warning — as `serverLogRaw` in Redis's `server.c`
//! writes them. Lines go to `logfile`, or to standard output when it is empty.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::LogLevel;

/// Where log lines go, at which verbosity, and under which role letter.
#[derive(Debug)]
pub struct Logger {
    out: Mutex<Option<std::fs::File>>,
    level: LogLevel,
    role: AtomicU8,
    pid: u32,
}

fn rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Debug => 0,
        LogLevel::Verbose => 1,
        LogLevel::Notice => 2,
        LogLevel::Warning => 3,
    }
}

impl Logger {
    /// A logger writing to `logfile` (appending), or stdout for an empty name.
    pub fn open(logfile: &str, level: LogLevel) -> std::io::Result<Logger> {
        let out = if logfile.is_empty() {
            None
        } else {
            Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(Path::new(logfile))?,
            )
        };
        Ok(Logger {
            out: Mutex::new(out),
            level,
            role: AtomicU8::new(b'M'),
            pid: std::process::id(),
        })
    }

    /// A logger that writes to stdout (tests, early start-up).
    pub fn stdout(level: LogLevel) -> Logger {
        Logger {
            out: Mutex::new(None),
            level,
            role: AtomicU8::new(b'M'),
            pid: std::process::id(),
        }
    }

    /// Sets the role letter (`M`, `S`, `X`, `C`).
    pub fn set_role(&self, role: u8) {
        self.role.store(role, Ordering::Relaxed);
    }

    /// Writes one line if `level` passes the configured verbosity.
    pub fn log(&self, level: LogLevel, message: &str) {
        if rank(level) < rank(self.level) {
            return;
        }
        let mark = match level {
            LogLevel::Debug => '.',
            LogLevel::Verbose => '-',
            LogLevel::Notice => '*',
            LogLevel::Warning => '#',
        };
        let line = format!(
            "{}:{} {} {} {}\n",
            self.pid,
            self.role.load(Ordering::Relaxed) as char,
            timestamp(SystemTime::now()),
            mark,
            message
        );
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A log line that cannot be written is dropped: logging must never stop the server.
        match out.as_mut() {
            Some(file) => {
                let _ = file.write_all(line.as_bytes());
            }
            None => {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(line.as_bytes());
                let _ = stdout.flush();
            }
        }
    }
}

/// Local time as Redis prints it: `24 Nov 2026 16:22:01.123`.
pub fn timestamp(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as libc::time_t;
    // SAFETY: localtime_r only writes the struct we pass and reads the time value.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_have_redis_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let logger = Logger::open(path.to_str().unwrap(), LogLevel::Notice).unwrap();
        logger.log(LogLevel::Notice, "Ready to accept connections");
        logger.log(LogLevel::Debug, "hidden");
        logger.set_role(b'S');
        logger.log(LogLevel::Warning, "careful");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let (prefix, rest) = lines[0].split_once(' ').unwrap();
        assert_eq!(prefix, format!("{}:M", std::process::id()));
        // "24 Nov 2026 16:22:01.123 * Ready..."
        let parts: Vec<&str> = rest.splitn(6, ' ').collect();
        assert_eq!(parts[3].len(), "16:22:01.123".len());
        assert_eq!(parts[4], "*");
        assert_eq!(parts[5], "Ready to accept connections");
        assert!(lines[1].contains(":S ") && lines[1].contains(" # careful"));
    }
}
