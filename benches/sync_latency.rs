//! Commit-to-present latency by synchronisation mode: prints numbers, asserts nothing.
//!
//! One client on a 60 Hz headless output commits a frame at each frame callback with
//! presentation feedback, and measures from the commit (CLOCK_MONOTONIC, the presentation clock)
//! to the `presented` time, over `FRAMES` frames (default 1000; `-- N` sets it) per mode:
//! - `none`: wl_shm, nothing to wait for;
//! - `implicit`: a dma-buf whose fences weft checks at commit — a vgem buffer where vgem exists
//!   (EXPORT_SYNC_FILE), else a memfd stand-in (poll);
//! - `explicit`: the same vgem buffers with wp_linux_drm_syncobj_v1, on a timeline of the device
//!   weft offers it on; the acquire point is signalled by the client just before the commit, each
//!   buffer has its own release timeline. Only where weft offers the protocol (tests/vm).
//!
//! Run on the host with `cargo bench --bench sync_latency`, and in tests/vm with
//! `scripts/bench-sync` (which does both).

use std::os::fd::AsFd;

use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_client::protocol::wl_shm::Format;
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;
use weft::{private_runtime_dir, HeadlessOptions, Running};
use weft_backends::server::ServerOptions;
use weft_clients::dmabuf::{Layout, LinuxDmabuf, MemBuffer, MOD_LINEAR, XRGB8888};
use weft_clients::syncobj::{set_points, Syncobj};
use weft_clients::{argb, Client, ShmBuffer};
use weft_compositor::OutputSpec;

const W: u32 = 256;
const H: u32 = 256;

fn now_ns() -> u128 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u128 * 1_000_000_000 + t.tv_nsec as u128
}

/// Per-frame work before the commit (setting sync points), given the frame number.
type Prepare<'a> = dyn FnMut(&Client, u64) + 'a;

/// Commits `frames` frames alternating `buffers`, each at the previous frame's callback, and
/// returns the commit-to-present latencies in ms.
fn run(
    c: &mut Client,
    surface: &wayland_client::protocol::wl_surface::WlSurface,
    buffers: &[WlBuffer],
    frames: u64,
    prepare: &mut Prepare<'_>,
) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(frames as usize);
    for n in 0..frames {
        let tag = n as u32 + 1;
        let buffer = &buffers[(n % buffers.len() as u64) as usize];
        prepare(c, n);
        c.frame(surface, tag);
        c.feedback(surface, tag);
        let committed = now_ns();
        surface.attach(Some(buffer), 0, 0);
        surface.damage_buffer(0, 0, W as i32, H as i32);
        surface.commit();
        c.wait_until("presented or discarded", 1_000_000, |s| {
            s.presented.iter().any(|p| p.tag == tag) || s.discarded.contains(&tag)
        })?;
        if let Some(p) = c.state.presented.iter().find(|p| p.tag == tag) {
            out.push(p.time_ns.saturating_sub(committed) as f64 / 1e6);
        }
        c.wait_until("frame", 1_000_000, |s| {
            s.frames_done.iter().any(|(t, _)| *t == tag)
        })?;
        c.state.presented.clear();
        c.state.frames_done.clear();
    }
    Ok(out)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(rows: &mut Vec<(String, String)>, name: &str, mut v: Vec<f64>, frames: u64) {
    v.sort_by(|a, b| a.total_cmp(b));
    rows.push((
        name.to_string(),
        format!(
            "{:>8.2} {:>8.2} {:>8.2} {:>6}/{}",
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            v.last().copied().unwrap_or(f64::NAN),
            v.len(),
            frames
        ),
    ));
}

/// Two vgem buffers as linear XRGB8888 dma-bufs, or `None` without vgem.
fn vgem_buffers(
    c: &Client,
    d: &LinuxDmabuf,
) -> Option<(
    weft_guest::vgem::Vgem,
    Vec<weft_guest::vgem::VgemBuffer>,
    Vec<WlBuffer>,
)> {
    let vgem = weft_guest::vgem::Vgem::open().ok()?;
    let mut bufs = Vec::new();
    let mut wls = Vec::new();
    for shade in [0x40u8, 0xc0] {
        let b = vgem.alloc(W, H).ok()?;
        b.dmabuf.map().ok()?.as_mut_slice().fill(shade);
        let (params, _) = d.params(c);
        let fd = b.dmabuf.try_clone_fd().ok()?;
        params.add(
            fd.as_fd(),
            0,
            0,
            W * 4,
            (MOD_LINEAR >> 32) as u32,
            MOD_LINEAR as u32,
        );
        wls.push(params.create_immed(W as i32, H as i32, XRGB8888, Flags::empty(), &c.qh, ()));
        params.destroy();
        bufs.push(b);
    }
    Some((vgem, bufs, wls))
}

