//! Explicit sync (wp_linux_drm_syncobj_v1) with real DRM timelines on virtio-gpu and real dma-bufs
//! from vgem (tests/vm guest only: `--features vm-guest`, run by tests/vm/check).
//!
//! - the global is offered where a device has timeline syncobjs and SYNCOBJ_EVENTFD;
//! - a commit whose acquire point is signalled late appears only after it;
//! - a release point is signalled only once the frame reading the buffer has finished (a stalled
//!   GPU holds it), checked from the client with SYNCOBJ_QUERY;
//! - an acquire point that never signals holds only its surface: a second client keeps its frame
//!   rate, the stuck surface shows its last good frame and reports its wait, and disconnecting
//!   leaves no wait behind;
//! - every protocol error the spec defines, each provoked, with a bystander still served.

mod common;

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::vgem::{centre, frame, send};
use common::{assert_ended_with, solid_shm, Harness};
use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_client::protocol::wl_surface::WlSurface;
use wayland_protocols::wp::linux_drm_syncobj::v1::client::wp_linux_drm_syncobj_timeline_v1::WpLinuxDrmSyncobjTimelineV1;
use weft::Request;
use weft_clients::dmabuf::LinuxDmabuf;
use weft_clients::syncobj::{set_points, Syncobj};
use weft_clients::Client;
use weft_guest::drm_node::DrmNode;
use weft_guest::syncobj::Timeline;
use weft_guest::vgem::Vgem;

const BLUE: [u8; 4] = [255, 0, 0, 0];
const RED: [u8; 4] = [0, 0, 255, 0];

fn virtio() -> DrmNode {
    DrmNode::by_driver("virtio_gpu").expect("virtio-gpu (run inside tests/vm)")
}

/// A client with linux-dmabuf and the syncobj manager bound.
struct Explicit {
    c: Client,
    d: LinuxDmabuf,
    s: Syncobj,
}

fn explicit(h: &Harness) -> Explicit {
    let mut c = h.client();
    let d = LinuxDmabuf::bind(&mut c, 4).expect("linux-dmabuf");
    let s = Syncobj::bind(&mut c).expect("wp_linux_drm_syncobj_manager_v1 is offered");
    Explicit { c, d, s }
}

/// A timeline on virtio-gpu and its protocol object.
fn timeline<'n>(e: &Explicit, node: &'n DrmNode) -> (Timeline<'n>, WpLinuxDrmSyncobjTimelineV1) {
    let t = Timeline::new(node).expect("syncobj");
    let fd = t.export_fd().expect("syncobj fd");
    let wl = e.s.import(&e.c, fd.as_fd());
    (t, wl)
}

