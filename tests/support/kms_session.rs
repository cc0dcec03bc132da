// `weft --backend drm` run as a child process in the tests/vm guest (libseat's noop or builtin
// backend, as root), its IPC and a client on its socket: shared by tests/vm_drm.rs and benches/kms_scanout.rs
// (each includes this file).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weft_clients::Client;

/// The KMS devices have one master at a time: a test binary's tests hold this while weft runs.
static KMS: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn kms_to_myself() -> std::sync::MutexGuard<'static, ()> {
    KMS.lock().unwrap_or_else(|p| p.into_inner())
}

/// weft as the session compositor, stopped (SIGTERM, then SIGKILL) when dropped. Its log is
/// read as it runs (passed on to the test's output): an ERROR line in it, or a stop that is not
/// clean (not within 10 s, or not with status 0), fails the test when the session ends, as in
/// the host tests' harness (an ERROR is a weft bug).
pub struct Session {
    pub child: Child,
    runtime: PathBuf,
    errors: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    log: Option<std::thread::JoinHandle<()>>,
}

/// Whether `line` of weft's log (tracing's format, colours and all) is an ERROR event of weft's.
/// Two of smithay's are not: its X11 event thread logs its connection closing at ERROR every
/// time Xwayland exits, and its DRM device logs "Failed to drop drm master state" at ERROR where
/// there is no master left to drop — libseat's seatd revokes it itself when the session pauses
/// (EINVAL), and an unplugged or unbound device has none (ENODEV).
fn is_error(line: &str) -> bool {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An escape sequence: up to and with its final letter.
            for e in chars.by_ref() {
                if e.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        plain.push(c);
    }
    let mut words = plain.split_whitespace();
    let _time = words.next();
    let not_weft = plain.contains("smithay::utils::x11rb")
        || (plain.contains("smithay::backend::drm::device")
            && plain.contains("Failed to drop drm master state"));
    words.next() == Some("ERROR") && !not_weft
}

impl Session {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// With more arguments (`--output`, say).
    pub fn start_with(args: &[&str]) -> Self {
        Self::start_on_seat("noop", args)
    }

    /// Under libseat's `backend` (`noop`: no VT, nothing pauses; `builtin`: libseat's embedded
    /// seatd, which owns the VT and pauses the session when it is switched away).
    pub fn start_on_seat(backend: &str, args: &[&str]) -> Self {
        let runtime = weft::private_runtime_dir("drm").expect("runtime dir");
        let child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["--backend", "drm", "--socket", "wayland-drm"])
            .args(args)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("LIBSEAT_BACKEND", backend)
            .env("RUST_LOG", "info")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .spawn()
            .expect("weft starts");
        let mut child = child;
        let errors = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let log = child.stderr.take().map(|stderr| {
            let errors = errors.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                    if is_error(&line) {
                        errors.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    eprintln!("{line}");
                }
            })
        });
        let me = Self {
            child,
            runtime,
            errors,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !me.runtime.join("wayland-drm").exists() {
            assert!(Instant::now() < deadline, "weft did not open its socket");
            std::thread::sleep(Duration::from_millis(100));
        }
        me
    }

    pub fn msg(&self, what: &[&str]) -> serde_json::Value {
        self.try_msg(what).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `weft msg`, or what it said when it failed.
    pub fn try_msg(&self, what: &[&str]) -> Result<serde_json::Value, String> {
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["msg", "--socket", "wayland-drm", "--json"])
            .args(what)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .output()
            .expect("weft msg runs");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(serde_json::from_slice(&out.stdout).expect("json"))
    }

    /// weft's CPU time so far (user + system), from /proc.
    pub fn cpu_time(&self) -> std::time::Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .unwrap_or_default();
        // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<u64> = after
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
        let hz = rustix::param::clock_ticks_per_second().max(1);
        std::time::Duration::from_millis(ticks * 1000 / hz)
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.runtime.join("wayland-drm")).expect("client connects")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        // SIGTERM stops weft cleanly (backends/src/signals.rs): it must end, and end well.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut ended = None;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                ended = Some(status);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if ended.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Its log to the end (the pipe closes with the process).
        if let Some(log) = self.log.take() {
            let _ = log.join();
        }
        if std::thread::panicking() {
            return;
        }
        match ended {
            None => panic!("weft did not stop within 10 s of SIGTERM (killed)"),
            Some(status) if !status.success() => panic!("weft stopped with {status}"),
            Some(_) => {}
        }
        let errors = self.errors.load(std::sync::atomic::Ordering::SeqCst);
        if errors > 0 {
            panic!("weft logged {errors} ERROR lines (see the output above): each is a weft bug");
        }
    }
}

