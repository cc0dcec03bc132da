//! `weft --backend drm` as the seat's compositor in the tests/vm guest (libseat's noop backend, as
//! root): every connector of every KMS device lit (virtio-gpu and both bochs devices), a client's
//! window read back from the framebuffer the CRTC scans out, and presentation feedback stamped by
//! the page flips.

#[allow(dead_code, reason = "shared with another target that uses the rest")]
mod kms_session {
    include!("support/kms_session.rs");
}

use kms_session::{kms_to_myself, Session};
use weft_clients::Client;
use weft_guest::drm_node::DrmNode;
use weft_guest::kms::scanned_out;

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
    // Composed frames cross to the display device without a CPU copy: the render device writes
    // them into the display device's dumb buffers, which it imported.
    for o in outputs {
        assert!(
            o["kms"]["composed_into"]
                .as_str()
                .is_some_and(|p| p.contains("written by the render device")),
            "{o}"
        );
        // One copy per composed frame remains: weft's target into the dumb buffer, on the GPU.
        assert_eq!(o["composed_copies_per_frame"], 1, "{o}");
        assert!(
            o["composed_copies_why"]
                .as_str()
                .is_some_and(|w| w.contains("copied by the render device")),
            "{o}"
        );
    }
    // `weft msg devices`: each KMS device is a display device scanning its output out, and the
    // render device was chosen knowing the display device has no Vulkan device of its own.
    let devices = weft.msg(&["devices"]);
    let devices = devices.as_array().expect("devices");
    for (card, output) in [
        ("drm:card1", "Virtual-1"),
        ("drm:card2", "Virtual-2"),
        ("drm:card3", "Virtual-3"),
    ] {
        let d = devices
            .iter()
            .find(|d| d["id"] == card)
            .unwrap_or_else(|| panic!("{card} in {devices:?}"));
        assert_eq!(d["display"], true, "{d}");
        assert_eq!(d["scans_out"], serde_json::json!([output]), "{d}");
    }
    let render = devices
        .iter()
        .find(|d| d["render"] == true)
        .expect("a render device");
    assert!(
        render["render_reason"]
            .as_str()
            .is_some_and(|r| r.contains("the display device has no Vulkan device")),
        "{render}"
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

/// The outputs weft has now, by name.
fn output_names(weft: &Session) -> Vec<String> {
    weft.msg(&["outputs"])
        .as_array()
        .expect("outputs")
        .iter()
        .filter_map(|o| o["name"].as_str().map(str::to_string))
        .collect()
}

fn wait_for_outputs(weft: &Session, what: &str, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let names = output_names(weft);
        if ok(&names) {
            return names;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: outputs are {names:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn sysfs_write(path: &str, value: &str) {
    std::fs::write(path, value).unwrap_or_else(|e| panic!("writing {value:?} to {path}: {e}"));
}

/// A fullscreen toplevel of `rgb` on the output named `output`, drawn at the size weft gives it.
fn fullscreen_on(c: &mut Client, output: &str, rgb: [u8; 3]) -> weft_clients::Toplevel {
    let (t, (w, h)) = fullscreen_toplevel(c, output, output);
    assert!(w > 0 && h > 0, "{output}: configured {w}x{h}");
    let buf = weft_clients::ShmBuffer::new(
        &c.shm,
        &c.qh,
        w,
        h,
        wayland_client::protocol::wl_shm::Format::Xrgb8888,
        |_, _| weft_clients::argb(rgb[0], rgb[1], rgb[2], 0),
    )
    .expect("shm buffer");
    c.show(&t.surface, &buf.buffer);
    c.roundtrip().expect("roundtrip");
    std::mem::forget(buf);
    t
}

/// Waits until every CRTC of `driver`'s cards scans out a frame with `rgb` in its top left corner.
fn wait_for_scanout(driver: &str, rgb: [u8; 3]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let seen: Vec<_> = DrmNode::cards()
            .expect("cards")
            .into_iter()
            .filter(|n| n.driver == driver)
            .flat_map(|n| scanned_out(&n).expect("scanout"))
            .map(|s| s.rgb(2, 2))
            .collect();
        if !seen.is_empty() && seen.iter().all(|p| *p == Some(rgb)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{driver}: CRTCs show {seen:?}, not {rgb:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `weft --backend drm` shows a client on every connector of every KMS device: one toplevel
/// fullscreen on each output (the output it names in set_fullscreen), each CRTC scanning out its
/// own client's colour.
#[test]
fn a_client_on_every_connector_of_every_kms_device() {
    let _kms = kms_to_myself();
    let weft = Session::start();
    let names = wait_for_outputs(&weft, "three outputs", |n| n.len() == 3);
    let mut c = weft.client();
    let colours = [[200, 40, 40], [40, 200, 40], [40, 40, 200]];
    let _windows: Vec<_> = names
        .iter()
        .zip(colours)
        .map(|(name, rgb)| fullscreen_on(&mut c, name, rgb))
        .collect();
    let surfaces = weft.msg(&["surfaces"]);
    for (name, rgb) in names.iter().zip(colours) {
        let s = surfaces
            .as_array()
            .and_then(|a| a.iter().find(|s| s["title"] == name.as_str()))
            .unwrap_or_else(|| panic!("surface {name}: {surfaces}"));
        assert_eq!(s["output"], name.as_str(), "{s}");
        let output = weft
            .msg(&["outputs"])
            .as_array()
            .and_then(|a| a.iter().find(|o| o["name"] == name.as_str()).cloned())
            .expect("output");
        let card = output["display_device"]
            .as_str()
            .and_then(|d| d.strip_prefix("drm:"))
            .expect("display device")
            .to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let node = DrmNode::open(format!("/dev/dri/{card}")).expect("card");
            let shown = scanned_out(&node).expect("scanout");
            let mid: Vec<_> = shown
                .iter()
                .map(|s| (s.rgb(s.width / 2, s.height / 2), s.rgb(2, 2)))
                .collect();
            if mid == [(Some(rgb), Some(rgb))] {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} on {card}: CRTCs show {mid:?}, not {rgb:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

/// Hotplug through udev: a connector unplugged leaves weft (its CRTC goes dark, the client's
/// window moves onto an output still there, the client keeps being served) and comes back when
/// replugged; a KMS device unbound from its driver takes its output with it, and bound again
/// brings a new one.
#[test]
fn connectors_and_devices_come_and_go() {
    let _kms = kms_to_myself();
    let weft = Session::start();
    wait_for_outputs(&weft, "three outputs", |n| n.len() == 3);
    let mut c = weft.client();
    let t = c.toplevel("stays", "weft.test").expect("toplevel");
    let buf = weft_clients::ShmBuffer::new(
        &c.shm,
        &c.qh,
        100,
        80,
        wayland_client::protocol::wl_shm::Format::Xrgb8888,
        |_, _| weft_clients::argb(230, 20, 40, 0),
    )
    .expect("shm buffer");
    c.show(&t.surface, &buf.buffer);
    c.roundtrip().expect("roundtrip");

    // Virtual-1 (virtio-gpu) unplugged: the kernel's connector status forced off, then the
    // hotplug uevent the kernel sends on a real unplug (a "change" of the card).
    let status = "/sys/class/drm/card1-Virtual-1/status";
    sysfs_write(status, "off");
    sysfs_write("/sys/class/drm/card1/uevent", "change");
    let names = wait_for_outputs(&weft, "Virtual-1 gone", |n| {
        n.len() == 2 && !n.iter().any(|n| n == "Virtual-1")
    });
    let virtio = card("virtio_gpu");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !scanned_out(&virtio).expect("scanout").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "virtio-gpu's CRTC still scans out"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // The window moved onto an output still there, and the client is still served.
    let s = weft
        .msg(&["surfaces"])
        .as_array()
        .and_then(|a| a.iter().find(|s| s["title"] == "stays").cloned())
        .expect("the surface");
    assert_eq!(s["output"], names[0].as_str(), "{s}");
    c.frame(&t.surface, 7);
    c.show(&t.surface, &buf.buffer);
    c.wait_until("a frame callback", 5000, |s| {
        s.frames_done.iter().any(|(x, _)| *x == 7)
    })
    .expect("frame callback while Virtual-1 is unplugged");

    // Replugged: lit again, at its preferred mode, showing weft's frame.
    sysfs_write(status, "detect");
    sysfs_write("/sys/class/drm/card1/uevent", "change");
    wait_for_outputs(&weft, "Virtual-1 back", |n| {
        n.len() == 3 && n.iter().any(|n| n == "Virtual-1")
    });
    wait_for_scanout("virtio_gpu", [20, 23, 28]);

    // One bochs device unbound from its driver: its output goes with it.
    let last = DrmNode::cards()
        .expect("cards")
        .into_iter()
        .rfind(|n| n.driver == "bochs-drm")
        .expect("a bochs card");
    let card_name = last
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("card name")
        .to_string();
    let pci = std::fs::read_link(format!("/sys/class/drm/{card_name}/device"))
        .expect("the card's device");
    let pci = pci
        .file_name()
        .and_then(|n| n.to_str())
        .expect("PCI address")
        .to_string();
    drop(last);
    let displays = |weft: &Session| -> Vec<String> {
        weft.msg(&["outputs"])
            .as_array()
            .expect("outputs")
            .iter()
            .filter_map(|o| o["display_device"].as_str().map(str::to_string))
            .collect()
    };
    assert!(displays(&weft).contains(&format!("drm:{card_name}")));
    sysfs_write("/sys/bus/pci/drivers/bochs-drm/unbind", &pci);
    wait_for_outputs(&weft, "the unbound device's output gone", |n| n.len() == 2);
    assert!(
        !displays(&weft).contains(&format!("drm:{card_name}")),
        "{:?}",
        displays(&weft)
    );
    c.frame(&t.surface, 8);
    c.show(&t.surface, &buf.buffer);
    c.wait_until("a frame callback", 5000, |s| {
        s.frames_done.iter().any(|(x, _)| *x == 8)
    })
    .expect("frame callback with a device unbound");

    // Bound again: a new card, lit.
    sysfs_write("/sys/bus/pci/drivers/bochs-drm/bind", &pci);
    wait_for_outputs(&weft, "the rebound device's output", |n| n.len() == 3);
    wait_for_scanout("bochs-drm", [20, 23, 28]);
    assert!(c.protocol_error().is_none());
}

/// What reached KMS for the output named `name` (`weft msg outputs`' `kms`).
fn kms_stats(weft: &Session, name: &str) -> serde_json::Value {
    weft.msg(&["outputs"])
        .as_array()
        .and_then(|a| a.iter().find(|o| o["name"] == name).cloned())
        .map(|o| o["kms"].clone())
        .unwrap_or_else(|| panic!("no output {name}"))
}

/// The scanout rung's edges on virtio-gpu: a scanned-out buffer is released at the out-fence of
/// the flip that replaces it (not before); a viewport's crop becomes the plane's source
/// rectangle (still scanned out), a viewport's scale is refused by a plane that cannot scale
/// (composed, with the reason); and bad buffers (too small for their size, a modifier never
/// advertised) get their protocol error and never reach KMS.
#[test]
fn scanout_release_viewports_and_bad_buffers() {
    use std::os::fd::AsFd;
    use wayland_client::Proxy as _;
    use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;
    use weft_clients::dmabuf::{LinuxDmabuf, MOD_LINEAR, XRGB8888};

    let _kms = kms_to_myself();
    let weft = Session::start();
    let outputs = weft.msg(&["outputs"]);
    let first = &outputs.as_array().expect("outputs")[0];
    let name = first["name"].as_str().expect("name").to_string();
    let (w, h) = (
        first["width"].as_u64().unwrap() as u32,
        first["height"].as_u64().unwrap() as u32,
    );
    let mut c = weft.client();
    let d = LinuxDmabuf::bind(&mut c, 5).expect("linux-dmabuf");
    let (t, _) = fullscreen_toplevel(&mut c, &name, "scanout edges");
    let virtio = card("virtio_gpu");
    let make = |bw: u32, bh: u32, fill: &dyn Fn(u32, u32) -> [u8; 4]| {
        let buf = virtio.export_dumb(bw, bh, "client").expect("dumb buffer");
        {
            let mut map = buf.map().expect("mmap");
            for (i, px) in map.as_mut_slice().chunks_exact_mut(4).enumerate() {
                let i = i as u32;
                px.copy_from_slice(&fill(i % bw, i / bw));
            }
        }
        buf
    };
    let send = |c: &Client, fd: std::os::fd::BorrowedFd<'_>, bw: u32, bh: u32, modifier: u64| {
        let (params, _) = d.params(c);
        params.add(fd, 0, 0, bw * 4, (modifier >> 32) as u32, modifier as u32);
        let wl = params.create_immed(bw as i32, bh as i32, XRGB8888, Flags::empty(), &c.qh, ());
        params.destroy();
        wl
    };
    let surface = |weft: &Session| {
        weft.msg(&["surfaces"])
            .as_array()
            .and_then(|a| a.iter().find(|s| s["title"] == "scanout edges").cloned())
            .expect("the surface")
    };
    let mut tag = 0;
    let mut frames = |c: &mut Client, wl: &wayland_client::protocol::wl_buffer::WlBuffer| {
        for _ in 0..3 {
            tag += 1;
            c.frame(&t.surface, tag);
            c.show(&t.surface, wl);
            let want = tag;
            c.wait_until("the frame callback", 5000, |s| {
                s.frames_done.iter().any(|(x, _)| *x == want)
            })
            .expect("frame callback");
        }
    };

    // A, scanned out, stays unreleased while it is on screen.
    let a = make(w, h, &|_, _| [40, 200, 30, 0]);
    let wl_a = send(&c, a.as_fd(), w, h, MOD_LINEAR);
    frames(&mut c, &wl_a);
    frames(&mut c, &wl_a);
    assert_eq!(surface(&weft)["rung"], "Scanout", "{}", surface(&weft));
    assert!(
        !c.state.released.contains(&wl_a.id()),
        "A was released while scanned out"
    );
    // B replaces it: A is released, at the out-fence of the flip that showed B.
    let b = make(w, h, &|_, _| [200, 40, 30, 0]);
    let wl_b = send(&c, b.as_fd(), w, h, MOD_LINEAR);
    frames(&mut c, &wl_b);
    c.wait_until("A released", 5000, |s| s.released.contains(&wl_a.id()))
        .expect("A released once B is on screen");
    let k = kms_stats(&weft, &name);
    assert!(k["released_at_out_fence"].as_u64() >= Some(1), "{k}");
    assert!(k["scanout_flips"].as_u64() >= Some(3), "{k}");

    // A viewport's crop of a larger buffer: the plane's source rectangle; still scanned out.
    let (cw, ch) = (w + 200, h + 100);
    let cropped = make(cw, ch, &|x, y| {
        if (100..100 + w).contains(&x) && (50..50 + h).contains(&y) {
            [30, 200, 200, 0]
        } else {
            [200, 30, 200, 0]
        }
    });
    let wl_c = send(&c, cropped.as_fd(), cw, ch, MOD_LINEAR);
    let viewport = c.viewport(&t.surface);
    viewport.set_source(100.0, 50.0, f64::from(w), f64::from(h));
    frames(&mut c, &wl_c);
    frames(&mut c, &wl_c);
    let s = surface(&weft);
    assert_eq!(s["rung"], "Scanout", "{s}");
    assert!(
        s["reason"]
            .as_str()
            .is_some_and(|r| r.contains("source rectangle")),
        "{s}"
    );
    let shown = scanout_of("virtio_gpu");
    assert_eq!(
        (shown.width, shown.height),
        (cw, ch),
        "the client's buffer is the plane's"
    );
    assert_eq!(shown.rgb(100 + w / 2, 50 + h / 2), Some([200, 200, 30]));

    // A scaled viewport: virtio-gpu's primary plane cannot scale, so the TEST_ONLY refuses and
    // the buffer is composed, scaled by the renderer.
    let small = make(w / 2, h / 2, &|_, _| [180, 60, 220, 0]);
    let wl_s = send(&c, small.as_fd(), w / 2, h / 2, MOD_LINEAR);
    viewport.set_source(-1.0, -1.0, -1.0, -1.0);
    viewport.set_destination(w as i32, h as i32);
    frames(&mut c, &wl_s);
    frames(&mut c, &wl_s);
    let s = surface(&weft);
    assert_ne!(s["rung"], "Scanout", "{s}");
    assert!(
        s["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not scanned out") && r.contains("scaled")),
        "{s}"
    );
    let shown = scanout_of("virtio_gpu");
    assert_eq!((shown.width, shown.height), (w, h), "a composed frame");
    assert_eq!(shown.rgb(w / 2, h / 2), Some([220, 60, 180]));

    // Bad buffers, each from a client of its own: the protocol error, and nothing reaches KMS.
    let before = kms_stats(&weft, &name);
    let small_fd = make(w, h / 2, &|_, _| [0, 0, 255, 0]);
    let tiled_fd = make(w, h, &|_, _| [0, 0, 255, 0]);
    const OUT_OF_BOUNDS: u32 = 6;
    const INVALID_FORMAT: u32 = 4;
    const X_TILED: u64 = 0x0100_0000_0000_0001;
    for (what, fd, modifier, code) in [
        (
            "a buffer too small for its size",
            small_fd.as_fd(),
            MOD_LINEAR,
            OUT_OF_BOUNDS,
        ),
        (
            "a modifier never advertised",
            tiled_fd.as_fd(),
            X_TILED,
            INVALID_FORMAT,
        ),
    ] {
        let mut bad = weft.client();
        let bd = LinuxDmabuf::bind(&mut bad, 5).expect("linux-dmabuf");
        let (bt, _) = fullscreen_toplevel(&mut bad, &name, "bad buffer");
        let (params, _) = bd.params(&bad);
        params.add(fd, 0, 0, w * 4, (modifier >> 32) as u32, modifier as u32);
        let wl = params.create_immed(w as i32, h as i32, XRGB8888, Flags::empty(), &bad.qh, ());
        bad.show(&bt.surface, &wl);
        let _ = bad.roundtrip();
        let err = bad
            .protocol_error()
            .unwrap_or_else(|| panic!("{what}: no protocol error"));
        assert_eq!(err.0, code, "{what}: {err:?}");
    }
    // weft still serves the first client, and the CRTC still shows its frame.
    frames(&mut c, &wl_s);
    let after = kms_stats(&weft, &name);
    assert_eq!(
        (after["client_framebuffers"].clone(), after["tests"].clone()),
        (
            before["client_framebuffers"].clone(),
            before["tests"].clone()
        ),
        "bad buffers reached KMS: {before} -> {after}"
    );
    let shown = scanout_of("virtio_gpu");
    assert_eq!(shown.rgb(w / 2, h / 2), Some([220, 60, 180]));
}

/// A toplevel titled `title`, fullscreen on the output named `output`, configured and ready for
/// a buffer; with the size its configure gave.
fn fullscreen_toplevel(
    c: &mut Client,
    output: &str,
    title: &str,
) -> (weft_clients::Toplevel, (i32, i32)) {
    let wl_output = c
        .state
        .output_names
        .iter()
        .find(|(_, n)| n == output)
        .map(|(o, _)| o.clone())
        .unwrap_or_else(|| panic!("no wl_output named {output}"));
    let t = c.toplevel(title, "weft.test").expect("toplevel");
    t.toplevel.set_fullscreen(Some(&wl_output));
    t.surface.commit();
    let size = c.ack_latest(&t).expect("fullscreen configure");
    (t, size)
}

/// The active VT, as the kernel says (`tty1`, `tty2`, …).
fn active_vt() -> String {
    std::fs::read_to_string("/sys/class/tty/tty0/active")
        .expect("the active VT")
        .trim()
        .to_string()
}

/// Switches to VT `n` (busybox's chvt, which waits until the switch is done) and waits until the
/// kernel says it is active.
fn switch_vt(n: u32) {
    let mut chvt = std::process::Command::new("busybox")
        .args(["chvt", &n.to_string()])
        .spawn()
        .expect("busybox chvt");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while active_vt() != format!("tty{n}") {
        assert!(
            std::time::Instant::now() < deadline,
            "VT {n} not active: {}",
            active_vt()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = chvt.wait();
}

/// Frames presented on each output (`weft msg outputs`' `frames`).
fn frames_presented(weft: &Session) -> Vec<u64> {
    weft.msg(&["outputs"])
        .as_array()
        .expect("outputs")
        .iter()
        .map(|o| o["frames"].as_u64().expect("frames"))
        .collect()
}

/// A VT switch under a real seat (libseat's embedded seatd owns the VT): switched away, weft's
/// session pauses (no more flips: the display is not weft's) while its client stays connected;
/// switched back, every output is lit again showing the client, which is served as before.
#[test]
fn a_vt_switch_pauses_and_resumes_without_losing_the_client() {
    let _kms = kms_to_myself();
    let home = active_vt();
    let weft = Session::start_on_seat("builtin", &[]);
    let names = wait_for_outputs(&weft, "three outputs", |n| n.len() == 3);
    let mut c = weft.client();
    let t = fullscreen_on(&mut c, &names[0], [230, 20, 40]);
    wait_for_scanout("virtio_gpu", [230, 20, 40]);

    let away = if home == "tty2" { 3 } else { 2 };
    switch_vt(away);
    // Paused: no output flips any more (whatever is still in flight lands first).
    std::thread::sleep(std::time::Duration::from_secs(1));
    let paused = frames_presented(&weft);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(frames_presented(&weft), paused, "flips while switched away");
    // The client is still connected and answered.
    c.roundtrip()
        .expect("the client is served while the session is paused");

    let home_n: u32 = home.trim_start_matches("tty").parse().expect("a VT number");
    switch_vt(home_n);
    // Back: flips resume, the CRTC shows the client again, and the client's next commit is
    // answered with a frame callback.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let now = frames_presented(&weft);
        if now.iter().zip(&paused).all(|(n, p)| n > p) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "outputs not flipping again: {paused:?} -> {now:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    wait_for_scanout("virtio_gpu", [230, 20, 40]);
    c.frame(&t.surface, 77);
    t.surface.commit();
    c.wait_until("a frame callback after resume", 10_000, |s| {
        s.frames_done.iter().any(|(x, _)| *x == 77)
    })
    .expect("frame callback after the VT switch");
    assert!(c.protocol_error().is_none());
    assert_eq!(output_names(&weft), names, "the same outputs after resume");
}

/// A small dma-buf surface over a composed window goes on virtio-gpu's cursor plane: rung
/// `Scanout` naming the plane, the composed frame drawn without it (the primary plane's pixels
/// there are the window's), the cursor plane showing the client's pixels where the surface is.
#[test]
fn a_surface_over_the_rest_goes_on_the_cursor_plane() {
    use std::os::fd::AsFd;
    use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;
    use weft_clients::dmabuf::{LinuxDmabuf, ARGB8888, MOD_LINEAR};

    let _kms = kms_to_myself();
    let weft = Session::start();
    let names = wait_for_outputs(&weft, "three outputs", |n| n.len() == 3);
    let mut c = weft.client();
    let d = LinuxDmabuf::bind(&mut c, 5).expect("linux-dmabuf");
    let t = fullscreen_on(&mut c, &names[0], [230, 20, 40]);
    // A 64×64 subsurface of a virtio-gpu dumb buffer at (100, 120) over the fullscreen window.
    let virtio = card("virtio_gpu");
    let small = virtio.export_dumb(64, 64, "client").expect("dumb buffer");
    {
        let mut map = small.map().expect("mmap");
        for px in map.as_mut_slice().chunks_exact_mut(4) {
            px.copy_from_slice(&[30, 200, 40, 255]);
        }
    }
    let (params, _) = d.params(&c);
    params.add(
        small.as_fd(),
        0,
        0,
        64 * 4,
        (MOD_LINEAR >> 32) as u32,
        MOD_LINEAR as u32,
    );
    let wl = params.create_immed(64, 64, ARGB8888, Flags::empty(), &c.qh, ());
    params.destroy();
    let (sub, subsurface) = c.subsurface(&t.surface);
    subsurface.set_position(100, 120);
    sub.attach(Some(&wl), 0, 0);
    sub.damage_buffer(0, 0, 64, 64);
    sub.commit();
    t.surface.commit();
    c.roundtrip().expect("roundtrip");
    for tag in 1..=4 {
        c.frame(&t.surface, 500 + tag);
        t.surface.commit();
        c.wait_until("a frame callback", 5000, |s| {
            s.frames_done.iter().any(|(x, _)| *x == 500 + tag)
        })
        .expect("frame callback");
    }
    let s = weft
        .msg(&["surfaces"])
        .as_array()
        .and_then(|a| a.iter().find(|s| s["role"] == "subsurface").cloned())
        .expect("the subsurface");
    assert_eq!(s["rung"], "Scanout", "{s}");
    assert!(
        s["reason"]
            .as_str()
            .is_some_and(|r| r.contains("cursor plane") && r.contains("64x64+100+120")),
        "{s}"
    );
    assert_eq!(s["copied_bytes_per_frame"], 0, "{s}");
    let k = kms_stats(&weft, &names[0]);
    assert!(k["upper_plane_flips"].as_u64() >= Some(1), "{k}");
    // The composed frame does not have it: the window's red is under it on the primary plane.
    let primary = scanout_of("virtio_gpu");
    assert_eq!(primary.rgb(100 + 32, 120 + 32), Some([230, 20, 40]));
    // The cursor plane shows the client's buffer, at the surface's place.
    let cursor = weft_guest::kms::planes_showing(&virtio, "cursor").expect("planes");
    assert_eq!(cursor.len(), 1, "one cursor plane shows a framebuffer");
    let (shown, at) = &cursor[0];
    assert_eq!(*at, (100, 120));
    assert_eq!((shown.width, shown.height), (64, 64));
    assert_eq!(shown.rgb(32, 32), Some([40, 200, 30]));

    // The subsurface goes away: the cursor plane is switched off, the window is whole again.
    sub.attach(None, 0, 0);
    sub.commit();
    t.surface.commit();
    for tag in 10..=12 {
        c.frame(&t.surface, 500 + tag);
        t.surface.commit();
        c.wait_until("a frame callback", 5000, |s| {
            s.frames_done.iter().any(|(x, _)| *x == 500 + tag)
        })
        .expect("frame callback");
    }
    let cursor = weft_guest::kms::planes_showing(&virtio, "cursor").expect("planes");
    assert!(cursor.is_empty(), "the cursor plane still shows something");
    assert_eq!(
        scanout_of("virtio_gpu").rgb(100 + 32, 120 + 32),
        Some([230, 20, 40])
    );
}

/// Output configuration under KMS (`weft msg output NAME --mode`, `--off`, `--on`, as
/// zwlr_output_manager_v1 asks too): virtio-gpu's connector is modeset into another of its modes
/// (the CRTC scans out a frame of the new size, weft's output and the client's fullscreen size
/// follow); a mode the connector lacks is refused and nothing changes; switched off, its CRTC
/// scans out nothing and the output is no wl_output global; switched on, it shows clients
/// again.
#[test]
fn a_kms_output_is_modeset_and_switched_off_and_on() {
    let _kms = kms_to_myself();
    let weft = Session::start();
    let outputs = weft.msg(&["outputs"]);
    let virtual_1 = outputs
        .as_array()
        .expect("outputs")
        .iter()
        .find(|o| o["name"].as_str().is_some_and(|n| n.starts_with("Virtual")))
        .cloned()
        .expect("virtio-gpu's output");
    let name = virtual_1["name"].as_str().expect("name").to_string();
    let size = |o: &serde_json::Value| {
        (
            o["width"].as_u64().unwrap_or_default() as u32,
            o["height"].as_u64().unwrap_or_default() as u32,
        )
    };
    let (w0, h0) = size(&virtual_1);
    // Another mode of the connector, smaller than the one lit.
    let modes: Vec<String> = virtual_1["modes"]
        .as_array()
        .expect("modes")
        .iter()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    let other = modes
        .iter()
        .find(|m| {
            let (size, _) = m.split_once('@').unwrap_or((m, ""));
            let (w, h) = size.split_once('x').unwrap_or(("0", "0"));
            let (w, h): (u32, u32) = (w.parse().unwrap_or(0), h.parse().unwrap_or(0));
            w > 0 && w * h < w0 * h0
        })
        .unwrap_or_else(|| panic!("no smaller mode among {modes:?}"))
        .clone();
    let (w1, h1): (u32, u32) = {
        let (size, _) = other.split_once('@').expect("WxH@HZ");
        let (w, h) = size.split_once('x').expect("WxH");
        (w.parse().expect("width"), h.parse().expect("height"))
    };

    let mut c = weft.client();
    let t = fullscreen_on(&mut c, &name, [40, 200, 90]);
    wait_for_scanout("virtio_gpu", [40, 200, 90]);

    // A mode the connector lacks: refused, nothing changes.
    let refused = weft.try_msg(&["output", &name, "--mode", "123x45@60"]);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("not a mode of its connector")),
        "{refused:?}"
    );
    assert_eq!(scanout_of("virtio_gpu").width, w0);

    // Another mode: the CRTC scans out frames of its size.
    weft.msg(&["output", &name, "--mode", &other]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let shown = scanout_of("virtio_gpu");
        if (shown.width, shown.height) == (w1, h1) && shown.rgb(2, 2) == Some([40, 200, 90]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the CRTC shows {}x{} with {:?} at (2, 2), not {w1}x{h1} with the client",
            shown.width,
            shown.height,
            shown.rgb(2, 2)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let outputs = weft.msg(&["outputs"]);
    let now = outputs
        .as_array()
        .and_then(|a| a.iter().find(|o| o["name"] == name.as_str()))
        .expect("the output");
    assert_eq!(size(now), (w1, h1), "{now}");
    // Frames go on after the modeset.
    let index = output_names(&weft)
        .iter()
        .position(|n| *n == name)
        .expect("the output");
    let presented = |weft: &Session| frames_presented(weft).get(index).copied().unwrap_or(0);
    let before = presented(&weft);
    frames_answered(&mut c, &t, 100);
    assert!(
        presented(&weft) >= before + 3,
        "frames after the modeset: {before} -> {}",
        presented(&weft)
    );

    // Off: nothing scanned out on virtio-gpu, no global.
    weft.msg(&["output", &name, "--off"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !scanned_out(&card("virtio_gpu"))
        .expect("scanout")
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "virtio-gpu's CRTC still scans out"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let globals = weft.client().globals.contents().clone_list();
    assert_eq!(
        globals
            .iter()
            .filter(|g| g.interface == "wl_output")
            .count(),
        2,
        "the bochs outputs' globals only"
    );

    // On: lit again, in the mode it had, showing a client fullscreen on it.
    let off = presented(&weft);
    weft.msg(&["output", &name, "--on"]);
    let again = fullscreen_on(&mut c, &name, [200, 40, 90]);
    wait_for_scanout("virtio_gpu", [200, 40, 90]);
    assert_eq!(scanout_of("virtio_gpu").width, w1);
    frames_answered(&mut c, &again, 200);
    assert!(
        presented(&weft) >= off + 3,
        "frames after switching it on: {off} -> {}",
        presented(&weft)
    );
}

/// Five commits of `t`'s surface, each with a frame callback (tags from `tag`), each answered.
fn frames_answered(c: &mut Client, t: &weft_clients::Toplevel, tag: u32) {
    for n in tag..tag + 5 {
        c.frame(&t.surface, n);
        t.surface.commit();
        c.wait_until("a frame callback", 10_000, |s| {
            s.frames_done.iter().any(|(x, _)| *x == n)
        })
        .expect("frame callback");
    }
}

/// An idle `--backend drm` session rests: with nothing changing, no output flips (virtio-gpu
/// completes flips at once; weft no longer queues the next one when there is nothing new to
/// show), and a client's frame callback still wakes it and is answered within a few refreshes.
#[test]
fn an_idle_session_does_not_flip() {
    let _kms = kms_to_myself();
    let weft = Session::start();
    let mut c = weft.client();
    let names = wait_for_outputs(&weft, "three outputs", |n| n.len() == 3);
    let t = fullscreen_on(&mut c, &names[0], [90, 40, 200]);
    wait_for_scanout("virtio_gpu", [90, 40, 200]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let before = frames_presented(&weft);
    let cpu = weft.cpu_time();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let cpu = weft.cpu_time().saturating_sub(cpu);
    let after = frames_presented(&weft);
    let flips: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    println!(
        "flips in 2 s of idle: {flips:?}; weft's CPU meanwhile: {:.1} % of a core",
        cpu.as_secs_f64() / 2.0 * 100.0
    );
    assert!(
        flips.iter().all(|f| *f <= 1),
        "idle outputs flipped: {flips:?} in 2 s"
    );
    for name in &names {
        let stats = kms_stats(&weft, name);
        assert_eq!(stats["flips_per_second"], 0, "{name}: {stats}");
    }
    // A frame callback wakes it: answered, and the output presents again.
    let start = std::time::Instant::now();
    frames_answered(&mut c, &t, 300);
    let answered = start.elapsed();
    println!("5 frame callbacks answered in {answered:?}");
    assert!(
        frames_presented(&weft)[0] > after[0],
        "no frames for the commits"
    );
}

/// The cursor under `--backend drm` goes on virtio-gpu's cursor plane, not into the composed
/// frame: once a mouse moves the pointer onto Virtual-1, the cursor plane shows the cursor's
/// image where the pointer is, weft counts its cursor-plane flips, and the composed frame under
/// it shows the window, not the cursor.
#[test]
fn the_cursor_is_shown_on_the_cursor_plane() {
    let _kms = kms_to_myself();
    let weft = Session::start();
    let name = output_names(&weft)
        .into_iter()
        .find(|n| n.starts_with("Virtual"))
        .expect("virtio-gpu's output");
    let mut c = weft.client();
    let _t = fullscreen_on(&mut c, &name, [40, 200, 90]);
    wait_for_scanout("virtio_gpu", [40, 200, 90]);

    let mouse = weft_guest::uinput::VirtualDevice::mouse("weft-test cursor").expect("uinput mouse");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Into the top-left corner (Virtual-1's origin), then steps inside until the cursor plane
    // shows the whole image on the output.
    for _ in 0..4 {
        mouse.move_by(-8000, -8000).expect("motion");
    }
    let (image, at) = loop {
        mouse.move_by(10, 10).expect("motion");
        std::thread::sleep(std::time::Duration::from_millis(200));
        let shown = weft_guest::kms::planes_showing(&card("virtio_gpu"), "cursor")
            .expect("reading the cursor plane");
        if let Some(first) = shown.into_iter().find(|(_, at)| at.0 >= 0 && at.1 >= 0) {
            break first;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cursor plane never showed the cursor: {}",
            kms_stats(&weft, &name)
        );
    };
    let stats = kms_stats(&weft, &name);
    assert!(
        stats["cursor_plane_flips"].as_u64().unwrap_or_default() > 0,
        "{stats}"
    );
    // An opaque pixel of the image (ARGB8888: alpha is byte 3).
    let opaque = (0..image.height)
        .flat_map(|y| (0..image.width).map(move |x| (x, y)))
        .find(|&(x, y)| {
            let o = y as usize * image.pitch as usize + x as usize * 4;
            image.bytes.get(o + 3) == Some(&255)
        })
        .expect("the cursor image has opaque pixels");
    // The composed frame there is the window's: the cursor is not in it.
    let (px, py) = (at.0 + opaque.0 as i32, at.1 + opaque.1 as i32);
    assert!(px >= 0 && py >= 0, "the cursor at {at:?}");
    let primary = scanout_of("virtio_gpu");
    assert_eq!(
        primary.rgb(px as u32, py as u32),
        Some([40, 200, 90]),
        "the primary plane under the cursor at ({px}, {py})"
    );
}
