//! `weft --backend drm` as the seat's compositor in the tests/vm guest (libseat's noop backend, as
//! root): every connector of every KMS device lit (virtio-gpu and both bochs devices), a client's
//! window read back from the framebuffer the CRTC scans out, and presentation feedback stamped by
//! the page flips.

#[allow(dead_code, reason = "shared with another target that uses the rest")]
mod kms_session {
    include!("support/kms_session.rs");
}

use kms_session::Session;
use weft_clients::Client;
use weft_guest::drm_node::DrmNode;
use weft_guest::kms::scanned_out;

/// The KMS devices have one master at a time: the tests of this file run one after another.
static KMS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn kms_to_myself() -> std::sync::MutexGuard<'static, ()> {
    KMS.lock().unwrap_or_else(|p| p.into_inner())
}

fn card(driver: &str) -> DrmNode {
    DrmNode::by_driver(driver).unwrap_or_else(|e| panic!("no {driver} card: {e}"))
}

/// The one CRTC of `driver`'s card that scans out, read back.
fn scanout_of(driver: &str) -> weft_guest::kms::Scanned {
    let node = card(driver);
    let mut all = scanned_out(&node).expect("reading what the CRTC scans out");
    assert_eq!(all.len(), 1, "{driver}: {} CRTCs scan out", all.len());
    all.remove(0)
}

#[test]
fn every_kms_output_lights_up_and_shows_the_client() {
    let _kms = kms_to_myself();
    let weft = Session::start();
    let outputs = weft.msg(&["outputs"]);
    let outputs = outputs.as_array().expect("outputs");
    // virtio-gpu's Virtual-1 and one connector on each bochs device.
    assert_eq!(outputs.len(), 3, "{outputs:?}");
    let first = &outputs[0];
    let (ox, oy) = (first["x"].as_i64().unwrap(), first["y"].as_i64().unwrap());
    // Each output names the KMS device that scans it out, and the render device composing it.
    let displays: Vec<_> = outputs
        .iter()
        .map(|o| o["display_device"].clone())
        .collect();
    assert_eq!(
        displays,
        [
            serde_json::json!("drm:card1"),
            serde_json::json!("drm:card2"),
            serde_json::json!("drm:card3")
        ],
        "{outputs:?}"
    );
    assert!(
        outputs.iter().all(|o| o["render_device"].is_string()),
        "{outputs:?}"
    );

    // A client's window, on the first output.
    let mut c = weft.client();
    let t = c.toplevel("on kms", "weft.test").expect("toplevel");
    let red = weft_clients::ShmBuffer::new(
        &c.shm,
        &c.qh,
        200,
        150,
        wayland_client::protocol::wl_shm::Format::Xrgb8888,
        |_, _| weft_clients::argb(230, 20, 40, 0),
    )
    .expect("shm buffer");
    c.show(&t.surface, &red.buffer);
    c.roundtrip().expect("roundtrip");
    // Presentation feedback for a few frames: stamped by the flips.
    for tag in 1..=3 {
        c.feedback(&t.surface, tag);
        c.frame(&t.surface, 100 + tag);
        c.show(&t.surface, &red.buffer);
        c.wait_until("the frame callback", 2000, |s| {
            s.frames_done.iter().any(|(x, _)| *x == 100 + tag)
        })
        .expect("frame callback");
    }
    c.wait_until("three presented events", 2000, |s| s.presented.len() >= 3)
        .expect("presented");
    let s = weft
        .msg(&["surfaces"])
        .as_array()
        .and_then(|a| a.iter().find(|s| s["title"] == "on kms").cloned())
        .expect("the surface");
    assert_eq!(s["output"], first["name"], "{s}");
    let (x, y) = (
        (s["x"].as_i64().unwrap() - ox) as u32,
        (s["y"].as_i64().unwrap() - oy) as u32,
    );

    // What virtio-gpu's CRTC scans out has the window where weft says it is.
    let shown = scanout_of("virtio_gpu");
    assert_eq!(
        (shown.width, shown.height),
        (
            first["width"].as_u64().unwrap() as u32,
            first["height"].as_u64().unwrap() as u32
        )
    );
    assert_eq!(
        shown.rgb(x + 100, y + 75),
        Some([230, 20, 40]),
        "inside the window"
    );
    assert_eq!(
        shown.rgb(x + 100, y + 75 + 150),
        Some([20, 23, 28]),
        "below it"
    );
    // Both bochs devices scan out weft's background.
    let bochs: Vec<DrmNode> = DrmNode::cards()
        .expect("cards")
        .into_iter()
        .filter(|n| n.driver == "bochs-drm")
        .collect();
    assert_eq!(bochs.len(), 2);
    for node in &bochs {
        let shown = scanned_out(node).expect("bochs scanout");
        assert_eq!(shown.len(), 1, "one CRTC of each bochs device scans out");
        for out in shown {
            assert_eq!(out.rgb(5, 5), Some([20, 23, 28]), "bochs CRTC {}", out.crtc);
        }
    }

    // Feedback: the kernel's vblank time (hw_clock), the flip done (hw_completion), at vsync;
    // never zero_copy (composed). Times and sequence numbers advance.
    const VSYNC: u32 = 1;
    const HW_CLOCK: u32 = 2;
    const HW_COMPLETION: u32 = 4;
    const ZERO_COPY: u32 = 8;
    let p = &c.state.presented;
    for e in p {
        assert_eq!(
            e.flags & (VSYNC | HW_CLOCK | HW_COMPLETION),
            VSYNC | HW_CLOCK | HW_COMPLETION
        );
        assert_eq!(e.flags & ZERO_COPY, 0);
        assert!(e.refresh_ns > 0);
    }
    let seen: Vec<_> = p
        .iter()
        .map(|e| (e.tag, e.time_ns, e.seq, e.flags))
        .collect();
    for w in p.windows(2) {
        assert!(
            w[1].time_ns > w[0].time_ns && w[1].seq > w[0].seq,
            "presented (tag, time, seq, flags): {seen:?}"
        );
    }
}

