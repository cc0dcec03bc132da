//! The registry itself: the devices, the render device and why, rescans on hotplug, attribution and
//! access questions.

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tracing::{debug, info};

use super::attribution::{self, Attribution};
use super::topology::{Access, Topology};
use super::{DeviceId, DeviceKind, DeviceRecord};
use crate::render::PhysicalInfo;

/// What a rescan changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub added: Vec<DeviceId>,
    pub removed: Vec<DeviceId>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Where devices come from.
enum Source {
    /// The machine: `sysfs` (normally /sys) and `dev` (normally /dev).
    Machine { sysfs: PathBuf, dev: PathBuf },
    /// A made-up topology (tests); devices change only through [`Registry::simulate_removal`].
    Simulated(Box<Topology>),
}

/// The render device and why it was chosen.
#[derive(Debug, Clone, Serialize)]
pub struct RenderChoice {
    pub id: DeviceId,
    pub reason: String,
}

pub struct Registry {
    devices: Vec<DeviceRecord>,
    physicals: Vec<PhysicalInfo>,
    source: Source,
    render: Option<RenderChoice>,
    /// Bumped by every change, so caches keyed on the device set can tell they are stale.
    generation: u64,
    /// Further render devices of a simulated topology registered so far.
    further: usize,
    /// The KMS devices a display backend drives outputs on, in output order.
    driven_displays: Vec<DeviceId>,
}

impl Registry {
    /// The machine's devices (DRM, V4L2, allocators) and `physicals` matched to them.
    pub fn discover(sysfs: &Path, dev: &Path, physicals: &[PhysicalInfo]) -> Self {
        let mut registry = Self {
            devices: Vec::new(),
            physicals: physicals.to_vec(),
            source: Source::Machine {
                sysfs: sysfs.to_path_buf(),
                dev: dev.to_path_buf(),
            },
            render: None,
            generation: 0,
            further: 0,
            driven_displays: Vec::new(),
        };
        registry.devices = registry.probe();
        registry
    }

    /// A made-up topology (tests): its devices, with the real render device standing for
    /// `topology.render_as`.
    pub fn simulated(topology: Topology) -> Self {
        Self {
            devices: topology.devices.clone(),
            physicals: Vec::new(),
            render: None,
            source: Source::Simulated(Box::new(topology)),
            generation: 0,
            further: 0,
            driven_displays: Vec::new(),
        }
    }

    fn probe(&self) -> Vec<DeviceRecord> {
        match &self.source {
            Source::Machine { sysfs, dev } => {
                let mut devices = super::drm::probe_all(sysfs, dev);
                devices.extend(super::v4l2::probe_all(sysfs, dev));
                devices.extend(super::alloc::probe_all(dev));
                super::vulkan::merge(&mut devices, &self.physicals);
                devices
            }
            Source::Simulated(t) => t
                .devices
                .iter()
                .filter(|d| self.devices.iter().any(|have| have.id == d.id))
                .cloned()
                .collect(),
        }
    }

    /// Records the device weft renders on (`device`, the physical device a renderer was made on)
    /// and why.
    pub fn set_render(&mut self, device: &PhysicalInfo, reason: String) {
        let id = match &self.source {
            Source::Simulated(t) if self.get(&t.render_as).is_some() => t.render_as.clone(),
            // The simulated render device was removed: the real device renders as itself.
            Source::Simulated(_) => {
                let id = super::vulkan::software_id(device);
                if self.get(&id).is_none() {
                    super::vulkan::merge(&mut self.devices, std::slice::from_ref(device));
                }
                id
            }
            Source::Machine { .. } => {
                if !self.physicals.iter().any(|p| p.index == device.index) {
                    self.physicals.push(device.clone());
                    super::vulkan::merge(&mut self.devices, std::slice::from_ref(device));
                }
                self.record_of(device)
                    .map(|d| d.id.clone())
                    .unwrap_or_else(|| super::vulkan::software_id(device))
            }
        };
        info!(device = %id, %reason, "render device registered");
        self.render = Some(RenderChoice { id, reason });
    }

