//! What one greedy client costs everyone else: prints numbers, asserts nothing.
//!
//! A bystander client commits a small frame at every frame callback of a 60 Hz headless output, on
//! its own thread, for the whole run. Meanwhile a second client does, one phase after another:
//! - nothing (the baseline);
//! - commits a 16384×16384 wl_shm buffer (1 GiB, sparse; over its budget, refused) every 200 ms;
//! - commits a 8192×2048 wl_shm buffer (64 MiB: copied in 16 MiB slices between other clients'
//!   requests) with full damage every 200 ms;
//! - streams 3840×2160 wl_shm frames (32 MiB, full damage) at its own frame callbacks.
//!
//! For each phase: the bystander's frame rate and its median and longest gap between two frame
//! callbacks, measured in the same run as the baseline.
//!
//! Run: `cargo bench --bench bystander` (optionally `-- SECONDS` per phase, default 3).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wayland_client::protocol::wl_shm::Format;
use weft::{private_runtime_dir, HeadlessOptions, Running};
use weft_backends::server::ServerOptions;
use weft_clients::{argb, Client, ShmBuffer};
use weft_compositor::OutputSpec;

/// Frame-callback times of the bystander, shared with its thread.
type Stamps = Arc<Mutex<Vec<Instant>>>;

fn bystander(
    path: std::path::PathBuf,
    stamps: Stamps,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut c = Client::connect(&path)?;
    let top = c.toplevel("bystander", "weft.bench")?;
    let buf = ShmBuffer::new(&c.shm, &c.qh, 64, 64, Format::Xrgb8888, |_, _| {
        argb(0, 200, 0, 255)
    })?;
    let mut tag = 0u32;
    while !stop.load(Ordering::SeqCst) {
        tag += 1;
        c.frame(&top.surface, tag);
        c.show(&top.surface, &buf.buffer);
        let want = tag;
        c.wait_until("frame", 1_000_000, |s| {
            s.frames_done.iter().any(|(t, _)| *t == want)
        })?;
        c.state.frames_done.clear();
        if let Ok(mut v) = stamps.lock() {
            v.push(Instant::now());
        }
    }
    Ok(())
}

/// (frames per second, median gap, longest gap) of the stamps within `from..to`.
fn rate(stamps: &Stamps, from: Instant, to: Instant) -> (f64, Duration, Duration) {
    let v: Vec<Instant> = stamps
        .lock()
        .map(|v| {
            v.iter()
                .copied()
                .filter(|t| *t >= from && *t <= to)
                .collect()
        })
        .unwrap_or_default();
    let mut gaps: Vec<Duration> = v.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort();
    let fps = v.len() as f64 / (to - from).as_secs_f64();
    let median = gaps.get(gaps.len() / 2).copied().unwrap_or_default();
    let longest = gaps.last().copied().unwrap_or_default();
    (fps, median, longest)
}

fn main() -> anyhow::Result<()> {
    let secs: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3.0);
    let phase = Duration::from_secs_f64(secs);
    let dir = private_runtime_dir("bench-bystander")?;
    let weft = Running::start(HeadlessOptions {
        outputs: vec![OutputSpec {
            width: 1280,
            height: 720,
            refresh_mhz: 60_000,
        }],
        server: ServerOptions {
            runtime_dir: Some(dir),
            ..Default::default()
        },
        ..Default::default()
    })?;
    let stamps: Stamps = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (path, stamps, stop) = (weft.wayland_path(), stamps.clone(), stop.clone());
        std::thread::spawn(move || bystander(path, stamps, stop))
    };
    let mut greedy = Client::connect(&weft.wayland_path())?;
    let top = greedy.toplevel("greedy", "weft.bench")?;
    std::thread::sleep(Duration::from_millis(500));

    let mut rows = Vec::new();
    let mut measure = |name: &str, greedy: &mut Client, step: &mut dyn FnMut(&mut Client)| {
        let from = Instant::now();
        let mut commits = 0u32;
        while from.elapsed() < phase {
            step(greedy);
            commits += 1;
        }
        let (fps, median, longest) = rate(&stamps, from, Instant::now());
        rows.push((name.to_string(), commits, fps, median, longest));
    };

    measure("baseline (greedy idle)", &mut greedy, &mut |c| {
        let _ = c.roundtrip();
        std::thread::sleep(Duration::from_millis(200));
    });
    let (_huge_fd, huge) = weft_clients::shm::sparse_buffer(&greedy.shm, &greedy.qh, 16384, 16384)?;
    measure(
        "16384x16384 (1 GiB, refused) / 200 ms",
        &mut greedy,
        &mut |c| {
            c.show(&top.surface, &huge);
            let _ = c.roundtrip();
            std::thread::sleep(Duration::from_millis(200));
        },
    );
    let large = ShmBuffer::new(
        &greedy.shm,
        &greedy.qh,
        8192,
        2048,
        Format::Xrgb8888,
        |x, y| argb((x % 256) as u8, (y % 256) as u8, 128, 255),
    )?;
    measure(
        "8192x2048 (64 MiB, sliced) / 200 ms",
        &mut greedy,
        &mut |c| {
            c.show(&top.surface, &large.buffer);
            let _ = c.roundtrip();
            std::thread::sleep(Duration::from_millis(200));
        },
    );
    let uhd = ShmBuffer::new(
        &greedy.shm,
        &greedy.qh,
        3840,
        2160,
        Format::Xrgb8888,
        |x, y| argb((x % 256) as u8, (y % 256) as u8, 64, 255),
    )?;
    let mut tag = 1_000_000u32;
    measure(
        "3840x2160 (32 MiB) at its frame rate",
        &mut greedy,
        &mut |c| {
            tag += 1;
            let want = tag;
            c.frame(&top.surface, want);
            c.show(&top.surface, &uhd.buffer);
            let _ = c.wait_until("greedy frame", 100_000, |s| {
                s.frames_done.iter().any(|(t, _)| *t == want)
            });
            c.state.frames_done.clear();
        },
    );

    stop.store(true, Ordering::SeqCst);
    let _ = thread.join();
    println!("bystander at 60 Hz while another client does ({secs} s each):");
    println!(
        "{:<42} {:>8} {:>9} {:>11} {:>11}",
        "greedy client", "commits", "fps", "median gap", "longest gap"
    );
    for (name, commits, fps, median, longest) in rows {
        println!(
            "{name:<42} {commits:>8} {fps:>9.1} {:>9.1}ms {:>9.1}ms",
            median.as_secs_f64() * 1e3,
            longest.as_secs_f64() * 1e3
        );
    }
    weft.stop()?;
    Ok(())
}
