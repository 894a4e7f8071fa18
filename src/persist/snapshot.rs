//! Writing a snapshot file safely, in the foreground or in a forked child.
//!
//! Files are written to a temporary name in the target directory, fsynced, then renamed over
//! the final name, so a crash never leaves a half-written `dump.rdb` (Redis's `rdbSave`).
//! A background save forks (Redis's `rdbSaveBackground`): the child sees a copy-on-write,
//! point-in-time image of the whole keyspace and writes it while the parent keeps serving, then
//! renames its file into place itself, as Redis's child does, so a save the child completes is
//! kept even if its parent was killed meanwhile; the parent later reaps the child.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::rdb::{write_snapshot, AuxValue, SaveOptions};
use crate::store::Db;

/// Writes an RDB snapshot of `dbs` to `temp`, fsyncs it, and renames it to `target`. Returns
/// the bytes written.
pub fn save_to_file(
    dbs: &[Db],
    temp: &Path,
    target: &Path,
    aux: &[(&str, AuxValue<'_>)],
    options: &SaveOptions,
) -> io::Result<u64> {
    let written = write_temp(dbs, temp, aux, options)?;
    std::fs::rename(temp, target)?;
    sync_dir(target);
    Ok(written)
}

/// Writes and fsyncs a snapshot at `temp` without renaming it.
pub fn write_temp(
    dbs: &[Db],
    temp: &Path,
    aux: &[(&str, AuxValue<'_>)],
    options: &SaveOptions,
) -> io::Result<u64> {
    let result = (|| {
        let file = File::create(temp)?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        let written = write_snapshot(&mut out, dbs, aux, options)?;
        out.flush()?;
        out.get_ref().sync_all()?;
        Ok(written)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    result
}

/// Fsyncs the directory holding `path`, so a rename survives a crash.
pub fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(handle) = File::open(dir) {
            let _ = handle.sync_all();
        }
    }
}

/// The temporary file a child with this pid writes (`temp-<pid>.rdb`, as Redis names it).
pub fn child_temp_path(dir: &Path, pid: i32) -> PathBuf {
    dir.join(format!("temp-{pid}.rdb"))
}

/// Forks a child that runs `work` and exits with status 0 if it returned true, 1 otherwise.
/// Returns the child's pid in the parent. The child closes every socket it inherited.
///
/// The child must only read memory and do plain blocking I/O: it has a single thread, and
/// locks held by other threads at the time of the fork stay locked in it forever.
pub fn fork_child(work: impl FnOnce() -> bool) -> io::Result<i32> {
    fork_child_keeping(&[], work)
}

/// [`fork_child`], keeping the sockets in `keep` open in the child (a diskless sync writes the
/// snapshot to the replica's socket).
pub fn fork_child_keeping(keep: &[i32], work: impl FnOnce() -> bool) -> io::Result<i32> {
    // SAFETY: fork() in a multi-threaded process is sound as long as the child only touches
    // memory and file descriptors and then calls _exit, which `work` is documented to respect;
    // glibc's allocator is fork-safe (it resets its arena locks in the child).
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            close_inherited_sockets(keep);
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or(false);
            // SAFETY: _exit ends the child without running the parent's destructors or atexit
            // handlers (which would flush the parent's buffers twice).
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        pid => Ok(pid),
    }
}

/// In a forked child: closes every socket inherited from the parent (listeners, clients,
/// replica links), as Redis's `closeChildUnusedResourceAfterFork` does. Otherwise a child
/// still writing after its parent was killed keeps the port bound, and the restarted node
/// cannot listen.
fn close_inherited_sockets(keep: &[i32]) {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<libc::c_int> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2 && !keep.contains(&fd))
        .collect();
    for fd in fds {
        // SAFETY: fstat only writes `stat`; closing a socket the single-threaded child owns
        // cannot affect the parent, whose descriptors are its own.
        unsafe {
            let mut stat: libc::stat = std::mem::zeroed();
            if libc::fstat(fd, &mut stat) == 0 && stat.st_mode & libc::S_IFMT == libc::S_IFSOCK {
                libc::close(fd);
            }
        }
    }
}

/// Reaps `pid` if it has exited: `Some(true)` for success, `Some(false)` for failure, `None`
/// while it still runs.
pub fn try_reap(pid: i32) -> Option<bool> {
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid on our own child with WNOHANG only writes `status`.
    let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    match rc {
        0 => None,
        -1 => Some(false), // not our child any more (already reaped): treat as failed
        _ => Some(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0),
    }
}

/// Kills and reaps a child (SHUTDOWN while a BGSAVE runs).
pub fn kill_child(pid: i32) {
    // SAFETY: signalling and reaping our own child by pid.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::load_snapshot;
    use crate::store::Value;
    use bytes::Bytes;

    #[test]
    fn foreground_and_forked_saves_produce_loadable_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::new();
        db.set(
            Bytes::from("name"),
            Value::String(Bytes::from("zhangsan").into()),
        );
        let dbs = vec![db];
        let target = dir.path().join("dump.rdb");
        save_to_file(
            &dbs,
            &dir.path().join("temp.rdb"),
            &target,
            &[],
            &SaveOptions::new(0),
        )
        .unwrap();
        let loaded = load_snapshot(File::open(&target).unwrap()).unwrap();
        assert_eq!(loaded.key_count(), 1);

        let temp = dir.path().join("child.rdb");
        let child_temp = temp.clone();
        let pid =
            fork_child(move || write_temp(&dbs, &child_temp, &[], &SaveOptions::new(0)).is_ok())
                .unwrap();
        let mut result = None;
        for _ in 0..500 {
            result = try_reap(pid);
            if result.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(result, Some(true));
        assert_eq!(
            load_snapshot(File::open(&temp).unwrap())
                .unwrap()
                .key_count(),
            1
        );
    }
}
