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
use smithay::reexports::wayland_server::protocol::wl_shm;
use smithay::wayland::shm::BufferData;

use self::mapping::PoolView;
use crate::budget::{Charge, ClientBudget, Resource};
use crate::render::host_memory::HostImport;
use crate::render::planar::PlanarMemory;
use crate::render::{PlanarFormat, PlanarLayout, PlanarPlane, PlanarSource, Renderer};

/// The rung name of a wl_shm buffer read in place (`weft msg surfaces`, `import-policy`).
pub const RUNG: &str = "ShmInPlace";

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
    Refused(String),
}

/// In-place imports by wl_buffer.
#[derive(Default)]
pub struct ShmCache {
    entries: HashMap<ObjectId, Entry>,
    hints: pool_file::FdHints,
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
        data: &BufferData,
        budget: Option<&Arc<ClientBudget>>,
    ) -> Result<Arc<PlanarSource>, String> {
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
            .map_err(|over| over.to_string())?;
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

    /// Forgets `buffer`'s import (the wl_buffer is gone). Frames in flight keep theirs alive.
    pub fn remove(&mut self, buffer: &ObjectId) -> bool {
        self.entries.remove(buffer).is_some()
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

/// The planar decoding of a wl_shm format read in place, and whether its alpha is padding.
pub fn planar_format(format: wl_shm::Format) -> Option<(PlanarFormat, bool)> {
    Some(match format {
        wl_shm::Format::Argb8888 => (PlanarFormat::Xrgb8888, false),
        wl_shm::Format::Xrgb8888 => (PlanarFormat::Xrgb8888, true),
        wl_shm::Format::Abgr8888 => (PlanarFormat::Xbgr8888, false),
        wl_shm::Format::Xbgr8888 => (PlanarFormat::Xbgr8888, true),
        _ => return None,
    })
}

/// Imports one buffer's pages.
///
/// # Safety
/// As [`ShmCache::source`].
unsafe fn import(
    renderer: &Renderer,
    limits: Limits,
    (pool, pool_len): (*const u8, usize),
    data: &BufferData,
    hints: &mut pool_file::FdHints,
) -> Result<Arc<PlanarSource>, String> {
    let Some(align) = limits.alignment else {
        return Err(
            "the render device cannot import host memory (no VK_EXT_external_memory_host)".into(),
        );
    };
    let (format, opaque) = planar_format(data.format)
        .ok_or_else(|| format!("format {:?} is not read in place", data.format))?;
    let (width, height) = (data.width as u32, data.height as u32);
    let (offset, stride) = (data.offset as usize, data.stride as usize);
    if stride % 4 != 0 {
        return Err(format!(
            "stride {stride} is not a whole number of 32-bit words"
        ));
    }
    let bytes = stride * height as usize;
    if bytes as u64 > limits.max_range {
        return Err(format!(
            "{bytes} bytes are more than one storage descriptor covers (maxStorageBufferRange {})",
            limits.max_range
        ));
    }
    let align = usize::try_from(align).map_err(|_| "import alignment out of range".to_string())?;
    if offset.checked_add(bytes).is_none_or(|end| end > pool_len) {
        return Err("the buffer lies outside its pool".into());
    }
    let file = pool_file::sealed_file(pool, hints)?;
    let (view, start) = PoolView::new(&file, offset, bytes, align)?;
    if start % 4 != 0 {
        return Err(format!(
            "offset {offset} is not a whole number of 32-bit words"
        ));
    }
    let view = Arc::new(view);
    let keep: Arc<dyn Send + Sync> = view.clone();
    // SAFETY: `view` is page-aligned to `align` with a length rounded to it, and stays mapped as
    // long as `keep` (held by the import).
    let memory =
        unsafe { HostImport::import(renderer.device(), view.ptr(), view.len() as u64, keep) }
            .map_err(|e| e.to_string())?;
    let layout = PlanarLayout {
        format,
        opaque,
        width,
        height,
        planes: vec![PlanarPlane {
            buffer: 0,
            offset: start as u32,
            stride: stride as u32,
        }],
    };
    let memory: Vec<Arc<dyn PlanarMemory>> = vec![Arc::new(memory)];
    let source = renderer
        .create_planar(layout, memory)
        .map_err(|e| e.to_string())?;
    Ok(source)
}
