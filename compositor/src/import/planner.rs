//! The planner: which rungs to try for a (dma-buf, render device), in order, and why the others were
//! skipped.
//!
//! Pure decision logic over the render (sink) device's [`DmabufCaps`], the buffer's description,
//! how the sink reaches the source's memory ([`Access`], from the registry), the display device's
//! planes when one drives the output, the import policy and the failures remembered per class; the
//! import code (`super::import_dmabuf`) walks the plan. Rungs, best first (DESIGN.md's ladder):
//! - `Scanout`: the buffer on a KMS plane (0 copies, no GPU work); known here, executed by the KMS
//!   backend — elsewhere it is skipped with the reason;
//! - `Sample`: a `VkImage` with an explicit DRM modifier bound to the dma-buf (needs
//!   VK_EXT_image_drm_format_modifier and a single-plane RGB format);
//! - `SampleLinear`: the dma-buf imported as a storage buffer, read in place by the planar shader
//!   (linear layouts only);
//! - `StageOnSource`: the source GPU copies into linear memory the sink imports (the source must be
//!   a device weft drives with Vulkan);
//! - `StageOnSink`: the sink imports the memory for a transfer and copies it into its own buffer on
//!   its own queue (when sampling in place is impossible or would cross a slow bus per frame);
//! - `StageOnCpu`: mmap the dma-buf and copy it into weft's own buffer at each commit.

use serde::{Deserialize, Serialize};
use weft_protocols::drm_format::{self, FormatKind, MOD_INVALID, MOD_LINEAR};

use crate::devices::topology::Access;
use crate::render::DmabufCaps;

/// One rung of the ladder a surface's buffer takes: the dma-buf ladder, best first, then wl_shm's
/// two (read in place, copied). `weft msg surfaces` shows [`Rung::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rung {
    Scanout,
    Sample,
    SampleLinear,
    StageOnSource,
    StageOnSink,
    StageOnCpu,
    /// wl_shm: the pool's pages imported as host memory and read in place
    /// ([`crate::buffers::shm_in_place`]).
    ShmInPlace,
    /// wl_shm (and single-pixel buffers): copied into a texture at commit, or drawn as a colour.
    Shm,
}

impl Rung {
    /// Every rung, dma-buf's then wl_shm's.
    pub const ALL: [Rung; 8] = [
        Rung::Scanout,
        Rung::Sample,
        Rung::SampleLinear,
        Rung::StageOnSource,
        Rung::StageOnSink,
        Rung::StageOnCpu,
        Rung::ShmInPlace,
        Rung::Shm,
    ];

    /// The dma-buf ladder the planner walks, best first.
    pub const DMABUF: [Rung; 6] = [
        Rung::Scanout,
        Rung::Sample,
        Rung::SampleLinear,
        Rung::StageOnSource,
        Rung::StageOnSink,
        Rung::StageOnCpu,
    ];

    /// A stable identifier (snake_case) for reason codes.
    pub fn code(self) -> &'static str {
        match self {
            Self::Scanout => "scanout",
            Self::Sample => "sample",
            Self::SampleLinear => "sample_linear",
            Self::StageOnSource => "stage_on_source",
            Self::StageOnSink => "stage_on_sink",
            Self::StageOnCpu => "stage_on_cpu",
            Self::ShmInPlace => "shm_in_place",
            Self::Shm => "shm",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Scanout => "Scanout",
            Self::Sample => "Sample",
            Self::SampleLinear => "SampleLinear",
            Self::StageOnSource => "StageOnSource",
            Self::StageOnSink => "StageOnSink",
            Self::StageOnCpu => "StageOnCpu",
            Self::ShmInPlace => "ShmInPlace",
            Self::Shm => "Shm",
        }
    }

    /// Copies a commit costs on this rung.
    pub fn copies(self) -> u32 {
        match self {
            Self::Scanout | Self::Sample | Self::SampleLinear | Self::ShmInPlace => 0,
            Self::StageOnSource | Self::StageOnSink | Self::StageOnCpu | Self::Shm => 1,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(s))
    }

    /// What the rung does, for the recorded reason.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Scanout => "dma-buf put on a KMS plane (0 copies, no GPU work)",
            Self::Sample => "dma-buf bound to a VkImage with its explicit modifier and plane layout (0 copies)",
            Self::SampleLinear => {
                "dma-buf memory imported as a storage buffer and read in place by the planar shader (0 copies)"
            }
            Self::StageOnSource => {
                "copied on the source GPU into linear memory the render device imports (1 copy on the source)"
            }
            Self::StageOnSink => {
                "dma-buf imported for transfer and copied on the render device's queue into its own buffer (1 GPU copy)"
            }
            Self::StageOnCpu => "dma-buf mmapped and copied into weft's buffer at each commit (1 CPU copy)",
            Self::ShmInPlace => "wl_shm pool pages imported as host memory and read in place (0 copies)",
            Self::Shm => "wl_shm copied into a sampled texture at commit (1 copy)",
        }
    }
}