/// A fullscreen client dma-buf of the display device's own (a virtio-gpu dumb buffer, PRIME
/// exported) is scanned out: rung `Scanout`, nothing copied, ZERO_COPY feedback, and the CRTC
/// shows its pixels. A vgem buffer, which virtio-gpu cannot import, is composed instead.
#[test]
fn a_fullscreen_dmabuf_of_the_display_device_is_scanned_out() {
    use std::os::fd::AsFd;
    use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;
    use weft_clients::dmabuf::{LinuxDmabuf, MOD_LINEAR, XRGB8888};

    let _kms = kms_to_myself();
    let weft = Session::start();
    let outputs = weft.msg(&["outputs"]);
    let first = &outputs.as_array().expect("outputs")[0];
    let (w, h) = (
        first["width"].as_u64().unwrap() as u32,
        first["height"].as_u64().unwrap() as u32,
    );
    let mut c = weft.client();
    let d = LinuxDmabuf::bind(&mut c, 5).expect("linux-dmabuf");
    let t = c.toplevel("fullscreen", "weft.test").expect("toplevel");
    t.toplevel.set_fullscreen(None);
    t.surface.commit();
    c.ack_latest(&t).expect("fullscreen configure");
    let send = |c: &Client, fd: std::os::fd::BorrowedFd<'_>| {
        let (params, _) = d.params(c);
        params.add(
            fd,
            0,
            0,
            w * 4,
            (MOD_LINEAR >> 32) as u32,
            MOD_LINEAR as u32,
        );
        let wl = params.create_immed(w as i32, h as i32, XRGB8888, Flags::empty(), &c.qh, ());
        params.destroy();
        wl
    };
    let fill = |buf: &weft_guest::dmabuf::DmaBuf, bgrx: [u8; 4]| {
        let mut map = buf.map().expect("mmap");
        for px in map.as_mut_slice().chunks_exact_mut(4) {
            px.copy_from_slice(&bgrx);
        }
    };
    let frames = |c: &mut Client, wl: &wayland_client::protocol::wl_buffer::WlBuffer, from: u32| {
        for tag in from..from + 3 {
            c.feedback(&t.surface, tag);
            c.frame(&t.surface, 1000 + tag);
            c.show(&t.surface, wl);
            c.wait_until("the frame callback", 2000, |s| {
                s.frames_done.iter().any(|(x, _)| *x == 1000 + tag)
            })
            .expect("frame callback");
        }
        c.wait_until("presented", 2000, |s| {
            s.presented
                .iter()
                .filter(|p| p.tag >= from && p.tag < from + 3)
                .count()
                == 3
        })
        .expect("presented");
    };
    let surface = |weft: &Session| {
        weft.msg(&["surfaces"])
            .as_array()
            .and_then(|a| a.iter().find(|s| s["title"] == "fullscreen").cloned())
            .expect("the surface")
    };
    const ZERO_COPY: u32 = 8;

    // virtio-gpu's own buffer: scanned out.
    let virtio = card("virtio_gpu")
        .export_dumb(w, h, "client")
        .expect("a virtio-gpu dumb buffer");
    fill(&virtio, [40, 200, 30, 0]);
    let wl = send(&c, virtio.as_fd());
    frames(&mut c, &wl, 1);
    let s = surface(&weft);
    assert_eq!(s["rung"], "Scanout", "{s}");
    assert_eq!(s["copied_bytes_per_frame"], 0, "{s}");
    assert_eq!(
        (s["x"].as_i64(), s["y"].as_i64()),
        (Some(0), Some(0)),
        "{s}"
    );
    let flags = |c: &Client, tag: u32| {
        c.state
            .presented
            .iter()
            .rev()
            .find(|p| p.tag == tag)
            .expect("feedback")
            .flags
    };
    // Once scanned out, every frame is: the feedback of the frames after says ZERO_COPY (the
    // first ones may still have been composed while the surface became the output's one).
    frames(&mut c, &wl, 4);
    let seen: Vec<(u32, u32)> = c.state.presented.iter().map(|p| (p.tag, p.flags)).collect();
    println!("presented (tag, flags): {seen:x?}");
    for tag in 5..=6 {
        assert_ne!(flags(&c, tag) & ZERO_COPY, 0, "(tag, flags): {seen:x?}");
    }
    let shown = scanout_of("virtio_gpu");
    assert_eq!(shown.rgb(w / 2, h / 2), Some([30, 200, 40]));
    assert_eq!(shown.rgb(3, 3), Some([30, 200, 40]));

    // A vgem buffer: virtio-gpu cannot import it (PRIME: ENODEV), so it is composed.
    let vgem = weft_guest::vgem::Vgem::open()
        .expect("vgem")
        .alloc(w, h)
        .expect("a vgem buffer");
    fill(&vgem.dmabuf, [200, 30, 90, 0]);
    let wl2 = send(&c, vgem.dmabuf.as_fd());
    frames(&mut c, &wl2, 11);
    let s = surface(&weft);
    assert_ne!(s["rung"], "Scanout", "{s}");
    assert!(
        s["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not scanned out") && r.contains("PRIME")),
        "{s}"
    );
    assert_eq!(flags(&c, 13) & ZERO_COPY, 0, "flags {:#x}", flags(&c, 13));
    let shown = scanout_of("virtio_gpu");
    assert_eq!(shown.rgb(w / 2, h / 2), Some([90, 30, 200]));
}
