//! The soak: many short client lives against a `weft` process, with weft's open fds, resident memory
//! and mappings read from `/proc` before and after (issue 14, "Reliability").
//!
//! Each cycle is a fresh connection that binds the globals and linux-dmabuf (reading the default
//! feedback's format table), maps a toplevel, creates a wl_shm pool with two buffers, a memfd
//! "dma-buf" (sealed against shrinking) through `create_immed` or `create` (alternating), a
//! subsurface showing the dma-buf and an xdg_popup showing the second shm buffer, waits until weft
//! has drawn the popup (its frame callback), then either destroys every object and disconnects
//! (even cycles) or just disconnects with everything alive (odd cycles: weft's cleanup of a dead
//! client). weft runs as its own process (`weft --backend headless --socket soak`) in a private
//! runtime directory, so the figures are its own, not the test process's.
//!
//! What the client side reuses across cycles (its memfds and their mappings) is the client's own
//! business; everything on weft's side (pools, imports, surfaces, textures) is new in every cycle.
//!
//! Figures are read once weft is idle (no surface left, a few frames passed): after the first
//! [`EARLY`] cycles, after `warmup` cycles, then after `cycles` more. The goal is judged between the
//! last two; the early reading stays in the report.
//!
//! weft runs with glibc's mmap threshold fixed at its initial 128 KiB (`MALLOC_MMAP_THRESHOLD_`),
//! unless `malloc_defaults`. With glibc's default, the threshold rises the first time a large block
//! is freed, and from then on lavapipe's ~1 MiB blocks (4 allocations in libvulkan_lvp.so's worker
//! thread, heaptrack) come from that thread's malloc arena, which keeps its high-water mark: weft's
//! RSS then climbs in ~1 MiB steps at random points during the first ~10⁴ cycles (+1972 KiB from
//! cycle 50 to 5000 in a debug build, +1028 KiB from 6000 to 16000 in release) and stays flat after
//! (−36 KiB from 5000 to 40000; +0 from 16000 to 106000). With the threshold fixed, those blocks are
//! mapped and unmapped each time: RSS is flat from cycle 50 on, and a leaked large block would show
//! as a mapping as well as RSS. Small allocations, where weft's own state lives, are unaffected.

use std::fmt;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wayland_client::protocol::wl_shm;
use wayland_client::Proxy;

use crate::client::{Client, ClientError};
use crate::dmabuf::{LinuxDmabuf, MemBuffer, MemFile, Outcome, ARGB8888};

/// Cycles before the early reading.
pub const EARLY: u64 = 50;

/// Cycles before the `before` reading.
pub const DEFAULT_WARMUP: u64 = 500;

/// How to soak.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// The `weft` binary to run.
    pub weft: PathBuf,
    /// Cycles measured (after the warm-up).
    pub cycles: u64,
    /// Cycles before the `before` reading (at least [`EARLY`]).
    pub warmup: u64,
    /// weft's output (`--output`): small and fast, so frame callbacks come quickly.
    pub output: String,
    /// Print a progress line every this many cycles (0: never).
    pub progress_every: u64,
    /// Run weft with glibc's default (dynamic) mmap threshold (see the module docs).
    pub malloc_defaults: bool,
}

