//! `ext_image_copy_capture_cursor_session_v1`: a remote desktop or screen recorder follows the
//! pointer's cursor over a source apart from its pixels: `enter`/`leave` when the cursor image
//! starts or stops overlapping the source, its hotspot's `position` in the source's buffer
//! pixels, the image's `hotspot`; `get_capture_session` gives a session whose frames are the
//! cursor image (error `duplicate_session` the second time).

use std::sync::Mutex;

use smithay::reexports::wayland_protocols::ext::image_copy_capture::v1::server::ext_image_copy_capture_cursor_session_v1::{
    self, ExtImageCopyCaptureCursorSessionV1,
};
use smithay::reexports::wayland_server::protocol::wl_pointer::WlPointer;
use smithay::reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle, Resource};
use smithay::utils::{Logical, Point, Rectangle};

use super::sources::Source;
use crate::Weft;

/// A cursor session: its source and what its client was told last.
#[derive(Debug)]
pub struct CursorSessionData {
    source: Source,
    _pointer: WlPointer,
    state: Mutex<CursorState>,
}

#[derive(Debug, Default)]
struct CursorState {
    got_session: bool,
    inside: bool,
    position: Option<(i32, i32)>,
    hotspot: Option<(i32, i32)>,
}

impl CursorSessionData {
    pub(crate) fn new(source: Source, pointer: WlPointer) -> Self {
        Self {
            source,
            _pointer: pointer,
            state: Mutex::new(CursorState::default()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Dispatch<ExtImageCopyCaptureCursorSessionV1, CursorSessionData> for Weft {
    fn request(
        state: &mut Self,
        _: &Client,
        cursor_session: &ExtImageCopyCaptureCursorSessionV1,
        request: ext_image_copy_capture_cursor_session_v1::Request,
        data: &CursorSessionData,
        _: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let ext_image_copy_capture_cursor_session_v1::Request::GetCaptureSession { session } =
            request
        {
            let first = !std::mem::replace(&mut lock(&data.state).got_session, true);
            if !first {
                cursor_session.post_error(
                    ext_image_copy_capture_cursor_session_v1::Error::DuplicateSession,
                    "get_capture_session sent twice",
                );
            }
            state.new_capture_session(
                session,
                Source::Cursor(Box::new(data.source.clone())),
                false,
                data_init,
            );
        }
    }
}

impl Weft {
    /// The area `source` shows, in global logical coordinates.
    fn source_area(&self, source: &Source) -> Option<Rectangle<i32, Logical>> {
        match source {
            Source::Output(output) => self.shell.space.output_geometry(output),
            Source::Window(id) => {
                let window = self.window_by_identifier(id)?;
                let loc = self.shell.space.element_location(&window)?;
                Some(Rectangle::new(loc, window.geometry().size))
            }
            Source::Cursor(over) => self.source_area(over),
            Source::Gone => None,
        }
    }

    /// The cursor image's rectangle (global) and its hotspot, while one is shown.
    fn cursor_rect(&self) -> Option<(Rectangle<i32, Logical>, Point<i32, Logical>)> {
        let pointer = self
            .input
            .seat
            .get_pointer()?
            .current_location()
            .to_i32_round();
        let hotspot = self.cursor_hotspot()?;
        let size = self.cursor_size()?;
        Some((
            Rectangle::new(pointer - hotspot, (size.w, size.h).into()),
            hotspot,
        ))
    }

    /// Per iteration: every cursor session told whether the cursor is over its source, and where.
    pub(crate) fn refresh_cursor_sessions(&mut self) {
        let cursor = self
            .cursor_rect()
            .filter(|_| self.input.cursor.pointer_used);
        for session in self.capture.cursor_sessions.clone() {
            let Some(data) = session.data::<CursorSessionData>() else {
                continue;
            };
            let area = self.source_area(&data.source);
            let over = match (area, cursor) {
                (Some(area), Some((rect, hot))) if rect.overlaps(area) => Some((area, rect, hot)),
                _ => None,
            };
            let mut st = lock(&data.state);
            match over {
                None => {
                    if st.inside {
                        st.inside = false;
                        st.position = None;
                        st.hotspot = None;
                        session.leave();
                    }
                }
                Some((area, rect, hot)) => {
                    if !st.inside {
                        st.inside = true;
                        session.enter();
                    }
                    let at = rect.loc + hot - area.loc;
                    if st.position != Some((at.x, at.y)) {
                        st.position = Some((at.x, at.y));
                        session.position(at.x, at.y);
                    }
                    if st.hotspot != Some((hot.x, hot.y)) {
                        st.hotspot = Some((hot.x, hot.y));
                        session.hotspot(hot.x, hot.y);
                    }
                }
            }
        }
    }
}
