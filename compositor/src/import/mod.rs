//! Client dma-bufs on the render device: the planner picks rungs ([`planner`]), this module runs
//! them, the [`cache`] keeps the result per wl_buffer, and [`cpu`] is the `StageOnCpu` copy.
//!
//! Lifecycle of a dma-buf wl_buffer:
//! 1. `create`/`create_immed` passed the linux-dmabuf guard → [`Importer::import`] walks the plan;
//!    the first rung that works is the import (a miss); if none works the client gets `failed`
//!    (or `invalid_wl_buffer` for `create_immed`), and no wl_buffer exists.
//! 2. Each commit of the buffer → [`Importer::attach`]: a cache hit reuses the import (StageOnCpu
//!    copies the damaged rows again, the other rungs do nothing); a miss (after an invalidation)
//!    re-imports. A failure from here on is recorded on the surface and in the cache entry, never a
//!    protocol error: the wl_buffer exists, and linux-dmabuf forbids errors for it then.
//! 3. wl_buffer destroyed → its cache entry is dropped ([`Importer::buffer_destroyed`]).

pub mod cache;
pub mod convert;
pub mod cpu;
pub mod gpu;
pub mod planner;
pub mod shm_rows;

use std::os::fd::{AsFd as _, BorrowedFd};
use std::sync::{Arc, Mutex};

use gpu_allocator::MemoryLocation;
use serde::Serialize;
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Buffer as _;
use smithay::reexports::wayland_server::backend::ObjectId;
use tracing::debug;
use weft_protocols::drm_format::{self, MOD_INVALID, MOD_LINEAR};

use self::cache::{ClassKey, Drawable, Entry, Failure, FailureClass, ImportCache, Imported, Stage};
use self::cpu::{CpuStage, PlaneCopy};
use self::gpu::GpuStage;
use self::planner::{BufferDesc, PlanInput, Rung, ScanoutInput};
use crate::buffer::BufferInfo;
use crate::devices::{DeviceId, Registry};
use crate::render::external::{
    rgb_vk_format, ExportedBuffer, ImagePlane, ImportedBuffer, ImportedImage,
};
use crate::render::memory::HostBuffer;
use crate::render::planar::PlanarMemory;
use crate::render::{
    vk, Copier, DmabufCaps, ImportError, PlanarFormat, PlanarLayout, PlanarPlane, Renderer,
    YuvParams,
};

/// The Vulkan devices weft drives, by registry id (the render devices): a buffer produced on one of
/// them can be staged there (`StageOnSource`).
pub type Driven = [(DeviceId, Arc<crate::render::device::Device>)];

/// An advertised (fourcc, modifier, plane count).
pub type Advertised = (u32, u64, usize);

/// What the import paths may do, changeable at run time (`weft msg import-policy`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ImportPolicy {
    /// Rungs not to use (for comparisons and tests: force `StageOnCpu`, say).
    pub disabled: Vec<Rung>,
    /// Y′CbCr conversion for buffers nothing else describes.
    pub yuv: YuvParams,
    /// Whether wl_shm buffers may be read in place ([`crate::buffers::shm_in_place`]); off, they are
    /// copied at commit (`import-policy --disable ShmInPlace`).
    pub shm_in_place: bool,
    /// On a render device that is the CPU, whether `StageOnCpu` converts Y′CbCr to XRGB8888 once
    /// at commit (on) or copies the planes as they are for the planar shader to decode at each
    /// frame (off; `import-policy --cpu-convert off`, for comparisons).
    pub cpu_convert: bool,
}

impl Default for ImportPolicy {
    fn default() -> Self {
        Self {
            disabled: Vec::new(),
            yuv: YuvParams::default(),
            shm_in_place: true,
            cpu_convert: true,
        }
    }
}

/// The render device's dma-buf side: capabilities, policy and the import cache.
pub struct Importer {
    pub caps: DmabufCaps,
    pub policy: ImportPolicy,
    pub cache: ImportCache,
    /// wl_shm buffers read in place, by wl_buffer.
    pub shm: crate::buffers::shm_in_place::ShmCache,
    /// Why an import found the render device lost (its failure's reason); weft rebuilds it
    /// ([`Importer::take_device_lost`]).
    device_lost: Option<String>,
}