    /// The DRM device record a Vulkan physical device is matched to (by its nodes).
    fn record_of(&self, device: &PhysicalInfo) -> Option<&DeviceRecord> {
        let nodes: Vec<_> = [device.drm_primary, device.drm_render]
            .into_iter()
            .flatten()
            .map(super::DevT::from_raw)
            .collect();
        self.devices
            .iter()
            .find(|d| nodes.iter().any(|&n| d.has_dev(n)))
    }

    /// Registers a further render device made on `device` (a second logical device when it is the
    /// same physical device as an earlier one). Returns its id.
    pub fn add_render(&mut self, device: &PhysicalInfo, reason: &str) -> DeviceId {
        if let Source::Simulated(t) = &self.source {
            if let Some(id) = t.further_render_as.get(self.further) {
                self.further += 1;
                info!(device = %id, %reason, "further render device registered (simulated)");
                return id.clone();
            }
        }
        let base = match &self.source {
            Source::Simulated(t) => self.get(&t.render_as).cloned(),
            Source::Machine { .. } => self
                .record_of(device)
                .or_else(|| {
                    let id = super::vulkan::software_id(device);
                    self.devices.iter().find(|d| d.id == id)
                })
                .cloned(),
        };
        let Some(base) = base else {
            return DeviceId::new("none");
        };
        let taken = |id: &DeviceId| self.devices.iter().any(|d| &d.id == id);
        let mut n = 2;
        let mut id = DeviceId::new(format!("{}#{n}", base.id));
        while taken(&id) {
            n += 1;
            id = DeviceId::new(format!("{}#{n}", base.id));
        }
        info!(device = %id, of = %base.id, %reason, "further render device registered");
        self.devices.push(DeviceRecord {
            id: id.clone(),
            logical_of: Some(base.id.clone()),
            ..base
        });
        id
    }

    pub fn render(&self) -> Option<&RenderChoice> {
        self.render.as_ref()
    }

    /// The render device's id ("none" before one is set).
    pub fn render_id(&self) -> DeviceId {
        self.render
            .as_ref()
            .map_or_else(|| DeviceId::new("none"), |r| r.id.clone())
    }

    pub fn devices(&self) -> &[DeviceRecord] {
        &self.devices
    }