fn wait_for(
    h: &Harness,
    c: &mut Client,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
    title: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done(&h.surface(title)) {
        assert!(Instant::now() < deadline, "{what}: {}", h.surface(title));
        c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_global_is_offered_on_virtio_gpu() {
    let h = Harness::deterministic(320, 240, 60);
    let imports = h.msg(Request::Imports);
    println!("sync: {}", imports["sync"]);
    let virtio_id = h
        .msg(Request::Devices)
        .as_array()
        .and_then(|all| all.iter().find(|d| d["driver"] == "virtio_gpu").cloned())
        .expect("virtio-gpu registered")["id"]
        .clone();
    assert_eq!(imports["sync"]["explicit_device"], virtio_id, "{imports}");
    assert!(Syncobj::advertised(&h.client()));
}

#[test]
fn a_late_acquire_point_holds_the_frame_until_it_signals() {
    let h = Harness::deterministic(320, 240, 60);
    let node = virtio();
    let vgem = Vgem::open().expect("vgem");
    let mut e = explicit(&h);
    let t = e.c.toplevel("late", "weft.test").expect("toplevel");
    let sync = e.s.surface(&e.c, &t.surface);
    // One acquire timeline; a release timeline per buffer (the spec's advice).
    let (acq, acq_wl) = timeline(&e, &node);
    let (rel_a, rel_a_wl) = timeline(&e, &node);
    let (rel_b, rel_b_wl) = timeline(&e, &node);

    // Frame A (blue), its acquire point signalled before the commit: shown at once.
    let a = frame(&vgem, BLUE);
    let wa = send(&e.c, &e.d, &a);
    acq.signal(1).expect("signal");
    set_points(&sync, (&acq_wl, 1), (&rel_a_wl, 1));
    e.c.show(&t.surface, &wa);
    h.settle(&mut e.c);
    let shown = h.surface("late");
    println!("A: {shown}");
    assert_eq!(shown["sync"], "explicit", "{shown}");
    assert_eq!(shown["release_point"], 1, "{shown}");
    assert_eq!(centre(&h, "late"), [0, 0, 255]);
    assert_eq!(
        rel_a.signalled_point().expect("query"),
        0,
        "A is still shown"
    );

    // Frame B (red) with acquire point 2, not signalled yet: held, A stays on screen.
    let b = frame(&vgem, RED);
    let wb = send(&e.c, &e.d, &b);
    set_points(&sync, (&acq_wl, 2), (&rel_b_wl, 1));
    e.c.show(&t.surface, &wb);
    h.settle(&mut e.c);
    std::thread::sleep(Duration::from_millis(100));
    let held = h.surface("late");
    println!("held: {held}");
    assert_eq!(held["fence_waiting"], true, "{held}");
    assert!(held["fence_waiting_ms"].as_f64() >= Some(50.0), "{held}");
    assert_eq!(held["commits"], shown["commits"], "not applied: {held}");
    assert_eq!(centre(&h, "late"), [0, 0, 255], "still frame A");
    assert_eq!(rel_a.signalled_point().expect("query"), 0);

    // The producer signals: B appears by itself, and A's release point follows.
    acq.signal(2).expect("signal");
    wait_for(
        &h,
        &mut e.c,
        "B applied once its point signalled",
        |s| s["commits"] != shown["commits"],
        "late",
    );
    h.settle(&mut e.c);
    assert_eq!(
        centre(&h, "late"),
        [255, 0, 0],
        "frame B after its acquire point"
    );
    let after = h.surface("late");
    assert_eq!(after["fence_waiting"], false, "{after}");
    assert_eq!(after["fence_waits"], 1, "{after}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while rel_a.signalled_point().expect("query") < 1 {
        assert!(
            Instant::now() < deadline,
            "A's release point was never signalled"
        );
        e.c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        rel_b.signalled_point().expect("query"),
        0,
        "B is shown: not released"
    );
    assert!(e.c.protocol_error().is_none());
}

#[test]
fn a_release_point_waits_for_the_frame_that_reads_the_buffer() {
    let h = Harness::with_fault_injection(320, 240, 60);
    let node = virtio();
    let vgem = Vgem::open().expect("vgem");
    let mut e = explicit(&h);
    let t = e.c.toplevel("reader", "weft.test").expect("toplevel");
    let sync = e.s.surface(&e.c, &t.surface);
    let (acq, acq_wl) = timeline(&e, &node);
    let (rel_a, rel_a_wl) = timeline(&e, &node);
    let (_rel_b, rel_b_wl) = timeline(&e, &node);
    acq.signal(3).expect("signal");

    // B (red) first, then A (blue): both imported before the GPU stalls (an import records a
    // layout change on the queue the stalled frame holds).
    let b = frame(&vgem, RED);
    let wb = send(&e.c, &e.d, &b);
    set_points(&sync, (&acq_wl, 1), (&rel_b_wl, 1));
    e.c.show(&t.surface, &wb);
    h.settle(&mut e.c);
    let a = frame(&vgem, BLUE);
    let wa = send(&e.c, &e.d, &a);
    set_points(&sync, (&acq_wl, 2), (&rel_a_wl, 1));
    e.c.show(&t.surface, &wa);
    h.settle(&mut e.c);
    let s = h.surface("reader");
    println!("A: {s}");
    assert_eq!(
        s["copied_bytes_per_frame"], 0,
        "A is read in place by the frames: {s}"
    );

    // The next frame reads A, and the GPU does not finish it.
    h.inject_fault("gpu-stall");
    h.msg(Request::Redraw {
        output: Some("HEADLESS-1".into()),
    });
    std::thread::sleep(Duration::from_millis(200));
    // B again replaces A: A's commit is over, but the stalled frame still reads A.
    set_points(&sync, (&acq_wl, 3), (&rel_b_wl, 2));
    e.c.show(&t.surface, &wb);
    for _ in 0..10 {
        e.c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        rel_a.signalled_point().expect("query"),
        0,
        "A's release point signalled while a frame in flight reads A"
    );
    h.inject_fault("gpu-resume");
    let deadline = Instant::now() + Duration::from_secs(5);
    while rel_a.signalled_point().expect("query") < 1 {
        assert!(
            Instant::now() < deadline,
            "A's release point not signalled after the frame finished"
        );
        e.c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(20));
    }
    h.settle(&mut e.c);
    assert_eq!(centre(&h, "reader"), [255, 0, 0]);
}

/// Frame callbacks a client gets in `span` (one outstanding at a time, as a real client does).
fn frame_rate(c: &mut Client, surface: &WlSurface, buffer: &WlBuffer, span: Duration) -> f64 {
    let start = Instant::now();
    let mut tag = 1000 + c.state.frames_done.len() as u32;
    let mut frames = 0u32;
    while start.elapsed() < span {
        tag += 1;
        c.frame(surface, tag);
        surface.attach(Some(buffer), 0, 0);
        surface.damage_buffer(0, 0, 4, 4);
        surface.commit();
        let want = tag;
        if c.wait_until("a frame callback", 200, move |s| {
            s.frames_done.iter().any(|(t, _)| *t == want)
        })
        .is_ok()
        {
            frames += 1;
        }
    }
    f64::from(frames) / start.elapsed().as_secs_f64()
}

#[test]
fn an_acquire_point_that_never_signals_stalls_only_its_surface() {
    let h = Harness::new(320, 240, 60);
    let node = virtio();
    let vgem = Vgem::open().expect("vgem");
    let mut other = h.client();
    let ot = other.toplevel("bystander", "weft.test").expect("toplevel");
    let green = solid_shm(&other, 32, 32, [0, 255, 0]);
    other.show(&ot.surface, &green.buffer);
    h.settle(&mut other);

    let mut e = explicit(&h);
    let t = e.c.toplevel("stuck", "weft.test").expect("toplevel");
    let sync = e.s.surface(&e.c, &t.surface);
    let (acq, acq_wl) = timeline(&e, &node);
    let (_rel_a, rel_a_wl) = timeline(&e, &node);
    let (_rel_b, rel_b_wl) = timeline(&e, &node);
    acq.signal(1).expect("signal");
    let a = frame(&vgem, BLUE);
    let wa = send(&e.c, &e.d, &a);
    set_points(&sync, (&acq_wl, 1), (&rel_a_wl, 1));
    e.c.show(&t.surface, &wa);
    h.settle(&mut e.c);
    // The same scene with and without a stuck fence (a first screenshot has the CPU device compile
    // what this scene draws, which under the guest's emulation takes seconds).
    assert_eq!(centre(&h, "stuck"), [0, 0, 255]);
    let baseline = frame_rate(
        &mut other,
        &ot.surface,
        &green.buffer,
        Duration::from_secs(1),
    );
    // Point 2 is never signalled (nothing will ever put a fence there).
    let b = frame(&vgem, RED);
    let wb = send(&e.c, &e.d, &b);
    set_points(&sync, (&acq_wl, 2), (&rel_b_wl, 1));
    e.c.show(&t.surface, &wb);
    e.c.roundtrip().expect("roundtrip");

    let stuck_rate = frame_rate(
        &mut other,
        &ot.surface,
        &green.buffer,
        Duration::from_secs(1),
    );
    println!("bystander frame rate: {baseline:.1}/s alone, {stuck_rate:.1}/s beside a stuck fence (output 60 Hz)");
    assert!(
        stuck_rate >= baseline * 0.75,
        "the stuck fence slowed another client: {stuck_rate:.1}/s vs {baseline:.1}/s"
    );
    let s = h.surface("stuck");
    println!("stuck: {s}");
    assert_eq!(s["fence_waiting"], true, "{s}");
    assert!(s["fence_waiting_ms"].as_f64() >= Some(900.0), "{s}");
    assert_eq!(centre(&h, "stuck"), [0, 0, 255], "its last good frame");
    assert_eq!(h.msg(Request::Imports)["sync"]["fence_waits_active"], 1);

    // The stuck client leaves: nothing of its wait stays behind.
    drop(e);
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.surfaces().iter().any(|s| s["title"] == "stuck") {
        assert!(
            Instant::now() < deadline,
            "the stuck surface outlived its client"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(h.msg(Request::Imports)["sync"]["fence_waits_active"], 0);
    let after = frame_rate(
        &mut other,
        &ot.surface,
        &green.buffer,
        Duration::from_millis(500),
    );
    println!("bystander after the stuck client left: {after:.1}/s");
    assert!(other.protocol_error().is_none());
}

/// Runs `provoke` in a fresh client and checks it ends with `(interface, code)`, while a bystander
/// keeps getting frame callbacks.
fn expect_error(h: &Harness, interface: &str, code: u32, provoke: impl FnOnce(&mut Explicit)) {
    h.with_bystander(|| {
        let mut e = explicit(h);
        provoke(&mut e);
        assert_ended_with(&mut e.c, interface, code);
    });
}

const MANAGER: &str = "wp_linux_drm_syncobj_manager_v1";
const SURFACE: &str = "wp_linux_drm_syncobj_surface_v1";

#[test]
fn every_protocol_error_is_raised() {
    let h = Harness::deterministic(320, 240, 60);
    let node = virtio();
    let vgem = Vgem::open().expect("vgem");

    // surface_exists (manager 0): a second syncobj surface for one wl_surface.
    expect_error(&h, MANAGER, 0, |e| {
        let s = e.c.compositor.create_surface(&e.c.qh, ());
        let _first = e.s.surface(&e.c, &s);
        let _second = e.s.surface(&e.c, &s);
    });
    // invalid_timeline (manager 1): an fd that is no syncobj (an eventfd).
    expect_error(&h, MANAGER, 1, |e| {
        let fd = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).expect("eventfd");
        let _t = e.s.import(&e.c, fd.as_fd());
    });
    // no_surface (surface 1): a point set after the wl_surface was destroyed.
    expect_error(&h, SURFACE, 1, |e| {
        let (_t, wl) = timeline(e, &node);
        let s = e.c.compositor.create_surface(&e.c.qh, ());
        let sync = e.s.surface(&e.c, &s);
        s.destroy();
        sync.set_acquire_point(&wl, 0, 1);
    });
    // unsupported_buffer (surface 2): explicit sync on a wl_shm buffer.
    expect_error(&h, SURFACE, 2, |e| {
        let (_t, wl) = timeline(e, &node);
        let t = e.c.toplevel("shm", "weft.test").expect("toplevel");
        let sync = e.s.surface(&e.c, &t.surface);
        let shm = solid_shm(&e.c, 8, 8, [1, 2, 3]);
        set_points(&sync, (&wl, 1), (&wl, 2));
        e.c.show(&t.surface, &shm.buffer);
    });
    // no_buffer (surface 3): points with no buffer attached (a release point alone, too).
    for acquire in [true, false] {
        expect_error(&h, SURFACE, 3, |e| {
            let (_t, wl) = timeline(e, &node);
            let t = e.c.toplevel("nobuf", "weft.test").expect("toplevel");
            let sync = e.s.surface(&e.c, &t.surface);
            if acquire {
                sync.set_acquire_point(&wl, 0, 1);
            }
            sync.set_release_point(&wl, 0, 2);
            t.surface.commit();
        });
    }
    // no_acquire_point (4), no_release_point (5), conflicting_points (6): a dma-buf commit.
    #[allow(clippy::type_complexity)]
    let cases: [(u32, Option<u64>, Option<u64>); 4] = [
        (4, None, Some(2)),
        (5, Some(1), None),
        (6, Some(2), Some(2)),
        (6, Some(3), Some(2)),
    ];
    for (code, acquire, release) in cases {
        let buf = frame(&vgem, BLUE);
        expect_error(&h, SURFACE, code, |e| {
            let (t_sync, wl) = timeline(e, &node);
            t_sync.signal(3).expect("signal");
            let t = e.c.toplevel("points", "weft.test").expect("toplevel");
            let sync = e.s.surface(&e.c, &t.surface);
            let wb = send(&e.c, &e.d, &buf);
            if let Some(p) = acquire {
                sync.set_acquire_point(&wl, 0, p as u32);
            }
            if let Some(p) = release {
                sync.set_release_point(&wl, 0, p as u32);
            }
            e.c.show(&t.surface, &wb);
        });
    }
    // A buffer with no points on a surface whose syncobj object was destroyed is fine again.
    let mut e = explicit(&h);
    let t = e.c.toplevel("destroyed", "weft.test").expect("toplevel");
    let sync = e.s.surface(&e.c, &t.surface);
    sync.destroy();
    let buf = frame(&vgem, BLUE);
    let wb = send(&e.c, &e.d, &buf);
    e.c.show(&t.surface, &wb);
    h.settle(&mut e.c);
    assert!(e.c.protocol_error().is_none());
    assert_eq!(h.surface("destroyed")["sync"], "implicit_sync_file");
}
