//! DRM devices: `/sys/class/drm` for the nodes, `DRM_IOCTL_VERSION` / `GET_CAP` / mode resources /
//! planes for what each device can do.
//!
//! One record per DRM device (its primary `cardN` node and its `renderDN` node, if any). A device
//! that has CRTCs and connectors is a display device; one without is render-only (vgem, a GPU that
//! only renders); [`super::vulkan`] later upgrades a render-only device that Vulkan drives to
//! `render`. The probe only reads: it never becomes DRM master.

use std::fs::OpenOptions;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use drm::control::Device as _;
use drm::{ClientCapability, Device as _, DriverCapability};
use tracing::debug;
use weft_protocols::in_formats;

use super::{Caps, DevT, DeviceId, DeviceKind, DeviceRecord, Node, PlaneCaps};

struct Card(std::fs::File);

impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
impl drm::Device for Card {}
impl drm::control::Device for Card {}

/// `DRM_PRIME_CAP_IMPORT` / `DRM_PRIME_CAP_EXPORT`.
const PRIME_CAP_IMPORT: u64 = 1;
const PRIME_CAP_EXPORT: u64 = 2;

/// The `cardN` names under `sysfs/class/drm`, in N order.
fn cards(sysfs: &Path) -> Vec<(u32, String)> {
    let mut cards: Vec<(u32, String)> = std::fs::read_dir(sysfs.join("class/drm"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_str()?.to_owned();
                    let n = name.strip_prefix("card")?.parse().ok()?;
                    Some((n, name))
                })
                .collect()
        })
        .unwrap_or_default();
    cards.sort_unstable();
    cards
}

/// Every DRM device, probed. `sysfs` is `/sys` (a test may point it elsewhere), `dev` is `/dev`.
pub fn probe_all(sysfs: &Path, dev: &Path) -> Vec<DeviceRecord> {
    cards(sysfs)
        .into_iter()
        .filter_map(|(_, card)| probe(sysfs, dev, &card))
        .collect()
}

/// The device of one `cardN`, probed; `None` when its node cannot be opened (gone, or no access).
pub fn probe(sysfs: &Path, dev: &Path, card: &str) -> Option<DeviceRecord> {
    let class = sysfs.join("class/drm").join(card);
    let syspath = std::fs::canonicalize(class.join("device"))
        .ok()
        .map(|p| p.display().to_string());
    let render = std::fs::read_dir(class.join("device/drm"))
        .ok()
        .and_then(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .find(|n| n.starts_with("renderD"))
        });
    let card_path = dev.join("dri").join(card);
    let mut nodes = vec![node(&card_path)];
    if let Some(r) = &render {
        nodes.push(node(&dev.join("dri").join(r)));
    }
    // The primary node answers every query; a render node only the non-KMS ones.
    let file = open(&card_path).or_else(|e| {
        debug!(node = %card_path.display(), error = %e, "cannot open the primary node; trying the render node");
        render
            .as_ref()
            .map(|r| open(&dev.join("dri").join(r)))
            .unwrap_or(Err(e))
    });
    let file = match file {
        Ok(f) => f,
        Err(e) => {
            debug!(card, error = %e, "DRM device not probed");
            return None;
        }
    };
    let card_dev = Card(file);
    let driver = card_dev
        .get_driver()
        .map(|d| d.name().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into());
    let cap = |c| card_dev.get_driver_capability(c).ok();
    let prime = cap(DriverCapability::Prime).unwrap_or(0);
    let mut caps = Caps {
        prime_import: Some(prime & PRIME_CAP_IMPORT != 0),
        prime_export: Some(prime & PRIME_CAP_EXPORT != 0),
        syncobj: Some(cap(DriverCapability::SyncObj).unwrap_or(0) != 0),
        syncobj_timeline: Some(cap(DriverCapability::TimelineSyncObj).unwrap_or(0) != 0),
        dumb_buffers: Some(cap(DriverCapability::DumbBuffer).unwrap_or(0) != 0),
        ..Caps::default()
    };
    let kms = card_dev
        .resource_handles()
        .map(|r| !r.crtcs().is_empty() && !r.connectors().is_empty())
        .unwrap_or(false);
    caps.kms = Some(kms);
    if kms {
        caps.addfb2_modifiers = Some(cap(DriverCapability::AddFB2Modifiers).unwrap_or(0) != 0);
        caps.planes = planes(&card_dev);
    }
    Some(DeviceRecord {
        id: DeviceId::new(format!("drm:{card}")),
        kind: if kms {
            DeviceKind::Display
        } else {
            DeviceKind::RenderOnly
        },
        driver,
        nodes,
        caps,
        syspath,
        logical_of: None,
    })
}

fn node(path: &Path) -> Node {
    Node {
        path: path.display().to_string(),
        dev: DevT::of_node(path),
    }
}

fn open(path: &PathBuf) -> std::io::Result<std::fs::File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// Every plane with its type and formats (IN_FORMATS when the plane has it, else the legacy list
/// with no explicit modifier).
fn planes(card: &Card) -> Vec<PlaneCaps> {
    if card
        .set_client_capability(ClientCapability::UniversalPlanes, true)
        .is_err()
    {
        return Vec::new();
    }
    let Ok(handles) = card.plane_handles() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for handle in handles {
        let Ok(info) = card.get_plane(handle) else {
            continue;
        };
        let mut kind = "unknown";
        let mut formats: Option<Vec<(u32, Vec<u64>)>> = None;
        if let Ok(props) = card.get_properties(handle) {
            for (&prop, &value) in props.iter() {
                let Ok(p) = card.get_property(prop) else {
                    continue;
                };
                match p.name().to_bytes() {
                    b"type" => {
                        kind = match value {
                            0 => "overlay",
                            1 => "primary",
                            2 => "cursor",
                            _ => "unknown",
                        }
                    }
                    b"IN_FORMATS" => {
                        formats = card
                            .get_property_blob(value)
                            .ok()
                            .and_then(|b| in_formats::parse(&b).ok());
                    }
                    _ => {}
                }
            }
        }
        let formats =
            formats.unwrap_or_else(|| info.formats().iter().map(|&f| (f, Vec::new())).collect());
        out.push(PlaneCaps {
            id: u32::from(handle),
            kind: kind.into(),
            formats,
        });
    }
    out
}

/// Whether the DRM device `device` refuses to import the dma-buf `fd` (`Some(true)`), takes it
/// (`Some(false)`), or cannot be asked (`None`: no node, no permission, not a DRM device). Used for
/// attribution by elimination ([`super::attribution`]); the GEM handle is closed again at once.
pub fn refuses(device: &DeviceRecord, fd: BorrowedFd<'_>) -> Option<bool> {
    if device.caps.prime_import != Some(true) {
        return None;
    }
    let node = device.preferred_node()?;
    let card = Card(open(&PathBuf::from(&node.path)).ok()?);
    match card.prime_fd_to_buffer(fd) {
        Ok(handle) => {
            let _ = card.close_buffer(handle);
            Some(false)
        }
        Err(e) => match e.raw_os_error() {
            Some(libc::EINVAL | libc::ENODEV | libc::ENOSYS | libc::EOPNOTSUPP) => Some(true),
            _ => None,
        },
    }
}
