//! A camera viewer of the project's own, written the way real capture code is: `S_FMT`, `REQBUFS`,
//! `EXPBUF` (read-write or read-only), `QBUF`, `STREAMON`, then for each frame `DQBUF`, attach the
//! V4L2 buffer's dma-buf (one wl_buffer per V4L2 buffer, made once) to a surface — a toplevel, or a
//! viewported subsurface the way video players place their picture — with presentation feedback,
//! and `QBUF` a buffer back to the driver only after weft released it.
//!
//! It records, per frame, what it needs to check that weft showed it right: the capture's
//! completion time (against the `presented` time: no frame may be shown before its capture
//! completed), the buffer's bytes as the application reads them, and the presentation events.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::path::Path;

use wayland_client::protocol::{wl_buffer::WlBuffer, wl_surface::WlSurface};
use wayland_client::Proxy;
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;
use weft_guest::v4l2::{Capture, Export, Frame};

use crate::dmabuf::{LinuxDmabuf, MOD_LINEAR};
use crate::{Client, ClientError};

/// Where the picture goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Toplevel,
    /// A subsurface scaled by a viewport to `dst` (surface coordinates), over a black parent.
    Subsurface {
        dst: (i32, i32),
    },
}

/// What one shown frame was.
#[derive(Debug, Clone)]
pub struct Shown {
    pub sequence: u32,
    /// The driver's timestamp of the capture (vivid stamps the frame's nominal time, which can be
    /// ahead of the clock: informational).
    pub captured_ns: u128,
    /// CLOCK_MONOTONIC when `VIDIOC_DQBUF` returned it: the capture was complete by then.
    pub dequeued_ns: u128,
    /// The `presented` time, `None` when its feedback was discarded.
    pub presented_ns: Option<u128>,
    /// The buffer's bytes as the application read them (only for the frames asked for).
    pub bytes: Option<Vec<u8>>,
    /// When it was handed back to V4L2: after weft released it.
    pub requeued_after_release: bool,
}

/// The V4L2 layout of `fourcc` in one buffer: (offset, stride) per plane.
pub fn planes(fourcc: u32, bytesperline: u32, height: u32) -> Vec<(u32, u32)> {
    match &fourcc.to_le_bytes() {
        b"NV12" | b"NV16" | b"NV21" | b"NV61" => {
            vec![(0, bytesperline), (bytesperline * height, bytesperline)]
        }
        b"YU12" | b"YV12" => {
            let c = bytesperline / 2;
            vec![
                (0, bytesperline),
                (bytesperline * height, c),
                (bytesperline * height + c * height.div_ceil(2), c),
            ]
        }
        _ => vec![(0, bytesperline)],
    }
}

/// Plays `frames` frames of the capture device at `node` on `surface` (and `shown_on`, the
/// surface weft lists: the toplevel or the subsurface). `keep_bytes_every`: keep the bytes of
/// every n-th frame for a pixel comparison.
#[allow(clippy::too_many_arguments)]
pub fn play(
    c: &mut Client,
    d: &LinuxDmabuf,
    node: &Path,
    (width, height, fourcc): (u32, u32, u32),
    export: Export,
    surface: &WlSurface,
    frames: u32,
    keep_bytes_every: u32,
) -> Result<(Vec<Shown>, weft_guest::v4l2::PixFormat), ClientError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| ClientError::Device(format!("{what}: {e}"));
    let capture = Capture::start_exporting(node, width, height, fourcc, 4, export)
        .map_err(|e| fail("V4L2 capture", &e))?;
    let fmt = capture.format;
    let layout = planes(fmt.pixelformat, fmt.bytesperline, fmt.height);
    // One wl_buffer per V4L2 buffer, made on first use and kept: what players do.
    let mut wl: HashMap<usize, WlBuffer> = HashMap::new();
    // The V4L2 frame each shown wl_buffer holds, until weft releases it.
    let mut held: Vec<(Frame, WlBuffer)> = Vec::new();
    let mut shown: Vec<Shown> = Vec::new();
    const COUNT: usize = 4;
    for n in 0..frames {
        // The driver needs a buffer to capture into: wait until weft releases one.
        while held.len() >= COUNT {
            c.wait_until("a release", 10_000, |s| !s.released.is_empty())?;
            requeue_released(c, &capture, &mut held, &mut shown)?;
        }
        let frame = capture.dequeue().map_err(|e| fail("VIDIOC_DQBUF", &e))?;
        let dequeued_ns = {
            let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
            t.tv_sec as u128 * 1_000_000_000 + t.tv_nsec as u128
        };
        let buf = &capture.buffers[frame.index];
        let bytes = (keep_bytes_every > 0 && n % keep_bytes_every == 0)
            .then(|| buf.read_all())
            .transpose()
            .map_err(|e| fail("reading the frame", &e))?;
        let buffer = match wl.get(&frame.index) {
            Some(b) => b.clone(),
            None => {
                let (params, _) = d.params(c);
                for (i, (offset, stride)) in layout.iter().enumerate() {
                    let fd = buf.try_clone_fd().map_err(|e| fail("dup", &e))?;
                    params.add(
                        fd.as_fd(),
                        i as u32,
                        *offset,
                        *stride,
                        (MOD_LINEAR >> 32) as u32,
                        MOD_LINEAR as u32,
                    );
                }
                let b = params.create_immed(
                    fmt.width as i32,
                    fmt.height as i32,
                    fmt.pixelformat,
                    Flags::empty(),
                    &c.qh,
                    (),
                );
                params.destroy();
                wl.insert(frame.index, b.clone());
                b
            }
        };
        c.frame(surface, n);
        c.feedback(surface, n);
        surface.attach(Some(&buffer), 0, 0);
        surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
        surface.commit();
        c.wait_until("frame callback", 10_000, move |s| {
            s.frames_done.iter().any(|(t, _)| *t == n)
        })?;
        c.wait_until("presentation feedback", 10_000, move |s| {
            s.presented.iter().any(|p| p.tag == n) || s.discarded.contains(&n)
        })?;
        let presented_ns = c
            .state
            .presented
            .iter()
            .find(|p| p.tag == n)
            .map(|p| p.time_ns);
        shown.push(Shown {
            sequence: frame.sequence,
            captured_ns: frame.timestamp_ns,
            dequeued_ns,
            presented_ns,
            bytes,
            requeued_after_release: false,
        });
        // The same V4L2 buffer may be shown again later: a stale release of it does not count.
        held.retain(|(f, _)| f.index != frame.index);
        held.push((frame, buffer));
        c.roundtrip()?;
        requeue_released(c, &capture, &mut held, &mut shown)?;
    }
    for b in wl.values() {
        b.destroy();
    }
    Ok((shown, fmt))
}

/// Hands every held buffer weft released back to the driver (never the one shown now: the last).
fn requeue_released(
    c: &mut Client,
    capture: &Capture,
    held: &mut Vec<(Frame, WlBuffer)>,
    shown: &mut [Shown],
) -> Result<(), ClientError> {
    let current = held.last().map(|(f, _)| f.index);
    let mut still = Vec::new();
    for (f, b) in held.drain(..) {
        let released = c.state.released.iter().position(|id| *id == b.id());
        match released {
            Some(at) if Some(f.index) != current => {
                c.state.released.remove(at);
                capture
                    .requeue(f)
                    .map_err(|e| ClientError::Device(format!("VIDIOC_QBUF: {e}")))?;
                if let Some(s) = shown.iter_mut().rev().find(|s| s.sequence == f.sequence) {
                    s.requeued_after_release = true;
                }
            }
            _ => still.push((f, b)),
        }
    }
    *held = still;
    Ok(())
}
