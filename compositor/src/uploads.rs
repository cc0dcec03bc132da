//! wl_shm uploads too large for one event-loop turn.
//!
//! A commit whose wl_shm upload is larger than [`SLICE_BYTES`] is not copied in the commit: the
//! surface gets a fresh texture (charged to its client's budget), the job is queued here, and an
//! idle callback copies one slice of rows per event-loop turn, round-robin over the surfaces that
//! wait. Between two slices the loop serves every other client, so one client's 8K buffer costs
//! the others at most one slice of latency, not the whole copy.
//!
//! Invariants:
//! - the surface keeps showing its previous texture until the last slice is copied; then the new
//!   texture replaces it whole (a half-copied buffer is never drawn);
//! - a job copies only from the buffer of the commit that queued it: a newer commit of the
//!   surface replaces or cancels the job (smithay releases the old buffer then, so weft must not
//!   read it any more);
//! - each slice is flushed to the device before the next, so the staging buffer stays one slice
//!   large.

use std::collections::VecDeque;
use std::sync::Arc;

use smithay::backend::renderer::utils::{CommitCounter, RendererSurfaceStateUserData};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Resource, Weak};
use smithay::wayland::compositor::{get_parent, with_states};
use smithay::wayland::shm::with_buffer_contents;
use tracing::debug;

use crate::budget::Charge;
use crate::render::{RenderError, Renderer, Texture, UploadRect};
use crate::state::Weft;
use crate::surface::{with_content, BufferInfo};

/// The most bytes copied for one client in one event-loop turn. A 1080p XRGB8888 frame (8 MiB)
/// goes in one turn; a 4K frame (32 MiB) in two.
pub const SLICE_BYTES: u64 = 16 * 1024 * 1024;

/// A wl_shm upload in progress (in the surface's content record).
pub struct StagedUpload {
    pub texture: Arc<Texture>,
    pub charge: Option<Charge>,
    /// The commit whose buffer is copied.
    pub commit: CommitCounter,
    /// Rows copied so far.
    pub rows_done: u32,
    pub opaque: bool,
    pub info: BufferInfo,
}

/// Surfaces with a [`StagedUpload`], served round-robin.
#[derive(Default)]
pub struct UploadQueue {
    surfaces: VecDeque<Weak<WlSurface>>,
    scheduled: bool,
}

impl UploadQueue {
    /// Queues `surface` (once) for slices.
    pub fn push(&mut self, surface: &WlSurface) {
        let id = surface.id();
        if !self.surfaces.iter().any(|w| w.id() == id) {
            self.surfaces.push_back(surface.downgrade());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.surfaces.is_empty()
    }

    pub fn len(&self) -> usize {
        self.surfaces.len()
    }
}

/// What one slice came to.
enum Progress {
    /// The surface had no job (any more).
    Idle,
    More,
    /// The last slice was copied: the surface shows the new texture.
    Done,
}

impl Weft {
    /// Makes sure one slice is copied on the next event-loop turn while uploads wait.
    pub fn schedule_uploads(&mut self) {
        if self.uploads.is_empty() || self.uploads.scheduled {
            return;
        }
        self.uploads.scheduled = true;
        self.loop_handle.insert_idle(|state| {
            state.uploads.scheduled = false;
            state.upload_slice();
            state.schedule_uploads();
        });
    }

    /// Copies one slice of the first waiting surface's upload.
    fn upload_slice(&mut self) {
        while let Some(weak) = self.uploads.surfaces.pop_front() {
            let Ok(surface) = weak.upgrade() else {
                continue;
            };
            match continue_staged(&mut self.renderer, &surface) {
                Progress::Idle => continue,
                Progress::More => {
                    self.uploads.surfaces.push_back(weak);
                    return;
                }
                Progress::Done => {
                    // A toplevel whose first buffer this was maps now.
                    let mut root = surface;
                    while let Some(parent) = get_parent(&root) {
                        root = parent;
                    }
                    self.xdg_commit(&root);
                    self.damage();
                    return;
                }
            }
        }
    }
}

/// Copies the next slice of `surface`'s staged upload, finishing it when it was the last.
fn continue_staged(renderer: &mut Renderer, surface: &WlSurface) -> Progress {
    with_states(surface, |states| {
        let Some(rs) = states.data_map.get::<RendererSurfaceStateUserData>() else {
            return Progress::Idle;
        };
        let rs = rs.lock().unwrap_or_else(|p| p.into_inner());
        with_content(states, |content| {
            let Some(job) = content.staged.as_mut() else {
                return Progress::Idle;
            };
            let buffer = match rs.buffer() {
                Some(b) if rs.current_commit() == job.commit => b,
                // Superseded: the commit that queued the job is no longer current.
                _ => {
                    content.staged = None;
                    return Progress::Idle;
                }
            };
            let texture = job.texture.clone();
            let rows_done = job.rows_done;
            let copied = with_buffer_contents(buffer, |ptr, len, data| {
                // SAFETY: smithay hands us the pool mapping `ptr..ptr+len`, valid for this closure
                // (and guards against SIGBUS from a truncated file); a client writing it meanwhile
                // can only garble pixels.
                let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
                copy_slice(renderer, &texture, bytes, &data, rows_done)
            });
            match copied {
                Ok(Ok((rows, bytes))) => {
                    content.uploaded_bytes += bytes;
                    let Some(job) = content.staged.as_mut() else {
                        return Progress::Idle;
                    };
                    job.rows_done += rows;
                    if job.rows_done < texture.height() {
                        return Progress::More;
                    }
                    if let Some(job) = content.staged.take() {
                        content.finish_staged(job);
                    }
                    Progress::Done
                }
                Ok(Err(e)) => {
                    debug!(error = %e, "wl_shm slice upload failed; the surface keeps its last frame");
                    content.staged = None;
                    Progress::Idle
                }
                Err(e) => {
                    debug!(error = ?e, "wl_shm buffer unreadable; the surface keeps its last frame");
                    content.staged = None;
                    Progress::Idle
                }
            }
        })
    })
}

/// Copies rows `from..` of the buffer, at most [`SLICE_BYTES`] of them, and flushes them to the
/// device. Returns the rows and bytes copied.
fn copy_slice(
    renderer: &mut Renderer,
    texture: &Arc<Texture>,
    pool: &[u8],
    data: &smithay::wayland::shm::BufferData,
    from: u32,
) -> Result<(u32, u64), RenderError> {
    let (w, h) = (texture.width(), texture.height());
    let stride = u32::try_from(data.stride).map_err(|_| RenderError::SourceTooSmall)?;
    let row_bytes = u64::from(w) * 4;
    let rows = u32::try_from((SLICE_BYTES / row_bytes.max(1)).max(1))
        .unwrap_or(u32::MAX)
        .min(h.saturating_sub(from));
    let start = usize::try_from(data.offset).map_err(|_| RenderError::SourceTooSmall)?;
    let end = start + stride as usize * h as usize;
    let pixels = pool.get(start..end).ok_or(RenderError::SourceTooSmall)?;
    let rect = UploadRect {
        x: 0,
        y: from,
        w,
        h: rows,
    };
    let bytes = renderer.upload(texture, pixels, stride, &[rect])?;
    renderer.flush_uploads()?;
    Ok((rows, bytes))
}
