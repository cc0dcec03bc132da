//! `zwlr_screencopy_manager_v1` v3: a frame object per capture. It is told the buffer it takes
//! (`buffer` for wl_shm, `linux_dmabuf` for a dma-buf, `buffer_done`), the client attaches one with
//! `copy` (or `copy_with_damage`, which waits for damage), and at the output's next frame tick it
//! gets `flags`, its `damage` and `ready` with the frame's time, or `failed`.
//!
//! Errors: `already_used` (a second copy on one frame), `invalid_buffer` (a buffer of another
//! format, size or stride than offered).

use std::sync::Mutex;
use std::time::Duration;

use smithay::output::Output;
use smithay::reexports::wayland_protocols_wlr::screencopy::v1::server::{
    zwlr_screencopy_frame_v1::{self, ZwlrScreencopyFrameV1},
    zwlr_screencopy_manager_v1::{self, ZwlrScreencopyManagerV1},
};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};
use smithay::utils::{Physical, Rectangle};

use super::copy::{check_buffer, DMABUF_FORMAT, SHM_FORMAT};
use super::{Job, Reply, Target, Watch};
use crate::Weft;

const VERSION: u32 = 3;

/// The global's data: who may see it.
pub struct ScreencopyGlobal;

/// A frame's state: what it captures, and whether a copy was asked for already.
#[derive(Debug)]
pub struct FrameData {
    /// `None`: the output is gone (the frame was told `failed`).
    target: Option<(String, Rectangle<i32, Physical>)>,
    used: Mutex<bool>,
    overlay_cursor: bool,
}

pub(crate) fn create_global(dh: &DisplayHandle) {
    dh.create_global::<Weft, ZwlrScreencopyManagerV1, _>(VERSION, ScreencopyGlobal);
}

impl GlobalDispatch<ZwlrScreencopyManagerV1, ScreencopyGlobal> for Weft {
    fn bind(
        _: &mut Self,
        _: &DisplayHandle,
        _: &Client,
        resource: New<ZwlrScreencopyManagerV1>,
        _: &ScreencopyGlobal,
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, _: &ScreencopyGlobal) -> bool {
        crate::runtime::security::may_see_others(&client)
    }
}

impl Weft {
    /// What output `wl_output` names captures, clipped to `region` (logical, output-local):
    /// (the output's name, the region in its pixels), or none if the output is gone or the
    /// region misses it.
    fn capture_target(
        &self,
        output: &smithay::reexports::wayland_server::protocol::wl_output::WlOutput,
        region: Option<(i32, i32, i32, i32)>,
    ) -> Option<(String, Rectangle<i32, Physical>)> {
        let output = Output::from_resource(output)?;
        let slot = self.outputs.slots.iter().find(|s| s.output == output)?;
        let whole = Rectangle::<i32, Physical>::from_size(
            (slot.spec.width as i32, slot.spec.height as i32).into(),
        );
        let scale = output.current_scale().fractional_scale();
        let region = match region {
            None => whole,
            Some((_, _, w, h)) if w <= 0 || h <= 0 => return None,
            Some((x, y, w, h)) => {
                let r = Rectangle::<f64, Physical>::new(
                    (f64::from(x) * scale, f64::from(y) * scale).into(),
                    (f64::from(w) * scale, f64::from(h) * scale).into(),
                )
                .to_i32_round();
                // Logical regions are upright; the output's pixels may be turned.
                let r = slot.transform.transform_rect_in(r, &slot.upright_pixels());
                r.intersection(whole)?
            }
        };
        (!region.is_empty()).then(|| (slot.name(), region))
    }
}

impl Dispatch<ZwlrScreencopyManagerV1, ()> for Weft {
    fn request(
        state: &mut Self,
        _: &Client,
        _: &ZwlrScreencopyManagerV1,
        request: zwlr_screencopy_manager_v1::Request,
        _: &(),
        _: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let (frame, output, region, overlay_cursor) = match request {
            zwlr_screencopy_manager_v1::Request::CaptureOutput {
                frame,
                output,
                overlay_cursor,
            } => (frame, output, None, overlay_cursor != 0),
            zwlr_screencopy_manager_v1::Request::CaptureOutputRegion {
                frame,
                output,
                x,
                y,
                width,
                height,
                overlay_cursor,
            } => (
                frame,
                output,
                Some((x, y, width, height)),
                overlay_cursor != 0,
            ),
            zwlr_screencopy_manager_v1::Request::Destroy => return,
            _ => return,
        };
        let target = state.capture_target(&output, region);
        let frame = data_init.init(
            frame,
            FrameData {
                target: target.clone(),
                used: Mutex::new(false),
                overlay_cursor,
            },
        );
        let Some((_, region)) = target else {
            frame.failed();
            return;
        };
        let (w, h) = (region.size.w as u32, region.size.h as u32);
        frame.buffer(SHM_FORMAT, w, h, w * 4);
        if frame.version() >= 3 {
            frame.linux_dmabuf(DMABUF_FORMAT as u32, w, h);
            frame.buffer_done();
        }
    }
}

impl Dispatch<ZwlrScreencopyFrameV1, FrameData> for Weft {
    fn request(
        state: &mut Self,
        client: &Client,
        frame: &ZwlrScreencopyFrameV1,
        request: zwlr_screencopy_frame_v1::Request,
        data: &FrameData,
        _: &DisplayHandle,
        _: &mut DataInit<'_, Self>,
    ) {
        let (buffer, with_damage): (WlBuffer, bool) = match request {
            zwlr_screencopy_frame_v1::Request::Copy { buffer } => (buffer, false),
            zwlr_screencopy_frame_v1::Request::CopyWithDamage { buffer } => (buffer, true),
            _ => return,
        };
        {
            let mut used = data.used.lock().unwrap_or_else(|p| p.into_inner());
            if *used {
                frame.post_error(
                    zwlr_screencopy_frame_v1::Error::AlreadyUsed,
                    "copy was already requested on this frame",
                );
                return;
            }
            *used = true;
        }
        let Some((output, region)) = data.target.clone() else {
            // Already told `failed`.
            return;
        };
        if let Err(e) = check_buffer(&buffer, region) {
            frame.post_error(zwlr_screencopy_frame_v1::Error::InvalidBuffer, e.0);
            return;
        }
        state.capture.push(Job {
            reply: Reply::Screencopy(frame.clone()),
            watch: Watch::Client(client.id()),
            target: Target::Output {
                name: output,
                region,
            },
            buffer,
            with_damage,
            with_cursor: data.overlay_cursor,
        });
        // A frame tick comes when the scene changes: one without damage is taken at the next.
        if !with_damage {
            state.damage();
        }
    }
}

/// Tells the job's frame it is done: flags, its damage (output pixels, relative to the captured
/// region) for a copy with damage, and the frame's time.
pub(super) fn ready(job: &Job, damage: &[Rectangle<i32, Physical>], now: Duration) {
    let Reply::Screencopy(frame) = &job.reply else {
        return;
    };
    frame.flags(zwlr_screencopy_frame_v1::Flags::empty());
    if job.with_damage && frame.version() >= 2 {
        for r in damage {
            frame.damage(
                r.loc.x.max(0) as u32,
                r.loc.y.max(0) as u32,
                r.size.w.max(0) as u32,
                r.size.h.max(0) as u32,
            );
        }
    }
    let secs = now.as_secs();
    frame.ready((secs >> 32) as u32, secs as u32, now.subsec_nanos());
}

/// Tells the job's frame the copy could not be done.
pub(super) fn failed(job: &Job) {
    if let Reply::Screencopy(frame) = &job.reply {
        frame.failed();
    }
}