/// What the planner needs to know about a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferDesc {
    pub fourcc: u32,
    pub modifier: u64,
    pub planes: usize,
}

/// The rungs to try, best first, and every rung that was skipped with its reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub attempts: Vec<Rung>,
    pub skipped: Vec<(Rung, Skip)>,
    /// Why the attempts are not in ladder order, when they are not.
    pub note: Option<String>,
}

impl Plan {
    /// "Sample: why; SampleLinear: why" for the skipped rungs above `rung`.
    pub fn skipped_above(&self, rung: Rung) -> String {
        self.skipped
            .iter()
            .filter(|(r, _)| *r < rung)
            .map(|(r, why)| format!("{} skipped: {why}", r.name()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Why the planner did not try a rung: data, turned into text only where it is shown
/// ([`Skip::code`] is the stable part `weft msg surfaces` carries as `reason_code`).
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    UnknownFormat(u32),
    Disabled,
    /// This buffer's class (source, sink, format, modifier) failed on the rung before.
    FailedBefore(String),
    NoDisplayDevice,
    DisplayCannotImport,
    NoPlaneFormat,
    NotPlaneCandidate,
    NoScanoutBackend,
    /// How the render device reaches the source's memory rules the rung out.
    Access(Access),
    NoModifierExtension,
    MultiPlanarYuv,
    ImplicitModifier,
    NoImageModifier,
    SourceNotVulkanGpu,
    CpuCannotDetile,
    NoExternalMemory,
    NoBufferImport,
    NotLinear,
    /// A wl_shm rung: the dma-buf ladder never takes it.
    NotDmabuf,
}

impl Skip {
    /// A stable identifier (snake_case) of this reason.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownFormat(_) => "unknown_format",
            Self::Disabled => "disabled_by_policy",
            Self::FailedBefore(_) => "failed_before_for_class",
            Self::NoDisplayDevice => "no_display_device",
            Self::DisplayCannotImport => "display_cannot_import",
            Self::NoPlaneFormat => "no_plane_format",
            Self::NotPlaneCandidate => "not_plane_candidate",
            Self::NoScanoutBackend => "no_scanout_backend",
            Self::Access(Access::None) => "cannot_import_source_memory",
            Self::Access(Access::CopyOnly) => "source_memory_copy_only",
            Self::Access(_) => "access",
            Self::NoModifierExtension => "no_modifier_extension",
            Self::MultiPlanarYuv => "multi_planar_yuv",
            Self::ImplicitModifier => "implicit_modifier",
            Self::NoImageModifier => "no_image_modifier",
            Self::SourceNotVulkanGpu => "source_not_vulkan_gpu",
            Self::CpuCannotDetile => "cpu_cannot_detile",
            Self::NoExternalMemory => "no_external_memory",
            Self::NoBufferImport => "no_buffer_import",
            Self::NotLinear => "not_linear",
            Self::NotDmabuf => "not_dmabuf",
        }
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownFormat(fourcc) => write!(
                f,
                "format {} is not one weft decodes",
                drm_format::fourcc_str(*fourcc)
            ),
            Self::Disabled => f.write_str("disabled by the import policy"),
            Self::FailedBefore(why) => write!(
                f,
                "failed before for this source, device, format and modifier: {why}"
            ),
            Self::NoDisplayDevice => {
                f.write_str("no display device drives this output (headless or nested)")
            }
            Self::DisplayCannotImport => {
                f.write_str("the display device cannot import the source device's memory")
            }
            Self::NoPlaneFormat => {
                f.write_str("no plane of the display device scans out this format+modifier")
            }
            Self::NotPlaneCandidate => {
                f.write_str("the surface is not a plane candidate (covered, scaled or blended)")
            }
            Self::NoScanoutBackend => {
                f.write_str("a plane would take it; only the KMS backend executes scanout")
            }
            Self::Access(Access::None) => {
                f.write_str("the render device cannot import the source device's memory")
            }
            Self::Access(Access::CopyOnly) => f.write_str(
                "the render device reaches the source's memory only for copies (sampling it per \
                 frame would cross a slow bus)",
            ),
            Self::Access(other) => write!(f, "access {other:?}"),
            Self::NoModifierExtension => f.write_str(
                "VK_EXT_image_drm_format_modifier is not available on the render device",
            ),
            Self::MultiPlanarYuv => f.write_str(
                "multi-planar Y′CbCr would need a sampler Y′CbCr conversion, which this rung does \
                 not build",
            ),
            Self::ImplicitModifier => f.write_str(
                "an implicit modifier gives no explicit layout to create the image with",
            ),
            Self::NoImageModifier => {
                f.write_str("the device cannot import this format+modifier as a sampled image")
            }
            Self::SourceNotVulkanGpu => {
                f.write_str("the source is not a GPU weft drives with Vulkan")
            }
            Self::CpuCannotDetile => f.write_str("the CPU cannot detile this modifier"),
            Self::NoExternalMemory => {
                f.write_str("VK_EXT_external_memory_dma_buf is not available on the render device")
            }
            Self::NoBufferImport => f.write_str("the device cannot import dma-bufs as buffers"),
            Self::NotLinear => f.write_str("only a linear layout can be read as a buffer"),
            Self::NotDmabuf => f.write_str("a wl_shm rung"),
        }
    }
}

