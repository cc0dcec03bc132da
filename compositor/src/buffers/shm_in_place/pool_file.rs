//! The file behind a wl_shm pool, found from smithay's mapping of it, and whether it may be read
//! in place.
//!
//! smithay keeps each pool's fd but does not share it. The mapping's device and inode are in
//! /proc/self/maps, and the fd smithay holds is one of this process's fds: it is found by
//! comparing each fd's file (through a dup, so a number closed meanwhile can only miss).
//!
//! Only a file sealed with F_SEAL_SHRINK is read in place: the render device (on lavapipe, worker
//! threads that block every signal) reads its pages at any time, and a truncated file would raise
//! SIGBUS there, which no handler can catch in a thread that blocks it. A pool that can shrink is
//! copied at commit under smithay's SIGBUS guard instead. memfd pools of most toolkits are sealed
//! (libwayland's cursor and weston's clients, Qt, SDL, foot).

use std::collections::HashMap;
use std::io::BufRead as _;
use std::os::fd::{FromRawFd as _, OwnedFd};

use super::NotInPlace;

/// Which fd number held a file last time: a pool's next buffers find it without a scan of every
/// fd weft has.
#[derive(Default)]
pub struct FdHints(HashMap<(u64, u64), i32>);

/// Hints kept at most (a client churning pools would otherwise grow the map).
const MAX_HINTS: usize = 256;

/// A dup of the sealed file that holds the mapping at `addr`, or why there is none.
pub fn sealed_file(addr: *const u8, hints: &mut FdHints) -> Result<OwnedFd, NotInPlace> {
    let (dev, ino) = mapping_identity(addr as usize)?;
    let hinted = hints
        .0
        .get(&(dev, ino))
        .and_then(|&n| dup_if(n, dev, ino).map(|fd| (n, fd)));
    let (number, fd) = match hinted {
        Some(found) => found,
        None => find_fd(dev, ino).ok_or(NotInPlace::NoFd)?,
    };
    if hints.0.len() >= MAX_HINTS {
        hints.0.clear();
    }
    hints.0.insert((dev, ino), number);
    let seals = rustix::fs::fcntl_get_seals(&fd).unwrap_or(rustix::fs::SealFlags::empty());
    if !seals.contains(rustix::fs::SealFlags::SHRINK) {
        return Err(NotInPlace::NotSealed);
    }
    Ok(fd)
}

/// (st_dev, st_ino) of the file mapped at `addr`, from /proc/self/maps.
fn mapping_identity(addr: usize) -> Result<(u64, u64), NotInPlace> {
    let maps = std::fs::File::open("/proc/self/maps").map_err(|e| NotInPlace::Maps(e.kind()))?;
    for line in std::io::BufReader::new(maps).lines() {
        let line = line.map_err(|e| NotInPlace::Maps(e.kind()))?;
        // start-end perms offset major:minor inode [path]
        let mut fields = line.split_whitespace();
        let (Some(range), _, _, Some(dev), Some(ino)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            continue;
        };
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let hex = |s: &str| usize::from_str_radix(s, 16).ok();
        let (Some(start), Some(end)) = (hex(start), hex(end)) else {
            continue;
        };
        if addr < start || addr >= end {
            continue;
        }
        let (major, minor) = dev.split_once(':').ok_or(NotInPlace::MapsLine)?;
        let num = |s: &str| u32::from_str_radix(s, 16).map_err(|_| NotInPlace::MapsLine);
        let ino: u64 = ino.parse().map_err(|_| NotInPlace::MapsLine)?;
        if ino == 0 {
            return Err(NotInPlace::NotAFile);
        }
        return Ok((rustix::fs::makedev(num(major)?, num(minor)?), ino));
    }
    Err(NotInPlace::NotMapped)
}

/// This process's fd number for file (`dev`, `ino`) and a dup of it.
fn find_fd(dev: u64, ino: u64) -> Option<(i32, OwnedFd)> {
    let dir = std::fs::read_dir("/proc/self/fd").ok()?;
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .find_map(|number| dup_if(number, dev, ino).map(|fd| (number, fd)))
}

/// A dup of fd `number` if it is file (`dev`, `ino`).
fn dup_if(number: i32, dev: u64, ino: u64) -> Option<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a number that may be any fd (or none, if closed meanwhile:
    // EBADF); it creates a new fd and touches nothing else.
    let dup = unsafe { libc::fcntl(number, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return None;
    }
    // SAFETY: `dup` is a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(dup) };
    rustix::fs::fstat(&fd)
        .is_ok_and(|st| st.st_dev == dev && st.st_ino == ino)
        .then_some(fd)
}
