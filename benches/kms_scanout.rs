//! Scanout vs composition on KMS: prints numbers, asserts nothing. Runs in the tests/vm guest
//! (`scripts/bench-kms`), where `weft --backend drm` drives virtio-gpu.
//!
//! A fullscreen client at the output's size (1920×1080 where the connector offers it) commits
//! `FRAMES` frames, each after the frame callback of the one before, alternating two buffers:
//! - virtio-gpu dumb buffers (PRIME exported): the display device's own memory, scanned out;
//! - vgem buffers: virtio-gpu cannot import them, so weft composes them (lavapipe) and copies the
//!   frame into its dumb buffer.
//!
//! Per mode: the rung weft reports, weft's CPU time per frame (its process, render threads
//! included: lavapipe is the CPU here), bytes copied per frame, and commit-to-flip latency (the
//! client's clock at commit to the flip time in its presentation feedback) p50/p99.
//!
//! Run: `scripts/bench-kms [FRAMES]` (default 120).

#[allow(dead_code, reason = "shared with another target that uses the rest")]
mod kms_session {
    include!("../tests/support/kms_session.rs");
}

use std::os::fd::AsFd;
use std::time::Duration;

use kms_session::Session;
use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;
use weft_clients::dmabuf::{LinuxDmabuf, MOD_LINEAR, XRGB8888};
use weft_clients::Client;
use weft_guest::dmabuf::DmaBuf;
use weft_guest::drm_node::DrmNode;

/// CPU time (user + system) of process `pid` so far.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name's closing parenthesis: fields 3.. ; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Duration::from_nanos((ticks(11) + ticks(12)) * 1_000_000_000 / hz)
}

fn now_ns() -> u128 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u128 * 1_000_000_000 + t.tv_nsec as u128
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

struct Mode {
    name: &'static str,
    buffers: Vec<DmaBuf>,
}

fn main() {
    let frames: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(120);
    let weft = Session::start_with(&["--output", "1920x1080"]);
    let out = weft.msg(&["outputs"]);
    let first = out
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .expect("an output");
    let (w, h) = (
        first["width"].as_u64().unwrap_or(0) as u32,
        first["height"].as_u64().unwrap_or(0) as u32,
    );
    println!(
        "output {} {w}x{h} on {} ({} mHz), {frames} frames per mode, paced by frame callbacks",
        first["name"], first["display_device"], first["refresh_mhz"]
    );
    let virtio = DrmNode::by_driver("virtio_gpu").expect("virtio-gpu (run in tests/vm)");
    let vgem = weft_guest::vgem::Vgem::open().expect("vgem");
    let fill = |buf: &DmaBuf, v: u8| {
        let mut map = buf.map().expect("mmap");
        for px in map.as_mut_slice().chunks_exact_mut(4) {
            px.copy_from_slice(&[v, 255 - v, 128, 0]);
        }
    };
    let modes = [
        Mode {
            name: "virtio-gpu dumb",
            buffers: (0..2)
                .map(|_| virtio.export_dumb(w, h, "bench").expect("dumb"))
                .collect(),
        },
        Mode {
            name: "vgem",
            buffers: (0..2)
                .map(|_| vgem.alloc(w, h).expect("vgem").dmabuf)
                .collect(),
        },
    ];
    for (i, m) in modes.iter().enumerate() {
        for (j, b) in m.buffers.iter().enumerate() {
            fill(b, (i * 100 + j * 50) as u8);
        }
    }

    let mut c = weft.client();
    let d = LinuxDmabuf::bind(&mut c, 5).expect("linux-dmabuf");
    let t = c.toplevel("bench", "weft.bench").expect("toplevel");
    t.toplevel.set_fullscreen(None);
    t.surface.commit();
    c.ack_latest(&t).expect("configure");
    let send = |c: &Client, buf: &DmaBuf| -> WlBuffer {
        let (params, _) = d.params(c);
        params.add(
            buf.as_fd(),
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

    println!(
        "\n{:<16} {:<14} {:>14} {:>14} {:>14} {:>14}",
        "buffer", "rung", "cpu/frame", "copied/frame", "latency p50", "latency p99"
    );
    let mut tag = 0u32;
    for mode in &modes {
        let wls: Vec<WlBuffer> = mode.buffers.iter().map(|b| send(&c, b)).collect();
        // Warm up (imports, framebuffers, shader compiles), then measure.
        let run = |c: &mut Client, n: u32, tag: &mut u32| -> Vec<(u32, u128)> {
            let mut commits = Vec::new();
            for i in 0..n {
                *tag += 1;
                let wl = &wls[i as usize % wls.len()];
                c.feedback(&t.surface, *tag);
                c.frame(&t.surface, *tag);
                let at = now_ns();
                c.show(&t.surface, wl);
                commits.push((*tag, at));
                let want = *tag;
                c.wait_until("frame callback", 5000, |s| {
                    s.frames_done.iter().any(|(x, _)| *x == want)
                })
                .expect("frame callback");
            }
            commits
        };
        run(&mut c, 10, &mut tag);
        let cpu0 = cpu_of(weft.child.id());
        let commits = run(&mut c, frames, &mut tag);
        let cpu = cpu_of(weft.child.id()).saturating_sub(cpu0);
        let last = tag;
        let _ = c.wait_until("the last feedback", 5000, |s| {
            s.presented.iter().any(|p| p.tag == last)
        });
        let mut lat: Vec<f64> = commits
            .iter()
            .filter_map(|(tag, at)| {
                c.state
                    .presented
                    .iter()
                    .find(|p| p.tag == *tag)
                    .map(|p| p.time_ns.saturating_sub(*at) as f64 / 1e6)
            })
            .collect();
        lat.sort_by(|a, b| a.total_cmp(b));
        let s = weft
            .msg(&["surfaces"])
            .as_array()
            .and_then(|a| a.iter().find(|s| s["title"] == "bench").cloned())
            .unwrap_or_default();
        println!(
            "{:<16} {:<14} {:>11.2} ms {:>12} B {:>11.2} ms {:>11.2} ms   ({} of {} presented)",
            mode.name,
            s["rung"].as_str().unwrap_or("?"),
            cpu.as_secs_f64() * 1e3 / f64::from(frames),
            s["copied_bytes_per_frame"].as_u64().unwrap_or(0),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.len(),
            frames
        );
        for wl in wls {
            wl.destroy();
        }
    }
    println!(
        "\ncpu/frame: weft's process (its render threads too: lavapipe) per frame; composed frames \
         also cost the render device's copy into the dumb buffer it imported (weft msg outputs: kms.composed_into). latency: commit (client clock) to the flip that \
         showed it (the kernel's timestamp in the feedback)."
    );
}
