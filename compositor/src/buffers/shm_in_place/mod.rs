//! wl_shm buffers read in place: the pool's file, when it is sealed against shrinking
//! ([`pool_file`]), has the pages that hold a buffer mapped once more for weft ([`mapping`]),
//! imported as host memory
//! ([`crate::render::host_memory`]) and drawn by the planar shader or copied into the target by a
//! cover, with no staging copy at commit. The import is cached per wl_buffer until the buffer is
//! destroyed, so a client cycling two or three buffers imports each once.
//!
//! Release rules: the surface reads the buffer for as long as it is attached (smithay sends
//! wl_buffer.release when another buffer replaces it) and every frame that reads it holds it
//! until that frame's fence signalled, so a client that writes a buffer after its release never
//! changes what is on screen. A surface never draws an in-place buffer that is no longer its
//! current one.
//!
//! Where the import is refused (no VK_EXT_external_memory_host, a pool that may shrink, an
//! unaligned stride, a descriptor too small, the policy), the damaged rows are copied as before
//! and the reason says why.

pub mod mapping;
pub mod pool_file;

use std::collections::HashMap;
use std::sync::Arc;

use smithay::reexports::wayland_server::backend::ObjectId;

use self::mapping::PoolView;
use crate::budget::{Charge, ClientBudget, Resource};
use crate::buffers::shm_pixels::{ShmLayout, Ycbcr};
use crate::render::host_memory::HostImport;
use crate::render::planar::PlanarMemory;
use crate::render::{PlanarFormat, PlanarLayout, PlanarPlane, PlanarSource, Renderer};

/// What the device allows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `minImportedHostPointerAlignment`; `None` without VK_EXT_external_memory_host.
    pub alignment: Option<u64>,
    /// `maxStorageBufferRange`: the most bytes one plane's descriptor covers.
    pub max_range: u64,
}

/// One wl_buffer's import, or why it has none.
enum Entry {
    /// The source, and its share of the client's budget (given back with the entry).
    Imported {
        source: Arc<PlanarSource>,
        _charge: Option<Charge>,
    },
    Refused(NotInPlace),
}

/// In-place imports by wl_buffer, and the notes of Y′CbCr buffers (their real format and planes:
/// smithay keeps them under a stand-in format).
#[derive(Default)]
pub struct ShmCache {
    entries: HashMap<ObjectId, Entry>,
    ycbcr: HashMap<ObjectId, Ycbcr>,
    hints: pool_file::FdHints,
}

/// Why a wl_shm buffer is copied instead of read in place; its text is the surface's reason.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotInPlace {
    #[error("in-place reads are disabled by the import policy")]
    Disabled,
    #[error("{0}")]
    OverBudget(crate::budget::OverBudget),
    #[error("the render device cannot import host memory (no VK_EXT_external_memory_host)")]
    NoHostImport,
    #[error("format {0} is not read in place")]
    Format(String),
    #[error("{bytes} bytes are more than one storage descriptor covers (maxStorageBufferRange {max_range})")]
    TooLarge { bytes: usize, max_range: u64 },
    #[error("import alignment out of range")]
    AlignmentRange,
    #[error("the buffer lies outside its pool")]
    OutsidePool,
    #[error("the buffer lies outside its pool's file")]
    OutsidePoolFile,
    #[error("fstat: {0}")]
    Fstat(rustix::io::Errno),
    #[error("mmap of the pool's pages: {0}")]
    Mmap(rustix::io::Errno),
    #[error("the mapping is not aligned to {0} bytes")]
    Unaligned(usize),
    #[error("plane {plane}'s stride {stride} is not a whole number of 32-bit words")]
    StrideNotWords { plane: usize, stride: u64 },
    #[error("plane {plane} at pool offset {offset} is not on a 32-bit word")]
    OffsetNotWord { plane: usize, offset: u64 },
    #[error("plane offset out of range")]
    OffsetRange,
    #[error("stride out of range")]
    StrideRange,
    #[error("/proc/self/maps: {0}")]
    Maps(std::io::ErrorKind),
    #[error("/proc/self/maps has a line weft cannot read")]
    MapsLine,
    #[error("the pool is not a file mapping")]
    NotAFile,
    #[error("the pool's mapping is not in /proc/self/maps")]
    NotMapped,
    #[error("the pool's file is not among weft's fds")]
    NoFd,
    #[error("the pool's file is not sealed with F_SEAL_SHRINK: a truncation would fault the device's reads")]
    NotSealed,
    #[error("{0}")]
    HostImport(Arc<crate::render::ImportError>),
    #[error("{0}")]
    Planar(Arc<crate::render::RenderError>),
}

impl NotInPlace {
    /// A stable identifier (snake_case) of this reason.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Disabled => "disabled_by_policy",
            Self::OverBudget(_) => "over_budget",
            Self::NoHostImport => "no_host_import",
            Self::Format(_) => "format",
            Self::TooLarge { .. } => "too_large",
            Self::AlignmentRange => "alignment_range",
            Self::OutsidePool => "outside_pool",
            Self::OutsidePoolFile => "outside_pool_file",
            Self::Fstat(_) => "fstat",
            Self::Mmap(_) => "mmap",
            Self::Unaligned(_) => "unaligned_mapping",
            Self::StrideNotWords { .. } => "stride_not_words",
            Self::OffsetNotWord { .. } => "offset_not_word",
            Self::OffsetRange => "offset_range",
            Self::StrideRange => "stride_range",
            Self::Maps(_) | Self::MapsLine | Self::NotMapped => "maps",
            Self::NotAFile => "not_a_file",
            Self::NoFd => "no_fd",
            Self::NotSealed => "not_sealed",
            Self::HostImport(_) => "host_import_failed",
            Self::Planar(_) => "planar_failed",
        }
    }
}

