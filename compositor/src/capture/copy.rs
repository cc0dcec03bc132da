//! One capture: output pixels into a client's buffer, checked against what was offered.
//!
//! Offered: XRGB8888 (and ARGB8888, read as opaque) at the region's size; wl_shm with any stride
//! of at least 4 bytes a pixel; dma-bufs of one plane with the LINEAR modifier (what the render
//! device can write row by row). A dma-buf is written by the render device composing the output,
//! straight from its target: the CPU copies nothing.

use std::os::fd::AsFd;

use smithay::backend::allocator::{Buffer, Fourcc, Modifier};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_shm;
use smithay::utils::{Physical, Rectangle};
use smithay::wayland::dmabuf::get_dmabuf;
use smithay::wayland::shm::{with_buffer_contents, with_buffer_contents_mut};

use crate::render::RenderError;
use crate::Weft;

/// What kind of buffer a capture wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Shm,
    Dmabuf,
}

/// A buffer that is not what was offered (a protocol error: `invalid_buffer`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Why a valid-looking capture could not be done (the client is told `failed`).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the source is gone")]
    NoOutput,
    #[error("the buffer does not fit the session's constraints: {0}")]
    Constraints(String),
    #[error("the buffer is no longer usable: {0}")]
    Buffer(String),
    #[error("dma-buf modifier {0:#x}: only LINEAR dma-bufs are written")]
    Modifier(u64),
    #[error(transparent)]
    Import(#[from] crate::render::external::ImportError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// The shm formats offered (DRM fourcc XRGB8888 as wl_shm names it).
pub const SHM_FORMAT: wl_shm::Format = wl_shm::Format::Xrgb8888;
/// The dma-buf format offered.
pub const DMABUF_FORMAT: Fourcc = Fourcc::Xrgb8888;

fn size_matches(
    what: &str,
    (w, h): (i32, i32),
    region: Rectangle<i32, Physical>,
) -> Result<(), Invalid> {
    if (w, h) != (region.size.w, region.size.h) {
        return Err(Invalid(format!(
            "{what} is {w}x{h}, the capture is {}x{}",
            region.size.w, region.size.h
        )));
    }
    Ok(())
}

/// Checks `buffer` against what a capture of `region` offered.
pub fn check_buffer(buffer: &WlBuffer, region: Rectangle<i32, Physical>) -> Result<Kind, Invalid> {
    if let Ok(dmabuf) = get_dmabuf(buffer) {
        let format = dmabuf.format();
        if !matches!(format.code, Fourcc::Xrgb8888 | Fourcc::Argb8888) {
            return Err(Invalid(format!(
                "dma-buf format {:?} was not offered",
                format.code
            )));
        }
        if dmabuf.num_planes() != 1 {
            return Err(Invalid("a capture dma-buf has one plane".into()));
        }
        let size = dmabuf.size();
        return size_matches("the dma-buf", (size.w, size.h), region).map(|()| Kind::Dmabuf);
    }
    with_buffer_contents(buffer, |_, _, data| {
        if !matches!(
            data.format,
            wl_shm::Format::Xrgb8888 | wl_shm::Format::Argb8888
        ) {
            return Err(Invalid(format!(
                "wl_shm format {:?} was not offered",
                data.format
            )));
        }
        size_matches("the wl_shm buffer", (data.width, data.height), region)?;
        if data.stride < region.size.w * 4 {
            return Err(Invalid(format!(
                "stride {} is under 4 bytes a pixel",
                data.stride
            )));
        }
        Ok(Kind::Shm)
    })
    .map_err(|e| Invalid(format!("neither a wl_shm nor a dma-buf buffer: {e:?}")))?
}

fn vk_region(region: Rectangle<i32, Physical>) -> ash::vk::Rect2D {
    ash::vk::Rect2D {
        offset: ash::vk::Offset2D {
            x: region.loc.x,
            y: region.loc.y,
        },
        extent: ash::vk::Extent2D {
            width: region.size.w.max(0) as u32,
            height: region.size.h.max(0) as u32,
        },
    }
}

impl Weft {
    /// Copies `region` of output `index`'s last composed frame into `buffer` (checked before
    /// with [`check_buffer`]).
    pub(crate) fn copy_output_region(
        &mut self,
        index: usize,
        region: Rectangle<i32, Physical>,
        buffer: &WlBuffer,
    ) -> Result<Kind, CopyError> {
        let (renderer, slot) = self.renderer_and_slot(index).ok_or(CopyError::NoOutput)?;
        copy_from_target(renderer, &slot.target, region, buffer)
    }
}

/// Copies `region` of `target` (rendered by `renderer`) into `buffer`: a dma-buf by the render
/// device itself, a wl_shm buffer by a readback into the client's pool.
pub(crate) fn copy_from_target(
    renderer: &mut crate::render::Renderer,
    target: &crate::render::RenderTarget,
    region: Rectangle<i32, Physical>,
    buffer: &WlBuffer,
) -> Result<Kind, CopyError> {
    let rect = vk_region(region);
    if let Ok(dmabuf) = get_dmabuf(buffer) {
        let modifier = dmabuf.format().modifier;
        if modifier != Modifier::Linear {
            return Err(CopyError::Modifier(u64::from(modifier)));
        }
        let fd = dmabuf
            .handles()
            .next()
            .ok_or_else(|| CopyError::Buffer("no plane".into()))?;
        let offset = u64::from(dmabuf.offsets().next().unwrap_or(0));
        let stride = dmabuf.strides().next().unwrap_or(0);
        let len = rustix::fs::seek(fd, rustix::fs::SeekFrom::End(0))
            .map_err(|e| CopyError::Buffer(format!("its size: {e}")))?;
        let imported = crate::render::external::ImportedBuffer::import(
            renderer.device(),
            fd.as_fd(),
            len,
            ash::vk::BufferUsageFlags::TRANSFER_DST,
        )?;
        renderer.copy_region_into(target, rect, &imported, offset, stride)?;
        return Ok(Kind::Dmabuf);
    }
    with_buffer_contents_mut(buffer, |ptr, len, data| {
        // SAFETY: smithay maps the client's pool for `len` bytes and keeps it mapped for the
        // closure; the pool may be shared with the client, which writes it at its own risk
        // (a capture buffer is the compositor's until `ready`).
        let pool = unsafe { std::slice::from_raw_parts_mut(ptr, len) };
        let dst = pool
            .get_mut(data.offset.max(0) as usize..)
            .ok_or_else(|| CopyError::Buffer("offset past the pool".into()))?;
        renderer.read_region_into(target, rect, dst, data.stride.max(0) as usize)?;
        Ok(Kind::Shm)
    })
    .map_err(|e| CopyError::Buffer(format!("{e:?}")))?
}
