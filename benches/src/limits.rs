//! The open-files limit: every WebSocket subscriber is a file descriptor.

use std::io;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (and the hard limit to `wanted` first, which
/// works only with `CAP_SYS_RESOURCE`). Returns the new (soft, hard) pair.
///
/// # Errors
/// The limit cannot be read or set.
pub fn raise_nofile(wanted: u64) -> io::Result<(u64, u64)> {
    let nofile = rlimit::Resource::NOFILE;
    let (soft, hard) = nofile.get()?;
    if hard < wanted {
        // Without CAP_SYS_RESOURCE this fails; the hard limit then stays the ceiling.
        let _ = nofile.set(wanted, wanted);
    }
    let (_, hard) = nofile.get()?;
    if soft < hard {
        nofile.set(hard, hard)?;
    }
    nofile.get()
}
