//! The slices of large wl_shm uploads ([`crate::buffers::uploads`]), one per event-loop turn.

use std::sync::Arc;

use smithay::backend::renderer::utils::RendererSurfaceStateUserData;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::compositor::{get_parent, with_states};
use smithay::wayland::shm::with_buffer_contents;
use tracing::debug;

use crate::buffers::uploads::SLICE_BYTES;
use crate::import::shm_rows::ShmRows;
use crate::render::{RenderError, Renderer, Texture, UploadRect};
use crate::surface::with_content;
use crate::Weft;

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
        if self.buffers.uploads.is_empty() || self.buffers.uploads.scheduled {
            return;
        }
        self.buffers.uploads.scheduled = true;
        self.runtime.loop_handle().insert_idle(|state| {
            state.buffers.uploads.scheduled = false;
            state.upload_slice();
            state.schedule_uploads();
        });
    }

    /// Copies one slice of the first waiting surface's upload.
    fn upload_slice(&mut self) {
        while let Some(weak) = self.buffers.uploads.surfaces.pop_front() {
            let Ok(surface) = weak.upgrade() else {
                continue;
            };
            match continue_staged(&mut self.gpu.first_mut().renderer, &surface) {
                Progress::Idle => continue,
                Progress::More => {
                    self.buffers.uploads.surfaces.push_back(weak);
                    return;
                }
                Progress::Done => {
                    // Further render devices copy it now that the first device shows it.
                    let driven = self.driven();
                    self.import_on_other_devices(&surface, &driven);
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
            let yuv = job.yuv;
            let Some(layout) = content.shm_layout.clone() else {
                content.staged = None;
                return Progress::Idle;
            };
            let copied = with_buffer_contents(buffer, |ptr, len, _| {
                // SAFETY: smithay hands us the pool mapping `ptr..ptr+len`, valid for this closure
                // (and guards against SIGBUS from a truncated file); a client writing it meanwhile
                // can only garble pixels.
                let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
                let rows = ShmRows::new(bytes, &layout, yuv)?;
                copy_slice(renderer, &texture, &rows, rows_done)
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
    pixels: &ShmRows<'_>,
    from: u32,
) -> Result<(u32, u64), RenderError> {
    let (w, h) = (texture.width(), texture.height());
    let row_bytes = u64::from(w) * 4;
    let rows = u32::try_from((SLICE_BYTES / row_bytes.max(1)).max(1))
        .unwrap_or(u32::MAX)
        .min(h.saturating_sub(from));
    let rect = UploadRect {
        x: 0,
        y: from,
        w,
        h: rows,
    };
    let bytes = renderer.upload_rows(texture, &[rect], |y, x0, dst| pixels.fill(y, x0, dst))?;
    renderer.flush_uploads()?;
    Ok((rows, bytes))
}
