//! Per-client budgets: one greedy client can neither stall the others nor exhaust weft. Each limit
//! is provoked for real over the socket, and a bystander's frame callbacks are measured meanwhile.

mod common;

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Harness;
use wayland_client::protocol::wl_shm::Format;
use weft::Request;
use weft_clients::{argb, Client, ShmBuffer};

/// A client that commits a new frame at every frame callback, on its own thread, and reports the
/// longest gap between two frame callbacks and how many it got.
struct Bystander {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Duration, u32)>,
}

impl Bystander {
    fn start(h: &Harness) -> Self {
        let path = h.weft.wayland_path();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut c = Client::connect(&path).unwrap();
            let top = c.toplevel("bystander", "weft.bystander").unwrap();
            let buf = ShmBuffer::new(&c.shm, &c.qh, 64, 64, Format::Xrgb8888, |_, _| {
                argb(0, 200, 0, 255)
            })
            .unwrap();
            c.show(&top.surface, &buf.buffer);
            c.roundtrip().unwrap();
            ready_tx.send(()).unwrap();
            let (mut longest, mut frames) = (Duration::ZERO, 0u32);
            let mut last = Instant::now();
            while !flag.load(Ordering::SeqCst) {
                let tag = frames + 1;
                c.frame(&top.surface, tag);
                c.show(&top.surface, &buf.buffer);
                c.wait_until("bystander frame", 100_000, |s| {
                    s.frames_done.iter().any(|(t, _)| *t == tag)
                })
                .expect("the bystander keeps getting frame callbacks");
                let now = Instant::now();
                longest = longest.max(now - last);
                last = now;
                frames += 1;
            }
            (longest, frames)
        });
        ready_rx.recv().expect("the bystander is up");
        Self { stop, thread }
    }

    fn finish(self) -> (Duration, u32) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the bystander thread")
    }
}

#[test]
fn a_huge_shm_buffer_is_refused_and_stalls_nobody() {
    let h = Harness::new(640, 480, 60);
    let bystander = Bystander::start(&h);
    std::thread::sleep(Duration::from_millis(300));
    let mut greedy = h.client();
    let top = greedy.toplevel("greedy", "weft.greedy").unwrap();
    // 16384×16384: 1 GiB of texture, four times the per-client budget.
    let (_fd, buffer) =
        weft_clients::shm::sparse_buffer(&greedy.shm, &greedy.qh, 16384, 16384).unwrap();
    let started = Instant::now();
    greedy.show(&top.surface, &buffer);
    greedy
        .roundtrip()
        .expect("the greedy client stays connected");
    let handled = started.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let (longest, frames) = bystander.finish();
    println!(
        "greedy 16384x16384 commit handled in {handled:?}; bystander: {frames} frames, longest gap {longest:?}"
    );
    let s = h.surface("greedy");
    let reason = s["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("over the per-client budget for wl_shm texture memory"),
        "greedy surface reason: {s}"
    );
    assert!(
        s["buffer"].is_null(),
        "the refused buffer is not shown: {s}"
    );
    assert_eq!(s["mapped"], false, "{s}");
    // A liveness bound, far above a frame and far below the 12 s freeze this guards against.
    assert!(
        longest < Duration::from_secs(2),
        "the bystander waited {longest:?} for a frame"
    );
    let outputs = h.msg(Request::Outputs);
    assert_eq!(outputs.as_array().map(|a| a.len()), Some(1));
}

