//! The cursor theme: named cursor shapes as images, loaded from the XCursor theme the session
//! names (`XCURSOR_THEME`, `XCURSOR_SIZE`; else the `default` theme at 24 pixels), and uploaded once
//! per render device as textures the scene draws at the pointer.
//!
//! A shape the theme lacks is looked up by its other names (CSS names first, then the X11 names
//! themes ship, e.g. `default` → `left_ptr`), then the default arrow; with no theme installed at
//! all, weft's own arrow (drawn here, black with a white edge) stands in, so a cursor is always
//! shown.

use std::collections::HashMap;
use std::sync::Arc;

use smithay::input::pointer::CursorIcon;

use crate::render::texture::Texture;
use crate::render::{RenderError, Renderer};

/// One cursor image: premultiplied ARGB8888 pixels (B, G, R, A bytes) and its hotspot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorPixels {
    pub width: u32,
    pub height: u32,
    pub hotspot: (i32, i32),
    pub bgra: Vec<u8>,
    /// Which theme file it came from (`weft` for the built-in arrow), for introspection.
    pub source: String,
}

/// The theme and the images and textures made from it so far.
pub struct CursorTheme {
    theme: xcursor::CursorTheme,
    size: u32,
    images: HashMap<CursorIcon, Arc<CursorPixels>>,
    /// Per render device (by the address of its device: a rebuilt device gets new ones).
    textures: HashMap<(usize, CursorIcon), Arc<Texture>>,
}

impl CursorTheme {
    /// The session's theme (`XCURSOR_THEME`, `XCURSOR_SIZE`).
    pub fn from_env() -> Self {
        let name = std::env::var("XCURSOR_THEME").unwrap_or_else(|_| "default".into());
        let size = std::env::var("XCURSOR_SIZE")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|s: &u32| (8..=256).contains(s))
            .unwrap_or(24);
        Self {
            theme: xcursor::CursorTheme::load(&name),
            size,
            images: HashMap::new(),
            textures: HashMap::new(),
        }
    }

    /// The image of `icon` (loaded on first use).
    pub fn image(&mut self, icon: CursorIcon) -> Arc<CursorPixels> {
        if let Some(image) = self.images.get(&icon) {
            return image.clone();
        }
        let image = Arc::new(
            self.load(icon)
                .or_else(|| self.load(CursorIcon::Default))
                .unwrap_or_else(builtin_arrow),
        );
        self.images.insert(icon, image.clone());
        image
    }

    /// `icon`'s image if it was loaded already.
    pub fn cached(&self, icon: CursorIcon) -> Option<Arc<CursorPixels>> {
        self.images.get(&icon).cloned()
    }

    fn load(&self, icon: CursorIcon) -> Option<CursorPixels> {
        let names = std::iter::once(icon.name()).chain(icon.alt_names().iter().copied());
        for name in names {
            let Some(path) = self.theme.load_icon(name) else {
                continue;
            };
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Some(images) = xcursor::parser::parse_xcursor(&bytes) else {
                tracing::debug!(path = %path.display(), "not an XCursor file");
                continue;
            };
            // The nominal size nearest the one asked for; its first frame (no animation).
            let best = images
                .iter()
                .min_by_key(|i| (i64::from(i.size) - i64::from(self.size)).abs())?;
            return Some(CursorPixels {
                width: best.width,
                height: best.height,
                hotspot: (best.xhot as i32, best.yhot as i32),
                // XCursor stores ARGB32 little-endian: B, G, R, A in memory, premultiplied.
                bgra: best.pixels_rgba.clone(),
                source: path.display().to_string(),
            });
        }
        None
    }

    /// `icon`'s texture on `renderer`'s device, made and uploaded on first use.
    pub fn texture(
        &mut self,
        renderer: &mut Renderer,
        icon: CursorIcon,
    ) -> Result<(Arc<Texture>, Arc<CursorPixels>), RenderError> {
        let image = self.image(icon);
        let key = (Arc::as_ptr(renderer.device()) as usize, icon);
        if let Some(t) = self.textures.get(&key) {
            return Ok((t.clone(), image));
        }
        let texture =
            renderer.create_texture(image.width, image.height, ash::vk::Format::B8G8R8A8_UNORM)?;
        renderer.upload(
            &texture,
            &image.bgra,
            image.width * 4,
            &[crate::render::UploadRect {
                x: 0,
                y: 0,
                w: image.width,
                h: image.height,
            }],
        )?;
        self.textures.insert(key, texture.clone());
        Ok((texture, image))
    }

    /// A texture already made for `icon` on the device at `device` (see [`Self::texture`]).
    pub fn made(&self, device: usize, icon: CursorIcon) -> Option<Arc<Texture>> {
        self.textures.get(&(device, icon)).cloned()
    }

    /// Drops the textures of devices that are gone (`alive`: the addresses of the devices now).
    pub fn retain_devices(&mut self, alive: &[usize]) {
        self.textures.retain(|(d, _), _| alive.contains(d));
    }
}

/// weft's own arrow, 12×19: black, a white edge, its tip the hotspot.
pub fn builtin_arrow() -> CursorPixels {
    const ROWS: [&str; 19] = [
        "X...........",
        "XX..........",
        "X#X.........",
        "X##X........",
        "X###X.......",
        "X####X......",
        "X#####X.....",
        "X######X....",
        "X#######X...",
        "X########X..",
        "X#########X.",
        "X######XXXXX",
        "X###X##X....",
        "X##XX##X....",
        "X#X..X##X...",
        "XX...X##X...",
        "X.....X##X..",
        "......X##X..",
        ".......XX...",
    ];
    let mut bgra = Vec::with_capacity(12 * 19 * 4);
    for row in ROWS {
        for c in row.bytes() {
            bgra.extend_from_slice(match c {
                b'X' => &[255, 255, 255, 255],
                b'#' => &[0, 0, 0, 255],
                _ => &[0, 0, 0, 0],
            });
        }
    }
    CursorPixels {
        width: 12,
        height: 19,
        hotspot: (0, 0),
        bgra,
        source: "weft".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_arrow_is_whole() {
        let a = builtin_arrow();
        assert_eq!(a.bgra.len(), (a.width * a.height * 4) as usize);
        // The tip is the hotspot and is drawn.
        assert_eq!(&a.bgra[..4], &[255, 255, 255, 255]);
    }
}
