//! Guest-side helpers for weft's Tier 2 tests (`tests/vm`): they run inside a Linux 6.12 guest that
//! has vgem, virtio-gpu, bochs, vivid, `/dev/udmabuf` and `/dev/dma_heap/system`.
//!
//! Every fd is an [`std::os::fd::OwnedFd`]; every device call returns a [`Result`] whose error names
//! the operation and keeps the errno, so the tests can record *how* something failed.
//!
//! - dma-buf sources: [`vgem`], [`heap`], [`udmabuf`], [`v4l2`] (vivid capture), and dumb buffers on
//!   any DRM device ([`drm_node::DrmNode::export_dumb`]).
//! - dma-buf and fence plumbing: [`dmabuf`] (implicit-sync sync_file export/import), [`sync_file`],
//!   [`syncobj`] (timeline points, eventfd waits).
//! - devices: [`drm_node`] (enumeration, caps, PRIME), [`kms`] and [`in_formats`] (what planes scan out),
//!   [`vulkan`] (lavapipe dma-buf import), [`uinput`] (virtual keyboards, mice, touchscreens).

pub mod dmabuf;
pub mod drm_node;
pub mod error;
pub mod fourcc;
pub mod heap;
pub use weft_protocols::in_formats;
mod ioctl;
pub mod kms;
pub mod sync_file;
pub mod syncobj;
pub mod udmabuf;
pub mod uinput;
pub mod v4l2;
pub mod vgem;
pub mod vulkan;

pub use error::{Error, Result};
