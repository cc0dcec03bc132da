//! The planner: which import rungs to try for a dma-buf, in order, and why the others were skipped.
//!
//! Pure decision logic over the device's [`DmabufCaps`], the buffer's description, the import policy
//! and the failures remembered per class; the import code (`super::import_dmabuf`) walks the plan.
//! Rungs, best first (DESIGN.md's ladder, the part that exists without KMS):
//! - `Sample`: a `VkImage` with an explicit DRM modifier bound to the dma-buf (needs
//!   VK_EXT_image_drm_format_modifier and a single-plane RGB format);
//! - `SampleLinear`: the dma-buf imported as a storage buffer, read in place by the planar shader
//!   (linear layouts only);
//! - `StageOnCpu`: mmap the dma-buf and copy it into weft's own buffer at each commit.

use serde::{Deserialize, Serialize};
use weft_protocols::drm_format::{self, FormatKind, MOD_INVALID, MOD_LINEAR};

use crate::render::DmabufCaps;

/// One rung of the import ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rung {
    Sample,
    SampleLinear,
    StageOnCpu,
}

impl Rung {
    pub const ALL: [Rung; 3] = [Rung::Sample, Rung::SampleLinear, Rung::StageOnCpu];

    pub fn name(self) -> &'static str {
        match self {
            Self::Sample => "Sample",
            Self::SampleLinear => "SampleLinear",
            Self::StageOnCpu => "StageOnCpu",
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
            Self::Sample => "dma-buf bound to a VkImage with its explicit modifier and plane layout (0 copies)",
            Self::SampleLinear => {
                "dma-buf memory imported as a storage buffer and read in place by the planar shader (0 copies)"
            }
            Self::StageOnCpu => "dma-buf mmapped and copied into weft's buffer at each commit (1 CPU copy)",
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
    pub skipped: Vec<(Rung, String)>,
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

/// Whether the buffer's layout is linear as far as weft can tell: LINEAR, or INVALID (implicit) on a
/// CPU device, whose implicit dma-buf layout is linear.
fn is_linear(caps: &DmabufCaps, modifier: u64) -> bool {
    modifier == MOD_LINEAR || (modifier == MOD_INVALID && caps.cpu_device)
}

/// Plans the import of `desc`. `disabled`: rungs switched off by policy. `failed_class(rung)`: the
/// reason this buffer's class (format, modifier, device) already failed on `rung`, if it did.
pub fn plan(
    caps: &DmabufCaps,
    desc: &BufferDesc,
    disabled: &[Rung],
    failed_class: impl Fn(Rung) -> Option<String>,
) -> Plan {
    let mut out = Plan::default();
    let format = drm_format::info(desc.fourcc);
    for rung in Rung::ALL {
        // (Interlaced buffers never get here: the linux-dmabuf guard answers them with `failed`.)
        let skip = if format.is_none() {
            Some(format!(
                "format {} is not one weft decodes",
                drm_format::fourcc_str(desc.fourcc)
            ))
        } else if disabled.contains(&rung) {
            Some("disabled by the import policy".to_string())
        } else {
            precondition(caps, desc, rung, format.map(|f| f.kind)).or_else(|| {
                failed_class(rung).map(|why| {
                    format!("failed before for this format+modifier on this device: {why}")
                })
            })
        };
        match skip {
            Some(why) => out.skipped.push((rung, why)),
            None => out.attempts.push(rung),
        }
    }
    out
}

fn precondition(
    caps: &DmabufCaps,
    desc: &BufferDesc,
    rung: Rung,
    kind: Option<FormatKind>,
) -> Option<String> {
    match rung {
        Rung::Sample => {
            if !caps.modifiers {
                Some(
                    "VK_EXT_image_drm_format_modifier is not available on the render device".into(),
                )
            } else if !matches!(kind, Some(FormatKind::Rgb { .. })) || desc.planes != 1 {
                Some("multi-planar Y′CbCr would need a sampler Y′CbCr conversion, which this rung does not build".into())
            } else if desc.modifier == MOD_INVALID {
                Some(
                    "an implicit modifier gives no explicit layout to create the image with".into(),
                )
            } else if !caps
                .image_modifiers
                .iter()
                .any(|(f, m, _)| *f == desc.fourcc && *m == desc.modifier)
            {
                Some("the device cannot import this format+modifier as a sampled image".into())
            } else {
                None
            }
        }
        Rung::SampleLinear => {
            if !caps.external_memory {
                Some("VK_EXT_external_memory_dma_buf is not available on the render device".into())
            } else if !caps.buffer_import {
                Some("the device cannot import dma-bufs as storage buffers".into())
            } else if !is_linear(caps, desc.modifier) {
                Some("only a linear layout can be read as a buffer".into())
            } else {
                None
            }
        }
        Rung::StageOnCpu => {
            if !is_linear(caps, desc.modifier) {
                Some("the CPU cannot detile this modifier".into())
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_protocols::drm_format::{ARGB8888, NV12};

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

    fn desc(fourcc: u32, modifier: u64, planes: usize) -> BufferDesc {
        BufferDesc {
            fourcc,
            modifier,
            planes,
        }
    }

    /// (name, device caps, buffer, disabled rungs, expected plan)
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
                vec![SampleLinear, StageOnCpu],
            ),
            (
                "guest rgb",
                guest_lavapipe(),
                desc(ARGB8888, MOD_LINEAR, 1),
                vec![],
                vec![Sample, SampleLinear, StageOnCpu],
            ),
            (
                "guest nv12",
                guest_lavapipe(),
                desc(NV12, MOD_LINEAR, 2),
                vec![],
                vec![SampleLinear, StageOnCpu],
            ),
            (
                "implicit on cpu",
                host_lavapipe(),
                desc(NV12, MOD_INVALID, 2),
                vec![],
                vec![SampleLinear, StageOnCpu],
            ),
            (
                "disabled",
                host_lavapipe(),
                desc(ARGB8888, MOD_LINEAR, 1),
                vec![SampleLinear],
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
            let p = plan(&caps, &d, &disabled, none);
            assert_eq!(p.attempts, want, "{name}");
            assert_eq!(
                p.attempts.len() + p.skipped.len(),
                3,
                "{name}: every rung is tried or has a reason"
            );
        }
    }

    #[test]
    fn failed_class_skips_the_rung_with_its_reason() {
        let p = plan(&host_lavapipe(), &desc(ARGB8888, MOD_LINEAR, 1), &[], |r| {
            (r == Rung::SampleLinear).then(|| "boom".to_string())
        });
        assert_eq!(p.attempts, vec![Rung::StageOnCpu]);
        let why = p.skipped_above(Rung::StageOnCpu);
        assert!(
            why.contains("SampleLinear skipped: failed before") && why.contains("boom"),
            "{why}"
        );
        assert!(
            why.contains("Sample skipped: VK_EXT_image_drm_format_modifier"),
            "{why}"
        );
    }

    #[test]
    fn rung_names_round_trip() {
        for r in Rung::ALL {
            assert_eq!(Rung::parse(r.name()), Some(r));
        }
        assert_eq!(Rung::parse("stageoncpu"), Some(Rung::StageOnCpu));
        assert_eq!(Rung::parse("Scanout"), None);
    }
}