/// Whether the buffer's layout is linear as far as weft can tell: LINEAR, or INVALID (implicit) on a
/// CPU device, whose implicit dma-buf layout is linear.
fn is_linear(caps: &DmabufCaps, modifier: u64) -> bool {
    modifier == MOD_LINEAR || (modifier == MOD_INVALID && caps.cpu_device)
}

/// The display side of a plan: the device that scans the output out.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanoutInput<'a> {
    /// Every plane's (fourcc, modifiers); an empty modifier list means "no explicit modifier"
    /// (LINEAR or INVALID fit it).
    pub planes: &'a [(u32, Vec<u64>)],
    /// How the display device reaches the buffer's memory.
    pub access: Access,
    /// The surface could be a plane: opaque or on top, unscaled, covering what it would cover.
    pub candidate: bool,
    /// A backend that executes scanout (the KMS backend) drives this output.
    pub executor: bool,
}

/// Everything the planner decides on.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub caps: &'a DmabufCaps,
    pub desc: BufferDesc,
    /// How the render device reaches the buffer's memory.
    pub access: Access,
    /// The output's display device, if weft drives one (headless and nested outputs have none).
    pub scanout: Option<ScanoutInput<'a>>,
    /// The source is a GPU weft drives with Vulkan, whose exports the render device imports.
    pub source_stage: bool,
    /// Rungs switched off by policy.
    pub disabled: &'a [Rung],
}

