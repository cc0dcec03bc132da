//! A wl_shm buffer's memory as weft reads it: its format and planes ([`ShmLayout`]: one plane for
//! RGB, several for Y′CbCr as [`weft_protocols::shm_layout`] places them). Its rows become texels in
//! [`crate::import::shm_rows`].
//!
//! smithay keeps a Y′CbCr buffer under a stand-in format with plane 0's geometry; the guard noted
//! the real format and planes ([`Ycbcr`]), which [`ShmLayout::new`] puts back together.

use smithay::reexports::wayland_server::protocol::wl_shm;
use smithay::wayland::shm::BufferData;
use weft_protocols::drm_format;
use weft_protocols::shm_layout::ShmPlane;

use crate::render::vk;

/// What the wl_shm guard noted of a Y′CbCr buffer at `create_buffer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ycbcr {
    pub format: wl_shm::Format,
    pub planes: Vec<ShmPlane>,
}

/// A wl_shm buffer's format, size and planes (byte offsets in the pool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShmLayout {
    pub format: wl_shm::Format,
    pub width: u32,
    pub height: u32,
    pub planes: Vec<ShmPlane>,
}

impl ShmLayout {
    /// The layout of the buffer smithay describes by `data`; `ycbcr` is what the guard noted of it,
    /// if it is Y′CbCr.
    pub fn new(data: &BufferData, ycbcr: Option<&Ycbcr>) -> Self {
        let (width, height) = (data.width.max(0) as u32, data.height.max(0) as u32);
        match ycbcr {
            Some(y) => Self {
                format: y.format,
                width,
                height,
                planes: y.planes.clone(),
            },
            None => Self {
                format: data.format,
                width,
                height,
                planes: vec![ShmPlane {
                    offset: data.offset.max(0) as u64,
                    stride: data.stride.max(0) as u64,
                    rows: height,
                }],
            },
        }
    }

    /// The DRM fourcc of the format (wl_shm's codes are fourccs but for ARGB8888 and XRGB8888).
    pub fn fourcc(&self) -> u32 {
        match self.format {
            wl_shm::Format::Argb8888 => drm_format::ARGB8888,
            wl_shm::Format::Xrgb8888 => drm_format::XRGB8888,
            f => f as u32,
        }
    }

    /// The format as introspection shows it ("NV12", "AR24").
    pub fn fourcc_str(&self) -> String {
        drm_format::fourcc_str(self.fourcc())
    }

    pub fn is_ycbcr(&self) -> bool {
        weft_protocols::shm_layout::is_ycbcr(self.format)
    }

    /// The first byte of the buffer in its pool.
    pub fn start(&self) -> u64 {
        self.planes.first().map_or(0, |p| p.offset)
    }

    /// The first byte past the buffer's last plane.
    pub fn end(&self) -> u64 {
        self.planes.iter().map(ShmPlane::end).max().unwrap_or(0)
    }

    /// The texture format the copy path fills, and whether its alpha is padding: RGB as it is,
    /// Y′CbCr converted to opaque B8G8R8A8. `None`: not a format weft samples.
    pub fn texture_format(&self) -> Option<(vk::Format, bool)> {
        if self.is_ycbcr() {
            // Every Y′CbCr format offered on wl_shm is one the converter reads.
            return Some((vk::Format::B8G8R8A8_UNORM, true));
        }
        Some(match self.format {
            wl_shm::Format::Argb8888 => (vk::Format::B8G8R8A8_UNORM, false),
            wl_shm::Format::Xrgb8888 => (vk::Format::B8G8R8A8_UNORM, true),
            wl_shm::Format::Abgr8888 => (vk::Format::R8G8B8A8_UNORM, false),
            wl_shm::Format::Xbgr8888 => (vk::Format::R8G8B8A8_UNORM, true),
            _ => return None,
        })
    }
}
