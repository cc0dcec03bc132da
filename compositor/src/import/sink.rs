//! The `StageOnSink` rung's copy: the client's dma-bufs imported on the render device as transfer
//! sources, and at each commit the damaged rows of every plane copied on the device's own queue
//! into a device-local buffer the planar shader reads. One GPU copy per commit, whatever the number
//! of outputs that show the surface (they all read the local copy).

use std::sync::{Arc, Mutex};

use crate::render::external::ImportedBuffer;
use crate::render::memory::HostBuffer;
use crate::render::{ImportError, Renderer, RowCopy};

use super::cpu::PlaneCopy;

/// A buffer's sink staging state.
pub struct SinkStage {
    sources: Vec<Arc<ImportedBuffer>>,
    planes: Vec<PlaneCopy>,
    pub(crate) local: Arc<Mutex<HostBuffer>>,
}

impl SinkStage {
    pub fn new(
        sources: Vec<Arc<ImportedBuffer>>,
        planes: Vec<PlaneCopy>,
        local: Arc<Mutex<HostBuffer>>,
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
            local,
        })
    }

    /// Copies rows `y0..y1` (luma rows; chroma rows follow the subsampling) of every plane on the
    /// render device's queue. Returns the bytes copied.
    pub fn copy_rows(&self, renderer: &mut Renderer, y0: u32, y1: u32) -> Result<u64, ImportError> {
        let dst = self.local.lock().unwrap_or_else(|p| p.into_inner()).raw;
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
                src: src.raw,
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
        renderer.copy_from_foreign(&copies)?;
        Ok(bytes)
    }

    /// Luma rows of the buffer.
    pub fn height(&self) -> u32 {
        self.planes.first().map_or(0, |p| p.rows * p.vsub)
    }
}
