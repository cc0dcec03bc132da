//! SIGBUS containment for wl_shm memory read in place.
//!
//! A client may truncate the file behind its pool while weft's render device reads the pages (on
//! lavapipe, from its worker threads). Every later read of the lost pages raises SIGBUS. smithay
//! guards its own copies of pool memory, on its own thread, only while it copies; pages read in
//! place are read at any time, on any thread. So each in-place mapping is registered here, and a
//! SIGBUS inside one replaces the whole range with private zero pages and lets the read go on: the
//! surface shows black, weft keeps running, and the client has only hurt itself. Faults anywhere
//! else go to the handler that was installed before (smithay's, which re-raises what is not its).
//!
//! The table is process-wide because a signal handler has no other way to find it: a fixed array
//! of atomics (lock-free, async-signal-safe), never resized.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// How many in-place mappings can be guarded at once; past that, pools are copied.
const SLOTS: usize = 4096;

struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

#[allow(
    clippy::declare_interior_mutable_const,
    reason = "the initializer of the static table"
)]
const EMPTY: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};

static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];

/// The SIGBUS action before ours (chained to for faults outside the table).
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

/// A registered range; unregistered on drop.
pub struct Guard {
    slot: usize,
}

impl Guard {
    /// Guards `start..start+len`. `None` when the table is full or the handler could not be
    /// installed.
    pub fn new(start: usize, len: usize) -> Option<Self> {
        install()?;
        for (index, slot) in TABLE.iter().enumerate() {
            // `len` 0 marks a free slot; claiming it by CAS makes it ours.
            if slot
                .len
                .compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                slot.faulted.store(false, Ordering::Relaxed);
                slot.start.store(start, Ordering::Release);
                slot.len.store(len, Ordering::Release);
                return Some(Self { slot: index });
            }
        }
        None
    }

    /// Whether a SIGBUS hit this range (the client truncated its pool).
    pub fn faulted(&self) -> bool {
        TABLE
            .get(self.slot)
            .is_some_and(|s| s.faulted.load(Ordering::Acquire))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(slot) = TABLE.get(self.slot) {
            slot.start.store(0, Ordering::Release);
            slot.len.store(0, Ordering::Release);
        }
    }
}

/// Installs the handler once; `None` if sigaction failed.
fn install() -> Option<()> {
    let previous = PREVIOUS.get_or_init(|| {
        // SAFETY: a zeroed sigaction is a valid "no action" value for every field; the handler is
        // an extern "C" fn with the SA_SIGINFO signature; the old action is written by the kernel.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &action, &mut old) != 0 {
                // Marks failure: our handler is not installed.
                old.sa_flags = -1;
            }
            old
        }
    });
    (previous.sa_flags != -1).then_some(())
}

extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers; si_addr is the faulting
    // address for SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    for slot in &TABLE {
        let len = slot.len.load(Ordering::Acquire);
        let start = slot.start.load(Ordering::Acquire);
        if len == 0 || len == usize::MAX || addr < start || addr >= start.saturating_add(len) {
            continue;
        }
        // SAFETY: `start..start+len` is an in-place mapping of weft's own (registered by
        // `Guard::new`, unregistered before it is unmapped); replacing it with private zero pages
        // at the same address keeps every pointer into it valid. mmap is async-signal-safe.
        let mapped = unsafe {
            libc::mmap(
                start as *mut libc::c_void,
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if mapped != libc::MAP_FAILED {
            slot.faulted.store(true, Ordering::Release);
            return;
        }
    }
    chain(signal, info, context);
}

/// Hands a fault that is not ours to the previous action.
fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let Some(previous) = PREVIOUS.get() else {
        return;
    };
    let action = previous.sa_sigaction;
    if action == libc::SIG_DFL || action == libc::SIG_IGN {
        // SAFETY: restoring the default action is async-signal-safe; returning re-executes the
        // faulting access, which then ends the process as it would have without weft.
        unsafe { libc::signal(libc::SIGBUS, libc::SIG_DFL) };
        return;
    }
    if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(action) };
        f(signal, info, context);
    } else {
        // SAFETY: a handler installed without SA_SIGINFO takes the signal number only.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(action) };
        f(signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_file_reads_as_zeros() {
        let fd = rustix::fs::memfd_create("sigbus-test", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        let page = rustix::param::page_size();
        rustix::fs::ftruncate(&fd, (page * 2) as u64).unwrap();
        rustix::io::write(&fd, &[7u8; 16]).unwrap();
        // SAFETY: a fresh shared mapping of our own memfd.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                page * 2,
                rustix::mm::ProtFlags::READ,
                rustix::mm::MapFlags::SHARED,
                &fd,
                0,
            )
        }
        .unwrap();
        let guard = Guard::new(ptr as usize, page * 2).unwrap();
        // SAFETY: mapped above.
        assert_eq!(unsafe { std::ptr::read_volatile(ptr.cast::<u8>()) }, 7);
        rustix::fs::ftruncate(&fd, 0).unwrap();
        // SAFETY: the page is gone from the file: the read faults, the guard maps zeros over it.
        let after = unsafe { std::ptr::read_volatile(ptr.cast::<u8>().add(page)) };
        assert_eq!(after, 0);
        assert!(guard.faulted());
        drop(guard);
        // SAFETY: our mapping (zero pages now), unmapped once.
        unsafe { rustix::mm::munmap(ptr, page * 2) }.unwrap();
    }
}