/// One distinct file behind one or more planes.
struct File<'a> {
    fd: BorrowedFd<'a>,
    size: u64,
    key: (u64, u64),
}

/// A dma-buf's planes grouped by distinct file (planes of one memfd/dma-buf share one import).
struct Planes<'a> {
    files: Vec<File<'a>>,
    /// Per plane: (file index, offset, stride).
    planes: Vec<(usize, u32, u32)>,
}

/// `DMA_BUF_MAGIC` of `include/uapi/linux/magic.h`: the f_type of the dmabuf pseudo-filesystem.
const DMA_BUF_MAGIC: u64 = 0x444d_4142;

/// Whether `fd` is a dma-buf exported by a kernel driver (not a file pretending to be one).
pub(crate) fn is_real_dmabuf(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    rustix::fs::fstatfs(fd).is_ok_and(|st| st.f_type as u64 == DMA_BUF_MAGIC)
}

impl<'a> Planes<'a> {
    fn of(dmabuf: &'a Dmabuf) -> Result<Self, ImportError> {
        let mut files: Vec<File<'a>> = Vec::new();
        let mut planes = Vec::new();
        for ((fd, offset), stride) in dmabuf.handles().zip(dmabuf.offsets()).zip(dmabuf.strides()) {
            let st = rustix::fs::fstat(fd)
                .map_err(|e| ImportError::Rejected(format!("fstat of a plane fd: {e}")))?;
            // Only memory that cannot shrink under weft's reads is imported: a shrinking file would
            // SIGBUS the compositor (and lavapipe, which imports any mappable fd). Real dma-bufs (on
            // the dmabuf pseudo-filesystem) never change size; a memfd standing in for one must be
            // sealed with F_SEAL_SHRINK; any other file is refused.
            if !is_real_dmabuf(fd) {
                let sealed = rustix::fs::fcntl_get_seals(fd)
                    .is_ok_and(|seals| seals.contains(rustix::fs::SealFlags::SHRINK));
                if !sealed {
                    return Err(ImportError::Rejected(
                        "neither a dma-buf nor a memfd sealed with F_SEAL_SHRINK (the memory could \
                         shrink while weft reads it)"
                            .into(),
                    ));
                }
            }
            let key = (st.st_dev, st.st_ino);
            let index = match files.iter().position(|f| f.key == key) {
                Some(i) => i,
                None => {
                    let size = rustix::fs::seek(fd, rustix::fs::SeekFrom::End(0)).map_err(|e| {
                        ImportError::Rejected(format!("the dma-buf's size is unknown (lseek: {e})"))
                    })?;
                    let _ = rustix::fs::seek(fd, rustix::fs::SeekFrom::Start(0));
                    files.push(File { fd, size, key });
                    files.len() - 1
                }
            };
            planes.push((index, offset, stride));
        }
        Ok(Self { files, planes })
    }

    /// Checks every plane against the format table and its file's current size (a re-import may
    /// find a file that shrank since `create`). Returns each plane's rows.
    fn check_extents(
        &self,
        fourcc: u32,
        width: u32,
        height: u32,
    ) -> Result<Vec<(u32, u32)>, ImportError> {
        let info = drm_format::info(fourcc).ok_or_else(|| {
            ImportError::Unsupported(format!(
                "format {} is unknown",
                drm_format::fourcc_str(fourcc)
            ))
        })?;
        if info.planes.len() != self.planes.len() {
            return Err(ImportError::Unsupported(
                "plane count does not match the format".into(),
            ));
        }
        let mut rows = Vec::new();
        for (i, ((file, offset, stride), layout)) in self.planes.iter().zip(info.planes).enumerate()
        {
            let (_, r) = layout.extent(width, height);
            let end = u64::from(*offset) + u64::from(*stride) * u64::from(r);
            let size = self.files.get(*file).map_or(0, |f| f.size);
            if end > size {
                return Err(ImportError::Rejected(format!(
                    "plane {i} needs {end} bytes, its dma-buf has {size}"
                )));
            }
            rows.push((r, layout.vsub));
        }
        Ok(rows)
    }
}

