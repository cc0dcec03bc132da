//! `ext_image_copy_capture_manager_v1`: capture sessions on a source ([`super::sources`]).
//!
//! A session tells its client the buffers it takes (`buffer_size`, `shm_format`,
//! `dmabuf_device`, `dmabuf_format`, `done`) and again whenever they change (an output's new mode,
//! a resized window); `stopped` when its source goes. A frame attaches a buffer, may say what of it
//! is stale (`damage_buffer`: weft copies the whole buffer anyway) and `capture`s: the first frame
//! of a session is taken at once with full damage, later ones when the source changed. A buffer
//! that no longer fits the session's constraints fails with `buffer_constraints`.
//!
//! Errors: manager `invalid_option`; session `duplicate_frame`; frame `no_buffer`,
//! `invalid_buffer_damage`, `already_captured`; cursor session `duplicate_session`
//! ([`super::cursor_session`]).

use std::sync::Mutex;
use std::time::Duration;

use smithay::reexports::wayland_protocols::ext::image_copy_capture::v1::server::{
    ext_image_copy_capture_cursor_session_v1::ExtImageCopyCaptureCursorSessionV1,
    ext_image_copy_capture_frame_v1::{self, ExtImageCopyCaptureFrameV1, FailureReason},
    ext_image_copy_capture_manager_v1::{self, ExtImageCopyCaptureManagerV1, Options},
    ext_image_copy_capture_session_v1::{self, ExtImageCopyCaptureSessionV1},
};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_output::Transform;
use smithay::reexports::wayland_server::protocol::wl_shm;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};
use smithay::utils::{Physical, Rectangle, Size};

use super::copy::{CopyError, DMABUF_FORMAT};
use super::sources::Source;
use super::{Job, Watch};
use crate::Weft;

/// The manager global's data: who may see it.
pub struct ManagerGlobal;

/// A session: its source, whether it paints cursors, what it last told its client.
#[derive(Debug)]
pub struct SessionData {
    pub(crate) source: Source,
    paint_cursors: bool,
    state: Mutex<SessionState>,
}

#[derive(Debug, Default)]
struct SessionState {
    /// The buffer size last announced (`None`: not yet, or stopped).
    size: Option<Size<i32, Physical>>,
    stopped: bool,
    /// A frame of this session exists (at most one may).
    has_frame: bool,
}

/// A frame: its session, its buffer and whether it was captured.
#[derive(Debug)]
pub struct FrameData {
    session: ExtImageCopyCaptureSessionV1,
    state: Mutex<FrameState>,
}

#[derive(Debug, Default)]
struct FrameState {
    buffer: Option<WlBuffer>,
    captured: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn create_globals(dh: &DisplayHandle) {
    dh.create_global::<Weft, ExtImageCopyCaptureManagerV1, _>(1, ManagerGlobal);
    super::sources::create_globals(dh);
}

impl GlobalDispatch<ExtImageCopyCaptureManagerV1, ManagerGlobal> for Weft {
    fn bind(
        _: &mut Self,
        _: &DisplayHandle,
        _: &Client,
        resource: New<ExtImageCopyCaptureManagerV1>,
        _: &ManagerGlobal,
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, _: &ManagerGlobal) -> bool {
        crate::runtime::security::may_see_others(&client)
    }
}

impl Weft {
    /// Makes a session on `source` and tells its client the constraints (or `stopped`).
    pub(crate) fn new_capture_session(
        &mut self,
        session: New<ExtImageCopyCaptureSessionV1>,
        source: Source,
        paint_cursors: bool,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let session = data_init.init(
            session,
            SessionData {
                source,
                paint_cursors,
                state: Mutex::new(SessionState::default()),
            },
        );
        self.announce_constraints(&session);
        self.capture.sessions.push(session);
    }

