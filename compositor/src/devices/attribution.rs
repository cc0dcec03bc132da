//! Which device produced a client's dma-buf, from evidence only (DESIGN.md, "Devices"):
//!
//! 1. the dma-buf's own `/proc/self/fdinfo/<fd>`: `exp_name` names the exporting kernel module —
//!    `udmabuf`, a heap's name (`system`), `videobuf2_*` for V4L2, a driver for drivers with their
//!    own exporter (i915, amdgpu), and `drm` for every driver on DRM's generic PRIME helpers (vgem,
//!    virtio-gpu, bochs…): a kind, not an identity;
//! 2. among several candidates of that kind, elimination by PRIME import: a DRM device always takes
//!    back a buffer it exported (`drm_gem_prime_import_dev` returns its own object), so a device that
//!    refuses the buffer (EINVAL, ENODEV, ENOSYS, EOPNOTSUPP) did not export it. One candidate left is
//!    the source;
//! 3. otherwise "unknown", with the exporter and the candidates kept as the evidence.
//!
//! A memfd (weft's tests' stand-in for a dma-buf) is system memory the client made; no device.

use std::os::fd::{AsRawFd, BorrowedFd};

use serde::Serialize;

use super::{DeviceId, DeviceKind, DeviceRecord};

/// What weft knows of a buffer's source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribution {
    /// The source device, when the evidence names exactly one.
    pub device: Option<DeviceId>,
    /// `exp_name` from fdinfo, "memfd", or none for a file that says nothing.
    pub exporter: Option<String>,
    /// The memory is plain system pages (udmabuf, heaps, memfd): every importer reaches it.
    pub system_memory: bool,
    /// How the device was (or was not) found.
    pub evidence: String,
}

impl Attribution {
    pub fn unknown(why: impl Into<String>) -> Self {
        Self {
            device: None,
            exporter: None,
            system_memory: false,
            evidence: why.into(),
        }
    }

    /// The id as `weft msg surfaces` shows it ("unknown" when nothing says).
    pub fn device_name(&self) -> String {
        self.device
            .as_ref()
            .map_or_else(|| "unknown".to_string(), |d| d.0.clone())
    }
}

/// The `exp_name` line of an fdinfo text.
pub fn parse_exp_name(fdinfo: &str) -> Option<String> {
    fdinfo.lines().find_map(|l| {
        let rest = l.strip_prefix("exp_name:")?;
        let name = rest.trim();
        (!name.is_empty()).then(|| name.to_string())
    })
}

/// `exp_name` of the dma-buf behind `fd` (none for a file that is not a dma-buf).
pub fn exporter_of(fd: BorrowedFd<'_>) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    parse_exp_name(&text)
}

/// Which registered devices an exporter name can mean.
pub fn candidates<'a>(exporter: &str, devices: &'a [DeviceRecord]) -> Vec<&'a DeviceRecord> {
    let is_drm = |d: &&DeviceRecord| {
        matches!(
            d.kind,
            DeviceKind::Display | DeviceKind::Render | DeviceKind::RenderOnly
        ) && d.caps.prime_export != Some(false)
    };
    match exporter {
        "udmabuf" => devices.iter().filter(|d| d.id.0 == "udmabuf").collect(),
        e if e.starts_with("videobuf2") || e.starts_with("vb2") => devices
            .iter()
            .filter(|d| matches!(d.kind, DeviceKind::Capture | DeviceKind::Decoder))
            .collect(),
        "drm" => devices.iter().filter(is_drm).collect(),
        e => {
            let heap = format!("heap:{e}");
            let by_heap: Vec<_> = devices.iter().filter(|d| d.id.0 == heap).collect();
            if !by_heap.is_empty() {
                return by_heap;
            }
            // A driver with its own exporter names itself (i915, amdgpu, …).
            devices
                .iter()
                .filter(is_drm)
                .filter(|d| d.driver == e || d.driver.replace('-', "_") == e)
                .collect()
        }
    }
}

