//! The pointer's image: what the client under the pointer asked for, by `wl_pointer.set_cursor`
//! (a surface with a hotspot, or none to hide it) or by `wp_cursor_shape_v1` (a named shape from
//! the cursor theme). Where no client has asked (the pointer over the background, a client that
//! left) it is the theme's default arrow. `weft msg seat` shows it.

use smithay::input::pointer::{CursorIcon, CursorImageStatus, CursorImageSurfaceData};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::utils::{IsAlive, Logical, Point};
use smithay::wayland::compositor::with_states;
use smithay::wayland::cursor_shape::CursorShapeManagerState;

use crate::Weft;

/// The pointer's image as last asked for.
pub struct Cursor {
    status: CursorImageStatus,
}

/// What is drawn at the pointer, resolved from [`CursorImageStatus`].
#[derive(Debug, Clone, PartialEq)]
pub enum CursorImage {
    Hidden,
    /// A shape of the cursor theme.
    Named(CursorIcon),
    /// The client's surface, its hotspot at the pointer.
    Surface {
        surface: WlSurface,
        hotspot: Point<i32, Logical>,
    },
}

impl Cursor {
    /// Creates `wp_cursor_shape_manager_v1`.
    pub(crate) fn new(dh: &DisplayHandle) -> Self {
        CursorShapeManagerState::new::<Weft>(dh);
        Self {
            status: CursorImageStatus::default_named(),
        }
    }

    /// The image to draw now: a cursor surface that died falls back to the default shape.
    pub fn image(&self) -> CursorImage {
        match &self.status {
            CursorImageStatus::Hidden => CursorImage::Hidden,
            CursorImageStatus::Named(icon) => CursorImage::Named(*icon),
            CursorImageStatus::Surface(surface) if surface.alive() => {
                let hotspot = with_states(surface, |states| {
                    states
                        .data_map
                        .get::<CursorImageSurfaceData>()
                        .map(|d| d.lock().map(|a| a.hotspot).unwrap_or_default())
                        .unwrap_or_default()
                });
                CursorImage::Surface {
                    surface: surface.clone(),
                    hotspot,
                }
            }
            CursorImageStatus::Surface(_) => CursorImage::Named(CursorIcon::Default),
        }
    }

    pub(crate) fn set(&mut self, status: CursorImageStatus) {
        self.status = status;
    }
}

impl CursorImage {
    /// For introspection: `hidden`, `surface`, or the shape's CSS name (`default`, `text`, …).
    pub fn describe(&self) -> String {
        match self {
            CursorImage::Hidden => "hidden".into(),
            CursorImage::Named(icon) => icon.name().into(),
            CursorImage::Surface { .. } => "surface".into(),
        }
    }
}

impl Weft {
    /// The pointer's image as clients set it (see [`Cursor::image`]).
    pub fn cursor_image(&self) -> CursorImage {
        self.input.cursor.image()
    }
}

/// Tablet tools' images (cursor-shape serves them too); weft offers no tablet seat yet, so
/// nothing calls this.
impl smithay::wayland::tablet_manager::TabletSeatHandler for Weft {}

weft_protocols::delegate_cursor_shape_guarded!(Weft);
