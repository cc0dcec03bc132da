//! Stopping cleanly on SIGTERM, SIGINT and SIGHUP (a session manager stopping weft, Ctrl+C in
//! the terminal it was started from): the handler writes a byte into a pipe whose read end is a
//! source of the event loop ([`crate::server::serve`]), which stops weft there — so its sockets,
//! its X11 display and lock files are removed and its client told, as at any stop. Installed by
//! the `weft` binary only: a program that embeds weft (the tests) keeps its own signal handling.

use std::os::fd::{IntoRawFd as _, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The signals that stop weft.
const STOP: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// The pipe's write end, for the handler: a signal handler reaches nothing but statics. Set once,
/// before any handler is installed, and open for the life of the process.
static WAKE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_: libc::c_int) {
    let fd = WAKE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; `fd` is the pipe's write end (open for the
        // process's life, non-blocking: a full pipe loses nothing that matters); the byte is on
        // this stack frame.
        let _ = unsafe { libc::write(fd, std::ptr::addr_of!(byte).cast(), 1) };
    }
}

/// Installs the handlers; returns the pipe's read end, readable once a stop signal came.
pub fn install() -> std::io::Result<OwnedFd> {
    use rustix::pipe::{pipe_with, PipeFlags};
    let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    WAKE.store(write.into_raw_fd(), Ordering::Relaxed);
    for signal in STOP {
        // SAFETY: `action` is zeroed plain data, then given a handler that only calls write(2)
        // (async-signal-safe) and an empty mask; sigaction reads it and writes nothing back
        // (the old action is not asked for).
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if installed != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(read)
}

/// Empties the pipe (the loop's source read it: it is level-triggered).
pub fn drain(read: &OwnedFd) {
    let mut buf = [0u8; 64];
    while rustix::io::read(read, &mut buf).is_ok_and(|n| n > 0) {}
}