impl Importer {
    pub fn new(caps: DmabufCaps) -> Self {
        Self {
            caps,
            policy: ImportPolicy::default(),
            cache: ImportCache::default(),
            shm: Default::default(),
            device_lost: None,
        }
    }

    /// How an import since the last call found the render device lost, if one did.
    pub fn take_device_lost(&mut self) -> Option<String> {
        self.device_lost.take()
    }

    /// Every (fourcc, modifier, plane count) weft advertises, best tranche first: image-importable
    /// modifiers (`Sample`), then the linear formats every other rung reads — LINEAR always (the
    /// CPU can copy any linear dma-buf it can map), and INVALID too on a CPU device, whose implicit
    /// layout is linear.
    pub fn advertised(&self) -> (Vec<Advertised>, Vec<Advertised>) {
        let sample: Vec<_> = self
            .caps
            .image_modifiers
            .iter()
            .map(|&(f, m, n)| (f, m, n as usize))
            .collect();
        let mut linear = Vec::new();
        for f in drm_format::FORMATS {
            linear.push((f.fourcc, MOD_LINEAR, f.planes.len()));
            if self.caps.cpu_device {
                linear.push((f.fourcc, MOD_INVALID, f.planes.len()));
            }
        }
        (sample, linear)
    }

    /// Imports a dma-buf on the best rung that works (a cache miss).
    #[tracing::instrument(skip_all, fields(format = %drm_format::fourcc_str(dmabuf.format().code as u32)))]
    pub fn import(
        &mut self,
        renderer: &mut Renderer,
        devices: &Registry,
        sink: &DeviceId,
        driven: &Driven,
        dmabuf: &Dmabuf,
    ) -> Result<Arc<Imported>, Failure> {
        self.cache.count_miss();
        let result = self.import_uncounted(renderer, devices, sink, driven, dmabuf);
        if let Err(f) = &result {
            self.cache.count_failure();
            if f.class == FailureClass::DeviceLost {
                self.device_lost = Some(f.reason.clone());
            }
        }
        result
    }

