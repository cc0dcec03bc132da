//! The `StageOnCpu` rung's copy: each distinct dma-buf of a buffer mmapped once (read-only, shared),
//! and at each commit the damaged rows of every plane copied into weft's own host-visible buffer,
//! bracketed by `DMA_BUF_IOCTL_SYNC` START/END (READ) for cache coherency with the exporter.
//!
//! Two such buffers, front and back: a commit writes the back one (which frames stopped reading a
//! commit ago) and makes it the front, so it never waits for the frame in flight that reads the
//! front. The back one lacks the previous commit's rows, which are copied with this commit's.
//!
//! A memfd standing in for a dma-buf (the host test setup) is not bracketed: it is plain coherent
//! memory, and the ioctl would only answer ENOTTY. The sync ioctl is about CPU caches only; waiting for the producer's fences is a separate
//! matter (implicit-sync fences are not waited for yet; see docs/ARCHITECTURE.md, linux-dmabuf).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};

use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};

use super::convert::{convert_row, Chroma, Coefficients, Row};
use crate::render::memory::HostBuffer;
use crate::render::{ImportError, PlanarSource, YuvParams};

/// `struct dma_buf_sync` of `include/uapi/linux/dma-buf.h`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct DmaBufSync {
    flags: u64,
}

const SYNC_READ: u64 = 1;
const SYNC_START: u64 = 0;
const SYNC_END: u64 = 4;
/// `DMA_BUF_IOCTL_SYNC = _IOW('b', 0, struct dma_buf_sync)`.
const DMA_BUF_IOCTL_SYNC: rustix::ioctl::Opcode =
    rustix::ioctl::opcode::write::<DmaBufSync>(b'b', 0);

/// One read-only shared mapping of a whole dma-buf; unmapped on drop.
struct Mapping {
    fd: OwnedFd,
    ptr: *mut u8,
    len: usize,
    /// A kernel dma-buf (bracketed with DMA_BUF_IOCTL_SYNC), not a memfd stand-in.
    dmabuf: bool,
}

// SAFETY: the mapping is plain shared memory owned by this value; it is only read, from whichever
// thread holds the (Mutex-guarded) CpuStage.
unsafe impl Send for Mapping {}