fn main() -> anyhow::Result<()> {
    let frames: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = private_runtime_dir("bench-sync")?;
    let weft = Running::start(HeadlessOptions {
        outputs: vec![OutputSpec {
            width: 640,
            height: 480,
            refresh_mhz: 60_000,
        }],
        server: ServerOptions {
            runtime_dir: Some(dir),
            ..Default::default()
        },
        ..Default::default()
    })?;
    let mut c = Client::connect(&weft.wayland_path())?;
    let top = c.toplevel("sync-latency", "weft.bench")?;
    let d = LinuxDmabuf::bind(&mut c, 4)?;
    let mut rows = Vec::new();

    let shm: Vec<ShmBuffer> = [0x40u8, 0xc0]
        .iter()
        .map(|&s| {
            ShmBuffer::new(
                &c.shm,
                &c.qh,
                W as i32,
                H as i32,
                Format::Xrgb8888,
                |_, _| argb(s, s, s, 255),
            )
        })
        .collect::<Result<_, _>>()?;
    let wls: Vec<WlBuffer> = shm.iter().map(|b| b.buffer.clone()).collect();
    let v = run(&mut c, &top.surface, &wls, frames, &mut |_, _| {})?;
    report(&mut rows, "none (wl_shm)", v, frames);

    let vgem = vgem_buffers(&c, &d);
    match &vgem {
        Some((_, _, wls)) => {
            let v = run(&mut c, &top.surface, wls, frames, &mut |_, _| {})?;
            report(&mut rows, "implicit (vgem, EXPORT_SYNC_FILE)", v, frames);
        }
        None => {
            let mut bufs = Vec::new();
            for s in [0x40u8, 0xc0] {
                let mut b = MemBuffer::new(XRGB8888, W, H, Layout::default())?;
                b.fill_rgb(|_, _| [s, s, s, 255]);
                bufs.push(b);
            }
            let wls: Vec<WlBuffer> = bufs.iter().map(|b| b.create_immed(&c, &d)).collect();
            let v = run(&mut c, &top.surface, &wls, frames, &mut |_, _| {})?;
            report(&mut rows, "implicit (memfd, poll)", v, frames);
        }
    }

    let device = weft.msg(&weft::Request::Imports)?["sync"]["explicit_device"].clone();
    match (&vgem, Syncobj::advertised(&c)) {
        (Some((_, _, wls)), true) => {
            let node = weft_guest::drm_node::DrmNode::by_driver("virtio_gpu")
                .or_else(|_| weft_guest::drm_node::DrmNode::by_driver("vgem"))?;
            let s = Syncobj::bind(&mut c)?;
            // A fresh surface: a surface with a syncobj object must sync every buffer.
            let top2 = c.toplevel("sync-latency explicit", "weft.bench")?;
            let sync = s.surface(&c, &top2.surface);
            let acquire = weft_guest::syncobj::Timeline::new(&node)?;
            let acquire_wl = s.import(&c, acquire.export_fd()?.as_fd());
            let releases: Vec<_> = (0..2)
                .map(|_| weft_guest::syncobj::Timeline::new(&node))
                .collect::<Result<_, _>>()?;
            let release_wl: Vec<_> = releases
                .iter()
                .map(|t| t.export_fd().map(|fd| s.import(&c, fd.as_fd())))
                .collect::<Result<_, _>>()?;
            let mut prepare = |_: &Client, n: u64| {
                let point = n + 1;
                let _ = acquire.signal(point);
                let which = (n % 2) as usize;
                set_points(&sync, (&acquire_wl, point), (&release_wl[which], n / 2 + 1));
            };
            let v = run(&mut c, &top2.surface, wls, frames, &mut prepare)?;
            report(&mut rows, &format!("explicit (syncobj on {})", device.as_str().unwrap_or("?")), v, frames);
        }
        _ => rows.push((
            "explicit (syncobj)".into(),
            "not offered here: no DRM device with timeline syncobjs (run scripts/bench-sync for tests/vm)".into(),
        )),
    }

    println!("\ncommit-to-present latency, 640x480@60 headless, {W}x{H} buffers, {frames} frames per mode");
    println!(
        "{:<40} {:>8} {:>8} {:>8} {:>10}",
        "mode", "p50 ms", "p99 ms", "max ms", "presented"
    );
    for (name, row) in rows {
        println!("{name:<40} {row}");
    }
    let sync = weft.msg(&weft::Request::Imports)?["sync"].clone();
    println!("weft's sync: {sync}");
    drop(c);
    weft.stop()?;
    Ok(())
}
