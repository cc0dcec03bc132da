//! `weft --backend drm` as the seat's compositor in the tests/vm guest (libseat's noop backend, as
//! root): every connector of every KMS device lit (virtio-gpu and both bochs devices), a client's
//! window read back from the framebuffer the CRTC scans out, and presentation feedback stamped by
//! the page flips.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weft_clients::Client;
use weft_guest::drm_node::DrmNode;
use weft_guest::kms::scanned_out;

/// weft as the session compositor, stopped (SIGTERM, then SIGKILL) when dropped.
struct Session {
    child: Child,
    runtime: PathBuf,
}

impl Session {
    fn start() -> Self {
        let runtime = weft::private_runtime_dir("drm").expect("runtime dir");
        let child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["--backend", "drm", "--socket", "wayland-drm"])
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("LIBSEAT_BACKEND", "noop")
            .env("RUST_LOG", "info")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("weft starts");
        let me = Self { child, runtime };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !me.runtime.join("wayland-drm").exists() {
            assert!(Instant::now() < deadline, "weft did not open its socket");
            std::thread::sleep(Duration::from_millis(100));
        }
        me
    }

    fn msg(&self, what: &[&str]) -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["msg", "--socket", "wayland-drm", "--json"])
            .args(what)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .output()
            .expect("weft msg runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    }

    fn client(&self) -> Client {
        Client::connect(&self.runtime.join("wayland-drm")).expect("client connects")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let weft = Session::start();
    let outputs = weft.msg(&["outputs"]);
    let outputs = outputs.as_array().expect("outputs");
    // virtio-gpu's Virtual-1 and one connector on each bochs device.
    assert_eq!(outputs.len(), 3, "{outputs:?}");
    let first = &outputs[0];
    let (ox, oy) = (first["x"].as_i64().unwrap(), first["y"].as_i64().unwrap());

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
