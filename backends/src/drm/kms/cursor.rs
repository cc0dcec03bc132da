//! The cursor on the CRTC's cursor plane: two ARGB8888 dumb buffers of the size the driver
//! gives cursors (DRM_CAP_CURSOR_WIDTH/HEIGHT), the image the core renders
//! ([`Weft::plane_cursor_pixels`]) written into the one not on screen when it changes, the plane
//! placed at the pointer with the image's hotspot. The core says when the cursor may go there
//! ([`Weft::plane_cursor`]); the driver's answer (atomic TEST_ONLY) is kept per image. Where it
//! cannot, the cursor is composed into the frame as on the other backends.

use smithay::backend::drm::DrmDeviceFd;
use smithay::reexports::drm::buffer::{Buffer as _, DrmFourcc};
use smithay::reexports::drm::control::{framebuffer, Device as ControlDevice};
use smithay::reexports::drm::Device as _;
use smithay::reexports::drm::DriverCapability;
use smithay::utils::Rectangle;
use weft_compositor::outputs::scene::Scene;
use weft_compositor::seat::cursor_plane::PlaneCursor;
use weft_compositor::Weft;

use crate::drm::atomic::{Frame, Layer, Placement, Planes};

/// The cursor plane's buffers and what they hold.
pub(super) struct CursorBuffers {
    buffers: [(
        smithay::reexports::drm::control::dumbbuffer::DumbBuffer,
        framebuffer::Handle,
    ); 2],
    size: (u32, u32),
    /// The buffer on (or going to) the plane.
    front: usize,
    /// The image in the front buffer.
    key: Option<u64>,
    /// The driver's answer for an image (by key): whether the plane takes it.
    tested: Option<(u64, bool)>,
}

/// The cursor as one commit shows it: framebuffer, placement, hotspot.
#[derive(Debug, Clone, Copy)]
pub(super) struct CursorLayer {
    pub fb: framebuffer::Handle,
    pub at: Placement,
    pub hotspot: (i32, i32),
}

impl CursorLayer {
    pub fn layer(&self) -> Layer<'static> {
        Layer {
            fb: self.fb,
            at: self.at,
            in_fence: None,
            hotspot: Some(self.hotspot),
        }
    }
}

impl CursorBuffers {
    /// Two buffers of the driver's cursor size (64×64 where it does not say).
    pub(super) fn new(fd: &DrmDeviceFd) -> Result<Self, String> {
        let cap = |c| fd.get_driver_capability(c).ok().filter(|v| *v > 0);
        let w = cap(DriverCapability::CursorWidth).unwrap_or(64) as u32;
        let h = cap(DriverCapability::CursorHeight).unwrap_or(64) as u32;
        let one = || -> Result<_, String> {
            let buffer = fd
                .create_dumb_buffer((w, h), DrmFourcc::Argb8888, 32)
                .map_err(|e| format!("cursor dumb buffer: {e}"))?;
            match fd.add_framebuffer(&buffer, 32, 32) {
                Ok(fb) => Ok((buffer, fb)),
                Err(e) => {
                    let _ = fd.destroy_dumb_buffer(buffer);
                    Err(format!("cursor framebuffer: {e}"))
                }
            }
        };
        let first = one()?;
        let second = match one() {
            Ok(b) => b,
            Err(e) => {
                let _ = fd.destroy_framebuffer(first.1);
                let _ = fd.destroy_dumb_buffer(first.0);
                return Err(e);
            }
        };
        Ok(Self {
            buffers: [first, second],
            size: (w, h),
            front: 0,
            key: None,
            tested: None,
        })
    }

    pub(super) fn destroy(self, fd: &DrmDeviceFd) {
        for (buffer, fb) in self.buffers {
            let _ = fd.destroy_framebuffer(fb);
            let _ = fd.destroy_dumb_buffer(buffer);
        }
    }

    /// The cursor of output `index`'s `scene` on the cursor plane, if it may go there and the
    /// driver takes it with the primary plane showing `primary`: its image written where it
    /// changed, and the cursor taken out of `scene` (the composed frame no longer draws it).
    pub(super) fn place(
        &mut self,
        state: &mut Weft,
        (fd, planes): (&DrmDeviceFd, &Planes),
        (index, primary): (usize, &Layer<'_>),
        scene: &mut Scene,
    ) -> Option<CursorLayer> {
        let cursor = state.plane_cursor(index, scene)?;
        if cursor.width > self.size.0 || cursor.height > self.size.1 {
            tracing::trace!(
                width = cursor.width,
                height = cursor.height,
                "cursor larger than the cursor plane: composed"
            );
            return None;
        }
        if self.key != Some(cursor.key) {
            let back = 1 - self.front;
            self.write(state, fd, back)?;
            self.front = back;
            self.key = Some(cursor.key);
        }
        let layer = self.layer_of(&cursor)?;
        let verdict = match self.tested {
            Some((key, ok)) if key == cursor.key => ok,
            _ => {
                let on_upper =
                    planes.cursor_plane() == Some(crate::drm::atomic::CursorPlaneKind::Upper);
                let shown = layer.layer();
                let frame = Frame {
                    primary,
                    upper: on_upper.then_some(&shown),
                    cursor: (!on_upper).then_some(&shown),
                };
                let ok = planes.test(fd, &frame).is_ok();
                if !ok {
                    tracing::debug!("the cursor plane refuses the cursor: composed");
                }
                self.tested = Some((cursor.key, ok));
                ok
            }
        };
        if !verdict {
            return None;
        }
        scene.cursor.clear();
        scene.cursor_elements.clear();
        Some(layer)
    }

    fn layer_of(&self, cursor: &PlaneCursor) -> Option<CursorLayer> {
        let (w, h) = self.size;
        Some(CursorLayer {
            fb: self.buffers.get(self.front)?.1,
            at: Placement {
                src: Rectangle::from_size((f64::from(w), f64::from(h)).into()),
                dst: Rectangle::new(cursor.at.into(), (w as i32, h as i32).into()),
            },
            hotspot: cursor.hotspot,
        })
    }

    /// The cursor's image into buffer `which`, the rest of it transparent.
    fn write(&mut self, state: &mut Weft, fd: &DrmDeviceFd, which: usize) -> Option<()> {
        let (w, h, pixels) = state.plane_cursor_pixels()?;
        let (buffer, _) = self.buffers.get_mut(which)?;
        let pitch = buffer.pitch() as usize;
        let mut map = fd.map_dumb_buffer(buffer).ok()?;
        map.fill(0);
        let row = w as usize * 4;
        for (y, src) in pixels.chunks_exact(row).take(h as usize).enumerate() {
            let at = y * pitch;
            if let Some(dst) = map.get_mut(at..at + row) {
                dst.copy_from_slice(src);
            }
        }
        Some(())
    }
}
