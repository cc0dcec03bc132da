//! Render devices after the first in [`super::RenderDevices`]: each composes the outputs assigned
//! to it, with its own renderer, its own imports and its own copies of what surfaces show.
//!
//! The first render device keeps the full surface records (rung, reason, costs, budgets, sliced
//! uploads); each other device keeps per surface only what it draws
//! ([`DeviceView`]): the dma-buf import planned for *its* device (the same ladder, keyed by its id:
//! the cheapest rung that works there, which may differ from the first device's), or its own
//! texture of a wl_shm buffer. At most one copy per commit per device, however many of its outputs
//! show the surface: each commit is brought to each device once.

use smithay::backend::renderer::utils::RendererSurfaceStateUserData;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource as _;
use smithay::utils::{Buffer as BufferCoord, Rectangle};
use smithay::wayland::compositor::{with_surface_tree_upward, SurfaceData, TraversalAction};
use smithay::wayland::dmabuf::get_dmabuf;
use smithay::wayland::shm::with_buffer_contents;
use tracing::debug;

use crate::devices::{DeviceId, Registry};
use crate::import::planner::Rung;
use crate::import::shm_rows::ShmRows;
use crate::import::Driven;
use crate::render::UploadRect;
use crate::surface::{stage_commit, with_content, DeviceView};

impl super::RenderDevice {
    /// Brings every surface of the tree at `root` up to date on this device. Returns whether
    /// anything changed.
    pub fn import_tree(&mut self, devices: &Registry, driven: &Driven, root: &WlSurface) -> bool {
        let mut changed = false;
        with_surface_tree_upward(
            root,
            (),
            |_, _, _| TraversalAction::DoChildren(()),
            |_, states, _| changed |= self.import_surface(devices, driven, states),
            |_, _, _| true,
        );
        changed
    }

    fn import_surface(
        &mut self,
        devices: &Registry,
        driven: &Driven,
        states: &SurfaceData,
    ) -> bool {
        let Some(rs) = states.data_map.get::<RendererSurfaceStateUserData>() else {
            return false;
        };
        let rs = rs.lock().unwrap_or_else(|p| p.into_inner());
        let commit = rs.current_commit();
        let buffer = rs.buffer().map(|b| (*b).clone());
        let key = (commit, buffer.as_ref().map(|b| b.id()));
        let damage: Vec<Rectangle<i32, BufferCoord>> = with_content(states, |c| {
            let view = view_of(&mut c.others, &self.id);
            let since = view.last.as_ref().map(|(c, _)| *c);
            rs.damage_since(since).iter().copied().collect()
        });
        drop(rs);
        with_content(states, |c| {
            let refused = c.buffer.is_none() || c.staged.is_some();
            let yuv = c.representation.yuv();
            let shm_layout = c.shm_layout.clone();
            let view = view_of(&mut c.others, &self.id);
            if view.last.as_ref() == Some(&key) {
                return false;
            }
            view.last = Some(key);
            view.copied_bytes_per_frame = 0;
            let Some(buffer) = &buffer else {
                view.texture = None;
                view.import = None;
                view.rung = None;
                return true;
            };
            if let Ok(dmabuf) = get_dmabuf(buffer) {
                let (result, _) = self.importer.lookup_or_import(
                    &mut self.renderer,
                    devices,
                    &self.id,
                    driven,
                    &buffer.id(),
                    dmabuf,
                );
                match result.map(|i| (stage_commit(&mut self.renderer, &i, &damage, yuv), i)) {
                    Ok((Ok(bytes), imported)) => {
                        view.copied_bytes_per_frame = bytes;
                        view.rung = Some(imported.rung);
                        view.texture = None;
                        view.import = Some(imported);
                    }
                    Ok((Err(e), _)) => debug!(device = %self.id, error = %e, "staging copy failed"),
                    Err(why) => debug!(device = %self.id, %why, "dma-buf not shown on this device"),
                }
                return true;
            }
            // wl_shm: this device's own texture (the first device's cannot be sampled here) —
            // only of what the first device accepted: a buffer over the client's budget, or one
            // still being copied there in slices, is not copied here either (a further device
            // does not slice uploads; it shows such a buffer once the first device shows it).
            if refused {
                view.texture = None;
                view.rung = None;
                // Tried again when the first device shows it (`upload_slices`) or at the next
                // commit.
                view.last = None;
                return true;
            }
            let renderer = &mut self.renderer;
            let default_yuv = self.importer.policy.yuv;
            let uploaded = with_buffer_contents(buffer, |ptr, len, _| {
                let layout = shm_layout.as_ref()?;
                let (format, _) = layout.texture_format()?;
                let (w, h) = (layout.width, layout.height);
                let texture = match &view.texture {
                    Some(t) if t.width() == w && t.height() == h && t.format() == format => {
                        t.clone()
                    }
                    _ => renderer.create_texture(w, h, format).ok()?,
                };
                // SAFETY: smithay hands us the pool mapping `ptr..ptr+len`, valid for this
                // closure; a client writing it meanwhile can only garble pixels.
                let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
                let rows = ShmRows::new(bytes, layout, yuv.unwrap_or(default_yuv)).ok()?;
                let rects: Vec<UploadRect> = if damage.is_empty() || view.texture.is_none() {
                    vec![UploadRect { x: 0, y: 0, w, h }]
                } else {
                    damage
                        .iter()
                        .map(|r| UploadRect {
                            x: r.loc.x.max(0) as u32,
                            y: r.loc.y.max(0) as u32,
                            w: r.size.w.max(0) as u32,
                            h: r.size.h.max(0) as u32,
                        })
                        .collect()
                };
                let copied = renderer
                    .upload_rows(&texture, &rows.rects(rects), |y, x0, dst| {
                        rows.fill(y, x0, dst)
                    })
                    .ok()?;
                Some((texture, copied))
            });
            if let Ok(Some((texture, copied))) = uploaded {
                view.texture = Some(texture);
                view.import = None;
                view.rung = Some(Rung::Shm);
                view.copied_bytes_per_frame = copied;
            }
            true
        })
    }
}

/// The surface's view on `device`, made on first use.
pub fn view_of<'a>(
    others: &'a mut Vec<(DeviceId, DeviceView)>,
    device: &DeviceId,
) -> &'a mut DeviceView {
    let index = match others.iter().position(|(d, _)| d == device) {
        Some(i) => i,
        None => {
            others.push((device.clone(), DeviceView::default()));
            others.len() - 1
        }
    };
    #[allow(
        clippy::indexing_slicing,
        reason = "the index was found or pushed just above"
    )]
    &mut others[index].1
}