impl SoakOptions {
    pub fn new(weft: impl Into<PathBuf>, cycles: u64) -> Self {
        Self {
            weft: weft.into(),
            cycles,
            warmup: DEFAULT_WARMUP,
            output: "256x256@240".into(),
            progress_every: 0,
            malloc_defaults: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SoakError {
    #[error("cycle {cycle}: {error}")]
    Cycle { cycle: u64, error: ClientError },
    #[error("cycle {0}: linux-dmabuf `create` answered `failed` for a sealed memfd")]
    ImportFailed(u64),
    #[error("starting weft ({0}): {1}")]
    Spawn(PathBuf, std::io::Error),
    #[error("weft did not come up: {0}")]
    NotReady(String),
    #[error("weft exited during the soak ({0}); its log:\n{1}")]
    Died(String, String),
    #[error("reading /proc/{0}: {1}")]
    Proc(u32, std::io::Error),
    #[error("`weft msg {0}` failed: {1}")]
    Msg(String, String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What `/proc/PID` says about a process at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcFigures {
    /// Entries in `/proc/PID/fd`.
    pub fds: usize,
    /// What each fd is (`readlink`), sorted: shows what leaked when `fds` grows.
    pub fd_targets: Vec<String>,
    /// `VmRSS` of `/proc/PID/status`, KiB.
    pub rss_kib: u64,
    /// `VmSize`, KiB.
    pub vm_size_kib: u64,
    /// Lines of `/proc/PID/maps`.
    pub maps: usize,
    /// The sum of the mapped ranges, KiB.
    pub mapped_kib: u64,
    /// Mappings of memfds made by weft's test clients (`weft-test-*`: the soak's wl_shm pools and
    /// dma-bufs); lavapipe's own memfds (`allocation fd`) are not counted.
    pub client_maps: usize,
}

impl ProcFigures {
    pub fn read(pid: u32) -> Result<Self, SoakError> {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let err = |e| SoakError::Proc(pid, e);
        let mut fd_targets = Vec::new();
        for entry in std::fs::read_dir(proc.join("fd")).map_err(err)? {
            let entry = entry.map_err(err)?;
            // An fd closed between read_dir and readlink is simply gone.
            if let Ok(target) = std::fs::read_link(entry.path()) {
                fd_targets.push(normalise_fd_target(&target.to_string_lossy()));
            }
        }
        fd_targets.sort();
        let status = std::fs::read_to_string(proc.join("status")).map_err(err)?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        let maps_text = std::fs::read_to_string(proc.join("maps")).map_err(err)?;
        let mut maps = 0;
        let mut mapped = 0u64;
        let mut client_maps = 0;
        for line in maps_text.lines() {
            maps += 1;
            if let Some((lo, hi)) = line
                .split_whitespace()
                .next()
                .and_then(|range| range.split_once('-'))
            {
                let lo = u64::from_str_radix(lo, 16).unwrap_or(0);
                let hi = u64::from_str_radix(hi, 16).unwrap_or(0);
                mapped += hi.saturating_sub(lo);
            }
            if line.contains("/memfd:weft-test") {
                client_maps += 1;
            }
        }
        Ok(Self {
            fds: fd_targets.len(),
            fd_targets,
            rss_kib: field("VmRSS:"),
            vm_size_kib: field("VmSize:"),
            maps,
            mapped_kib: mapped / 1024,
            client_maps,
        })
    }
}

/// `socket:[123]` → `socket`, `anon_inode:[eventfd]` stays: fds of one kind compare equal across
/// readings, so a diff shows kinds that grew, not inode numbers that changed.
fn normalise_fd_target(t: &str) -> String {
    match t.split_once(":[") {
        Some((kind, rest))
            if rest
                .trim_end_matches(']')
                .chars()
                .all(|c| c.is_ascii_digit()) =>
        {
            kind.to_string()
        }
        _ => t.to_string(),
    }
}

/// The soak's result: weft's figures after the warm-up and after the measured cycles.
#[derive(Debug, Clone)]
pub struct SoakReport {
    pub cycles: u64,
    pub warmup: u64,
    pub malloc_defaults: bool,
    pub elapsed: Duration,
    /// After [`EARLY`] cycles.
    pub early: ProcFigures,
    pub before: ProcFigures,
    pub after: ProcFigures,
    /// ERROR lines weft logged (each one a weft bug).
    pub errors: Vec<String>,
    /// What `weft msg outputs` printed at the end.
    pub outputs: String,
    /// dma-buf imports weft made (`weft msg imports`: cache misses) during the whole soak: one per
    /// cycle, the proof that the cycles reached the importer.
    pub imports: u64,
    /// Imports still cached at the end (`entries`): 0 when every wl_buffer's import died with it.
    pub imports_alive: u64,
}

impl SoakReport {
    pub fn fd_growth(&self) -> i64 {
        self.after.fds as i64 - self.before.fds as i64
    }

    pub fn rss_growth_kib(&self) -> i64 {
        self.after.rss_kib as i64 - self.before.rss_kib as i64
    }

    pub fn maps_growth(&self) -> i64 {
        self.after.maps as i64 - self.before.maps as i64
    }

    pub fn mapped_growth_kib(&self) -> i64 {
        self.after.mapped_kib as i64 - self.before.mapped_kib as i64
    }

    /// fd kinds whose count changed: (kind, before, after).
    pub fn fd_diff(&self) -> Vec<(String, usize, usize)> {
        let count = |v: &[String], k: &str| v.iter().filter(|t| *t == k).count();
        let mut kinds: Vec<&String> = self
            .before
            .fd_targets
            .iter()
            .chain(&self.after.fd_targets)
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
            .into_iter()
            .filter_map(|k| {
                let (b, a) = (
                    count(&self.before.fd_targets, k),
                    count(&self.after.fd_targets, k),
                );
                (a != b).then(|| (k.clone(), b, a))
            })
            .collect()
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (e, b, a) = (&self.early, &self.before, &self.after);
        let per_s = self.cycles as f64 / self.elapsed.as_secs_f64().max(1e-9);
        writeln!(
            f,
            "soak: {} cycles after {} warm-up cycles in {:.1} s ({per_s:.0} cycles/s), {}",
            self.cycles,
            self.warmup,
            self.elapsed.as_secs_f64(),
            if self.malloc_defaults {
                "glibc malloc defaults"
            } else {
                "MALLOC_MMAP_THRESHOLD_=131072"
            }
        )?;
        writeln!(
            f,
            "{:<20}{:>12}{:>12}{:>12}{:>12}",
            "weft",
            format!("at {EARLY}"),
            format!("at {}", self.warmup),
            format!("at {}", self.warmup + self.cycles),
            "growth"
        )?;
        let mut row = |name: &str, early: u64, before: u64, after: u64| {
            writeln!(
                f,
                "{name:<20}{early:>12}{before:>12}{after:>12}{:>+12}",
                after as i64 - before as i64
            )
        };
        row("open fds", e.fds as u64, b.fds as u64, a.fds as u64)?;
        row("VmRSS (KiB)", e.rss_kib, b.rss_kib, a.rss_kib)?;
        row("VmSize (KiB)", e.vm_size_kib, b.vm_size_kib, a.vm_size_kib)?;
        row("mappings", e.maps as u64, b.maps as u64, a.maps as u64)?;
        row("mapped (KiB)", e.mapped_kib, b.mapped_kib, a.mapped_kib)?;
        row(
            "client memfd maps",
            e.client_maps as u64,
            b.client_maps as u64,
            a.client_maps as u64,
        )?;
        for (kind, before, after) in self.fd_diff() {
            writeln!(f, "  fds of kind {kind}: {before} -> {after}")?;
        }
        writeln!(
            f,
            "dma-buf imports by weft: {} ({} still cached at the end)",
            self.imports, self.imports_alive
        )?;
        write!(f, "weft msg outputs (after):\n{}", self.outputs)?;
        write!(f, "ERROR lines logged by weft: {}", self.errors.len())
    }
}

/// A `weft` process on a private runtime directory; killed and cleaned up on drop.
pub struct WeftProcess {
    child: Child,
    pub weft: PathBuf,
    pub runtime_dir: PathBuf,
    pub socket: String,
    pub log: PathBuf,
}

impl WeftProcess {
    /// Starts `weft --backend headless --output OUTPUT --socket soak` and waits until it answers
    /// `weft msg outputs`.
    pub fn start(weft: &Path, output: &str) -> Result<Self, SoakError> {
        Self::start_with(weft, output, &[])
    }

    /// [`WeftProcess::start`] with extra environment variables.
    pub fn start_with(weft: &Path, output: &str, env: &[(&str, &str)]) -> Result<Self, SoakError> {
        let runtime_dir = private_dir("soak")?;
        let log = runtime_dir.join("weft.log");
        let socket = "soak".to_string();
        let child = Command::new(weft)
            .args([
                "--backend",
                "headless",
                "--output",
                output,
                "--socket",
                &socket,
            ])
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env("NO_COLOR", "1")
            .env(
                "WEFT_LOG",
                std::env::var("WEFT_LOG").unwrap_or("warn".into()),
            )
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("WEFT_SOCKET")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .map_err(|e| SoakError::Spawn(weft.to_path_buf(), e))?;
        let mut me = Self {
            child,
            weft: weft.to_path_buf(),
            runtime_dir,
            socket,
            log,
        };
        // lavapipe's start-up takes a few seconds unoptimised.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            me.check_alive()?;
            if me.wayland_path().exists() && me.msg(&["outputs"]).is_ok() {
                return Ok(me);
            }
            if Instant::now() > deadline {
                return Err(SoakError::NotReady(me.log_text()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn wayland_path(&self) -> PathBuf {
        self.runtime_dir.join(&self.socket)
    }

    /// `weft msg --socket soak ARGS…`: its stdout, or its stderr as the error.
    pub fn msg(&self, args: &[&str]) -> Result<String, SoakError> {
        let out = Command::new(&self.weft)
            .args(["msg", "--socket", &self.socket])
            .args(args)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env_remove("WEFT_SOCKET")
            .output()?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(SoakError::Msg(
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ))
        }
    }

    /// Kills weft (SIGKILL: no chance to remove its sockets) and reaps it; the runtime directory
    /// stays until drop.
    pub fn kill(&mut self) -> std::io::Result<()> {
        self.child.kill()?;
        self.child.wait().map(drop)
    }

    /// Fails when weft has exited.
    pub fn check_alive(&mut self) -> Result<(), SoakError> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(SoakError::Died(status.to_string(), self.log_text())),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The ERROR lines in weft's log so far.
    pub fn errors(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|l| l.contains("ERROR"))
            .map(str::to_string)
            .collect()
    }

    /// Waits until weft has no surface left and a few frames have passed.
    pub fn wait_idle(&mut self) -> Result<(), SoakError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.check_alive()?;
            if self.msg(&["--json", "surfaces"])?.trim() == "[]" {
                break;
            }
            if Instant::now() > deadline {
                return Err(SoakError::NotReady(
                    "surfaces still listed 30 s after their clients left".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    }
}

impl Drop for WeftProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.runtime_dir);
    }
}

/// A private directory (mode 0700) under the temporary directory.
pub fn private_dir(tag: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "weft-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(&dir)?;
    Ok(dir)
}

const SHM_W: i32 = 64;
const SHM_H: i32 = 64;
const POPUP_W: i32 = 32;
const POPUP_H: i32 = 32;
const SHM_LEN: usize = ((SHM_W * SHM_H + POPUP_W * POPUP_H) * 4) as usize;

/// The client side of the soak: memfds filled once and shared with weft anew in every cycle.
pub struct Cycler {
    path: PathBuf,
    shm: MemFile,
    dmabuf: MemBuffer,
}

impl Cycler {
    pub fn new(wayland_path: &Path) -> Result<Self, ClientError> {
        let mut shm = MemFile::new(SHM_LEN)?;
        for px in shm.bytes_mut().chunks_exact_mut(4) {
            px.copy_from_slice(&crate::argb(40, 120, 200, 255));
        }
        let mut dmabuf = MemBuffer::new(ARGB8888, 32, 32, Default::default())?;
        dmabuf.fill_rgb(|x, y| {
            if (x / 8 + y / 8) % 2 == 0 {
                [255, 160, 0, 255]
            } else {
                [0, 0, 0, 255]
            }
        });
        Ok(Self {
            path: wayland_path.to_path_buf(),
            shm,
            dmabuf,
        })
    }

    /// One client life (see the module docs). `n` picks `create_immed` or `create` and whether the
    /// objects are destroyed before the disconnect.
    pub fn cycle(&mut self, n: u64) -> Result<(), SoakError> {
        self.cycle_inner(n).map_err(|e| match e {
            CycleError::Client(error) => SoakError::Cycle { cycle: n, error },
            CycleError::ImportFailed => SoakError::ImportFailed(n),
        })
    }

    fn cycle_inner(&mut self, n: u64) -> Result<(), CycleError> {
        // Even cycles: create_immed, and every object destroyed before the disconnect; odd cycles:
        // create, and the client just leaves.
        let even = n & 1 == 0;
        let mut c = Client::connect(&self.path)?;
        let dmabuf = LinuxDmabuf::bind(&mut c, 5)?;
        let top = c.toplevel("soak", "weft.soak")?;

        let pool = c
            .shm
            .create_pool(self.shm.fd.as_fd(), SHM_LEN as i32, &c.qh, ());
        let main = pool.create_buffer(
            0,
            SHM_W,
            SHM_H,
            SHM_W * 4,
            wl_shm::Format::Argb8888,
            &c.qh,
            (),
        );
        let popup_buffer = pool.create_buffer(
            SHM_W * SHM_H * 4,
            POPUP_W,
            POPUP_H,
            POPUP_W * 4,
            wl_shm::Format::Argb8888,
            &c.qh,
            (),
        );
        let dma = if even {
            self.dmabuf.create_immed(&c, &dmabuf)
        } else {
            match self.dmabuf.create(&mut c, &dmabuf, 0)? {
                Outcome::Created(b) => b,
                _ => return Err(CycleError::ImportFailed),
            }
        };

        let (sub_surface, sub) = c.subsurface(&top.surface);
        sub.set_position(16, 16);
        let feedback = dmabuf
            .global
            .get_surface_feedback(&sub_surface, &c.qh, Default::default());
        c.show(&sub_surface, &dma);
        c.show(&top.surface, &main);

        let positioner = c.positioner();
        positioner.set_size(POPUP_W, POPUP_H);
        positioner.set_anchor_rect(0, 0, 8, 8);
        let (popup_surface, popup_xdg, popup) = c.popup(&top.xdg_surface, &positioner);
        popup_surface.commit();
        let id = popup_xdg.id();
        wait(&mut c, "popup configure", |s| {
            s.surface_configures.get(&id).is_some_and(|v| !v.is_empty())
        })?;
        let serial = c
            .state
            .surface_configures
            .get_mut(&id)
            .and_then(|v| v.pop())
            .ok_or(ClientError::Timeout("popup configure"))?;
        popup_xdg.ack_configure(serial);
        let tag = n as u32;
        c.frame(&popup_surface, tag);
        c.show(&popup_surface, &popup_buffer);
        wait(&mut c, "the popup's frame callback", |s| {
            s.frames_done.iter().any(|&(t, _)| t == tag)
        })?;

        if even {
            popup.destroy();
            popup_xdg.destroy();
            popup_surface.destroy();
            positioner.destroy();
            feedback.destroy();
            sub.destroy();
            sub_surface.destroy();
            top.toplevel.destroy();
            top.xdg_surface.destroy();
            top.surface.destroy();
            dma.destroy();
            main.destroy();
            popup_buffer.destroy();
            pool.destroy();
            dmabuf.global.destroy();
            c.roundtrip()?;
        }
        // Dropping the connection closes the socket: weft sees the client leave.
        drop(c);
        Ok(())
    }
}

enum CycleError {
    Client(ClientError),
    ImportFailed,
}

impl From<ClientError> for CycleError {
    fn from(e: ClientError) -> Self {
        Self::Client(e)
    }
}

/// Dispatches until `done` holds, for at most 10 s (a hang is a weft bug the soak must report, not
/// wait out).
pub fn wait(
    c: &mut Client,
    what: &'static str,
    done: impl Fn(&crate::client::State) -> bool,
) -> Result<(), ClientError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(&c.state) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ClientError::Timeout(what));
        }
        dispatch_timeout(c, left)?;
    }
    Ok(())
}

/// Reads and dispatches whatever arrives within `timeout`.
pub fn dispatch_timeout(c: &mut Client, timeout: Duration) -> Result<(), ClientError> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    c.conn.flush()?;
    if c.queue.dispatch_pending(&mut c.state)? > 0 {
        return Ok(());
    }
    if let Some(guard) = c.queue.prepare_read() {
        let ready = {
            let fd = guard.connection_fd();
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            let ts = Timespec {
                tv_sec: timeout.as_secs() as i64,
                tv_nsec: i64::from(timeout.subsec_nanos()),
            };
            poll(&mut fds, Some(&ts))?
        };
        if ready > 0 {
            guard.read()?;
        }
    }
    c.queue.dispatch_pending(&mut c.state)?;
    Ok(())
}

/// Runs the soak: starts weft, warms up, reads `/proc`, runs the cycles, reads `/proc` again and
/// asks weft for its outputs.
pub fn run(options: &SoakOptions) -> Result<SoakReport, SoakError> {
    let env: &[(&str, &str)] = if options.malloc_defaults {
        &[]
    } else {
        &[("MALLOC_MMAP_THRESHOLD_", "131072")]
    };
    let mut weft = WeftProcess::start_with(&options.weft, &options.output, env)?;
    let mut cycler =
        Cycler::new(&weft.wayland_path()).map_err(|error| SoakError::Cycle { cycle: 0, error })?;
    let mut n = 0u64;
    let mut run_cycles = |count: u64, weft: &mut WeftProcess, label: &str| {
        let start = Instant::now();
        for i in 0..count {
            if let Err(e) = cycler.cycle(n) {
                // A cycle that failed because weft died says so with weft's log.
                weft.check_alive()?;
                return Err(e);
            }
            n += 1;
            if options.progress_every > 0 && (i + 1) % options.progress_every == 0 {
                let now = ProcFigures::read(weft.pid())?;
                eprintln!(
                    "{label} {}/{count}: {:.0} cycles/s, fds {}, VmRSS {} KiB, mappings {}",
                    i + 1,
                    (i + 1) as f64 / start.elapsed().as_secs_f64(),
                    now.fds,
                    now.rss_kib,
                    now.maps
                );
            }
        }
        Ok::<Duration, SoakError>(start.elapsed())
    };
    let early_cycles = EARLY.min(options.warmup);
    run_cycles(early_cycles, &mut weft, "warm-up")?;
    weft.wait_idle()?;
    let early = ProcFigures::read(weft.pid())?;
    run_cycles(options.warmup - early_cycles, &mut weft, "warm-up")?;
    weft.wait_idle()?;
    let before = ProcFigures::read(weft.pid())?;
    let elapsed = run_cycles(options.cycles, &mut weft, "soak")?;
    weft.wait_idle()?;
    let after = ProcFigures::read(weft.pid())?;
    let outputs = weft.msg(&["outputs"])?;
    let imports_json = weft.msg(&["--json", "imports"])?;
    let imports = json_number(&imports_json, "misses").unwrap_or(0);
    let imports_alive = json_number(&imports_json, "entries").unwrap_or(u64::MAX);
    Ok(SoakReport {
        cycles: options.cycles,
        warmup: options.warmup,
        malloc_defaults: options.malloc_defaults,
        elapsed,
        early,
        before,
        after,
        errors: weft.errors(),
        outputs,
        imports,
        imports_alive,
    })
}

/// The first `"key": N` in a JSON text (enough for `weft msg --json imports`, without a JSON
/// parser in the test clients).
fn json_number(text: &str, key: &str) -> Option<u64> {
    let rest = &text[text.find(&format!("\"{key}\""))? + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