/// Plans the import described by `input`. `failed_class(rung)`: the reason this buffer's class
/// (source, sink, format, modifier) already failed on `rung`, if it did.
pub fn plan(input: &PlanInput<'_>, failed_class: impl Fn(Rung) -> Option<String>) -> Plan {
    let mut out = Plan::default();
    let format = drm_format::info(input.desc.fourcc);
    for rung in Rung::DMABUF {
        // (Interlaced buffers never get here: the linux-dmabuf guard answers them with `failed`.)
        let skip = if format.is_none() {
            Some(Skip::UnknownFormat(input.desc.fourcc))
        } else if input.disabled.contains(&rung) {
            Some(Skip::Disabled)
        } else {
            precondition(input, rung, format.map(|f| f.kind))
                .or_else(|| failed_class(rung).map(Skip::FailedBefore))
        };
        match skip {
            Some(why) => out.skipped.push((rung, why)),
            None => out.attempts.push(rung),
        }
    }
    // On a CPU device, Y′CbCr left to the shader costs more than StageOnCpu's conversion: those
    // rungs go after it (still there when it is disabled or fails).
    if let Some(why) = decoded_by_cpu(input.caps, format.map(|f| f.kind)) {
        if let Some(at) = out.attempts.iter().position(|r| *r == Rung::StageOnCpu) {
            let (before, after): (Vec<Rung>, Vec<Rung>) = out
                .attempts
                .iter()
                .take(at)
                .partition(|r| !matches!(r, Rung::SampleLinear | Rung::StageOnSink));
            if !after.is_empty() {
                let mut attempts = before;
                attempts.push(Rung::StageOnCpu);
                attempts.extend(after);
                attempts.extend(out.attempts.iter().skip(at + 1));
                out.attempts = attempts;
                out.note = Some(format!("tried before SampleLinear and StageOnSink: {why}"));
            }
        }
    }
    out
}

fn precondition(input: &PlanInput<'_>, rung: Rung, kind: Option<FormatKind>) -> Option<Skip> {
    let (caps, desc) = (input.caps, &input.desc);
    match rung {
        Rung::Scanout => {
            let Some(s) = &input.scanout else {
                return Some(Skip::NoDisplayDevice);
            };
            let fits = s.planes.iter().any(|(f, mods)| {
                *f == desc.fourcc
                    && if mods.is_empty() {
                        desc.modifier == MOD_LINEAR || desc.modifier == MOD_INVALID
                    } else {
                        mods.contains(&desc.modifier)
                    }
            });
            if !s.access.imports() || s.access == Access::CopyOnly {
                Some(Skip::DisplayCannotImport)
            } else if !fits {
                Some(Skip::NoPlaneFormat)
            } else if !s.candidate {
                Some(Skip::NotPlaneCandidate)
            } else if !s.executor {
                Some(Skip::NoScanoutBackend)
            } else {
                None
            }
        }
        Rung::Sample => {
            if !input.access.samples() {
                Some(Skip::Access(input.access))
            } else if !caps.modifiers {
                Some(Skip::NoModifierExtension)
            } else if !matches!(kind, Some(FormatKind::Rgb { .. })) || desc.planes != 1 {
                Some(Skip::MultiPlanarYuv)
            } else if desc.modifier == MOD_INVALID {
                Some(Skip::ImplicitModifier)
            } else if !caps
                .image_modifiers
                .iter()
                .any(|(f, m, _)| *f == desc.fourcc && *m == desc.modifier)
            {
                Some(Skip::NoImageModifier)
            } else {
                None
            }
        }
        Rung::SampleLinear => {
            if !input.access.samples() {
                Some(Skip::Access(input.access))
            } else {
                buffer_import(caps, desc)
            }
        }
        Rung::StageOnSource => {
            if !input.source_stage {
                Some(Skip::SourceNotVulkanGpu)
            } else {
                None
            }
        }
        Rung::StageOnSink => {
            if !input.access.imports() {
                Some(Skip::Access(input.access))
            } else {
                buffer_import(caps, desc)
            }
        }
        Rung::StageOnCpu => {
            if !is_linear(caps, desc.modifier) {
                Some(Skip::CpuCannotDetile)
            } else {
                None
            }
        }
        Rung::ShmInPlace | Rung::Shm => Some(Skip::NotDmabuf),
    }
}

/// Why a rung that leaves Y′CbCr for the planar shader does not pay on a CPU render device: the
/// shader decodes every pixel of every frame that redraws it, in software, where `StageOnCpu`
/// converts each commit's damaged rows once (the rule: a zero-copy promise must not cost
/// more CPU than the copy it saves).
fn decoded_by_cpu(caps: &DmabufCaps, kind: Option<FormatKind>) -> Option<String> {
    (caps.cpu_device && matches!(kind, Some(FormatKind::Yuv { bits: 8 }))).then(|| {
        "the render device is the CPU: decoding Y′CbCr in its shader for every pixel of every \
         frame costs more CPU than StageOnCpu converting each commit once"
            .into()
    })
}

