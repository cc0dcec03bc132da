//! Which Vulkan device renders: the render-device policy.
//!
//! In order:
//! 1. an override (`--render-device`, or `WEFT_RENDER_DEVICE`; `WEFT_VULKAN_DEVICE` is its old
//!    name): a DRM node path (`/dev/dri/renderD128`, either node of the device) or a substring of
//!    the Vulkan device's or driver's name. An override that matches nothing is an error: weft says
//!    what exists instead of silently rendering elsewhere;
//! 2. the display device's GPU, when weft drives a display (the KMS backend): no copy between the
//!    GPU that composes and the one that scans out;
//! 3. otherwise the best device: discrete, integrated, virtual, other, CPU (lavapipe), preferring
//!    one that imports dma-bufs.
//!
//! [`RenderPolicy::choose`] is pure (tested below on made-up device lists).

use std::path::Path;

use tracing::info;

use super::DevT;
use crate::render::{PhysicalInfo, RenderError, Renderer};

/// Builds a renderer the way the backend needs it (a window backend adds surface extensions) after
/// a device loss or removal. It returns the renderer and why its device was chosen (the policy runs
/// again: the lost device may be gone for good).
pub type RendererFactory = Box<dyn Fn() -> Result<(Renderer, String), RenderError>>;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// A DRM node (either of the device's nodes).
    Node(DevT),
    /// A substring of the device or driver name (case-insensitive).
    Name(String),
}

/// The render-device policy's inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderPolicy {
    pub wanted: Option<Wanted>,
    /// A node of the display device weft drives, if it drives one.
    pub display: Option<DevT>,
}

/// The environment variable that overrides the render device (and its old name).
pub const ENV: &str = "WEFT_RENDER_DEVICE";
const ENV_OLD: &str = "WEFT_VULKAN_DEVICE";

impl Wanted {
    /// A path that names a device node is a node; anything else is a name.
    pub fn parse(s: &str) -> Self {
        match DevT::of_node(Path::new(s)) {
            Some(dev) if s.starts_with('/') => Self::Node(dev),
            _ => Self::Name(s.to_string()),
        }
    }

    fn matches(&self, p: &PhysicalInfo) -> bool {
        match self {
            Self::Node(dev) => {
                let raw = Some(dev.raw());
                p.drm_primary == raw || p.drm_render == raw
            }
            Self::Name(n) => {
                let n = n.to_lowercase();
                p.name.to_lowercase().contains(&n) || p.driver.to_lowercase().contains(&n)
            }
        }
    }
}

impl std::fmt::Display for Wanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Node(d) => write!(f, "the device with node {d}"),
            Self::Name(n) => write!(f, "a device named like {n:?}"),
        }
    }
}

/// Why no render device was chosen.
#[derive(Debug, thiserror::Error)]
pub enum NoRenderDevice {
    #[error("no usable render device is {wanted}; there are: {available}")]
    NotFound { wanted: String, available: String },
    #[error("no Vulkan device weft can render on (Vulkan 1.3 with a graphics queue)")]
    NoneUsable,
}

impl RenderPolicy {
    /// The policy with the override from `flag` (the command line) or else the environment.
    pub fn with_override(flag: Option<&str>) -> Self {
        let env = std::env::var(ENV)
            .ok()
            .or_else(|| std::env::var(ENV_OLD).ok())
            .filter(|s| !s.is_empty());
        Self {
            wanted: flag.map(str::to_string).or(env).map(|s| Wanted::parse(&s)),
            display: None,
        }
    }

