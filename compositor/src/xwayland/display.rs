//! The X11 display weft holds while no Xwayland runs: the lock file `/tmp/.X<n>-lock` (with weft's
//! pid, as X servers write it) and the two sockets X11 clients connect to, `/tmp/.X11-unix/X<n>`
//! and its abstract twin. A client connecting is what starts Xwayland ([`super`]); until then no
//! X server runs.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// How many display numbers are tried (`:0` … `:32`, as X servers and smithay do).
const DISPLAYS: u32 = 33;

/// A reserved X11 display and its listening sockets.
#[derive(Debug)]
pub struct Reservation {
    number: u32,
    lock: PathBuf,
    socket: PathBuf,
    listeners: Vec<UnixListener>,
}

/// The display numbers the wefts of this process hold, reserved or served by their Xwayland. An
/// X lock file names only a pid, and a process may run several wefts (the tests do): this is how
/// one tells its own display from another's.
static CLAIMED: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Taken while a display is reserved or handed from weft to Xwayland (between freeing its lock
/// and smithay taking it again), so no other weft of this process takes it in between.
static HANDOVER: Mutex<()> = Mutex::new(());

/// Holds [`HANDOVER`].
pub fn handover() -> MutexGuard<'static, ()> {
    HANDOVER.lock().unwrap_or_else(|e| e.into_inner())
}

fn claimed() -> MutexGuard<'static, BTreeSet<u32>> {
    CLAIMED.lock().unwrap_or_else(|e| e.into_inner())
}

/// A display number one weft holds for its lifetime (across Xwayland restarts).
#[derive(Debug)]
pub struct Claim(u32);

impl Claim {
    pub fn number(&self) -> u32 {
        self.0
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        claimed().remove(&self.0);
    }
}

impl Reservation {
    /// Reserves the first display number that is free, and claims it for this weft. Call with
    /// [`handover`] held.
    pub fn reserve_new() -> std::io::Result<(Self, Claim)> {
        let mut last = None;
        for number in 0..DISPLAYS {
            if claimed().contains(&number) {
                continue;
            }
            match Self::reserve_number(number, false) {
                Ok(r) => {
                    claimed().insert(number);
                    return Ok((r, Claim(number)));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no display number to try")))
    }

    /// Reserves the display `claim` names again (its lock may still name weft's own pid: the
    /// claim says it is this weft's). Call with [`handover`] held.
    pub fn reserve_again(claim: &Claim) -> std::io::Result<Self> {
        Self::reserve_number(claim.0, true)
    }

    fn reserve_number(number: u32, ours: bool) -> std::io::Result<Self> {
        let lock = PathBuf::from(format!("/tmp/.X{number}-lock"));
        take_lock(&lock, ours)?;
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
        let listen = || -> std::io::Result<Vec<UnixListener>> {
            ensure_socket_dir()?;
            // The lock is ours, so a socket left at the path is a dead server's.
            let _ = std::fs::remove_file(&socket);
            let file = UnixListener::bind(&socket)?;
            let name = socket.as_os_str().as_encoded_bytes();
            let abstract_ = UnixListener::bind_addr(&SocketAddr::from_abstract_name(name)?)?;
            for l in [&file, &abstract_] {
                l.set_nonblocking(true)?;
            }
            Ok(vec![file, abstract_])
        };
        match listen() {
            Ok(listeners) => Ok(Self {
                number,
                lock,
                socket,
                listeners,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&lock);
                Err(e)
            }
        }
    }

    /// The display number (`DISPLAY=:<number>`).
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The listening sockets, to be watched for a client.
    pub fn listeners(&self) -> &[UnixListener] {
        &self.listeners
    }

    /// Accepts every connection waiting on the sockets (they are handed to Xwayland once it runs).
    pub fn accept_waiting(&self) -> Vec<UnixStream> {
        let mut out = Vec::new();
        for l in &self.listeners {
            while let Ok((stream, _)) = l.accept() {
                out.push(stream);
            }
        }
        out
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.listeners.clear();
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(&self.lock);
    }
}

/// Creates `lock` with weft's pid; a lock whose process is gone is taken over, and with `ours`
/// one naming weft itself (left by the Xwayland this weft ran on that display).
fn take_lock(lock: &PathBuf, ours: bool) -> std::io::Result<()> {
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(lock)
    };
    let mut file = match create() {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if holder_alive(lock, ours) {
                return Err(e);
            }
            std::fs::remove_file(lock)?;
            create()?
        }
        Err(e) => return Err(e),
    };
    if let Err(e) = writeln!(file, "{:>10}", std::process::id()) {
        let _ = std::fs::remove_file(lock);
        return Err(e);
    }
    Ok(())
}

/// Whether the process named in `lock` still runs (an unreadable lock counts as held; with
/// `ours`, weft's own pid counts as gone).
fn holder_alive(lock: &PathBuf, ours: bool) -> bool {
    let mut text = String::new();
    if std::fs::File::open(lock)
        .and_then(|mut f| f.read_to_string(&mut text))
        .is_err()
    {
        return true;
    }
    let Ok(pid) = text.trim().parse::<i32>() else {
        return true;
    };
    if ours && u32::try_from(pid).ok() == Some(std::process::id()) {
        return false;
    }
    match rustix::process::Pid::from_raw(pid) {
        Some(pid) => rustix::process::test_kill_process(pid) != Err(rustix::io::Errno::SRCH),
        None => true,
    }
}

/// `/tmp/.X11-unix`, world-writable and sticky as X expects, when no X server made it yet.
fn ensure_socket_dir() -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::path::Path::new("/tmp/.X11-unix");
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
