//! Read fences for a render device that cannot export one (a CPU implementation such as
//! lavapipe): kernel fences weft signals itself once the loop sees the frame's `VkFence` done.
//!
//! vgem is the kernel's device for this: `DRM_IOCTL_VGEM_FENCE_ATTACH` puts a new, unsignalled
//! fence in the reservation of a vgem buffer (weft keeps one page of its own), and
//! `DRM_IOCTL_VGEM_FENCE_SIGNAL` signals it. Exported as a sync_file, that fence is an ordinary
//! `dma_fence`: imported into a client's dma-buf as a *read* (`IMPORT_SYNC_FILE(READ)`), the
//! producer's next implicitly synced write waits for weft's frame. The kernel signals a vgem fence
//! by itself (with an error) after 10 s, so a frame that never finishes cannot hold a producer
//! longer than that.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

use drm::control::Device as _;
use rustix::ioctl::{ioctl, opcode, Setter, Updater};

use super::sync_file;

#[repr(C)]
struct FenceAttach {
    handle: u32,
    flags: u32,
    out_fence: u32,
    pad: u32,
}

#[repr(C)]
struct FenceSignal {
    fence: u32,
    flags: u32,
}

/// `DRM_COMMAND_BASE` + 1 and + 2 (include/uapi/drm/vgem_drm.h).
const FENCE_ATTACH: rustix::ioctl::Opcode = opcode::read_write::<FenceAttach>(b'd', 0x41);
const FENCE_SIGNAL: rustix::ioctl::Opcode = opcode::write::<FenceSignal>(b'd', 0x42);

struct Card(OwnedFd);
impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
impl drm::Device for Card {}
impl drm::control::Device for Card {}

/// weft's vgem buffer, where its fences are made.
pub struct SoftFences {
    card: Card,
    handle: u32,
    dmabuf: OwnedFd,
}

impl SoftFences {
    /// Opens the vgem device at `path` (its primary node) and makes weft's buffer.
    pub fn open(path: &std::path::Path) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)?;
        let card = Card(file.into());
        let dumb = card.create_dumb_buffer((16, 16), drm::buffer::DrmFourcc::Xrgb8888, 32)?;
        let handle = drm::buffer::Buffer::handle(&dumb);
        let dmabuf = card.buffer_to_prime_fd(handle, libc::O_CLOEXEC as u32)?;
        Ok(Self {
            handle: u32::from(handle),
            card,
            dmabuf,
        })
    }

    /// A new unsignalled fence, as a sync_file, and what signals it.
    pub fn make(self: &Arc<Self>) -> io::Result<(OwnedFd, SoftFence)> {
        // Flags 0: a *read* fence, so fences of frames still in flight do not conflict (EBUSY).
        let mut arg = FenceAttach {
            handle: self.handle,
            flags: 0,
            out_fence: 0,
            pad: 0,
        };
        // SAFETY: the opcode is DRM_IOWR(0x41, struct drm_vgem_fence_attach) and `arg` is that
        // struct, on the vgem fd whose GEM handle it names.
        unsafe { ioctl(self.card.as_fd(), Updater::<FENCE_ATTACH, _>::new(&mut arg)) }?;
        let fence = SoftFence {
            fences: self.clone(),
            id: arg.out_fence,
        };
        // The buffer's fences up to READ: this one, and those of earlier frames not yet done
        // (which finish first anyway: the queue runs in order).
        let file = sync_file::export(self.dmabuf.as_fd(), sync_file::WRITE)
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok((file, fence))
    }
}

impl crate::render::ReadFenceSource for Arc<SoftFences> {
    fn make(&self) -> Option<(OwnedFd, Box<dyn std::any::Any>)> {
        match SoftFences::make(self) {
            Ok((file, fence)) => Some((file, Box::new(fence))),
            Err(e) => {
                tracing::debug!(error = %e, "no read fence for this frame");
                None
            }
        }
    }
}

/// A fence weft signals when its frame is done (on drop, so it is never left unsignalled).
pub struct SoftFence {
    fences: Arc<SoftFences>,
    id: u32,
}

impl Drop for SoftFence {
    fn drop(&mut self) {
        let arg = FenceSignal {
            fence: self.id,
            flags: 0,
        };
        // SAFETY: the opcode is DRM_IOW(0x42, struct drm_vgem_fence_signal) and `arg` is that
        // struct; the fence id came from FENCE_ATTACH on this fd.
        if let Err(e) = unsafe {
            ioctl(
                self.fences.card.as_fd(),
                Setter::<FENCE_SIGNAL, _>::new(arg),
            )
        } {
            // ETIMEDOUT: the kernel signalled it already (10 s passed).
            tracing::debug!(error = %e, "vgem fence not signalled by weft");
        }
    }
}

/// Gives `renderer` read fences when its device exports none: vgem's, where the registry has
/// vgem ([`soft_fence`]). Without either, weft's reads end when the loop sees the frame's
/// `VkFence` signalled, and wl_buffer.release waits for that.
pub fn provide_read_fences(
    renderer: &mut crate::render::Renderer,
    devices: &crate::devices::Registry,
) {
    if renderer.has_read_fences() || devices.is_simulated() {
        return;
    }
    let Some(node) = devices
        .devices()
        .iter()
        .filter(|d| d.driver == "vgem")
        .find_map(|d| d.nodes.iter().find(|n| !n.path.contains("renderD")))
    else {
        return;
    };
    match SoftFences::open(std::path::Path::new(&node.path)) {
        Ok(fences) => {
            tracing::info!(node = %node.path, "read fences made on vgem (the render device exports none)");
            renderer.set_read_fences(Box::new(Arc::new(fences)));
        }
        Err(e) => tracing::info!(node = %node.path, error = %e, "no read fences from vgem"),
    }
}
