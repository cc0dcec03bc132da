//! linux-dmabuf feedback (v4+): the format table and tranches weft advertises, built from what the
//! render device can really import (see [`crate::import::Importer::advertised`]).
//!
//! Tranches, best first, all targeting the render device:
//! 1. (fourcc, modifier) pairs the device imports as a sampled `VkImage` (rung `Sample`; only with
//!    VK_EXT_image_drm_format_modifier);
//! 2. every format weft decodes, LINEAR (rungs `SampleLinear` and `StageOnCpu`), plus INVALID on a
//!    CPU device, whose implicit layout is linear.
//!
//! `main_device` names a real device clients can allocate on whose buffers the render device
//! imports ([`crate::devices::Registry::main_device`]): the render device's own DRM node (render
//! node preferred) when it has one; for a render device without one (lavapipe) a DRM device whose
//! buffers are memory it reads — a render-only allocator such as vgem first, by its primary node,
//! where dumb buffers are made. Only where the machine has no DRM device at all (a plain host) is
//! it 0 (no device): smithay needs *some* dev_t, and a client then allocates system memory (memfd,
//! udmabuf, dma-heap), which is what a CPU renderer reads best.

use smithay::backend::allocator::{Format, Fourcc, Modifier};
use smithay::wayland::dmabuf::{DmabufFeedback, DmabufFeedbackBuilder};
use weft_protocols::dmabuf_guard::DmabufGuardData;

use std::collections::HashMap;

use weft_protocols::drm_format::MOD_LINEAR;

use crate::import::{Advertised, Importer};

/// The dev_t sent as `main_device` and tranche target when the render device has no DRM node.
pub const NO_DRM_NODE: u64 = 0;

/// What a surface's feedback says beyond the default (feedback steering): a tranche for the known
/// source device of its buffers, when the render device reads that device's memory in place —
/// the client keeps allocating there, zero copies. When that stops being true (the source went
/// away, or the render device changed and can no longer reach it) the tranche goes, and the
/// surface's feedback is sent again so the client reallocates where the render device reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Steering {
    /// The source device's `dev_t` and the fourccs it produces that the render device reads.
    pub source: Option<(u64, Vec<u32>)>,
}

/// The default feedback and every steered variant built so far (each holds a format-table file,
/// so variants are built once and shared).
pub struct FeedbackBook {
    sample: Vec<Advertised>,
    linear: Vec<Advertised>,
    main: u64,
    default: DmabufFeedback,
    built: HashMap<Steering, DmabufFeedback>,
}

impl FeedbackBook {
    /// The book, and the guard data that knows the advertised pairs.
    pub fn new(
        importer: &Importer,
        main_device: Option<u64>,
    ) -> std::io::Result<(Self, DmabufGuardData)> {
        let (sample, linear) = importer.advertised();
        let main = main_device.unwrap_or(NO_DRM_NODE);
        let default = build_with(&sample, &linear, main, &Steering::default())?;
        let mut guard =
            DmabufGuardData::new(sample.iter().chain(&linear).map(|&(f, m, n)| ((f, m), n)));
        // The default feedback never changes while weft runs, so the guard may serve
        // default-feedback objects itself (smithay 0.7 would keep one list entry per dead client).
        guard.set_default_feedback(default.clone());
        Ok((
            Self {
                sample,
                linear,
                main,
                default,
                built: HashMap::new(),
            },
            guard,
        ))
    }

    pub fn default_feedback(&self) -> &DmabufFeedback {
        &self.default
    }

    /// The feedback for `steering` (built on first use; `None` if its table cannot be made).
    pub fn for_steering(&mut self, steering: &Steering) -> Option<DmabufFeedback> {
        if *steering == Steering::default() {
            return Some(self.default.clone());
        }
        if let Some(f) = self.built.get(steering) {
            return Some(f.clone());
        }
        let f = build_with(&self.sample, &self.linear, self.main, steering).ok()?;
        self.built.insert(steering.clone(), f.clone());
        Some(f)
    }
}

fn to_format(&(fourcc, modifier, _): &Advertised) -> Option<Format> {
    Fourcc::try_from(fourcc).ok().map(|code| Format {
        code,
        modifier: Modifier::from(modifier),
    })
}

/// Tranches, best first: the render device's sampled images, the source device's formats (when
/// steered there), then everything else weft reads (the main tranche).
fn build_with(
    sample: &[Advertised],
    linear: &[Advertised],
    main: u64,
    steering: &Steering,
) -> std::io::Result<DmabufFeedback> {
    let all: Vec<Format> = sample.iter().chain(linear).filter_map(to_format).collect();
    let mut builder = DmabufFeedbackBuilder::new(main, all);
    if !sample.is_empty() {
        builder = builder.add_preference_tranche(main, None, sample.iter().filter_map(to_format));
    }
    if let Some((dev, fourccs)) = &steering.source {
        let produced = linear
            .iter()
            .filter(|(f, m, _)| fourccs.contains(f) && *m == MOD_LINEAR)
            .filter_map(to_format);
        builder = builder.add_preference_tranche(*dev, None, produced);
    }
    builder.build()
}