impl Mapping {
    fn new(fd: OwnedFd, len: usize) -> Result<Self, ImportError> {
        // SAFETY: a fresh read-only shared mapping of `len` bytes of the client's dma-buf, not aliased
        // by any Rust reference; unmapped exactly once in Drop.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED,
                &fd,
                0,
            )
        }
        .map_err(|e| ImportError::Rejected(format!("mmap of the dma-buf failed: {e}")))?;
        Ok(Self {
            dmabuf: super::is_real_dmabuf(fd.as_fd()),
            fd,
            ptr: ptr.cast(),
            len,
        })
    }

    /// `DMA_BUF_IOCTL_SYNC` on a kernel dma-buf; nothing on a memfd stand-in.
    fn sync(&self, flags: u64, what: &str) -> Result<(), ImportError> {
        if !self.dmabuf {
            return Ok(());
        }
        // SAFETY: the opcode is _IOW('b', 0, struct dma_buf_sync) and the argument is that struct.
        let setter = unsafe {
            rustix::ioctl::Setter::<DMA_BUF_IOCTL_SYNC, DmaBufSync>::new(DmaBufSync { flags })
        };
        // SAFETY: the ioctl only reads the struct, on an fd that is a dma-buf.
        unsafe { rustix::ioctl::ioctl(self.fd.as_fd(), setter) }
            .map_err(|e| ImportError::Rejected(format!("DMA_BUF_IOCTL_SYNC({what}): {e}")))
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping made in `new`; no reference into it outlives `self`.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

/// One plane's copy: from `src_offset` in mapping `map` to `dst_offset` in the staging buffer,
/// `rows` rows of `stride` bytes, the plane subsampled vertically by `vsub`.
#[derive(Debug, Clone, Copy)]
pub struct PlaneCopy {
    pub map: usize,
    pub src_offset: u64,
    pub dst_offset: u64,
    pub stride: u64,
    pub rows: u32,
    pub vsub: u32,
}

/// A Y′CbCr buffer staged as XRGB8888 ([`super::convert`]): planes 0 (luma) and 1 (NV12: Cb,Cr
/// pairs; YUV420: Cb) and 2 (YUV420: Cr) are read; the staging buffer holds `width`×4-byte rows.
#[derive(Debug, Clone, Copy)]
pub struct Conversion {
    pub chroma: Chroma,
    pub width: u32,
    pub yuv: YuvParams,
}

/// One of a stage's two copies: its memory and the source the shader reads it through.
pub struct StagingCopy {
    pub memory: Arc<Mutex<HostBuffer>>,
    pub source: Arc<PlanarSource>,
}

/// A buffer's CPU staging state.
pub struct CpuStage {
    maps: Vec<Mapping>,
    planes: Vec<PlaneCopy>,
    /// Front (`copies[front]`, what frames draw) and back.
    copies: Vec<StagingCopy>,
    front: usize,
    /// Rows `y0..y1` the back copy lacks: the last commit's, copied into the front only.
    back_lacks: (u32, u32),
    convert: Option<(Conversion, Coefficients)>,
    /// The default conversion (`import-policy --yuv-*`), and whether the surface showing the
    /// buffer chose its own instead (wp_color_representation_v1).
    default_yuv: YuvParams,
    own_yuv: bool,
}

impl CpuStage {
    /// Maps each distinct file (`files`: fd dup and its size) for the given plane copies into
    /// `copies` (two: front and back; one works too, with each commit waiting for the frames that
    /// read it).
    pub fn new(
        files: Vec<(OwnedFd, u64)>,
        planes: Vec<PlaneCopy>,
        copies: Vec<StagingCopy>,
    ) -> Result<Self, ImportError> {
        if copies.is_empty() {
            return Err(ImportError::Rejected("a CPU stage needs a copy".into()));
        }
        let maps = files
            .into_iter()
            .map(|(fd, size)| {
                let len = usize::try_from(size)
                    .map_err(|_| ImportError::Rejected("dma-buf too large to map".into()))?;
                Mapping::new(fd, len)
            })
            .collect::<Result<Vec<_>, _>>()?;
        for p in &planes {
            let end = p.src_offset + p.stride * u64::from(p.rows);
            if maps.get(p.map).is_none_or(|m| end > m.len as u64) {
                return Err(ImportError::Rejected(format!(
                    "a plane ends at byte {end}, past its dma-buf"
                )));
            }
        }
        Ok(Self {
            maps,
            planes,
            copies,
            front: 0,
            back_lacks: (0, 0),
            convert: None,
            default_yuv: YuvParams::default(),
            own_yuv: false,
        })
    }

    /// Stages the buffer converted to XRGB8888 rather than copied plane by plane.
    pub fn converting(mut self, conversion: Conversion) -> Result<Self, ImportError> {
        let needs = conversion.chroma.row_bytes(conversion.width);
        if self.planes.len() != needs.len()
            || self.planes.iter().zip(needs).any(|(p, n)| p.stride < n)
        {
            return Err(ImportError::Rejected(
                "a plane's rows are narrower than the image".into(),
            ));
        }
        self.convert = Some((conversion, Coefficients::new(conversion.yuv)));
        self.default_yuv = conversion.yuv;
        Ok(self)
    }

    /// The default matrix and range changed: later copies use `yuv`, unless the surface showing
    /// the buffer chose its own. Returns whether this stage converts with the new default (and so
    /// must be copied again to show the change).
    pub fn set_yuv(&mut self, yuv: YuvParams) -> bool {
        self.default_yuv = yuv;
        if self.own_yuv {
            return false;
        }
        match &mut self.convert {
            Some((conversion, coefficients)) => {
                conversion.yuv = yuv;
                *coefficients = Coefficients::new(yuv);
                true
            }
            None => false,
        }
    }

    /// The conversion the surface showing the buffer asked for (`None`: the default). Returns
    /// whether the conversion changed, so that the whole buffer is converted again.
    pub fn use_yuv(&mut self, yuv: Option<YuvParams>) -> bool {
        let Some((conversion, coefficients)) = &mut self.convert else {
            return false;
        };
        self.own_yuv = yuv.is_some();
        let want = yuv.unwrap_or(self.default_yuv);
        if conversion.yuv == want {
            return false;
        }
        conversion.yuv = want;
        *coefficients = Coefficients::new(want);
        true
    }

    /// Rows `y0..y1` converted into the staging buffer (its rows are `width` × 4 bytes).
    fn convert_rows(
        &self,
        (conversion, k): &(Conversion, Coefficients),
        dst: &mut [u8],
        y0: u32,
        y1: u32,
    ) -> Result<(), ImportError> {
        let out_stride = conversion.width as usize * 4;
        let plane = |i: usize, row: u32| -> Option<&[u8]> {
            let p = self.planes.get(i)?;
            let r = (row / p.vsub).min(p.rows.checked_sub(1)?);
            let map = self.maps.get(p.map)?;
            let start = p.src_offset + p.stride * u64::from(r);
            // SAFETY: `src_offset + stride * rows <= map.len` was checked in `new` and r < rows,
            // so the row lies inside the live mapping; it is only read.
            Some(unsafe {
                std::slice::from_raw_parts(map.ptr.add(start as usize), p.stride as usize)
            })
        };
        for y in y0..y1.min(self.height()) {
            let Some(luma) = plane(0, y) else {
                continue;
            };
            let c0 = plane(1, y).unwrap_or(&[]);
            let c1 = plane(2, y).unwrap_or(&[]);
            let start = y as usize * out_stride;
            let Some(out) = dst.get_mut(start..start + out_stride) else {
                return Err(ImportError::Rejected(
                    "staging buffer smaller than the image".into(),
                ));
            };
            convert_row(k, conversion.chroma, &Row { y: luma, c0, c1 }, out);
        }
        Ok(())
    }

    /// The source frames draw: the front copy.
    pub fn front(&self) -> Option<&Arc<PlanarSource>> {
        self.copies.get(self.front).map(|c| &c.source)
    }

    /// The source the next commit writes (frames still reading it must finish first).
    pub fn back(&self) -> Option<&Arc<PlanarSource>> {
        self.copies
            .get((self.front + 1) % self.copies.len())
            .map(|c| &c.source)
    }

    /// A commit of rows `y0..y1`: copied into the back copy with the rows it lacks, which then
    /// becomes the front. Returns the bytes copied.
    pub fn commit_rows(&mut self, y0: u32, y1: u32) -> Result<u64, ImportError> {
        let back = (self.front + 1) % self.copies.len();
        let (mut from, mut to) = (y0, y1);
        if back != self.front && self.back_lacks.1 > self.back_lacks.0 {
            (from, to) = if to > from {
                (from.min(self.back_lacks.0), to.max(self.back_lacks.1))
            } else {
                self.back_lacks
            };
        }
        let copied = self.copy_rows_into(back, from, to)?;
        self.back_lacks = (y0, y1);
        self.front = back;
        Ok(copied)
    }

    /// Every row into the front copy (at import); the back one lacks them all until the next
    /// commit.
    pub fn fill(&mut self) -> Result<u64, ImportError> {
        let height = self.height();
        let copied = self.copy_rows_into(self.front, 0, height)?;
        self.back_lacks = (0, height);
        Ok(copied)
    }

    /// Copies rows `y0..y1` of the buffer (in luma rows; chroma rows follow the subsampling) of every
    /// plane into copy `index`. Returns the bytes copied.
    fn copy_rows_into(&mut self, index: usize, y0: u32, y1: u32) -> Result<u64, ImportError> {
        let memory = self
            .copies
            .get(index)
            .map(|c| c.memory.clone())
            .ok_or_else(|| ImportError::Rejected("no such staging copy".into()))?;
        // No size check here: the import accepted only dma-bufs and memfds sealed against
        // shrinking (`import::Planes::of`), so the mappings stay valid.
        for m in &self.maps {
            m.sync(SYNC_START | SYNC_READ, "START")?;
        }
        let mut copied = 0u64;
        let mut staging = memory.lock().unwrap_or_else(|p| p.into_inner());
        let dst = staging.bytes_mut().map_err(ImportError::from)?;
        if let Some(convert) = &self.convert {
            self.convert_rows(convert, dst, y0, y1)?;
            // What was read out of the client's buffer: its planes' damaged rows, as a copy.
            copied = self
                .planes
                .iter()
                .map(|p| {
                    let r0 = (y0 / p.vsub).min(p.rows);
                    let r1 = y1.div_ceil(p.vsub).min(p.rows);
                    p.stride * u64::from(r1.saturating_sub(r0))
                })
                .sum();
        }
        for p in self.planes.iter().filter(|_| self.convert.is_none()) {
            let r0 = (y0 / p.vsub).min(p.rows);
            let r1 = y1.div_ceil(p.vsub).min(p.rows);
            if r1 <= r0 {
                continue;
            }
            let start = p.stride * u64::from(r0);
            let len = (p.stride * u64::from(r1 - r0)) as usize;
            let Some(map) = self.maps.get(p.map) else {
                continue;
            };
            // SAFETY: `src_offset + stride * rows <= map.len` was checked in `new`, and r1 <= rows, so
            // the range lies inside the live mapping; it is only read.
            let src = unsafe {
                std::slice::from_raw_parts(map.ptr.add((p.src_offset + start) as usize), len)
            };
            let d = (p.dst_offset + start) as usize;
            let Some(out) = dst.get_mut(d..d + len) else {
                return Err(ImportError::Rejected(
                    "staging buffer smaller than the planes".into(),
                ));
            };
            out.copy_from_slice(src);
            copied += len as u64;
        }
        drop(staging);
        for m in &self.maps {
            m.sync(SYNC_END | SYNC_READ, "END")?;
        }
        Ok(copied)
    }

    /// Luma rows of the buffer.
    pub fn height(&self) -> u32 {
        self.planes.first().map_or(0, |p| p.rows * p.vsub)
    }
}
