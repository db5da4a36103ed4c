//! The process's own resource limits: at start, the soft limit on open files is raised to
//! the hard limit, as nginx (`worker_rlimit_nofile`) and the Go runtime do, so the common
//! default soft limit of 1 024 does not cap a container at about a thousand sessions. Every
//! session holds one descriptor. This module touches nothing but the process's limits.

#![allow(unsafe_code)]

use std::io;

/// The open-files limit before and after [`raise_open_files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpenFiles {
    pub(crate) was: u64,
    pub(crate) now: u64,
}

/// Raises the soft limit on open files to the hard limit.
pub(crate) fn raise_open_files() -> io::Result<OpenFiles> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let was = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(OpenFiles {
        was,
        now: limit.rlim_cur,
    })
}