    fn import_uncounted(
        &mut self,
        renderer: &mut Renderer,
        devices: &Registry,
        sink: &DeviceId,
        driven: &Driven,
        dmabuf: &Dmabuf,
    ) -> Result<Arc<Imported>, Failure> {
        let fds: Vec<_> = dmabuf.handles().collect();
        let source = devices.attribute(&fds);
        // The source is a GPU weft drives (not the sink itself): it can stage the buffer.
        let stager = source
            .device
            .as_ref()
            .filter(|d| *d != sink)
            .and_then(|d| driven.iter().find(|(id, _)| id == d))
            .map(|(_, device)| device);
        let format = dmabuf.format();
        let desc = BufferDesc {
            fourcc: format.code as u32,
            modifier: u64::from(format.modifier),
            planes: dmabuf.num_planes(),
        };
        let class = |rung| ClassKey {
            rung,
            source: source
                .device
                .as_ref()
                .map(|d| d.0.clone())
                .or_else(|| source.exporter.clone())
                .unwrap_or_else(|| "unknown".into()),
            sink: sink.clone(),
            fourcc: desc.fourcc,
            modifier: desc.modifier,
        };
        let display = devices.display_for_outputs();
        let input = PlanInput {
            caps: &self.caps,
            desc,
            access: devices.access(&source, sink),
            scanout: display.map(|d| ScanoutInput {
                planes: d.caps.planes.first().map_or(&[][..], |p| &p.formats),
                access: devices.access(&source, &d.id),
                // Per buffer: could it be a plane at all. Which surface is a candidate on which
                // output is the KMS backend's question.
                candidate: true,
                executor: false,
            }),
            source_stage: stager.is_some(),
            disabled: &self.policy.disabled,
        };
        let plan = planner::plan(&input, |r| self.cache.class_failure(&class(r)));
        let mut failures = Vec::new();
        let mut outcome = FailureClass::Unsupported;
        for rung in plan.attempts.iter().copied() {
            match self.try_rung(renderer, stager, dmabuf, &desc, rung) {
                Ok((draw, stage)) => {
                    let mut why: Vec<String> =
                        vec![format!("{}: {}", rung.name(), rung.describe())];
                    if rung == Rung::StageOnCpu && self.cpu_conversion(desc.fourcc).is_some() {
                        why.push(
                            "Y′CbCr converted to XRGB8888 in that copy (the render device is the \
                             CPU), then copied or drawn like RGB"
                                .into(),
                        );
                    }
                    if let Some(note) = &plan.note {
                        why.push(note.clone());
                    }
                    let skipped = plan.skipped_above(rung);
                    if !skipped.is_empty() {
                        why.push(skipped);
                    }
                    why.extend(
                        failures.iter().map(|(r, e, _): &(Rung, String, _)| {
                            format!("{} failed: {e}", r.name())
                        }),
                    );
                    let imported = Imported {
                        rung,
                        reason: why.join("; "),
                        reason_code: reason_code(&plan, &failures, rung),
                        info: buffer_info(dmabuf),
                        draw,
                        y_invert: dmabuf.y_inverted(),
                        stage,
                        source: source.clone(),
                    };
                    debug!(rung = rung.name(), reason = %imported.reason, "dma-buf imported");
                    return Ok(Arc::new(imported));
                }
                Err(ImportError::Unsupported(e)) => {
                    debug!(rung = rung.name(), error = %e, "rung unsupported for this class");
                    self.cache.remember_class_failure(class(rung), e.clone());
                    failures.push((rung, e, "failed_unsupported"));
                }
                Err(e) => {
                    debug!(rung = rung.name(), error = %e, "rung failed for this buffer");
                    outcome = match (&e, outcome) {
                        (_, FailureClass::DeviceLost) | (ImportError::DeviceLost(_), _) => {
                            FailureClass::DeviceLost
                        }
                        (ImportError::OutOfMemory { .. }, _) => FailureClass::OutOfMemory,
                        (ImportError::Temporary(_), c) if c != FailureClass::OutOfMemory => {
                            FailureClass::Temporary
                        }
                        (_, c) => c,
                    };
                    let code = match &e {
                        ImportError::Unsupported(_) => "failed_unsupported",
                        ImportError::Rejected(_) => "failed_rejected",
                        ImportError::Temporary(_) => "failed_temporary",
                        ImportError::OutOfMemory { .. } => "failed_out_of_memory",
                        ImportError::DeviceLost(_) => "failed_device_lost",
                    };
                    failures.push((rung, e.to_string(), code));
                }
            }
        }
        let mut why: Vec<String> = plan
            .skipped
            .iter()
            .map(|(r, e)| format!("{} skipped: {e}", r.name()))
            .collect();
        why.extend(
            failures
                .iter()
                .map(|(r, e, _)| format!("{} failed: {e}", r.name())),
        );
        Err(Failure {
            class: outcome,
            reason: format!("no import rung works: {}", why.join("; ")),
        })
    }

    /// Whether `bytes` of planes fit one storage-buffer descriptor of the render device; a buffer
    /// that does not is this buffer's problem (not its class's), so the next rung is tried.
    fn fits_one_descriptor(&self, bytes: u64) -> Result<(), ImportError> {
        let limit = self.caps.max_storage_buffer_range;
        if bytes > limit {
            return Err(ImportError::Rejected(format!(
                "its planes span {bytes} bytes, more than one storage buffer of the render device \
                 covers (maxStorageBufferRange {limit})"
            )));
        }
        Ok(())
    }