    /// The index of the physical device to render on, and why.
    pub fn choose(&self, physicals: &[PhysicalInfo]) -> Result<(usize, String), NoRenderDevice> {
        let usable = || physicals.iter().filter(|p| p.unusable.is_none());
        if let Some(wanted) = &self.wanted {
            return match usable().find(|p| wanted.matches(p)) {
                Some(p) => Ok((p.index, format!("chosen by the override: {wanted}"))),
                None => Err(NoRenderDevice::NotFound {
                    wanted: wanted.to_string(),
                    available: physicals
                        .iter()
                        .map(|p| match &p.unusable {
                            None => format!("{} ({})", p.name, p.driver),
                            Some(why) => format!("{} (unusable: {why})", p.name),
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            };
        }
        if let Some(display) = self.display {
            if let Some(p) = usable().find(|p| Wanted::Node(display).matches(p)) {
                return Ok((
                    p.index,
                    "the display device's own GPU: composing where it scans out, no copy between devices"
                        .into(),
                ));
            }
        }
        let best = usable().max_by_key(|p| {
            (
                p.kind.preference(),
                p.has_extension("VK_EXT_external_memory_dma_buf"),
                std::cmp::Reverse(p.index),
            )
        });
        match best {
            Some(p) => Ok((
                p.index,
                match self.display {
                    Some(_) => format!(
                        "the display device has no Vulkan device; the best other one ({:?})",
                        p.kind
                    ),
                    None => format!("no display device: the best render device ({:?})", p.kind),
                },
            )),
            None => Err(NoRenderDevice::NoneUsable),
        }
    }

    /// A renderer on the chosen device; the choice and its reason are logged.
    pub fn open_renderer(
        &self,
        required: &[&'static std::ffi::CStr],
    ) -> Result<(Renderer, String), RenderError> {
        let reason = std::cell::RefCell::new(String::new());
        let renderer = Renderer::open(required, &|physicals| {
            let (index, why) = self
                .choose(physicals)
                .map_err(|e| RenderError::Setup(e.to_string()))?;
            *reason.borrow_mut() = why;
            Ok(index)
        })?;
        let reason = reason.into_inner();
        info!(device = %renderer.device().info().name, %reason, "render device chosen");
        Ok((renderer, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::DeviceKind;

    fn dev(index: usize, name: &str, kind: DeviceKind, render: Option<(u32, u32)>) -> PhysicalInfo {
        PhysicalInfo {
            index,
            name: name.into(),
            kind,
            driver: "drv".into(),
            unusable: None,
            extensions: vec!["VK_EXT_external_memory_dma_buf".into()],
            drm_primary: None,
            drm_render: render.map(|(a, b)| rustix::fs::makedev(a, b)),
        }
    }

    #[test]
    fn chooses_by_override_display_then_preference() {
        let hybrid = [
            dev(0, "Intel iGPU", DeviceKind::Integrated, Some((226, 128))),
            dev(1, "NVIDIA dGPU", DeviceKind::Discrete, Some((226, 129))),
            dev(2, "llvmpipe", DeviceKind::Cpu, None),
        ];
        let node = |m| DevT {
            major: 226,
            minor: m,
        };
        let cases: [(RenderPolicy, Result<usize, ()>); 6] = [
            (RenderPolicy::default(), Ok(1)),
            (
                RenderPolicy {
                    display: Some(node(128)),
                    ..Default::default()
                },
                Ok(0),
            ),
            (
                RenderPolicy {
                    wanted: Some(Wanted::Name("llvm".into())),
                    display: Some(node(128)),
                },
                Ok(2),
            ),
            (
                RenderPolicy {
                    wanted: Some(Wanted::Node(node(129))),
                    ..Default::default()
                },
                Ok(1),
            ),
            (
                RenderPolicy {
                    wanted: Some(Wanted::Name("radeon".into())),
                    ..Default::default()
                },
                Err(()),
            ),
            // A display device without Vulkan (bochs): the best other device.
            (
                RenderPolicy {
                    display: Some(node(5)),
                    ..Default::default()
                },
                Ok(1),
            ),
        ];
        for (policy, want) in cases {
            let got = policy.choose(&hybrid);
            assert_eq!(
                got.as_ref().map(|g| g.0).map_err(|_| ()),
                want,
                "{policy:?}: {got:?}"
            );
        }
        let mut old = dev(0, "old", DeviceKind::Discrete, None);
        old.unusable = Some("no Vulkan 1.3".into());
        let soft = dev(1, "llvmpipe", DeviceKind::Cpu, None);
        assert_eq!(
            RenderPolicy::default()
                .choose(&[old.clone(), soft])
                .map(|g| g.0)
                .ok(),
            Some(1)
        );
        assert!(matches!(
            RenderPolicy::default().choose(&[old]),
            Err(NoRenderDevice::NoneUsable)
        ));
    }
}
