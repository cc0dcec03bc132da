//! How a source device's memory reaches a sink (render or display) device — the question every
//! rung's precondition asks — and the test hook that replaces the machine's devices with a made-up
//! topology.
//!
//! On a real machine [`Access`] comes from what the registry knows: the same device is `Local`,
//! system memory (udmabuf, heaps, memfd) is `Shared`, a CPU renderer maps anything, and for two
//! different GPUs weft cannot know before trying (`Unknown`: the import is tried once and a failure
//! is remembered per class). A [`Topology`] (`--simulate-devices FILE`, tests only) lists devices and
//! access rules instead, so the planner's choices can be checked on machines weft does not run on —
//! a hybrid laptop, a SoC with a decoder, a vendor-modifier mismatch — while the real render device
//! (lavapipe) plays the part of the simulated render device and draws real pixels.

use serde::{Deserialize, Serialize};

use super::{DeviceId, DeviceRecord};

/// How a sink reaches a source's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// The same device: its own memory.
    Local,
    /// Plain system memory, or a sink that reads system memory anyway (a CPU renderer).
    Shared,
    /// Another device's memory, reachable directly (PCIe peer-to-peer, a SoC's common memory).
    PeerToPeer,
    /// The sink can import the memory for transfers but should not sample it per frame (across a
    /// slow bus, or in a layout it only copies from): `StageOnSink`.
    CopyOnly,
    /// The sink cannot import it at all.
    None,
    /// Nothing says; try, and remember a failure.
    Unknown,
}

impl Access {
    /// Whether sampling in place (the zero-copy rungs) may work.
    pub fn samples(self) -> bool {
        matches!(
            self,
            Self::Local | Self::Shared | Self::PeerToPeer | Self::Unknown
        )
    }

    /// Whether the sink may import the memory at all (for a copy on its own queue).
    pub fn imports(self) -> bool {
        self != Self::None
    }
}

/// One access rule of a simulated topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRule {
    pub source: DeviceId,
    pub sink: DeviceId,
    pub access: Access,
}

/// A made-up machine (tests only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    pub devices: Vec<DeviceRecord>,
    #[serde(default)]
    pub access: Vec<AccessRule>,
    /// The simulated device the real render device stands for.
    pub render_as: DeviceId,
    /// The simulated devices further render devices (`--render-devices`) stand for, in order.
    #[serde(default)]
    pub further_render_as: Vec<DeviceId>,
    /// The simulated device the test clients' memfds come from (none: system memory).
    #[serde(default)]
    pub memfd_source: Option<DeviceId>,
    /// The simulated display device of the outputs, if any (its planes decide `Scanout`).
    #[serde(default)]
    pub display: Option<DeviceId>,
}

/// Why a `--simulate-devices` file was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Parse {
        path: std::path::PathBuf,
        source: serde_json::Error,
    },
}

impl Topology {
    pub fn load(path: &std::path::Path) -> Result<Self, TopologyError> {
        let text = std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| TopologyError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    pub fn rule(&self, source: &DeviceId, sink: &DeviceId) -> Option<Access> {
        self.access
            .iter()
            .find(|r| &r.source == source && &r.sink == sink)
            .map(|r| r.access)
    }
}
