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

use crate::import::Importer;

/// The dev_t sent as `main_device` and tranche target when the render device has no DRM node.
pub const NO_DRM_NODE: u64 = 0;

/// The default feedback, and the guard data that knows the same pairs.
pub fn build(
    importer: &Importer,
    main_device: Option<u64>,
) -> std::io::Result<(DmabufFeedback, DmabufGuardData)> {
    let (sample, linear) = importer.advertised();
    let device = main_device.unwrap_or(NO_DRM_NODE);
    let to_format = |&(fourcc, modifier, _): &(u32, u64, usize)| {
        Fourcc::try_from(fourcc).ok().map(|code| Format {
            code,
            modifier: Modifier::from(modifier),
        })
    };
    let all: Vec<Format> = sample.iter().chain(&linear).filter_map(to_format).collect();
    let mut builder = DmabufFeedbackBuilder::new(device, all);
    if !sample.is_empty() {
        builder = builder.add_preference_tranche(device, None, sample.iter().filter_map(to_format));
    }
    let feedback = builder.build()?;
    let mut guard =
        DmabufGuardData::new(sample.iter().chain(&linear).map(|&(f, m, n)| ((f, m), n)));
    // One render device and no scanout: the default feedback never changes, so the guard may serve
    // default-feedback objects itself (smithay 0.7 would keep one list entry per dead client).
    guard.set_default_feedback(feedback.clone());
    Ok((feedback, guard))
}