impl ShmCache {
    /// The in-place source of `buffer` (pool mapping `pool..pool+pool_len`, `data` its place in
    /// it): the cached one, or a fresh import. `Err` says why it is copied instead.
    ///
    /// # Safety
    /// `pool..pool+pool_len` is the buffer's live pool mapping for the duration of the call
    /// (inside smithay's `with_buffer_contents`).
    pub unsafe fn source(
        &mut self,
        renderer: &Renderer,
        limits: Limits,
        buffer: &ObjectId,
        (pool, pool_len): (*const u8, usize),
        data: &ShmLayout,
        budget: Option<&Arc<ClientBudget>>,
    ) -> Result<Arc<PlanarSource>, NotInPlace> {
        match self.entries.get(buffer) {
            Some(Entry::Imported { source, .. }) => return Ok(source.clone()),
            Some(Entry::Refused(why)) => return Err(why.clone()),
            None => {}
        }
        // Over the client's share: copied this time, tried again at its next commit (not
        // remembered: the client may free others meanwhile).
        let charge = budget
            .map(|b| b.charge(Resource::ShmInPlace, 1))
            .transpose()
            .map_err(NotInPlace::OverBudget)?;
        // SAFETY: the caller's promise.
        let imported = unsafe { import(renderer, limits, (pool, pool_len), data, &mut self.hints) };
        let entry = match imported {
            Ok(source) => Entry::Imported {
                source,
                _charge: charge,
            },
            Err(why) => Entry::Refused(why),
        };
        let result = match &entry {
            Entry::Imported { source, .. } => Ok(source.clone()),
            Entry::Refused(why) => Err(why.clone()),
        };
        self.entries.insert(buffer.clone(), entry);
        result
    }

    /// Forgets `buffer`'s import and note (the wl_buffer is gone). Frames in flight keep theirs
    /// alive.
    pub fn remove(&mut self, buffer: &ObjectId) -> bool {
        self.ycbcr.remove(buffer);
        self.entries.remove(buffer).is_some()
    }

    /// Notes that `buffer` is Y′CbCr ([`crate::buffers::shm_pixels`]).
    pub fn note_ycbcr(&mut self, buffer: ObjectId, ycbcr: Ycbcr) {
        self.ycbcr.insert(buffer, ycbcr);
    }

    pub fn ycbcr(&self, buffer: &ObjectId) -> Option<&Ycbcr> {
        self.ycbcr.get(buffer)
    }

    /// Forgets every import (the render device was rebuilt, or the policy changed).
    pub fn clear(&mut self) -> usize {
        let n = self.entries.len();
        self.entries.clear();
        n
    }

    /// How many wl_buffers are read in place now.
    pub fn imported(&self) -> usize {
        self.entries
            .values()
            .filter(|e| matches!(e, Entry::Imported { .. }))
            .count()
    }
}

/// Imports one buffer's pages.
///
/// # Safety
/// As [`ShmCache::source`].
unsafe fn import(
    renderer: &Renderer,
    limits: Limits,
    (pool, pool_len): (*const u8, usize),
    data: &ShmLayout,
    hints: &mut pool_file::FdHints,
) -> Result<Arc<PlanarSource>, NotInPlace> {
    let Some(align) = limits.alignment else {
        return Err(NotInPlace::NoHostImport);
    };
    let (format, opaque) = PlanarFormat::from_fourcc(data.fourcc())
        .ok_or_else(|| NotInPlace::Format(data.fourcc_str()))?;
    let (offset, end) = (data.start() as usize, data.end() as usize);
    let bytes = end.saturating_sub(offset);
    if bytes as u64 > limits.max_range {
        return Err(NotInPlace::TooLarge {
            bytes,
            max_range: limits.max_range,
        });
    }
    let align = usize::try_from(align).map_err(|_| NotInPlace::AlignmentRange)?;
    if end > pool_len {
        return Err(NotInPlace::OutsidePool);
    }
    let file = pool_file::sealed_file(pool, hints)?;
    let (view, start) = PoolView::new(&file, offset, bytes, align)?;
    // The planar shader reads 32-bit words: each plane must start and step on one.
    let mut planes = Vec::with_capacity(data.planes.len());
    for (i, p) in data.planes.iter().enumerate() {
        let at = start as u64 + (p.offset - data.start());
        if !p.stride.is_multiple_of(4) {
            return Err(NotInPlace::StrideNotWords {
                plane: i,
                stride: p.stride,
            });
        }
        if !at.is_multiple_of(4) {
            return Err(NotInPlace::OffsetNotWord {
                plane: i,
                offset: p.offset,
            });
        }
        planes.push(PlanarPlane {
            buffer: 0,
            offset: u32::try_from(at).map_err(|_| NotInPlace::OffsetRange)?,
            stride: u32::try_from(p.stride).map_err(|_| NotInPlace::StrideRange)?,
        });
    }
    let view = Arc::new(view);
    let keep: Arc<dyn Send + Sync> = view.clone();
    // SAFETY: `view` is page-aligned to `align` with a length rounded to it, and stays mapped as
    // long as `keep` (held by the import).
    let memory =
        unsafe { HostImport::import(renderer.device(), view.ptr(), view.len() as u64, keep) }
            .map_err(|e| NotInPlace::HostImport(Arc::new(e)))?;
    let layout = PlanarLayout {
        format,
        opaque,
        width: data.width,
        height: data.height,
        planes,
    };
    let memory: Vec<Arc<dyn PlanarMemory>> = vec![Arc::new(memory)];
    let source = renderer
        .create_planar(layout, memory)
        .map_err(|e| NotInPlace::Planar(Arc::new(e)))?;
    Ok(source)
}
