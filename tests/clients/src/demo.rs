//! The demo client: a toplevel with an animated test card (colour bars, a sweeping bar) and a
//! subsurface square that bounces across it, paced by frame callbacks, with presentation feedback
//! on every frame; right of the card a subsurface shows the same bars as an NV12 dma-buf (a memfd
//! sent through linux-dmabuf), so the demo exercises a YUV import rung next to the shm path.

use std::path::Path;
use std::time::{Duration, Instant};

use wayland_client::protocol::wl_shm;

use crate::client::{Client, ClientError};
use crate::dmabuf::{Layout, LinuxDmabuf, MemBuffer, NV12};
use crate::shm::{argb, ShmBuffer};

pub const WIDTH: i32 = 480;
pub const HEIGHT: i32 = 320;
pub const SQUARE: i32 = 64;

/// What the demo client saw.
#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    pub frames_drawn: u32,
    pub frame_callbacks: usize,
    pub presented: usize,
    pub discarded: usize,
    pub refresh_ns: u32,
    /// Mean interval between consecutive presented timestamps, in nanoseconds.
    pub mean_interval_ns: f64,
    pub duration: Duration,
}

/// The colour bars of the test card at column `x`.
pub fn bar_color(x: i32) -> [u8; 4] {
    const BARS: [(u8, u8, u8); 8] = [
        (235, 235, 235),
        (235, 235, 16),
        (16, 235, 235),
        (16, 235, 16),
        (235, 16, 235),
        (235, 16, 16),
        (16, 16, 235),
        (16, 16, 16),
    ];
    let (r, g, b) = BARS[((x * 8 / WIDTH) as usize).min(7)];
    argb(r, g, b, 255)
}

/// The demo's connection and buffers, kept alive so the compositor can be inspected while the last
/// frame is still shown.
pub struct DemoSession {
    pub client: Client,
    _buffers: Vec<ShmBuffer>,
    _nv12: MemBuffer,
}

/// BT.601 limited-range Y′CbCr codes of an 8-bit RGB colour (weft's default conversion).
pub fn yuv601(r: u8, g: u8, b: u8) -> (u8, u8, u8) {
    let (r, g, b) = (
        f64::from(r) / 255.0,
        f64::from(g) / 255.0,
        f64::from(b) / 255.0,
    );
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let cb = (b - y) / 1.772;
    let cr = (r - y) / 1.402;
    let code = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    (
        code(16.0 + 219.0 * y),
        code(128.0 + 224.0 * cb),
        code(128.0 + 224.0 * cr),
    )
}

/// Runs the demo against the Wayland socket at `path` for `duration`.
pub fn run(path: &Path, duration: Duration) -> Result<(DemoReport, DemoSession), ClientError> {
    let mut c = Client::connect(path)?;
    let top = c.toplevel("weft demo", "weft.demo")?;
    // Two buffers, alternated: the one just committed stays the compositor's until it is replaced.
    let mut cards = [
        ShmBuffer::new(
            &c.shm,
            &c.qh,
            WIDTH,
            HEIGHT,
            wl_shm::Format::Xrgb8888,
            |x, _| bar_color(x),
        )?,
        ShmBuffer::new(
            &c.shm,
            &c.qh,
            WIDTH,
            HEIGHT,
            wl_shm::Format::Xrgb8888,
            |x, _| bar_color(x),
        )?,
    ];
    let square = ShmBuffer::new(
        &c.shm,
        &c.qh,
        SQUARE,
        SQUARE,
        wl_shm::Format::Argb8888,
        |x, y| {
            // A translucent orange square with a solid border.
            if x < 4 || y < 4 || x >= SQUARE - 4 || y >= SQUARE - 4 {
                argb(255, 255, 255, 255)
            } else {
                argb(200, 100, 0, 200)
            }
        },
    )?;
    // The same bars as NV12 in a dma-buf, in a subsurface right of the card (a second toplevel would
    // be cascaded over the first).
    let dmabuf = LinuxDmabuf::bind(&mut c, 5)?;
    let mut nv12 = MemBuffer::new(NV12, WIDTH as u32, HEIGHT as u32, Layout::default())?;
    nv12.fill_yuv(|x, _| {
        let [b, g, r, _] = bar_color(x as i32);
        yuv601(r, g, b)
    });
    let (nv12_surface, nv12_sub) = c.subsurface(&top.surface);
    // Allocated the way the subsurface's feedback prefers (LINEAR on every device weft has now).
    let (_feedback, fb) = dmabuf.surface_feedback_done(&mut c, &nv12_surface)?;
    let (nv12_buffer, _) = nv12
        .create_by_feedback(&c, &dmabuf, &fb)
        .ok_or(ClientError::Unsupported("NV12 in a linear memfd"))?;
    nv12_sub.set_position(WIDTH + 16, 0);
    nv12_sub.set_desync();
    c.show(&nv12_surface, &nv12_buffer);

    let (sub_surface, sub) = c.subsurface(&top.surface);
    sub.set_desync();
    c.show(&sub_surface, &square.buffer);

    let start = Instant::now();
    let mut frame = 0u32;
    let mut report = DemoReport::default();
    while start.elapsed() < duration {
        // The sweeping bar: an 8-px white band moving across the lower half of the card; only that
        // half is damaged.
        let band = (frame as i32 * 6) % WIDTH;
        let card = &mut cards[(frame % 2) as usize];
        card.fill(|x, y| {
            if (x - band).rem_euclid(WIDTH) < 8 && y > HEIGHT / 2 {
                argb(255, 255, 255, 255)
            } else {
                bar_color(x)
            }
        });
        let t = frame as f64 / 60.0;
        let sx = ((t * 1.3).sin() * 0.5 + 0.5) * f64::from(WIDTH - SQUARE);
        let sy = ((t * 2.1).cos() * 0.5 + 0.5) * f64::from(HEIGHT / 2 - SQUARE);
        sub.set_position(sx as i32, sy as i32);
        // smithay applies a desynchronized subsurface's position with the subsurface's own commit.
        sub_surface.commit();
        c.frame(&top.surface, frame);
        c.feedback(&top.surface, frame);
        top.surface.attach(Some(&card.buffer), 0, 0);
        top.surface.damage_buffer(0, HEIGHT / 2, WIDTH, HEIGHT / 2);
        top.surface.commit();
        frame += 1;
        c.wait_until("frame callback", 1000, |s| {
            s.frames_done.iter().any(|(tag, _)| *tag == frame - 1)
        })?;
    }
    // Let the last feedbacks arrive.
    c.roundtrip()?;
    report.frames_drawn = frame;
    report.frame_callbacks = c.state.frames_done.len();
    report.presented = c.state.presented.len();
    report.discarded = c.state.discarded.len();
    report.refresh_ns = c.state.presented.last().map_or(0, |p| p.refresh_ns);
    let times: Vec<u128> = c.state.presented.iter().map(|p| p.time_ns).collect();
    if times.len() > 1 {
        let span = (times[times.len() - 1] - times[0]) as f64;
        report.mean_interval_ns = span / (times.len() - 1) as f64;
    }
    report.duration = start.elapsed();
    let [a, b] = cards;
    Ok((
        report,
        DemoSession {
            client: c,
            _buffers: vec![a, b, square],
            _nv12: nv12,
        },
    ))
}
