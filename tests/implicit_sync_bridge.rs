//! The implicit-sync bridge with a real fence (tests/vm guest only: `--features vm-guest`, run by
//! tests/vm/check). A vgem buffer stands for a GPU or decoder frame: weft must not apply a commit
//! of it while a write fence is pending in its reservation, and must apply it once the fence
//! signals — without the client doing anything more (it uses no explicit sync).

mod common;

use std::time::{Duration, Instant};

use common::vgem::{centre, frame, send};
use common::Harness;
use weft_clients::dmabuf::LinuxDmabuf;
use weft_guest::vgem::{Access, Vgem, VgemBuffer};

#[test]
fn a_commit_waits_for_the_buffers_write_fence() {
    let h = Harness::deterministic(320, 240, 60);
    let vgem = Vgem::open().expect("vgem (run inside tests/vm)");
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 5).expect("linux-dmabuf");
    let t = c.toplevel("fenced", "weft.test").expect("toplevel");
    let send = |c: &weft_clients::Client, b: &VgemBuffer| send(c, &d, b);

    // Frame A (blue), no fence: shown at once.
    let a = frame(&vgem, [255, 0, 0, 0]);
    let wa = send(&c, &a);
    c.show(&t.surface, &wa);
    c.roundtrip().expect("roundtrip");
    h.settle(&mut c);
    assert_eq!(centre(&h, "fenced"), [0, 0, 255]);
    let before = h.surface("fenced");
    assert_eq!(before["fence_waits"].as_u64(), Some(0), "{before}");

    // Frame B (red) while its producer still "writes" it: a write fence in the reservation.
    let b = frame(&vgem, [0, 0, 255, 0]);
    let wb = send(&c, &b);
    let fence = vgem.attach_fence(&b, Access::Write).expect("fence");
    let attached = Instant::now();
    c.show(&t.surface, &wb);
    c.roundtrip().expect("roundtrip");
    h.settle(&mut c);
    let held = h.surface("fenced");
    assert_eq!(held["fence_waits"].as_u64(), Some(1), "{held}");
    assert_eq!(held["fence_waiting"], true, "{held}");
    assert_eq!(
        held["commits"], before["commits"],
        "the commit is held, not applied: {held}"
    );
    assert_eq!(centre(&h, "fenced"), [0, 0, 255], "still frame A");
    assert!(
        attached.elapsed() < Duration::from_secs(8),
        "vgem signals by itself after 10 s; the held state must be checked before"
    );

    // The producer finishes: weft applies the held commit by itself.
    vgem.signal(fence).expect("signal");
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.surface("fenced")["commits"] == before["commits"] {
        assert!(
            Instant::now() < deadline,
            "the held commit was never applied"
        );
        c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(20));
    }
    h.settle(&mut c);
    assert_eq!(centre(&h, "fenced"), [255, 0, 0], "frame B after its fence");
    let s = h.surface("fenced");
    assert_eq!(s["buffer"]["kind"], "dmabuf", "{s}");
    // The writers were found through DMA_BUF_IOCTL_EXPORT_SYNC_FILE(READ), not by polling.
    assert_eq!(s["sync"], "implicit_sync_file", "{s}");
    assert!(c.protocol_error().is_none());
}

#[test]
fn a_client_piling_up_held_commits_is_ended_and_nobody_else() {
    let h = Harness::deterministic(320, 240, 60);
    let vgem = Vgem::open().expect("vgem (run inside tests/vm)");
    // A bystander with a shm window keeps being served throughout.
    let mut bystander = h.client();
    let bt = bystander
        .toplevel("bystander", "weft.test")
        .expect("toplevel");
    let green = weft_clients::ShmBuffer::new(
        &bystander.shm,
        &bystander.qh,
        32,
        32,
        wayland_client::protocol::wl_shm::Format::Xrgb8888,
        |_, _| weft_clients::argb(0, 255, 0, 255),
    )
    .expect("shm buffer");
    bystander.show(&bt.surface, &green.buffer);
    bystander.roundtrip().expect("roundtrip");

    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 5).expect("linux-dmabuf");
    let t = c.toplevel("piling", "weft.test").expect("toplevel");
    // Every commit of a fenced buffer is held (one buffer each: a dma-buf's fd can wait in the
    // event loop once); the 65th passes the budget of 64.
    let frames: Vec<VgemBuffer> = (0..65).map(|_| frame(&vgem, [0, 0, 255, 0])).collect();
    let fences: Vec<_> = frames
        .iter()
        .map(|b| vgem.attach_fence(b, Access::Write).expect("fence"))
        .collect();
    let attached = Instant::now();
    let buffers: Vec<_> = frames.iter().map(|b| send(&c, &d, b)).collect();
    for wb in &buffers[..64] {
        c.show(&t.surface, wb);
    }
    c.roundtrip()
        .expect("64 held commits are within the budget");
    let held = h.surface("piling");
    assert_eq!(held["fence_waits"].as_u64(), Some(64), "{held}");
    c.show(&t.surface, &buffers[64]);
    let result = c.roundtrip().and_then(|_| c.roundtrip());
    assert!(result.is_err(), "the 65th held commit ends the client");
    let (code, interface, message) = c.protocol_error().expect("a protocol error");
    assert_eq!((interface.as_str(), code), ("wl_display", 2), "{message}");
    assert!(message.contains("held commits"), "{message}");
    assert!(
        attached.elapsed() < Duration::from_secs(8),
        "vgem signals by itself after 10 s; the limit must be reached before"
    );
    // The bystander is served, and weft is fine once the fence signals.
    bystander.frame(&bt.surface, 1);
    bystander.show(&bt.surface, &green.buffer);
    bystander
        .wait_until("bystander frame", 500, |s| {
            s.frames_done.iter().any(|(tag, _)| *tag == 1)
        })
        .expect("the bystander keeps getting frame callbacks");
    for fence in fences {
        let _ = vgem.signal(fence);
    }
    h.settle(&mut bystander);
    assert_eq!(h.surfaces().len(), 1, "only the bystander is left");
}

