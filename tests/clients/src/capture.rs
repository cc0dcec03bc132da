//! A screen-capture client (`zwlr_screencopy_manager_v1` v3): what each frame object was told,
//! recorded for tests to assert on.

use std::sync::{Arc, Mutex};

use wayland_client::{Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1, zwlr_screencopy_manager_v1,
};

use crate::client::State;

/// What one frame object received.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameEvents {
    /// `buffer`: (wl_shm format, width, height, stride).
    pub shm: Option<(u32, u32, u32, u32)>,
    /// `linux_dmabuf`: (fourcc, width, height).
    pub dmabuf: Option<(u32, u32, u32)>,
    pub buffer_done: bool,
    pub flags: Option<u32>,
    /// `damage` rectangles (x, y, w, h).
    pub damage: Vec<(u32, u32, u32, u32)>,
    /// `ready`'s time (seconds, nanoseconds).
    pub ready: Option<(u64, u32)>,
    pub failed: bool,
}

/// Shared by the test and the frame's dispatch.
pub type FrameLog = Arc<Mutex<FrameEvents>>;

pub fn snapshot(log: &FrameLog) -> FrameEvents {
    log.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

impl Dispatch<zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1,
        _: zwlr_screencopy_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1, FrameLog> for State {
    fn event(
        _: &mut Self,
        _: &zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1,
        event: zwlr_screencopy_frame_v1::Event,
        log: &FrameLog,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwlr_screencopy_frame_v1::Event;
        let mut e = log.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::Buffer {
                format,
                width,
                height,
                stride,
            } => {
                let format = match format {
                    WEnum::Value(f) => f as u32,
                    WEnum::Unknown(raw) => raw,
                };
                e.shm = Some((format, width, height, stride));
            }
            Event::LinuxDmabuf {
                format,
                width,
                height,
            } => e.dmabuf = Some((format, width, height)),
            Event::BufferDone => e.buffer_done = true,
            Event::Flags { flags } => {
                e.flags = Some(match flags {
                    WEnum::Value(f) => f.bits(),
                    WEnum::Unknown(raw) => raw,
                })
            }
            Event::Damage {
                x,
                y,
                width,
                height,
            } => e.damage.push((x, y, width, height)),
            Event::Ready {
                tv_sec_hi,
                tv_sec_lo,
                tv_nsec,
            } => e.ready = Some(((u64::from(tv_sec_hi) << 32) | u64::from(tv_sec_lo), tv_nsec)),
            Event::Failed => e.failed = true,
            _ => {}
        }
    }
}
