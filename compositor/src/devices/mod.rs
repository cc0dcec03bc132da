//! The device registry: every device a buffer can come from, be rendered on or be shown by.
//!
//! DESIGN.md's vocabulary: a **source** device produced a client's buffer (a V4L2 decoder or
//! capture device, a GPU, an allocator of system memory); a **display** device drives outputs
//! (KMS); a **render** device composes them (Vulkan). [`Registry`] discovers them
//! ([`drm`], [`v4l2`], [`alloc`], [`vulkan`]), chooses the render device ([`policy`]), tracks
//! hotplug ([`uevent`]) and answers which device a dma-buf came from ([`attribution`]).
//!
//! Ids are stable names derived from what the kernel calls the device (`drm:card1`,
//! `v4l2:video0`, `heap:system`, `udmabuf`, `vk:llvmpipe (…)`), so a device that goes and comes
//! back keeps its id, and logs, caches and `weft msg` all use the same word.

pub mod alloc;
pub mod attribution;
pub mod drm;
pub mod policy;
pub mod registry;
pub mod topology;
pub mod uevent;
pub mod v4l2;
pub mod vulkan;

use serde::{Deserialize, Serialize};

pub use registry::Registry;

/// A registered device's id (see the module docs for the scheme).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(pub String);

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl DeviceId {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
}

/// What a device is to weft (the `kind` of `weft msg devices`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A DRM device with KMS (CRTCs and connectors): it can drive outputs.
    Display,
    /// A GPU weft can render with (a Vulkan device matched to a DRM node), without KMS.
    Render,
    /// A DRM device without KMS that weft cannot render with (vgem, an accelerator without Vulkan):
    /// a source of buffers, and an importer of them.
    RenderOnly,
    /// A V4L2 memory-to-memory device (a hardware decoder or converter).
    Decoder,
    /// A V4L2 capture device (camera, capture card, vivid).
    Capture,
    /// System memory as dma-bufs: a dma-buf heap or udmabuf.
    Allocator,
    /// A Vulkan device with no DRM node: a CPU implementation such as lavapipe.
    Software,
}

impl DeviceKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Display => "display",
            Self::Render => "render",
            Self::RenderOnly => "render_only",
            Self::Decoder => "decoder",
            Self::Capture => "capture",
            Self::Allocator => "allocator",
            Self::Software => "software",
        }
    }

    /// Whether buffers of this device live in plain system memory any importer can reach.
    pub fn is_system_memory(self) -> bool {
        matches!(self, Self::Allocator | Self::Software)
    }
}

/// A `dev_t` as major:minor (what `/sys/dev/char/` and `stat` name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DevT {
    pub major: u32,
    pub minor: u32,
}

impl DevT {
    pub fn from_raw(dev: u64) -> Self {
        Self {
            major: rustix::fs::major(dev),
            minor: rustix::fs::minor(dev),
        }
    }

    pub fn raw(self) -> u64 {
        rustix::fs::makedev(self.major, self.minor)
    }

    /// The `dev_t` of a device node, if `path` is one.
    pub fn of_node(path: &std::path::Path) -> Option<Self> {
        let st = rustix::fs::stat(path).ok()?;
        Some(Self::from_raw(st.st_rdev))
    }
}

impl std::fmt::Display for DevT {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// A device node: its path and `dev_t`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub path: String,
    pub dev: Option<DevT>,
}

/// One plane of a KMS device and what it scans out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaneCaps {
    pub id: u32,
    /// "primary" | "overlay" | "cursor".
    #[serde(rename = "type")]
    pub kind: String,
    /// (fourcc, modifiers): from IN_FORMATS, or the legacy list with no explicit modifier (empty).
    /// Shown and read as strings ("XR24", "0x0000000000000000").
    #[serde(with = "format_strings")]
    pub formats: Vec<(u32, Vec<u64>)>,
}

/// What a device can do. Every field is optional: a device answers what its kind knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Caps {
    /// DRM: `DRM_CAP_PRIME` import / export.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prime_import: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prime_export: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syncobj: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syncobj_timeline: Option<bool>,
    /// DRM: dumb buffers can be allocated (on the primary node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dumb_buffers: Option<bool>,
    /// DRM: CRTCs and connectors exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addfb2_modifiers: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub planes: Vec<PlaneCaps>,
    /// V4L2: device capabilities ("capture", "m2m", "mplane", "streaming").
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub v4l2: Vec<String>,
    /// V4L2: frames can be exported as dma-bufs (`VIDIOC_EXPBUF`, videobuf2 MMAP queues).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expbuf: Option<bool>,
    /// V4L2: pixel formats of the capture queue (fourcc strings).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub formats: Vec<String>,
    /// Vulkan: the physical device's name, when one is matched to (or is) this device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulkan: Option<String>,
    /// Vulkan: it imports dma-bufs (VK_EXT_external_memory_dma_buf).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dmabuf_import: Option<bool>,
    /// Vulkan: VK_EXT_image_drm_format_modifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drm_format_modifiers: Option<bool>,
}

/// One registered device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub id: DeviceId,
    pub kind: DeviceKind,
    /// Kernel driver (DRM, V4L2), heap name, or the Vulkan driver for a software device.
    pub driver: String,
    pub nodes: Vec<Node>,
    pub caps: Caps,
    /// The sysfs device directory (hotplug events name it), when there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub syspath: Option<String>,
    /// A further logical Vulkan device weft made on the same physical device as this one (a second
    /// render device on a one-GPU machine).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub logical_of: Option<DeviceId>,
}

impl DeviceRecord {
    /// Whether `dev` is one of this device's nodes.
    pub fn has_dev(&self, dev: DevT) -> bool {
        self.nodes.iter().any(|n| n.dev == Some(dev))
    }

    /// The render node if there is one, else the first node.
    pub fn preferred_node(&self) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.path.contains("renderD"))
            .or_else(|| self.nodes.first())
    }
}

/// (fourcc, modifiers) lists as the strings introspection shows.
mod format_strings {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use weft_protocols::drm_format::{fourcc_str, modifier_str, parse_fourcc, parse_modifier};

    pub fn serialize<S: Serializer>(v: &[(u32, Vec<u64>)], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|(f, mods)| {
                (
                    fourcc_str(*f),
                    mods.iter().map(|&m| modifier_str(m)).collect(),
                )
            })
            .collect::<Vec<(String, Vec<String>)>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(u32, Vec<u64>)>, D::Error> {
        let raw = Vec::<(String, Vec<String>)>::deserialize(d)?;
        raw.into_iter()
            .map(|(f, mods)| {
                let fourcc = parse_fourcc(&f)
                    .ok_or_else(|| serde::de::Error::custom(format!("bad fourcc {f}")))?;
                let mods = mods
                    .iter()
                    .map(|m| {
                        parse_modifier(m)
                            .ok_or_else(|| serde::de::Error::custom(format!("bad modifier {m}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((fourcc, mods))
            })
            .collect()
    }
}