    pub fn get(&self, id: &DeviceId) -> Option<&DeviceRecord> {
        self.devices.iter().find(|d| &d.id == id)
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Probes again (a hotplug event arrived) and returns what changed; logs each change at info.
    pub fn rescan(&mut self) -> Change {
        let mut fresh = self.probe();
        // Further logical devices live as long as the physical device they are made on.
        let logical: Vec<DeviceRecord> = self
            .devices
            .iter()
            .filter(|d| {
                d.logical_of
                    .as_ref()
                    .is_some_and(|of| fresh.iter().any(|f| &f.id == of))
            })
            .cloned()
            .collect();
        fresh.extend(logical);
        let change = Change {
            added: fresh
                .iter()
                .filter(|d| self.get(&d.id).is_none())
                .map(|d| d.id.clone())
                .collect(),
            removed: self
                .devices
                .iter()
                .filter(|d| !fresh.iter().any(|f| f.id == d.id))
                .map(|d| d.id.clone())
                .collect(),
        };
        self.devices = fresh;
        if !change.is_empty() {
            self.generation += 1;
            for id in &change.added {
                info!(device = %id, "device added");
            }
            for id in &change.removed {
                info!(device = %id, "device removed");
            }
        }
        change
    }

    /// Removes a device of a simulated topology, as a hot-unplug would (tests). Returns whether it
    /// existed.
    pub fn simulate_removal(&mut self, id: &DeviceId) -> bool {
        if !matches!(self.source, Source::Simulated(_)) || self.get(id).is_none() {
            return false;
        }
        self.devices.retain(|d| &d.id != id);
        self.generation += 1;
        info!(device = %id, "device removed (simulated)");
        true
    }

    pub fn is_simulated(&self) -> bool {
        matches!(self.source, Source::Simulated(_))
    }

    /// The source of a client buffer whose planes are `fds` (see [`attribution`]).
    pub fn attribute(&self, fds: &[BorrowedFd<'_>]) -> Attribution {
        let Some(&first) = fds.first() else {
            return Attribution::unknown("no planes");
        };
        let exporter = attribution::exporter_of(first);
        let is_memfd = exporter.is_none() && rustix::fs::fcntl_get_seals(first).is_ok();
        if let Source::Simulated(t) = &self.source {
            if is_memfd {
                if let Some(src) = t.memfd_source.as_ref().filter(|s| self.get(s).is_some()) {
                    return Attribution {
                        device: Some(src.clone()),
                        exporter: Some("memfd".into()),
                        system_memory: false,
                        evidence:
                            "simulated topology: the test's memfds stand for this device's buffers"
                                .into(),
                    };
                }
            }
        }
        attribution::attribute(exporter.as_deref(), is_memfd, &self.devices, |d| {
            super::drm::refuses(d, first)
        })
    }

    /// How `sink` reaches the memory of a buffer attributed as `source`.
    pub fn access(&self, source: &Attribution, sink: &DeviceId) -> Access {
        if let (Source::Simulated(t), Some(src)) = (&self.source, &source.device) {
            if let Some(a) = t.rule(src, sink) {
                return a;
            }
        }
        if source.device.as_ref() == Some(sink) {
            return Access::Local;
        }
        if source.system_memory {
            return Access::Shared;
        }
        match self.get(sink).map(|d| d.kind) {
            // A CPU renderer maps whatever it imports.
            Some(DeviceKind::Software) => Access::Shared,
            _ => {
                debug!(source = %source.device_name(), %sink, "access unknown; the import will tell");
                Access::Unknown
            }
        }
    }

    /// The simulated display device, or the first real display device with KMS whose planes weft
    /// would use (none until the KMS backend drives one).
    pub fn display_for_outputs(&self) -> Option<&DeviceRecord> {
        self.display_for_outputs_inner()
    }

    /// The display devices driven now (the KMS backend says, as outputs come and go): buffers
    /// are planned anew against them.
    pub fn set_driven_displays(&mut self, ids: Vec<DeviceId>) {
        if ids != self.driven_displays {
            self.driven_displays = ids;
            self.generation += 1;
        }
    }

    /// Whether a display backend drives outputs on `id`.
    pub fn drives(&self, id: &DeviceId) -> bool {
        self.driven_displays.contains(id)
    }

    fn display_for_outputs_inner(&self) -> Option<&DeviceRecord> {
        match &self.source {
            Source::Simulated(t) => t.display.as_ref().and_then(|d| self.get(d)),
            Source::Machine { .. } => self.driven_displays.iter().find_map(|d| self.get(d)),
        }
    }

    /// The device `main_device` of linux-dmabuf feedback names: a real device clients can allocate
    /// on whose buffers the render device imports. See [`crate::buffers::feedback`].
    pub fn main_device(&self) -> Option<(&DeviceRecord, super::DevT)> {
        let render = self.render.as_ref().and_then(|r| self.get(&r.id));
        if let Some(r) = render {
            if let Some(dev) = r.preferred_node().and_then(|n| n.dev) {
                return Some((r, dev));
            }
        }
        // A render device without a DRM node (lavapipe) reads system memory: name the DRM device
        // whose buffers are plain memory it can import — a render-only allocator (vgem) first,
        // then any other DRM device that allocates and exports.
        let drm_rank = |d: &DeviceRecord| match d.kind {
            DeviceKind::RenderOnly => Some(0),
            DeviceKind::Render => Some(1),
            DeviceKind::Display => Some(2),
            _ => None,
        };
        self.devices
            .iter()
            .filter(|d| d.caps.prime_export != Some(false))
            .filter_map(|d| Some((drm_rank(d)?, d)))
            .filter(|(_, d)| {
                render.is_none_or(|r| {
                    self.access(
                        &Attribution {
                            device: Some(d.id.clone()),
                            exporter: None,
                            system_memory: false,
                            evidence: String::new(),
                        },
                        &r.id,
                    )
                    .imports()
                })
            })
            .min_by_key(|(rank, _)| *rank)
            .and_then(|(_, d)| Some((d, allocation_node(d)?)))
    }
}

/// The node a client allocates on: the render node of a device with a GPU driver, else the primary
/// node, where dumb buffers are made (vgem allocates only there).
fn allocation_node(d: &DeviceRecord) -> Option<super::DevT> {
    let node = if d.caps.vulkan.is_some() {
        d.preferred_node()
    } else {
        d.nodes.iter().find(|n| n.path.contains("card"))
    };
    node.or_else(|| d.nodes.first())?.dev
}

impl Registry {}