/// Decides from the exporter name and, for several candidates, which of them refuse the buffer
/// (`refuses(device)`: `Some(true)` refused, `Some(false)` took it, `None` could not ask).
pub fn attribute(
    exporter: Option<&str>,
    is_memfd: bool,
    devices: &[DeviceRecord],
    refuses: impl Fn(&DeviceRecord) -> Option<bool>,
) -> Attribution {
    let Some(exporter) = exporter else {
        return if is_memfd {
            Attribution {
                device: None,
                exporter: Some("memfd".into()),
                system_memory: true,
                evidence: "a sealed memfd: system memory the client made itself, no device".into(),
            }
        } else {
            Attribution::unknown("not a kernel dma-buf and no exporter named")
        };
    };
    let system_memory =
        exporter == "udmabuf" || devices.iter().any(|d| d.id.0 == format!("heap:{exporter}"));
    let mut found = candidates(exporter, devices);
    let named = found.len();
    if found.len() > 1 {
        found.retain(|d| refuses(d) != Some(true));
    }
    let ids = |v: &[&DeviceRecord]| {
        v.iter()
            .map(|d| d.id.0.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match found.as_slice() {
        [one] if named == 1 => Attribution {
            device: Some(one.id.clone()),
            exporter: Some(exporter.into()),
            system_memory,
            evidence: format!("exp_name {exporter:?} names only {}", one.id),
        },
        [one] => Attribution {
            device: Some(one.id.clone()),
            exporter: Some(exporter.into()),
            system_memory,
            evidence: format!(
                "exp_name {exporter:?} fits {named} devices; every other one refuses the buffer, and \
                 an exporter always takes its own buffer back"
            ),
        },
        [] => Attribution {
            device: None,
            exporter: Some(exporter.into()),
            system_memory,
            evidence: format!("exp_name {exporter:?} fits no registered device"),
        },
        many => Attribution {
            device: None,
            exporter: Some(exporter.into()),
            system_memory,
            evidence: format!("exp_name {exporter:?} fits several devices: {}", ids(many)),
        },
    }
}

/// The source to show for a surface: the buffer's own evidence first; where it leaves several
/// candidates, the device the surface's feedback steered it to decides among them. Returns
/// (device id or "unknown", evidence).
pub fn with_steering(
    own: &Attribution,
    steered: Option<&DeviceRecord>,
    devices: &[DeviceRecord],
) -> (String, String) {
    if own.device.is_none() {
        if let (Some(device), Some(exporter)) = (steered, &own.exporter) {
            if candidates(exporter, devices)
                .iter()
                .any(|d| d.id == device.id)
            {
                return (
                    device.id.0.clone(),
                    format!(
                        "{}; of those, this surface's feedback steered it to {}",
                        own.evidence, device.id
                    ),
                );
            }
        }
    }
    (own.device_name(), own.evidence.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{Caps, Node};

    fn dev(id: &str, kind: DeviceKind, driver: &str) -> DeviceRecord {
        DeviceRecord {
            id: DeviceId::new(id),
            kind,
            driver: driver.into(),
            nodes: vec![Node {
                path: id.into(),
                dev: None,
            }],
            caps: Caps::default(),
            syspath: None,
            logical_of: None,
        }
    }

    #[test]
    fn steering_breaks_a_tie_among_candidates_only() {
        let devices = [
            dev("drm:card0", DeviceKind::RenderOnly, "vgem"),
            dev("drm:card1", DeviceKind::Display, "virtio_gpu"),
            dev("udmabuf", DeviceKind::Allocator, "udmabuf"),
        ];
        let ambiguous = attribute(Some("drm"), false, &devices, |_| None);
        assert_eq!(ambiguous.device, None);
        let (id, why) = with_steering(&ambiguous, devices.get(1), &devices);
        assert_eq!(id, "drm:card1");
        assert!(why.contains("steered"), "{why}");
        // A steered device the exporter cannot mean changes nothing.
        let (id, _) = with_steering(&ambiguous, devices.get(2), &devices);
        assert_eq!(id, "unknown");
        // Nor does steering override the buffer's own evidence.
        let known = attribute(Some("udmabuf"), false, &devices, |_| None);
        let (id, why) = with_steering(&known, devices.first(), &devices);
        assert_eq!(id, "udmabuf");
        assert!(!why.contains("steered"), "{why}");
    }

    #[test]
    fn reads_exp_name() {
        let text = "pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\nsize:\t262144\ncount:\t1\nexp_name:\tudmabuf\nname:\t\n";
        assert_eq!(parse_exp_name(text).as_deref(), Some("udmabuf"));
        assert_eq!(parse_exp_name("pos:\t0\n"), None);
    }

    #[test]
    fn attributes_from_evidence_only() {
        let vm = [
            dev("drm:card0", DeviceKind::RenderOnly, "vgem"),
            dev("drm:card1", DeviceKind::Display, "virtio_gpu"),
            dev("drm:card2", DeviceKind::Display, "bochs-drm"),
            dev("v4l2:video0", DeviceKind::Capture, "vivid"),
            dev("heap:system", DeviceKind::Allocator, "dma-heap"),
            dev("udmabuf", DeviceKind::Allocator, "udmabuf"),
            dev("vk:llvmpipe", DeviceKind::Software, "llvmpipe"),
        ];
        let nobody_asked = |_: &DeviceRecord| None;
        let only_vgem_takes = |d: &DeviceRecord| Some(d.driver != "vgem");
        type Refuses<'a> = &'a dyn Fn(&DeviceRecord) -> Option<bool>;
        type Case<'a> = (Option<&'a str>, bool, Refuses<'a>, Option<&'a str>, bool);
        let cases: [Case; 7] = [
            (Some("udmabuf"), false, &nobody_asked, Some("udmabuf"), true),
            (
                Some("system"),
                false,
                &nobody_asked,
                Some("heap:system"),
                true,
            ),
            (
                Some("videobuf2_vmalloc"),
                false,
                &nobody_asked,
                Some("v4l2:video0"),
                false,
            ),
            (Some("drm"), false, &nobody_asked, None, false),
            (
                Some("drm"),
                false,
                &only_vgem_takes,
                Some("drm:card0"),
                false,
            ),
            (Some("i915"), false, &nobody_asked, None, false),
            (None, true, &nobody_asked, None, true),
        ];
        for (exporter, memfd, refuses, want, system) in cases {
            let got = attribute(exporter, memfd, &vm, refuses);
            assert_eq!(
                got.device.as_ref().map(|d| d.0.as_str()),
                want,
                "{exporter:?}: {got:?}"
            );
            assert_eq!(got.system_memory, system, "{exporter:?}: {got:?}");
            assert!(!got.evidence.is_empty());
        }
    }
}