#[test]
fn the_same_fenced_buffer_committed_twice_is_held_twice() {
    let h = Harness::deterministic(320, 240, 60);
    let vgem = Vgem::open().expect("vgem (run inside tests/vm)");
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 5).expect("linux-dmabuf");
    let t = c.toplevel("twice", "weft.test").expect("toplevel");
    // Frame A (blue) shown; then frame B (red) committed twice while its write fence is pending.
    let a = frame(&vgem, [255, 0, 0, 0]);
    let wa = send(&c, &d, &a);
    c.show(&t.surface, &wa);
    c.roundtrip().expect("roundtrip");
    h.settle(&mut c);
    let before = h.surface("twice");
    let b = frame(&vgem, [0, 0, 255, 0]);
    let wb = send(&c, &d, &b);
    let fence = vgem.attach_fence(&b, Access::Write).expect("fence");
    let attached = Instant::now();
    c.show(&t.surface, &wb);
    c.show(&t.surface, &wb);
    c.roundtrip().expect("roundtrip");
    h.settle(&mut c);
    let held = h.surface("twice");
    assert_eq!(
        held["fence_waits"].as_u64(),
        Some(2),
        "both commits wait: {held}"
    );
    assert_eq!(
        held["commits"], before["commits"],
        "neither is applied: {held}"
    );
    assert_eq!(centre(&h, "twice"), [0, 0, 255], "still frame A");
    assert!(attached.elapsed() < Duration::from_secs(8));
    vgem.signal(fence).expect("signal");
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.surface("twice")["commits"] == before["commits"] {
        assert!(
            Instant::now() < deadline,
            "the held commits were never applied"
        );
        c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(20));
    }
    h.settle(&mut c);
    assert_eq!(centre(&h, "twice"), [255, 0, 0], "frame B after its fence");
}

/// After weft reads a buffer in place, the producer's next implicitly synced write waits for
/// weft: weft's read fence is in the buffer (`IMPORT_SYNC_FILE(READ)`), seen by the producer's
/// `EXPORT_SYNC_FILE(WRITE)` while the reading frame runs (held by a stalled GPU) and signalled
/// once it is done. Other readers never wait for it.
#[test]
fn a_writer_waits_for_weft_s_read_fence() {
    use weft_guest::dmabuf::{SYNC_READ, SYNC_WRITE};
    let h = Harness::with_fault_injection(320, 240, 60);
    let sync = h.msg(weft::Request::Imports)["sync"].clone();
    println!("sync: {sync}");
    // lavapipe exports no fence of its own: weft makes its read fences on vgem.
    assert_eq!(sync["read_fence"], "vgem", "{sync}");
    let vgem = Vgem::open().expect("vgem (run inside tests/vm)");
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 5).expect("linux-dmabuf");
    let t = c.toplevel("read", "weft.test").expect("toplevel");
    let x = frame(&vgem, [255, 0, 0, 0]);
    let wx = send(&c, &d, &x);
    c.show(&t.surface, &wx);
    h.settle(&mut c);
    assert_eq!(centre(&h, "read"), [0, 0, 255]);
    let s = h.surface("read");
    println!("{s}");
    assert_eq!(s["sync"], "implicit_sync_file", "{s}");
    assert_eq!(s["copied_bytes_per_frame"], 0, "read in place: {s}");
    assert!(s["read_fences"].as_u64() >= Some(1), "{s}");
    // Frames that finished left only signalled fences: the producer may write now.
    c.roundtrip().expect("roundtrip");
    std::thread::sleep(Duration::from_millis(100));
    assert!(x
        .dmabuf
        .export_sync_file(SYNC_WRITE)
        .expect("export")
        .wait(Duration::from_secs(2))
        .expect("poll"));

    // A frame that reads X and does not finish.
    h.inject_fault("gpu-stall");
    h.msg(weft::Request::Redraw {
        output: Some("HEADLESS-1".into()),
    });
    let before = s["read_fences"].as_u64().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.surface("read")["read_fences"].as_u64().unwrap_or(0) <= before {
        assert!(
            Instant::now() < deadline,
            "no read fence for the stalled frame"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let writer = x.dmabuf.export_sync_file(SYNC_WRITE).expect("export WRITE");
    let reader = x.dmabuf.export_sync_file(SYNC_READ).expect("export READ");
    assert!(
        !writer.is_signalled().expect("poll"),
        "the next writer must wait for weft's frame in flight"
    );
    assert!(
        reader.is_signalled().expect("poll"),
        "another reader does not wait for weft's read"
    );
    h.inject_fault("gpu-resume");
    assert!(
        writer.wait(Duration::from_secs(5)).expect("poll"),
        "weft's read fence signals once its frame is done"
    );
    assert!(c.protocol_error().is_none());
}