    fn try_rung(
        &self,
        renderer: &mut Renderer,
        stager: Option<&Arc<crate::render::device::Device>>,
        dmabuf: &Dmabuf,
        desc: &BufferDesc,
        rung: Rung,
    ) -> Result<(Drawable, Option<Stage>), ImportError> {
        let size = dmabuf.size();
        let (width, height) = (size.w as u32, size.h as u32);
        let planes = Planes::of(dmabuf)?;
        match rung {
            Rung::Scanout => Err(ImportError::Unsupported(
                "scanout is not executed on the render device".into(),
            )),
            Rung::ShmInPlace | Rung::Shm => Err(ImportError::Unsupported(
                "a wl_shm rung, not a dma-buf one".into(),
            )),
            Rung::StageOnSource => {
                let source = stager.ok_or_else(|| {
                    ImportError::Unsupported("no Vulkan device of the source".into())
                })?;
                let rows = planes.check_extents(desc.fourcc, width, height)?;
                let (copies, staged_planes, bytes) = pack_planes(&planes, &rows)?;
                self.fits_one_descriptor(bytes)?;
                // On the source device: its own buffer's memory in, a linear exported buffer out.
                let sources = import_files(source, &planes, vk::BufferUsageFlags::TRANSFER_SRC)?;
                let (exported, fd, handle_type) = ExportedBuffer::new(source, bytes.max(16))?;
                let stage =
                    GpuStage::new(sources, copies, Arc::new(exported), Copier::new(source)?)?;
                // The first copy is the whole buffer; later commits copy their damage.
                stage.copy_rows(0, height)?;
                // On the render device: the exported copy, read in place.
                let copy = ImportedBuffer::import_as(
                    renderer.device(),
                    fd.as_fd(),
                    bytes.max(16),
                    vk::BufferUsageFlags::STORAGE_BUFFER | vk::BufferUsageFlags::TRANSFER_SRC,
                    handle_type,
                )?;
                let layout = planar_layout(desc.fourcc, width, height, staged_planes.into_iter())?;
                let memory: Vec<Arc<dyn PlanarMemory>> = vec![Arc::new(copy)];
                Ok((
                    Drawable::Planar(renderer.create_planar(layout, memory)?),
                    Some(Stage::Gpu(stage)),
                ))
            }
            Rung::Sample => {
                let max = self.caps.max_image_dimension;
                if width > max || height > max {
                    return Err(ImportError::Rejected(format!(
                        "{width}x{height} is larger than the device's images \
                         (maxImageDimension2D {max})"
                    )));
                }
                let vk_format = rgb_vk_format(desc.fourcc).ok_or_else(|| {
                    ImportError::Unsupported("not a single-plane RGB format".into())
                })?;
                let (fd, offset, stride) = planes
                    .planes
                    .first()
                    .and_then(|&(file, offset, stride)| {
                        planes.files.get(file).map(|f| (f.fd, offset, stride))
                    })
                    .ok_or_else(|| ImportError::Rejected("a dma-buf without planes".into()))?;
                let image = ImportedImage::import(
                    renderer.device(),
                    fd,
                    vk_format,
                    (width, height),
                    desc.modifier,
                    ImagePlane { offset, stride },
                )?;
                let linear_filter = !self
                    .caps
                    .image_nearest_only
                    .contains(&(desc.fourcc, desc.modifier));
                let texture = renderer.adopt_imported(image, linear_filter)?;
                Ok((Drawable::Texture(texture), None))
            }
            Rung::SampleLinear => {
                planes.check_extents(desc.fourcc, width, height)?;
                let layout = planar_layout(
                    desc.fourcc,
                    width,
                    height,
                    planes.planes.iter().map(|&(f, o, s)| (f, o, s)),
                )?;
                for b in 0..planes.files.len() {
                    self.fits_one_descriptor(layout.extent_in(b))?;
                }
                let memory = planes
                    .files
                    .iter()
                    .map(|f| {
                        ImportedBuffer::import(
                            renderer.device(),
                            f.fd,
                            f.size,
                            // Read by the planar shader, or copied into the target by a cover.
                            vk::BufferUsageFlags::STORAGE_BUFFER
                                | vk::BufferUsageFlags::TRANSFER_SRC,
                        )
                        .map(|b| Arc::new(b) as Arc<dyn PlanarMemory>)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((
                    Drawable::Planar(renderer.create_planar(layout, memory)?),
                    None,
                ))
            }
            Rung::StageOnSink => {
                let rows = planes.check_extents(desc.fourcc, width, height)?;
                let (copies, staged_planes, bytes) = pack_planes(&planes, &rows)?;
                self.fits_one_descriptor(bytes)?;
                let sources = import_files(
                    renderer.device(),
                    &planes,
                    vk::BufferUsageFlags::TRANSFER_SRC,
                )?;
                let local = Arc::new(Mutex::new(HostBuffer::new(
                    renderer.device(),
                    bytes.max(16),
                    vk::BufferUsageFlags::STORAGE_BUFFER
                        | vk::BufferUsageFlags::TRANSFER_DST
                        | vk::BufferUsageFlags::TRANSFER_SRC,
                    MemoryLocation::GpuOnly,
                )?));
                let stage = GpuStage::new(
                    sources,
                    copies,
                    local.clone(),
                    Copier::new(renderer.device())?,
                )?;
                // Uploads queued for this device's next frame go first (its queue runs in order).
                renderer.flush_uploads()?;
                // The first copy is the whole buffer; later commits copy their damage.
                stage.copy_rows(0, height)?;
                let layout = planar_layout(desc.fourcc, width, height, staged_planes.into_iter())?;
                let memory: Vec<Arc<dyn PlanarMemory>> = vec![local];
                Ok((
                    Drawable::Planar(renderer.create_planar(layout, memory)?),
                    Some(Stage::Gpu(stage)),
                ))
            }
            Rung::StageOnCpu => {
                let rows = planes.check_extents(desc.fourcc, width, height)?;
                let (copies, staged_planes, bytes) = pack_planes(&planes, &rows)?;
                // On a CPU render device Y′CbCr is converted once here rather than decoded per
                // pixel per frame ([`convert`]).
                let conversion = self
                    .cpu_conversion(desc.fourcc)
                    .map(|chroma| cpu::Conversion {
                        chroma,
                        width,
                        yuv: self.policy.yuv,
                    });
                let bytes = match conversion {
                    Some(_) => u64::from(width) * 4 * u64::from(height),
                    None => bytes,
                };
                self.fits_one_descriptor(bytes)?;
                let layout = match conversion {
                    Some(_) => planar_layout(
                        drm_format::XRGB8888,
                        width,
                        height,
                        std::iter::once((0, 0, width * 4)),
                    )?,
                    None => planar_layout(desc.fourcc, width, height, staged_planes.into_iter())?,
                };
                // Front and back ([`cpu`]): a commit never waits for the frame reading the front.
                let mut staging = Vec::with_capacity(2);
                for _ in 0..2 {
                    let memory = Arc::new(Mutex::new(HostBuffer::new(
                        renderer.device(),
                        bytes.max(16),
                        vk::BufferUsageFlags::STORAGE_BUFFER | vk::BufferUsageFlags::TRANSFER_SRC,
                        MemoryLocation::CpuToGpu,
                    )?));
                    let read: Vec<Arc<dyn PlanarMemory>> = vec![memory.clone()];
                    let source = renderer.create_planar(layout.clone(), read)?;
                    staging.push(cpu::StagingCopy { memory, source });
                }
                let files = planes
                    .files
                    .iter()
                    .map(|f| {
                        f.fd.try_clone_to_owned()
                            .map(|fd| (fd, f.size))
                            .map_err(|e| ImportError::Temporary(format!("dup: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut stage = CpuStage::new(files, copies, staging)?;
                if let Some(conversion) = conversion {
                    stage = stage.converting(conversion)?;
                }
                // The first copy is the whole buffer; later commits copy their damage.
                stage.fill()?;
                let front = stage
                    .front()
                    .cloned()
                    .ok_or_else(|| ImportError::Rejected("no staging copy".into()))?;
                Ok((Drawable::Planar(front), Some(Stage::Cpu(Mutex::new(stage)))))
            }
        }
    }

    /// The cached import of `buffer` (a hit: `true`), or a fresh one (a miss, remembered either
    /// way).
    pub fn lookup_or_import(
        &mut self,
        renderer: &mut Renderer,
        devices: &Registry,
        sink: &DeviceId,
        driven: &Driven,
        buffer: &ObjectId,
        dmabuf: &Dmabuf,
    ) -> (Result<Arc<Imported>, Failure>, bool) {
        match self.cache.lookup(buffer, sink) {
            Some(Entry::Ready(i)) => (Ok(i), true),
            Some(Entry::Failed(why)) => (Err(why), true),
            None => {
                let result = self.import(renderer, devices, sink, driven, dmabuf);
                let entry = match &result {
                    Ok(i) => Entry::Ready(i.clone()),
                    Err(why) => Entry::Failed(why.clone()),
                };
                self.cache.insert(buffer.clone(), sink.clone(), entry);
                (result, false)
            }
        }
    }

    /// Forgets a destroyed wl_buffer's import.
    pub fn buffer_destroyed(&mut self, buffer: &ObjectId) {
        if self.cache.remove(buffer) {
            debug!(?buffer, "dma-buf import dropped with its wl_buffer");
        }
        if self.shm.remove(buffer) {
            debug!(?buffer, "wl_shm in-place import dropped with its wl_buffer");
        }
    }

    /// A new default Y′CbCr conversion: buffers `StageOnCpu` converted at commit are converted
    /// again now (a paused video shows the change too). Returns how many were.
    pub fn set_yuv(&mut self, renderer: &mut Renderer, yuv: YuvParams) -> usize {
        self.policy.yuv = yuv;
        let mut redone = 0;
        for imported in self.cache.ready() {
            let Some(Stage::Cpu(stage)) = &imported.stage else {
                continue;
            };
            let mut stage = stage.lock().unwrap_or_else(|p| p.into_inner());
            if !stage.set_yuv(yuv) {
                continue;
            }
            // The CPU rewrites the back copy: frames in flight still reading it finish first.
            if let Some(back) = stage.back() {
                if let Err(e) = renderer.wait_reads(Arc::as_ptr(back).cast()) {
                    debug!(error = %e, "waiting for frames before a reconversion");
                    continue;
                }
            }
            let height = stage.height();
            match stage.commit_rows(0, height) {
                Ok(_) => redone += 1,
                Err(e) => debug!(error = %e, "reconversion failed; the buffer keeps its colours"),
            }
        }
        redone
    }

    /// What the wl_shm guard noted of the Y′CbCr buffer `buffer` (kept until it is destroyed).
    pub fn shm_note_ycbcr(&mut self, buffer: ObjectId, ycbcr: crate::buffers::shm_pixels::Ycbcr) {
        self.shm.note_ycbcr(buffer, ycbcr);
    }

    /// The note of `buffer` if it is a Y′CbCr wl_shm buffer.
    pub fn shm_ycbcr(&self, buffer: &ObjectId) -> Option<&crate::buffers::shm_pixels::Ycbcr> {
        self.shm.ycbcr(buffer)
    }

    /// The in-place source of a wl_shm buffer, or why it is copied instead
    /// ([`crate::buffers::shm_in_place`]).
    ///
    /// # Safety
    /// `pool` is the buffer's live pool mapping (inside smithay's `with_buffer_contents`).
    pub unsafe fn shm_in_place(
        &mut self,
        renderer: &Renderer,
        buffer: &ObjectId,
        pool: (*const u8, usize),
        data: &crate::buffers::shm_pixels::ShmLayout,
        budget: Option<&Arc<crate::budget::ClientBudget>>,
    ) -> Result<Arc<crate::render::PlanarSource>, crate::buffers::shm_in_place::NotInPlace> {
        if !self.policy.shm_in_place {
            return Err(crate::buffers::shm_in_place::NotInPlace::Disabled);
        }
        let limits = crate::buffers::shm_in_place::Limits {
            alignment: self.caps.host_import_alignment,
            max_range: self.caps.max_storage_buffer_range,
        };
        // SAFETY: the caller's promise.
        unsafe {
            self.shm
                .source(renderer, limits, buffer, pool, data, budget)
        }
    }
}

/// Every distinct file of `planes` imported on `device` as a buffer for `usage`.
fn import_files(
    device: &Arc<crate::render::device::Device>,
    planes: &Planes<'_>,
    usage: vk::BufferUsageFlags,
) -> Result<Vec<Arc<ImportedBuffer>>, ImportError> {
    planes
        .files
        .iter()
        .map(|f| ImportedBuffer::import(device, f.fd, f.size, usage).map(Arc::new))
        .collect()
}

/// weft's own copy of a buffer for the staging rungs: each plane keeps its stride, planes packed
/// one after another (16-byte aligned). Returns the per-plane copies, the copy's planes as
/// (buffer 0, offset, stride) and its size.
type Packed = (Vec<PlaneCopy>, Vec<(usize, u32, u32)>, u64);

fn pack_planes(planes: &Planes<'_>, rows: &[(u32, u32)]) -> Result<Packed, ImportError> {
    let mut copies = Vec::new();
    let mut dst = 0u64;
    let mut staged_planes = Vec::new();
    for (&(file, offset, stride), &(r, vsub)) in planes.planes.iter().zip(rows) {
        copies.push(PlaneCopy {
            map: file,
            src_offset: u64::from(offset),
            dst_offset: dst,
            stride: u64::from(stride),
            rows: r,
            vsub,
        });
        let dst_offset =
            u32::try_from(dst).map_err(|_| ImportError::Rejected("buffer too large".into()))?;
        staged_planes.push((0usize, dst_offset, stride));
        dst = (dst + u64::from(stride) * u64::from(r)).next_multiple_of(16);
    }
    Ok((copies, staged_planes, dst))
}

impl Importer {
    /// How `StageOnCpu` converts `fourcc` on this device: Y′CbCr that the planar shader would
    /// decode per pixel per frame, on a device that is the CPU (unless the policy says not to).
    /// `None`: the planes are copied as they are.
    fn cpu_conversion(&self, fourcc: u32) -> Option<convert::Chroma> {
        if !self.caps.cpu_device || !self.policy.cpu_convert {
            return None;
        }
        convert::Chroma::of(fourcc)
    }
}

/// The planar layout of a buffer whose planes are `(buffer index, offset, stride)`.
fn planar_layout(
    fourcc: u32,
    width: u32,
    height: u32,
    planes: impl Iterator<Item = (usize, u32, u32)>,
) -> Result<PlanarLayout, ImportError> {
    let (format, opaque) = PlanarFormat::from_fourcc(fourcc).ok_or_else(|| {
        ImportError::Unsupported(format!(
            "the planar shader does not decode {}",
            drm_format::fourcc_str(fourcc)
        ))
    })?;
    Ok(PlanarLayout {
        format,
        opaque,
        width,
        height,
        planes: planes
            .map(|(buffer, offset, stride)| PlanarPlane {
                buffer,
                offset,
                stride,
            })
            .collect(),
    })
}

/// Introspection record of a dma-buf.
pub fn buffer_info(dmabuf: &Dmabuf) -> BufferInfo {
    let format = dmabuf.format();
    let size = dmabuf.size();
    BufferInfo {
        kind: "dmabuf",
        width: size.w,
        height: size.h,
        format: drm_format::fourcc_str(format.code as u32),
        modifier: Some(drm_format::modifier_str(u64::from(format.modifier))),
        planes: dmabuf.num_planes() as u32,
    }
}

/// Why a buffer that took `rung` is not on a better one, as a stable code: the nearest rung above
/// it in the ladder that was skipped or failed (`sample.multi_planar_yuv`,
/// `sample_linear.failed_rejected`), `<rung>.preferred_on_cpu_device` where the plan tried it ahead
/// of better rungs on a CPU render device, and `<rung>.best` where nothing above was in the way.
fn reason_code(
    plan: &planner::Plan,
    failures: &[(Rung, String, &'static str)],
    rung: Rung,
) -> String {
    let untried_above = plan
        .attempts
        .iter()
        .any(|r| *r < rung && !failures.iter().any(|f| f.0 == *r));
    if untried_above {
        return format!("{}.preferred_on_cpu_device", rung.code());
    }
    let above = plan
        .skipped
        .iter()
        .map(|(r, skip)| (*r, skip.code()))
        .chain(failures.iter().map(|(r, _, code)| (*r, *code)))
        .filter(|(r, _)| *r < rung)
        .max_by_key(|(r, _)| *r);
    match above {
        Some((r, code)) => format!("{}.{code}", r.code()),
        None => format!("{}.best", rung.code()),
    }
}
