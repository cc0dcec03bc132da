//! The pointer's image: what the client under the pointer asked for, by `wl_pointer.set_cursor`
//! (a surface with a hotspot, or none to hide it) or by `wp_cursor_shape_v1` (a named shape from
//! the cursor theme, [`crate::seat::cursor_theme`]). Where no client has asked (the pointer over
//! the background, a client that left) it is the theme's default arrow. `weft msg seat` shows it.
//!
//! Drawn over everything at the pointer on the outputs whose backend shows a cursor
//! ([`crate::outputs::output::OutputSlot::draws_cursor`]: nested outputs; a headless output only
//! when asked, `--draw-cursor`; KMS outputs once weft drives the cursor plane), and into screen
//! captures that ask for it.

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
    /// Whether a pointer has moved yet: before that no cursor is drawn (a session with no mouse
    /// shows none, and a display may scan a surface out with nothing over it).
    pub(crate) pointer_used: bool,
    pub(crate) theme: crate::seat::cursor_theme::CursorTheme,
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
            pointer_used: false,
            theme: crate::seat::cursor_theme::CursorTheme::from_env(),
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

    /// Whether output `index` draws the cursor now: its backend shows one (or a capture waiting on
    /// it asks for one), a pointer has moved, and the pointer is on it.
    pub(crate) fn cursor_shown_on(&self, index: usize) -> bool {
        let Some(slot) = self.outputs.slots.get(index) else {
            return false;
        };
        let wanted = slot.draws_cursor || self.capture.cursor_wanted(&slot.name());
        let Some(pointer) = self.input.seat.get_pointer() else {
            return false;
        };
        let on = self
            .shell
            .space
            .output_geometry(&slot.output)
            .is_some_and(|g| g.to_f64().contains(pointer.current_location()));
        wanted && on && self.input.cursor.pointer_used
    }

    /// The pointer moved (or a button or wheel was used): the cursor shows from now on, and
    /// outputs that draw it redraw where it was and is.
    pub(crate) fn cursor_moved(&mut self) {
        self.input.cursor.pointer_used = true;
        let any = self.outputs.slots.iter().any(|s| s.draws_cursor)
            || self.capture.cursor_wanted_anywhere();
        if any {
            self.damage();
        }
    }

    /// Per iteration: the named cursor shown now has its texture on every render device (made
    /// here, where the renderers can be borrowed mutably, for the scene to draw).
    pub(crate) fn refresh_cursor_textures(&mut self) {
        let alive: Vec<usize> = self
            .gpu
            .iter()
            .map(|d| std::sync::Arc::as_ptr(d.renderer.device()) as usize)
            .collect();
        self.input.cursor.theme.retain_devices(&alive);
        let CursorImage::Named(icon) = self.input.cursor.image() else {
            return;
        };
        let theme = &mut self.input.cursor.theme;
        let first = self.gpu.first_mut();
        if let Err(e) = theme.texture(&mut first.renderer, icon) {
            tracing::warn!(error = %e, "cursor texture");
        }
        for device in self.gpu.others_mut() {
            if let Err(e) = theme.texture(&mut device.renderer, icon) {
                tracing::warn!(error = %e, "cursor texture");
            }
        }
    }

    /// Where the cursor image's hotspot is in it, while one is shown (a named shape's once its
    /// image is loaded).
    pub(crate) fn cursor_hotspot(&self) -> Option<Point<i32, Logical>> {
        match self.input.cursor.image() {
            CursorImage::Hidden => None,
            CursorImage::Surface { hotspot, .. } => Some(hotspot),
            CursorImage::Named(icon) => self
                .input
                .cursor
                .theme
                .cached(icon)
                .map(|image| Point::from(image.hotspot)),
        }
    }

    /// What the scene draws for the cursor on the device at `device` (its address), top-left in
    /// global coordinates: the client's surface, or a theme texture with its size; `None` while
    /// hidden or not made yet.
    pub(crate) fn cursor_drawable(
        &self,
        device: usize,
    ) -> Option<(CursorDraw, Point<i32, Logical>)> {
        let pointer = self
            .input
            .seat
            .get_pointer()?
            .current_location()
            .to_i32_round();
        match self.input.cursor.image() {
            CursorImage::Hidden => None,
            CursorImage::Surface { surface, hotspot } => {
                Some((CursorDraw::Surface(surface), pointer - hotspot))
            }
            CursorImage::Named(icon) => {
                let texture = self.input.cursor.theme.made(device, icon)?;
                let image = self.input.cursor.theme.cached(icon)?;
                let hot = Point::from(image.hotspot);
                Some((
                    CursorDraw::Texture {
                        texture,
                        image,
                        icon,
                    },
                    pointer - hot,
                ))
            }
        }
    }
}

/// How a cursor is drawn.
pub(crate) enum CursorDraw {
    Surface(WlSurface),
    Texture {
        texture: std::sync::Arc<crate::render::texture::Texture>,
        image: std::sync::Arc<crate::seat::cursor_theme::CursorPixels>,
        icon: CursorIcon,
    },
}

/// Tablet tools' images (cursor-shape serves them too); weft offers no tablet seat yet, so
/// nothing calls this.
impl smithay::wayland::tablet_manager::TabletSeatHandler for Weft {}

weft_protocols::delegate_cursor_shape_guarded!(Weft);
