//! A window or the cursor drawn alone, for the captures of their sources: the window's surface
//! tree and popups (its geometry's top-left at the buffer's), or the cursor image, rendered by the
//! first render device into a target of their own and copied into the client's buffer.

use smithay::desktop::utils::bbox_from_surface_tree;
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::utils::{Physical, Rectangle, Size};

use super::copy::{check_buffer, copy_from_target, CopyError, Kind};
use crate::seat::cursor::CursorImage;
use crate::Weft;

impl Weft {
    /// The cursor image's size now (`None` while hidden or not loaded).
    pub(crate) fn cursor_size(&self) -> Option<Size<i32, Physical>> {
        match self.cursor_image() {
            CursorImage::Hidden => None,
            CursorImage::Surface { surface, .. } => {
                let bbox = bbox_from_surface_tree(&surface, (0, 0));
                (!bbox.is_empty()).then(|| Size::from((bbox.size.w, bbox.size.h)))
            }
            CursorImage::Named(icon) => {
                let image = self.input.cursor.theme.cached(icon)?;
                Some(Size::from((image.width as i32, image.height as i32)))
            }
        }
    }

    /// Window `id` (a foreign-toplevel identifier) drawn into `buffer`; its size.
    pub(crate) fn capture_window(
        &mut self,
        id: &str,
        buffer: &WlBuffer,
    ) -> (Result<Kind, CopyError>, Size<i32, Physical>) {
        let Some(window) = self.window_by_identifier(id) else {
            return (Err(CopyError::NoOutput), Size::default());
        };
        let g = window.geometry().size;
        let size = Size::from((g.w, g.h));
        let scene = self.window_scene(&window);
        (self.draw_alone(scene, size, buffer), size)
    }

    /// The cursor image drawn into `buffer`; its size.
    pub(crate) fn capture_cursor(
        &mut self,
        buffer: &WlBuffer,
    ) -> (Result<Kind, CopyError>, Size<i32, Physical>) {
        let Some(size) = self.cursor_size() else {
            return (Err(CopyError::NoOutput), Size::default());
        };
        let address = std::sync::Arc::as_ptr(self.gpu.first().renderer.device()) as usize;
        let Some(scene) = self.cursor_scene(address) else {
            return (Err(CopyError::NoOutput), size);
        };
        (self.draw_alone(scene, size, buffer), size)
    }

    /// Renders `scene` into a fresh `size` target on the first render device (transparent
    /// where nothing is drawn) and copies it into `buffer`.
    fn draw_alone(
        &mut self,
        scene: crate::outputs::scene::Scene,
        size: Size<i32, Physical>,
        buffer: &WlBuffer,
    ) -> Result<Kind, CopyError> {
        let region = Rectangle::from_size(size);
        check_buffer(buffer, region).map_err(|e| CopyError::Constraints(e.0))?;
        let renderer = &mut self.gpu.first_mut().renderer;
        let target = renderer.create_target(size.w.max(1) as u32, size.h.max(1) as u32)?;
        let (items, _) = scene.drawn();
        renderer.render(&target, [0.0; 4], &items, &[target.area()], false)?;
        copy_from_target(renderer, &target, region, buffer)
    }
}