#[test]
fn a_large_shm_buffer_is_copied_in_slices_while_others_are_served() {
    let h = Harness::new(640, 480, 60);
    // The copy path (`ShmInPlace` has no upload to measure).
    h.copy_shm();
    let bystander = Bystander::start(&h);
    let mut c = h.client();
    let top = c.toplevel("large", "weft.large").unwrap();
    // 8192×2048 XRGB8888 = 64 MiB: four slices. Rows < 1024 red, the rest blue.
    let buf = ShmBuffer::new(&c.shm, &c.qh, 8192, 2048, Format::Xrgb8888, |_, y| {
        if y < 1024 {
            argb(255, 0, 0, 255)
        } else {
            argb(0, 0, 255, 255)
        }
    })
    .unwrap();
    // The whole buffer scaled into 512×128, so every slice's rows are on screen.
    let viewport = c.viewport(&top.surface);
    viewport.set_destination(512, 128);
    c.show(&top.surface, &buf.buffer);
    c.roundtrip().unwrap();
    let mut shown = serde_json::Value::Null;
    for _ in 0..200 {
        shown = h.surface("large");
        if shown["mapped"] == true {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (longest, frames) = bystander.finish();
    println!("64 MiB wl_shm commit: bystander {frames} frames, longest gap {longest:?}");
    assert_eq!(shown["mapped"], true, "{shown}");
    let reason = shown["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("in slices"), "{shown}");
    assert_eq!(shown["uploaded_bytes"], 8192 * 2048 * 4, "{shown}");
    let (x, y) = (
        shown["x"].as_u64().unwrap() as u32,
        shown["y"].as_u64().unwrap() as u32,
    );
    let shot = h.screenshot("HEADLESS-1");
    shot.assert_pixel(x + 256, y + 16, [255, 0, 0, 255], 2);
    shot.assert_pixel(x + 256, y + 112, [0, 0, 255, 255], 2);
    assert!(
        longest < Duration::from_secs(2),
        "the bystander waited {longest:?} for a frame"
    );
}

/// Expects `c`'s connection to end with `wl_display.error(no_memory)` naming `what`.
#[track_caller]
fn expect_no_memory(c: &mut Client, what: &str) {
    let result = c.roundtrip().and_then(|_| c.roundtrip());
    assert!(
        result.is_err(),
        "expected no_memory, the connection is fine"
    );
    let (code, interface, message) = c.protocol_error().expect("a protocol error");
    assert_eq!((interface.as_str(), code), ("wl_display", 2), "{message}");
    assert!(message.contains(what), "{message}");
}

#[test]
fn too_many_shm_pools_end_the_client_and_nobody_else() {
    let h = Harness::new(320, 240, 60);
    let bystander = Bystander::start(&h);
    let mut c = h.client();
    let fd = rustix::fs::memfd_create("weft-pools", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    rustix::fs::ftruncate(&fd, 4096).unwrap();
    let mut pools = Vec::new();
    for _ in 0..1024 {
        pools.push(c.shm.create_pool(fd.as_fd(), 4096, &c.qh, ()));
    }
    c.roundtrip().expect("1024 pools are within the budget");
    // Destroyed pools give their share back.
    for p in pools.drain(..10) {
        p.destroy();
    }
    for _ in 0..10 {
        pools.push(c.shm.create_pool(fd.as_fd(), 4096, &c.qh, ()));
    }
    c.roundtrip().expect("destroyed pools were given back");
    pools.push(c.shm.create_pool(fd.as_fd(), 4096, &c.qh, ()));
    expect_no_memory(&mut c, "wl_shm pools");
    let (_, frames) = bystander.finish();
    assert!(frames > 0);
    h.msg(Request::Outputs);
}

#[test]
fn too_many_surfaces_end_the_client_and_nobody_else() {
    let h = Harness::new(320, 240, 60);
    let bystander = Bystander::start(&h);
    let mut c = h.client();
    let surfaces: Vec<_> = (0..4096)
        .map(|_| c.compositor.create_surface(&c.qh, ()))
        .collect();
    c.roundtrip().expect("4096 surfaces are within the budget");
    let _one_more = c.compositor.create_surface(&c.qh, ());
    expect_no_memory(&mut c, "surfaces");
    drop(surfaces);
    let (_, frames) = bystander.finish();
    assert!(frames > 0);
    // A new client has a budget of its own.
    let mut fresh = h.client();
    let _s: Vec<_> = (0..100)
        .map(|_| fresh.compositor.create_surface(&fresh.qh, ()))
        .collect();
    fresh.roundtrip().expect("another client is not charged");
}

#[test]
fn dma_bufs_over_the_import_budget_fail_and_destroyed_ones_give_back() {
    use weft_clients::dmabuf::{Layout, LinuxDmabuf, MemBuffer, Outcome, XRGB8888};
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    let dmabuf = LinuxDmabuf::bind(&mut c, 4).unwrap();
    // 4096×4096 XRGB8888: 64 MiB a buffer (sparse memfds); the budget is 1 GiB.
    let make = || MemBuffer::new(XRGB8888, 4096, 4096, Layout::default()).unwrap();
    let mut created = Vec::new();
    let mut refused = None;
    for _ in 0..20 {
        let mem = make();
        match mem.create(&mut c, &dmabuf, 0).unwrap() {
            Outcome::Created(b) => created.push((mem, b)),
            Outcome::Failed => {
                refused = Some(mem);
                break;
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert!(refused.is_some(), "20 × 64 MiB were all imported");
    assert_eq!(
        created.len(),
        15,
        "1 GiB holds 15 buffers of 64 MiB + padding"
    );
    // Destroying one gives its share back: the refused one fits now.
    let (_mem, buffer) = created.pop().unwrap();
    buffer.destroy();
    c.roundtrip().unwrap();
    let again = refused.unwrap().create(&mut c, &dmabuf, 0).unwrap();
    assert!(matches!(again, Outcome::Created(_)), "{again:?}");
}