    /// Sends `session` its buffer constraints if they changed, or `stopped` if its source went.
    fn announce_constraints(&self, session: &ExtImageCopyCaptureSessionV1) {
        let Some(data) = session.data::<SessionData>() else {
            return;
        };
        let mut state = lock(&data.state);
        if state.stopped {
            return;
        }
        let Some((_, size)) = self.resolve_source(&data.source) else {
            state.stopped = true;
            state.size = None;
            session.stopped();
            return;
        };
        if state.size == Some(size) {
            return;
        }
        state.size = Some(size);
        session.buffer_size(size.w as u32, size.h as u32);
        session.shm_format(wl_shm::Format::Xrgb8888);
        session.shm_format(wl_shm::Format::Argb8888);
        // The device linux-dmabuf names as its main device (dev_t 0 where the render device has
        // no DRM node: buffers are then plain memory it imports, as for linux-dmabuf).
        let dev = self
            .devices
            .main_device()
            .map_or(crate::buffers::feedback::NO_DRM_NODE, |(_, d)| d.raw());
        session.dmabuf_device(dev.to_ne_bytes().to_vec());
        let linear = u64::from(smithay::backend::allocator::Modifier::Linear).to_ne_bytes();
        session.dmabuf_format(DMABUF_FORMAT as u32, linear.to_vec());
        session.dmabuf_format(
            smithay::backend::allocator::Fourcc::Argb8888 as u32,
            linear.to_vec(),
        );
        session.done();
    }

    /// Per iteration: every session's constraints follow its source.
    pub(crate) fn refresh_capture_sessions(&mut self) {
        for session in self.capture.sessions.clone() {
            self.announce_constraints(&session);
        }
    }
}

impl Dispatch<ExtImageCopyCaptureManagerV1, ()> for Weft {
    fn request(
        state: &mut Self,
        _: &Client,
        manager: &ExtImageCopyCaptureManagerV1,
        request: ext_image_copy_capture_manager_v1::Request,
        _: &(),
        _: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        match request {
            ext_image_copy_capture_manager_v1::Request::CreateSession {
                session,
                source,
                options,
            } => {
                let options = match options {
                    WEnum::Value(o) => o,
                    WEnum::Unknown(raw) => {
                        manager.post_error(
                            ext_image_copy_capture_manager_v1::Error::InvalidOption,
                            format!("options {raw:#x}: only paint_cursors (1) is defined"),
                        );
                        // The new id still needs an object; the client is gone.
                        data_init.init(
                            session,
                            SessionData {
                                source: Source::Gone,
                                paint_cursors: false,
                                state: Mutex::new(SessionState::default()),
                            },
                        );
                        return;
                    }
                };
                let source = source.data::<Source>().cloned().unwrap_or(Source::Gone);
                state.new_capture_session(
                    session,
                    source,
                    options.contains(Options::PaintCursors),
                    data_init,
                );
            }
            ext_image_copy_capture_manager_v1::Request::CreatePointerCursorSession {
                session,
                source,
                pointer,
            } => {
                let source = source.data::<Source>().cloned().unwrap_or(Source::Gone);
                let session: ExtImageCopyCaptureCursorSessionV1 = data_init.init(
                    session,
                    super::cursor_session::CursorSessionData::new(source, pointer),
                );
                state.capture.cursor_sessions.push(session);
            }
            _ => {}
        }
    }
}

impl Dispatch<ExtImageCopyCaptureSessionV1, SessionData> for Weft {
    fn request(
        _: &mut Self,
        _: &Client,
        session: &ExtImageCopyCaptureSessionV1,
        request: ext_image_copy_capture_session_v1::Request,
        data: &SessionData,
        _: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let ext_image_copy_capture_session_v1::Request::CreateFrame { frame } = request {
            let mut state = lock(&data.state);
            if state.has_frame {
                session.post_error(
                    ext_image_copy_capture_session_v1::Error::DuplicateFrame,
                    "create_frame while the session's previous frame still exists",
                );
            }
            state.has_frame = true;
            data_init.init(
                frame,
                FrameData {
                    session: session.clone(),
                    state: Mutex::new(FrameState::default()),
                },
            );
        }
    }
}

impl Dispatch<ExtImageCopyCaptureFrameV1, FrameData> for Weft {
    fn request(
        state: &mut Self,
        _: &Client,
        frame: &ExtImageCopyCaptureFrameV1,
        request: ext_image_copy_capture_frame_v1::Request,
        data: &FrameData,
        _: &DisplayHandle,
        _: &mut DataInit<'_, Self>,
    ) {
        use ext_image_copy_capture_frame_v1::{Error, Request};
        let mut fs = lock(&data.state);
        let after_capture = |frame: &ExtImageCopyCaptureFrameV1, what: &str| {
            frame.post_error(
                Error::AlreadyCaptured,
                format!("{what} after capture on this frame"),
            );
        };
        match request {
            Request::AttachBuffer { buffer } => {
                if fs.captured {
                    return after_capture(frame, "attach_buffer");
                }
                fs.buffer = Some(buffer);
            }
            Request::DamageBuffer {
                x,
                y,
                width,
                height,
            } => {
                if fs.captured {
                    return after_capture(frame, "damage_buffer");
                }
                if x < 0 || y < 0 || width <= 0 || height <= 0 {
                    frame.post_error(
                        Error::InvalidBufferDamage,
                        format!("damage_buffer {x},{y} {width}x{height}"),
                    );
                }
                // A hint only: weft copies the whole buffer.
            }
            Request::Capture => {
                if fs.captured {
                    return after_capture(frame, "capture");
                }
                let Some(buffer) = fs.buffer.clone() else {
                    frame.post_error(Error::NoBuffer, "capture without attach_buffer");
                    return;
                };
                fs.captured = true;
                drop(fs);
                state.queue_session_frame(frame, &data.session, buffer);
            }
            _ => {}
        }
    }

