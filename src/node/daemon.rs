//! `daemonize yes`: detach from the terminal, and tell the terminal whether start-up worked.
//!
//! Redis's `daemonize()` (`server.c`) forks and the parent exits 0 at once, so a taken port is
//! only ever written to the log. Here the parent stays until the daemon reports on a pipe: one
//! byte [`READY`] once it listens, or [`FAILED`] followed by the error text. The parent then
//! exits 0, or prints the error and exits 1. If the daemon dies without a word, the pipe closes
//! and the parent says so and exits 1. The daemon closes its end as soon as it has reported, so
//! nothing it forks later (BGSAVE children) holds it open.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};

use super::StartError;

/// The daemon listens; the parent may exit 0.
const READY: u8 = b'+';
/// Start-up failed; the error text follows.
const FAILED: u8 = b'-';

/// The daemon's end of the pipe to the waiting parent (none when not daemonized).
#[derive(Debug)]
pub struct StartReport {
    pipe: Option<File>,
}

impl StartReport {
    /// No parent is waiting (`daemonize no`).
    pub fn none() -> StartReport {
        StartReport { pipe: None }
    }

    /// Start-up succeeded: the parent exits 0.
    pub fn ready(&mut self) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.write_all(&[READY]);
        }
    }

    /// Start-up failed with `error`: the parent prints it and exits 1.
    pub fn failed(&mut self, error: &str) {
        if let Some(mut pipe) = self.pipe.take() {
            let mut message = vec![FAILED];
            message.extend_from_slice(error.as_bytes());
            let _ = pipe.write_all(&message);
        }
    }
}

/// Forks. In the parent this never returns: it waits for the daemon's report and exits. In the
/// child (the daemon) it starts a new session, points stdio at /dev/null and returns the
/// report end of the pipe. Must run before any thread is started.
pub fn daemonize() -> Result<StartReport, StartError> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two fds into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(StartError::Daemon(format!(
            "Can't create the pipe to report start-up: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: both fds were just created by pipe2 and are owned by nothing else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: called before the tokio runtime or any other thread exists, so fork() cannot
    // leave a lock held by another thread in the child.
    match unsafe { libc::fork() } {
        -1 => Err(StartError::Daemon(format!(
            "fork: {}",
            std::io::Error::last_os_error()
        ))),
        0 => {
            drop(read_end);
            detach();
            Ok(StartReport {
                pipe: Some(File::from(write_end)),
            })
        }
        _ => {
            drop(write_end);
            let code = wait_for_report(File::from(read_end), &mut std::io::stderr());
            // SAFETY: the parent only exits; it owns no state that needs dropping.
            unsafe { libc::_exit(code) }
        }
    }
}

/// The parent's side: reads the daemon's report, prints a failure to `err`, returns the exit
/// status. A read that ends without a report means the daemon died before saying anything.
fn wait_for_report(mut pipe: File, err: &mut dyn Write) -> i32 {
    let mut report = Vec::new();
    let _ = pipe.read_to_end(&mut report);
    match report.split_first() {
        Some((&READY, _)) => 0,
        Some((&FAILED, text)) => {
            let _ = writeln!(err, "{}", String::from_utf8_lossy(text));
            1
        }
        _ => {
            let _ = writeln!(
                err,
                "The server exited during start-up without saying why (see its logfile)."
            );
            1
        }
    }
}

/// New session, stdio on /dev/null, as Redis's `daemonize()`.
fn detach() {
    // SAFETY: plain syscalls on fds this process owns; dup2 onto 0..2 replaces stdio.
    unsafe {
        libc::setsid();
        let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if devnull >= 0 {
            libc::dup2(devnull, 0);
            libc::dup2(devnull, 1);
            libc::dup2(devnull, 2);
            if devnull > 2 {
                libc::close(devnull);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe whose write end has reported `bytes` (`+`, `-text`, or nothing) and is closed.
    fn pipe_with(bytes: &[u8]) -> File {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two fds into the array we pass.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: fresh fds from pipe2, owned here only.
        let (read_end, write_end) =
            unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
        let mut report = StartReport {
            pipe: Some(write_end),
        };
        match bytes.split_first() {
            Some((&READY, _)) => report.ready(),
            Some((&FAILED, text)) => report.failed(&String::from_utf8_lossy(text)),
            _ => {}
        }
        drop(report);
        read_end
    }

    #[test]
    fn the_parent_exits_0_on_ready_and_1_with_the_error_otherwise() {
        let mut err = Vec::new();
        assert_eq!(wait_for_report(pipe_with(b"+"), &mut err), 0);
        assert!(err.is_empty());

        let text =
            b"-Could not create server TCP listening socket *:6379: bind: Address already in use";
        assert_eq!(wait_for_report(pipe_with(text), &mut err), 1);
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "Could not create server TCP listening socket *:6379: bind: Address already in use\n"
        );

        let mut err = Vec::new();
        assert_eq!(wait_for_report(pipe_with(b""), &mut err), 1);
        assert!(String::from_utf8(err)
            .unwrap()
            .contains("without saying why"));
    }

    #[test]
    fn a_report_is_sent_once_and_closes_the_pipe() {
        let mut report = StartReport::none();
        report.ready();
        report.failed("ignored: nobody waits");
        assert!(report.pipe.is_none());
    }
}
