//! Fault injection (issue 14, "Reliability"), over weft's real Wayland socket: clients that die in
//! the middle of a commit or an import, fds closed or memfds truncated after they were sent, and
//! `weft msg` against a weft that is gone. Throughout, a bystander client commits a new frame on
//! every frame callback; after each fault it must still be getting them, weft must still answer
//! IPC, and (the harness) weft must not have logged an ERROR.

mod common;

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::Harness;
use wayland_client::protocol::wl_shm::Format;
use wayland_client::Proxy;
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;
use weft::Request;
use weft_clients::dmabuf::{LinuxDmabuf, MemBuffer, MemFile, Outcome, ARGB8888, MOD_LINEAR};
use weft_clients::soak::{wait, WeftProcess};
use weft_clients::{argb, Client, ShmBuffer, Toplevel};

const RED: [u8; 4] = [255, 0, 0, 255];

/// A client on its own thread that shows a 64×64 window and commits a new buffer (green, blue,
/// green…) on every frame callback, counting them.
struct Bystander {
    frames: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Bystander {
    fn start(h: &Harness) -> Self {
        let path = h.weft.wayland_path();
        let frames = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (frames.clone(), stop.clone());
        let thread = std::thread::spawn(move || -> Result<(), String> {
            let e = |e: weft_clients::ClientError| e.to_string();
            let mut c = Client::connect(&path).map_err(e)?;
            let top = c.toplevel("bystander", "weft.bystander").map_err(e)?;
            let colours = [argb(0, 255, 0, 255), argb(0, 0, 255, 255)];
            let buffers = colours
                .map(|px| ShmBuffer::new(&c.shm, &c.qh, 64, 64, Format::Xrgb8888, move |_, _| px));
            let [Ok(a), Ok(b)] = buffers else {
                return Err("bystander buffers".into());
            };
            let buffers = [a, b];
            let mut n = 0u32;
            while !s.load(Ordering::SeqCst) {
                c.frame(&top.surface, n);
                c.show(&top.surface, &buffers[n as usize % 2].buffer);
                wait(&mut c, "the bystander's frame callback", |st| {
                    st.frames_done.iter().any(|&(t, _)| t == n)
                })
                .map_err(e)?;
                c.state.frames_done.clear();
                f.fetch_add(1, Ordering::SeqCst);
                n += 1;
            }
            Ok(())
        });
        let me = Self {
            frames,
            stop,
            thread: Some(thread),
        };
        me.assert_served(h, "start-up");
        me
    }

    /// Asserts that the bystander gets three more frame callbacks (within 10 s) and that weft
    /// answers IPC, after `what`.
    #[track_caller]
    fn assert_served(&self, h: &Harness, what: &str) {
        let start = self.frames.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.frames.load(Ordering::SeqCst) < start + 3 {
            let finished = self.thread.as_ref().is_some_and(|t| t.is_finished());
            assert!(
                !finished && Instant::now() < deadline,
                "after {what}, the bystander got no frame callbacks (its thread finished: {finished})"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let outputs = h.msg(Request::Outputs);
        assert_eq!(outputs[0]["name"], "HEADLESS-1", "after {what}: {outputs}");
    }

    fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let result = self.thread.take().expect("running").join();
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the bystander failed: {e}"),
            Err(_) => panic!("the bystander panicked"),
        }
    }
}

/// Waits until no surface titled `title` is listed (its client is gone and weft cleaned up).
#[track_caller]
fn wait_gone(h: &Harness, title: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.surfaces().iter().any(|s| s["title"] == title) {
        assert!(
            Instant::now() < deadline,
            "weft still lists {title:?} 10 s after its client died"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The centre of the window titled `title` in a screenshot.
fn centre_of(h: &Harness, title: &str) -> [u8; 4] {
    let s = h.surface(title);
    let (x, y) = (
        s["x"].as_u64().unwrap() as u32,
        s["y"].as_u64().unwrap() as u32,
    );
    let (w, hh) = (
        s["width"].as_u64().unwrap() as u32,
        s["height"].as_u64().unwrap() as u32,
    );
    h.screenshot("HEADLESS-1").pixel(x + w / 2, y + hh / 2)
}

/// Commits `buffer` on `top` with a frame callback and waits until it was drawn.
fn show_and_wait(
    c: &mut Client,
    top: &Toplevel,
    buffer: &wayland_client::protocol::wl_buffer::WlBuffer,
    tag: u32,
) {
    c.frame(&top.surface, tag);
    c.show(&top.surface, buffer);
    wait(c, "frame callback", |s| {
        s.frames_done.iter().any(|&(t, _)| t == tag)
    })
    .expect("the commit is drawn");
}

/// A plain (unsealed) memfd of `len` bytes, every 4-byte pixel `px`.
fn plain_memfd(len: usize, px: [u8; 4]) -> OwnedFd {
    let fd = rustix::fs::memfd_create("weft-test-plain", rustix::fs::MemfdFlags::CLOEXEC)
        .expect("memfd");
    let mut file = std::fs::File::from(fd.try_clone().expect("dup"));
    let bytes: Vec<u8> = px.iter().copied().cycle().take(len).collect();
    file.write_all(&bytes).expect("fill");
    fd
}

/// A sealed memfd "dma-buf", 64×64 ARGB8888, all `rgba`.
fn dmabuf_of(rgba: [u8; 4]) -> MemBuffer {
    let mut buf = MemBuffer::new(ARGB8888, 64, 64, Default::default()).expect("memfd");
    buf.fill_rgb(|_, _| rgba);
    buf
}

#[test]
fn clients_killed_mid_commit_cost_only_themselves() {
    let h = Harness::new(640, 480, 60);
    let bystander = Bystander::start(&h);

    // Attach + commit (with a frame callback) sent, then the connection closed without reading
    // anything back: weft processes the commit for a client that is gone.
    for round in 0..2 {
        let mut c = h.client();
        let top = c.toplevel("dropped", "weft.faults").unwrap();
        let buffer = ShmBuffer::new(&c.shm, &c.qh, 64, 64, Format::Xrgb8888, |_, _| {
            argb(255, 0, 0, 255)
        })
        .unwrap();
        let dma = dmabuf_of(RED);
        let d = LinuxDmabuf::bind(&mut c, 5).unwrap();
        let dma_buffer = dma.create_immed(&c, &d);
        let (sub, _role) = c.subsurface(&top.surface);
        c.frame(&top.surface, 1);
        c.show(&sub, &dma_buffer);
        c.show(&top.surface, &buffer.buffer);
        if round == 1 {
            // The same, with the buffer destroyed right after the commit.
            buffer.buffer.destroy();
        }
        c.conn.flush().unwrap();
        drop(c);
        bystander.assert_served(&h, "a client that left right after attach+commit");
        wait_gone(&h, "dropped");
    }

    // Half a message on the wire: the header of a wl_surface.attach (20 bytes) and 4 of its bytes,
    // then the connection closes.
    {
        let mut c = h.client();
        let top = c.toplevel("half", "weft.faults").unwrap();
        c.conn.flush().unwrap();
        let mut half = Vec::new();
        half.extend_from_slice(&top.surface.id().protocol_id().to_ne_bytes());
        half.extend_from_slice(&((20u32 << 16) | 1).to_ne_bytes());
        half.extend_from_slice(&0u32.to_ne_bytes());
        let backend = c.conn.backend();
        let written = rustix::io::write(backend.poll_fd(), &half).expect("write on the socket");
        assert_eq!(written, half.len());
        drop(backend);
        drop(c);
        bystander.assert_served(&h, "a client that died half-way through a message");
        wait_gone(&h, "half");
    }

    // A real process (Debian's weston-simple-shm, which commits a new frame every frame) killed
    // with SIGKILL at different points of its life.
    let simple_shm = std::path::Path::new("/usr/bin/weston-simple-shm");
    assert!(
        simple_shm.exists(),
        "weston-simple-shm is missing: install Debian's weston (scripts/install-deps --test)"
    );
    for delay_ms in [0u64, 3, 17, 40, 250] {
        let mut child = Command::new(simple_shm)
            .env("XDG_RUNTIME_DIR", &h.runtime_dir)
            .env("WAYLAND_DISPLAY", &h.weft.endpoints.socket_name)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("weston-simple-shm starts");
        if delay_ms > 0 {
            // Wait until it shows, so it dies while committing frames, not while starting.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !h.surfaces().iter().any(|s| s["title"] == "simple-shm") {
                assert!(Instant::now() < deadline, "weston-simple-shm never showed");
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(delay_ms));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        bystander.assert_served(&h, &format!("weston-simple-shm killed after {delay_ms} ms"));
        wait_gone(&h, "simple-shm");
    }
    bystander.finish();
}

#[test]
fn clients_gone_mid_import_leave_no_import_behind() {
    let h = Harness::new(640, 480, 60);
    let bystander = Bystander::start(&h);
    let imports = |h: &Harness| h.msg(Request::Imports)["cache"].clone();
    let baseline = imports(&h)["entries"].as_u64().unwrap();

    // params.add only (the fd is in flight), then gone; params.create sent, gone before
    // `created`; create_immed sent, gone; create_immed + attach + commit, gone.
    for stage in 0..4 {
        let mut c = h.client();
        let d = LinuxDmabuf::bind(&mut c, 5).unwrap();
        let dma = dmabuf_of(RED);
        match stage {
            0 => {
                let (params, _) = d.params(&c);
                dma.add_planes(&params, MOD_LINEAR);
            }
            1 => {
                let (params, _) = d.params(&c);
                dma.add_planes(&params, MOD_LINEAR);
                params.create(64, 64, ARGB8888, Flags::empty());
            }
            2 => {
                dma.create_immed(&c, &d);
            }
            _ => {
                let top = c.toplevel("importing", "weft.faults").unwrap();
                let b = dma.create_immed(&c, &d);
                c.show(&top.surface, &b);
            }
        }
        c.conn.flush().unwrap();
        drop(c);
        drop(dma);
        bystander.assert_served(&h, &format!("a client gone mid-import (stage {stage})"));
    }
    wait_gone(&h, "importing");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cache = imports(&h);
        if cache["entries"].as_u64() == Some(baseline) {
            // Three of the four stages reached the importer (stage 0 never asked for a buffer).
            assert!(cache["misses"].as_u64().unwrap() >= 3, "{cache}");
            assert_eq!(cache["failures"], 0, "{cache}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "imports outlived their clients: {cache}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    bystander.finish();
}

#[test]
fn buffers_whose_fds_the_client_closed_are_still_shown() {
    let h = Harness::new(640, 480, 60);
    let bystander = Bystander::start(&h);
    let mut c = h.client();

    // A dma-buf: the client closes (and unmaps) its memfd once `created` arrived; weft holds its own
    // copy of the fd, so the buffer still shows, and again after a re-commit.
    let top = c.toplevel("closed-dmabuf", "weft.faults").unwrap();
    let d = LinuxDmabuf::bind(&mut c, 5).unwrap();
    let dma = dmabuf_of(RED);
    let Outcome::Created(buffer) = dma.create(&mut c, &d, 0).unwrap() else {
        panic!("a sealed memfd is imported");
    };
    drop(dma);
    show_and_wait(&mut c, &top, &buffer, 1);
    assert_eq!(centre_of(&h, "closed-dmabuf"), RED);
    show_and_wait(&mut c, &top, &buffer, 2);
    assert_eq!(centre_of(&h, "closed-dmabuf"), RED);
    bystander.assert_served(&h, "a dma-buf whose fd the client closed");

    // wl_shm: the pool's fd closed right after create_pool.
    let top = c.toplevel("closed-shm", "weft.faults").unwrap();
    let fd = plain_memfd(64 * 64 * 4, argb(255, 0, 0, 255));
    let pool = c.shm.create_pool(fd.as_fd(), 64 * 64 * 4, &c.qh, ());
    let buffer = pool.create_buffer(0, 64, 64, 256, Format::Xrgb8888, &c.qh, ());
    c.conn.flush().unwrap();
    drop(fd);
    show_and_wait(&mut c, &top, &buffer, 3);
    assert_eq!(centre_of(&h, "closed-shm"), RED);
    bystander.assert_served(&h, "a wl_shm pool whose fd the client closed");
    assert!(c.protocol_error().is_none());
    bystander.finish();
}

#[test]
fn a_sealed_memfd_cannot_shrink_and_an_unsealed_one_is_refused() {
    let h = Harness::new(640, 480, 60);
    let bystander = Bystander::start(&h);
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 5).unwrap();

    // Sealed with F_SEAL_SHRINK: imported; the client cannot truncate it afterwards (EPERM), so the
    // buffer keeps showing its pixels.
    let top = c.toplevel("sealed", "weft.faults").unwrap();
    let dma = dmabuf_of(RED);
    let Outcome::Created(buffer) = dma.create(&mut c, &d, 0).unwrap() else {
        panic!("a sealed memfd is imported");
    };
    show_and_wait(&mut c, &top, &buffer, 1);
    assert_eq!(
        rustix::fs::ftruncate(&dma.files[0].fd, 0),
        Err(rustix::io::Errno::PERM),
        "a memfd sealed with F_SEAL_SHRINK cannot shrink"
    );
    show_and_wait(&mut c, &top, &buffer, 2);
    assert_eq!(centre_of(&h, "sealed"), RED);
    let sealed = h.surface("sealed");
    assert!(sealed["rung"].is_string(), "{sealed}");
    bystander.assert_served(&h, "a sealed memfd truncated");

    // Unsealed: a client could shrink it under weft's reads, so `create` answers `failed` — not a
    // protocol error, the connection lives on — and `create_immed` kills the connection with
    // invalid_wl_buffer, as the spec says.
    let unsealed = MemBuffer::with_files(ARGB8888, 64, 64, Default::default(), MemFile::unsealed)
        .expect("memfd");
    assert!(
        matches!(unsealed.create(&mut c, &d, 0).unwrap(), Outcome::Failed),
        "an unsealed memfd must be refused"
    );
    c.roundtrip().unwrap();
    assert!(c.protocol_error().is_none());
    // After `failed` the client may truncate its memfd: nobody maps it.
    rustix::fs::ftruncate(&unsealed.files[0].fd, 0).expect("an unsealed memfd can shrink");
    bystander.assert_served(&h, "an unsealed memfd refused");
    let cache = h.msg(Request::Imports)["cache"].clone();
    assert_eq!(cache["failures"], 1, "{cache}");
    bystander.finish();
}

#[test]
fn a_wl_shm_pool_truncated_under_weft_costs_only_its_client() {
    let h = Harness::new(640, 480, 60);
    let bystander = Bystander::start(&h);
    // Truncated after a buffer of it was shown, then committed again; and truncated before the
    // first commit. Reading it would SIGBUS weft: smithay's guard catches the signal, the read sees
    // zeros, and smithay posts wl_shm.invalid_fd on the wl_buffer ("Bad pool size."), which kills
    // that client's connection and with it its surfaces.
    for shown_first in [true, false] {
        let title = if shown_first {
            "truncated-after"
        } else {
            "truncated-before"
        };
        let mut c = h.client();
        let top = c.toplevel(title, "weft.faults").unwrap();
        let len = 64 * 64 * 4;
        let fd = plain_memfd(len, argb(255, 0, 0, 255));
        let pool = c.shm.create_pool(fd.as_fd(), len as i32, &c.qh, ());
        let buffer = pool.create_buffer(0, 64, 64, 256, Format::Xrgb8888, &c.qh, ());
        if shown_first {
            show_and_wait(&mut c, &top, &buffer, 1);
            assert_eq!(centre_of(&h, title), RED);
        }
        rustix::fs::ftruncate(&fd, 0).expect("a plain memfd can shrink");
        c.frame(&top.surface, 2);
        c.show(&top.surface, &buffer);
        let result = c.roundtrip().and_then(|()| c.roundtrip());
        assert!(result.is_err(), "the connection survived a truncated pool");
        let (code, interface, message) = c.protocol_error().expect("a protocol error");
        assert_eq!(
            (interface.as_str(), code),
            ("wl_buffer", 2),
            "wl_shm.invalid_fd on the wl_buffer, got: {message}"
        );
        drop(c);
        bystander.assert_served(&h, &format!("a wl_shm pool truncated ({title})"));
        wait_gone(&h, title);
    }
    bystander.finish();
}

#[test]
fn weft_msg_against_a_weft_that_is_gone_says_so_and_fails() {
    let mut weft = WeftProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_weft")),
        "320x240@60",
    )
    .expect("weft starts");
    assert!(weft.msg(&["outputs"]).is_ok());
    let ipc = weft.runtime_dir.join(format!("weft-{}.sock", weft.socket));
    // SIGKILL: weft cannot remove its sockets, so the IPC socket file stays with nobody listening.
    weft.kill().expect("weft killed");
    assert!(ipc.exists(), "the IPC socket file stays after SIGKILL");
    let msg = || {
        Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["msg", "--socket", &weft.socket, "outputs"])
            .env("XDG_RUNTIME_DIR", &weft.runtime_dir)
            .env("RUST_BACKTRACE", "1")
            .env_remove("WEFT_SOCKET")
            .output()
            .expect("weft msg runs")
    };
    for (case, why) in [
        ("the socket of a killed weft", "Connection refused"),
        ("no socket at all", "No such file or directory"),
    ] {
        if why.starts_with("No such") {
            std::fs::remove_file(&ipc).expect("remove the stale socket");
        }
        let out = msg();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
        assert!(out.stdout.is_empty(), "{case}: stdout {:?}", out.stdout);
        assert!(
            stderr.starts_with("weft: cannot reach weft at ")
                && stderr.contains(&*ipc.to_string_lossy())
                && stderr.contains(why),
            "{case}: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{case}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{case}: one line: {stderr}");
    }
}