    fn destroyed(
        _: &mut Self,
        _: smithay::reexports::wayland_server::backend::ClientId,
        _: &ExtImageCopyCaptureFrameV1,
        data: &FrameData,
    ) {
        if let Some(session) = data.session.data::<SessionData>() {
            lock(&session.state).has_frame = false;
        }
    }
}

impl Weft {
    /// A captured frame of `session`: failed at once if the session stopped or the buffer does
    /// not fit its constraints, else queued for the source's next frame.
    fn queue_session_frame(
        &mut self,
        frame: &ExtImageCopyCaptureFrameV1,
        session: &ExtImageCopyCaptureSessionV1,
        buffer: WlBuffer,
    ) {
        let Some(data) = session.data::<SessionData>() else {
            return frame.failed(FailureReason::Unknown);
        };
        if lock(&data.state).stopped {
            return frame.failed(FailureReason::Stopped);
        }
        let Some((target, size)) = self.resolve_source(&data.source) else {
            return frame.failed(FailureReason::Stopped);
        };
        if super::copy::check_buffer(&buffer, Rectangle::from_size(size)).is_err() {
            return frame.failed(FailureReason::BufferConstraints);
        }
        self.capture.push(Job {
            reply: super::Reply::ImageCopy(frame.clone()),
            watch: Watch::Session(session.id()),
            target,
            buffer,
            // The first frame is taken at once (all damage), later ones when something changed.
            with_damage: true,
            with_cursor: data.paint_cursors,
        });
        self.damage();
    }
}

/// Tells `frame` its copy is done: transform, damage, time, ready.
pub(super) fn ready(
    frame: &ExtImageCopyCaptureFrameV1,
    (damage, transform): (&[Rectangle<i32, Physical>], smithay::utils::Transform),
    now: Duration,
) {
    frame.transform(Transform::from(transform));
    for r in damage {
        frame.damage(r.loc.x, r.loc.y, r.size.w, r.size.h);
    }
    let secs = now.as_secs();
    frame.presentation_time((secs >> 32) as u32, secs as u32, now.subsec_nanos());
    frame.ready();
}

/// Tells `frame` its copy failed, and why.
pub(super) fn failed(frame: &ExtImageCopyCaptureFrameV1, error: &CopyError) {
    let reason = match error {
        CopyError::NoOutput => FailureReason::Stopped,
        CopyError::Constraints(_) => FailureReason::BufferConstraints,
        _ => FailureReason::Unknown,
    };
    frame.failed(reason);
}