/// Whether the render device can import the buffer's memory as a VkBuffer (linear layouts).
fn buffer_import(caps: &DmabufCaps, desc: &BufferDesc) -> Option<Skip> {
    if !caps.external_memory {
        Some(Skip::NoExternalMemory)
    } else if !caps.buffer_import {
        Some(Skip::NoBufferImport)
    } else if !is_linear(caps, desc.modifier) {
        Some(Skip::NotLinear)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_protocols::drm_format::{ARGB8888, NV12, XRGB8888};

    /// An Intel Y-tiled modifier and an AMD one: vendor layouts no other vendor samples.
    const INTEL_Y: u64 = 0x0100_0000_0000_0002;
    const AMD_TILED: u64 = 0x0200_0000_0000_1234;

    fn host_lavapipe() -> DmabufCaps {
        DmabufCaps {
            external_memory: true,
            buffer_import: true,
            cpu_device: true,
            ..Default::default()
        }
    }

    fn guest_lavapipe() -> DmabufCaps {
        DmabufCaps {
            modifiers: true,
            image_modifiers: vec![(ARGB8888, MOD_LINEAR, 1)],
            ..host_lavapipe()
        }
    }

    fn gpu(image_modifiers: Vec<(u32, u64, u32)>) -> DmabufCaps {
        DmabufCaps {
            external_memory: true,
            buffer_import: true,
            modifiers: true,
            image_modifiers,
            cpu_device: false,
            ..Default::default()
        }
    }

    fn desc(fourcc: u32, modifier: u64, planes: usize) -> BufferDesc {
        BufferDesc {
            fourcc,
            modifier,
            planes,
        }
    }

    fn input<'a>(
        caps: &'a DmabufCaps,
        d: BufferDesc,
        access: Access,
        disabled: &'a [Rung],
    ) -> PlanInput<'a> {
        PlanInput {
            caps,
            desc: d,
            access,
            scanout: None,
            source_stage: false,
            disabled,
        }
    }

    /// (name, device caps, buffer, disabled rungs, expected plan) on the render device alone.
    type Case = (&'static str, DmabufCaps, BufferDesc, Vec<Rung>, Vec<Rung>);

    #[test]
    fn plans_table() {
        use Rung::*;
        let none = |_| None;
        let cases: Vec<Case> = vec![
            (
                "host rgb",
                host_lavapipe(),
                desc(ARGB8888, MOD_LINEAR, 1),
                vec![],
                vec![SampleLinear, StageOnSink, StageOnCpu],
            ),
            (
                "guest rgb",
                guest_lavapipe(),
                desc(ARGB8888, MOD_LINEAR, 1),
                vec![],
                vec![Sample, SampleLinear, StageOnSink, StageOnCpu],
            ),
            (
                // The render device is the CPU: Y′CbCr is converted once per commit rather than
                // decoded by the shader per pixel per frame.
                "guest nv12",
                guest_lavapipe(),
                desc(NV12, MOD_LINEAR, 2),
                vec![],
                vec![StageOnCpu, SampleLinear, StageOnSink],
            ),
            (
                "implicit on cpu",
                host_lavapipe(),
                desc(NV12, MOD_INVALID, 2),
                vec![],
                vec![StageOnCpu, SampleLinear, StageOnSink],
            ),
            (
                "nv12 on cpu, conversion disabled: decoded in place after all",
                host_lavapipe(),
                desc(NV12, MOD_LINEAR, 2),
                vec![StageOnCpu],
                vec![SampleLinear, StageOnSink],
            ),
            (
                "nv12 on a gpu: decoded in place",
                gpu(vec![(ARGB8888, MOD_LINEAR, 1)]),
                desc(NV12, MOD_LINEAR, 2),
                vec![],
                vec![SampleLinear, StageOnSink, StageOnCpu],
            ),
            (
                "disabled",
                host_lavapipe(),
                desc(ARGB8888, MOD_LINEAR, 1),
                vec![SampleLinear, StageOnSink],
                vec![StageOnCpu],
            ),
            (
                "unknown format",
                host_lavapipe(),
                desc(0x2020_2020, MOD_LINEAR, 1),
                vec![],
                vec![],
            ),
            (
                "tiled",
                guest_lavapipe(),
                desc(ARGB8888, 0x0100_0000_0000_0001, 1),
                vec![],
                vec![],
            ),
            (
                "no external memory",
                DmabufCaps {
                    cpu_device: true,
                    ..Default::default()
                },
                desc(NV12, MOD_LINEAR, 2),
                vec![],
                vec![StageOnCpu],
            ),
            (
                "implicit on a gpu",
                DmabufCaps {
                    cpu_device: false,
                    ..host_lavapipe()
                },
                desc(ARGB8888, MOD_INVALID, 1),
                vec![],
                vec![],
            ),
        ];
        for (name, caps, d, disabled, want) in cases {
            let p = plan(&input(&caps, d, Access::Shared, &disabled), none);
            assert_eq!(p.attempts, want, "{name}: {p:?}");
            assert_eq!(
                p.attempts.len() + p.skipped.len(),
                Rung::DMABUF.len(),
                "{name}: every rung is tried or has a reason"
            );
        }
    }

    type Planes = Vec<(u32, Vec<u64>)>;

    /// One simulated machine: what the render device is, what the display scans out, how each
    /// reaches the buffer, and the plan expected.
    struct Topology {
        name: &'static str,
        sink: DmabufCaps,
        buffer: BufferDesc,
        access: Access,
        display: Option<(Planes, Access)>,
        source_stage: bool,
        failed: Option<Rung>,
        want: Vec<Rung>,
        /// A word the reason of the first skipped rung must contain.
        why_scanout: &'static str,
    }

    #[test]
    fn topologies_table() {
        use Rung::*;
        let soc_planes = vec![(XRGB8888, vec![MOD_LINEAR]), (NV12, vec![MOD_LINEAR])];
        let topologies = [
            Topology {
                name: "hybrid: iGPU-rendered linear buffer, dGPU renders (sysmem across PCIe)",
                sink: gpu(vec![(ARGB8888, MOD_LINEAR, 1)]),
                buffer: desc(ARGB8888, MOD_LINEAR, 1),
                access: Access::CopyOnly,
                display: None,
                source_stage: true,
                failed: None,
                want: vec![StageOnSource, StageOnSink, StageOnCpu],
                why_scanout: "no display device",
            },
            Topology {
                name: "hybrid: iGPU Y-tiled buffer, only the iGPU can detile it",
                sink: gpu(vec![(ARGB8888, MOD_LINEAR, 1)]),
                buffer: desc(ARGB8888, INTEL_Y, 1),
                access: Access::CopyOnly,
                display: None,
                source_stage: true,
                failed: None,
                want: vec![StageOnSource],
                why_scanout: "no display device",
            },
            Topology {
                name: "V4L2 decoder + GPU: linear NV12, access unknown until tried",
                sink: gpu(vec![(ARGB8888, MOD_LINEAR, 1)]),
                buffer: desc(NV12, MOD_LINEAR, 2),
                access: Access::Unknown,
                display: None,
                source_stage: false,
                failed: None,
                want: vec![SampleLinear, StageOnSink, StageOnCpu],
                why_scanout: "no display device",
            },
            Topology {
                name: "V4L2 decoder the GPU cannot import from",
                sink: gpu(vec![]),
                buffer: desc(NV12, MOD_LINEAR, 2),
                access: Access::None,
                display: None,
                source_stage: false,
                failed: None,
                want: vec![StageOnCpu],
                why_scanout: "no display device",
            },
            Topology {
                name: "decoder and display on one SoC: NV12 straight to a plane",
                sink: gpu(vec![(ARGB8888, MOD_LINEAR, 1)]),
                buffer: desc(NV12, MOD_LINEAR, 2),
                access: Access::Shared,
                display: Some((soc_planes.clone(), Access::Shared)),
                source_stage: false,
                failed: None,
                want: vec![Scanout, SampleLinear, StageOnSink, StageOnCpu],
                why_scanout: "",
            },
            Topology {
                name: "SoC display cannot reach the decoder's memory",
                sink: gpu(vec![]),
                buffer: desc(NV12, MOD_LINEAR, 2),
                access: Access::Shared,
                display: Some((soc_planes, Access::None)),
                source_stage: false,
                failed: None,
                want: vec![SampleLinear, StageOnSink, StageOnCpu],
                why_scanout: "cannot import",
            },
            Topology {
                name: "software only (lavapipe, memfd or udmabuf)",
                sink: host_lavapipe(),
                buffer: desc(XRGB8888, MOD_LINEAR, 1),
                access: Access::Shared,
                display: None,
                source_stage: false,
                failed: None,
                want: vec![SampleLinear, StageOnSink, StageOnCpu],
                why_scanout: "no display device",
            },
            Topology {
                name: "vendor-modifier mismatch: AMD-tiled buffer on an NVIDIA sink",
                sink: gpu(vec![(ARGB8888, MOD_LINEAR, 1)]),
                buffer: desc(ARGB8888, AMD_TILED, 1),
                access: Access::PeerToPeer,
                display: Some((vec![(ARGB8888, vec![MOD_LINEAR])], Access::PeerToPeer)),
                source_stage: true,
                failed: None,
                want: vec![StageOnSource],
                why_scanout: "no plane",
            },
            Topology {
                name: "an import that fails only at run time (remembered for its class)",
                sink: host_lavapipe(),
                buffer: desc(XRGB8888, MOD_LINEAR, 1),
                access: Access::Unknown,
                display: None,
                source_stage: false,
                failed: Some(SampleLinear),
                want: vec![StageOnSink, StageOnCpu],
                why_scanout: "no display device",
            },
            Topology {
                name: "the display device disappeared: no plane any more",
                sink: gpu(vec![(ARGB8888, MOD_LINEAR, 1)]),
                buffer: desc(ARGB8888, MOD_LINEAR, 1),
                access: Access::Local,
                display: None,
                source_stage: false,
                failed: None,
                want: vec![Sample, SampleLinear, StageOnSink, StageOnCpu],
                why_scanout: "no display device",
            },
        ];
        for t in &topologies {
            let scanout = t.display.as_ref().map(|(planes, access)| ScanoutInput {
                planes,
                access: *access,
                candidate: true,
                executor: true,
            });
            let input = PlanInput {
                caps: &t.sink,
                desc: t.buffer,
                access: t.access,
                scanout,
                source_stage: t.source_stage,
                disabled: &[],
            };
            let p = plan(&input, |r| {
                (Some(r) == t.failed).then(|| "VK_ERROR_INVALID_EXTERNAL_HANDLE".into())
            });
            assert_eq!(p.attempts, t.want, "{}: {p:?}", t.name);
            if let Some((_, why)) = p.skipped.iter().find(|(r, _)| *r == Scanout) {
                assert!(why.to_string().contains(t.why_scanout), "{}: {why}", t.name);
            }
            if let Some(failed) = t.failed {
                let why = p.skipped_above(Rung::StageOnCpu);
                assert!(
                    why.contains(&format!("{} skipped: failed before", failed.name())),
                    "{}: {why}",
                    t.name
                );
            }
        }
    }

    #[test]
    fn scanout_needs_a_candidate_and_the_kms_backend() {
        let planes = vec![(XRGB8888, vec![])];
        let caps = host_lavapipe();
        for (candidate, executor, want) in [
            (true, true, None),
            (false, true, Some("not a plane candidate")),
            (true, false, Some("only the KMS backend")),
        ] {
            let input = PlanInput {
                scanout: Some(ScanoutInput {
                    planes: &planes,
                    access: Access::Local,
                    candidate,
                    executor,
                }),
                ..input(&caps, desc(XRGB8888, MOD_LINEAR, 1), Access::Local, &[])
            };
            let p = plan(&input, |_| None);
            let why = p
                .skipped
                .iter()
                .find(|(r, _)| *r == Rung::Scanout)
                .map(|(_, w)| w.to_string());
            match want {
                None => assert_eq!(p.attempts.first(), Some(&Rung::Scanout), "{p:?}"),
                Some(w) => assert!(why.is_some_and(|why| why.contains(w)), "{p:?}"),
            }
        }
    }

    #[test]
    fn rung_names_round_trip() {
        for r in Rung::ALL {
            assert_eq!(Rung::parse(r.name()), Some(r));
        }
        assert_eq!(Rung::parse("stageoncpu"), Some(Rung::StageOnCpu));
        assert_eq!(Rung::parse("Teleport"), None);
    }
}
