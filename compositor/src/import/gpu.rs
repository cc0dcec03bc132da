//! The GPU staging rungs' copy: the client's dma-bufs imported on a device as transfer sources, and
//! at each commit the damaged rows of every plane copied on that device's queue into a buffer of
//! weft's ([`GpuStage`]).
//!
//! - `StageOnSink`: the device is the render device and the destination its own device-local
//!   buffer, which the planar shader reads. One GPU copy per commit, whatever the number of
//!   outputs that show the surface (they all read the copy).
//! - `StageOnSource`: the device is the one that produced the buffer (a GPU weft drives with
//!   Vulkan), the destination a linear buffer exported from it, which the render device imports
//!   and reads in place.

use std::sync::{Arc, Mutex};

use crate::render::external::ImportedBuffer;
use crate::render::planar::PlanarMemory;
use crate::render::{Copier, ImportError, RowCopy};

use super::cpu::PlaneCopy;

/// A buffer's GPU staging state.
pub struct GpuStage {
    sources: Vec<Arc<ImportedBuffer>>,
    planes: Vec<PlaneCopy>,
    dst: Arc<dyn PlanarMemory>,
    copier: Mutex<Copier>,
}

impl GpuStage {
    /// `sources`: the client's files imported on the copying device; `dst`: weft's buffer on it.
    pub fn new(
        sources: Vec<Arc<ImportedBuffer>>,
        planes: Vec<PlaneCopy>,
        dst: Arc<dyn PlanarMemory>,
        copier: Copier,
    ) -> Result<Self, ImportError> {
        for p in &planes {
            let end = p.src_offset + p.stride * u64::from(p.rows);
            if sources.get(p.map).is_none_or(|s| end > s.size) {
                return Err(ImportError::Rejected(format!(
                    "a plane ends at byte {end}, past its imported dma-buf"
                )));
            }
        }
        Ok(Self {
            sources,
            planes,
            dst,
            copier: Mutex::new(copier),
        })
    }

    /// Copies rows `y0..y1` (luma rows; chroma rows follow the subsampling) of every plane on the
    /// copying device's queue, and waits. Returns the bytes copied.
    pub fn copy_rows(&self, y0: u32, y1: u32) -> Result<u64, ImportError> {
        let dst = self.dst.buffer();
        let mut copies = Vec::new();
        let mut bytes = 0;
        for p in &self.planes {
            let r0 = (y0 / p.vsub).min(p.rows);
            let r1 = y1.div_ceil(p.vsub).min(p.rows);
            let Some(src) = self.sources.get(p.map) else {
                continue;
            };
            if r1 <= r0 {
                continue;
            }
            let start = p.stride * u64::from(r0);
            let len = p.stride * u64::from(r1 - r0);
            copies.push(RowCopy {
                src: src.raw(),
                dst,
                src_offset: p.src_offset + start,
                dst_offset: p.dst_offset + start,
                size: len,
            });
            bytes += len;
        }
        if copies.is_empty() {
            return Ok(0);
        }
        self.copier
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .copy_from_foreign(&copies)?;
        Ok(bytes)
    }

    /// Luma rows of the buffer.
    pub fn height(&self) -> u32 {
        self.planes.first().map_or(0, |p| p.rows * p.vsub)
    }
}
