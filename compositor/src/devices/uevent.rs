//! Hotplug: the kernel's uevents (netlink `NETLINK_KOBJECT_UEVENT`, the kernel's own multicast
//! group, so no udev daemon is needed: containers and CI have none) as a calloop source — weft's
//! one hotplug listener. Only subsystems the registry cares about wake it: drm, video4linux,
//! dma_heap, misc (udmabuf). The registry rescans on them, then hands each event to the
//! backends that subscribed (the DRM backend follows its cards and connectors this way). Device
//! nodes are made by devtmpfs before the kernel sends the event, so an `add` can be opened at
//! once.

use std::os::fd::{AsFd, OwnedFd};

use calloop::generic::Generic;
use calloop::{Interest, Mode};
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{bind, recv, socket_with, AddressFamily, RecvFlags, SocketFlags, SocketType};

/// One uevent, reduced to what the registry needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UEvent {
    pub action: String,
    pub subsystem: String,
    /// The device node below /dev (`dri/card1`, `video0`).
    pub devname: Option<String>,
    /// The sysfs path below /sys (`/devices/pci0000:00/…/drm/card1`).
    pub devpath: String,
    /// The device number (from MAJOR and MINOR), for device nodes.
    pub devnum: Option<u64>,
}

/// Subsystems whose events change the registry.
const SUBSYSTEMS: [&str; 4] = ["drm", "video4linux", "dma_heap", "misc"];

/// Parses a kernel uevent datagram: `action@devpath\0KEY=value\0…`.
pub fn parse(datagram: &[u8]) -> Option<UEvent> {
    let mut parts = datagram.split(|&b| b == 0).filter(|p| !p.is_empty());
    let header = std::str::from_utf8(parts.next()?).ok()?;
    // udev's re-broadcasts start with "libudev"; the kernel's with "action@devpath".
    let (_, _) = header.split_once('@')?;
    let mut event = UEvent {
        action: String::new(),
        subsystem: String::new(),
        devname: None,
        devpath: String::new(),
        devnum: None,
    };
    let (mut major, mut minor) = (None, None);
    for p in parts {
        let Ok(kv) = std::str::from_utf8(p) else {
            continue;
        };
        match kv.split_once('=') {
            Some(("ACTION", v)) => event.action = v.to_string(),
            Some(("SUBSYSTEM", v)) => event.subsystem = v.to_string(),
            Some(("DEVNAME", v)) => event.devname = Some(v.to_string()),
            Some(("DEVPATH", v)) => event.devpath = v.to_string(),
            Some(("MAJOR", v)) => major = v.parse::<u32>().ok(),
            Some(("MINOR", v)) => minor = v.parse::<u32>().ok(),
            _ => {}
        }
    }
    if let (Some(major), Some(minor)) = (major, minor) {
        event.devnum = Some(rustix::fs::makedev(major, minor));
    }
    (!event.action.is_empty()).then_some(event)
}

/// Whether the registry should rescan for `event`.
pub fn relevant(event: &UEvent) -> bool {
    matches!(
        event.action.as_str(),
        "add" | "remove" | "change" | "bind" | "unbind"
    ) && SUBSYSTEMS.contains(&event.subsystem.as_str())
        && (event.subsystem != "misc" || event.devname.as_deref() == Some("udmabuf"))
}

/// The kernel uevent socket, non-blocking.
pub fn socket() -> std::io::Result<OwnedFd> {
    let fd = socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        Some(netlink::KOBJECT_UEVENT),
    )?;
    // Group 1: the kernel's broadcasts (udev re-broadcasts on group 2).
    bind(&fd, &SocketAddrNetlink::new(0, 1))?;
    Ok(fd)
}

/// A calloop source that calls `on_event` for each relevant uevent.
pub fn source(fd: OwnedFd) -> Generic<OwnedFd> {
    Generic::new(fd, Interest::READ, Mode::Level)
}

/// Reads every pending datagram; returns the relevant events.
pub fn drain(fd: &OwnedFd) -> Vec<UEvent> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        match recv(fd.as_fd(), buf.as_mut_slice(), RecvFlags::DONTWAIT) {
            Ok((n, _)) if n > 0 => {
                if let Some(e) = buf.get(..n).and_then(parse).filter(relevant) {
                    out.push(e);
                }
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_uevents() {
        let raw = b"remove@/devices/platform/vivid.0/video4linux/video0\0ACTION=remove\0DEVPATH=/devices/platform/vivid.0/video4linux/video0\0SUBSYSTEM=video4linux\0MAJOR=81\0MINOR=0\0DEVNAME=video0\0SEQNUM=2300\0";
        let e = parse(raw).expect("parses");
        assert_eq!(e.action, "remove");
        assert_eq!(e.subsystem, "video4linux");
        assert_eq!(e.devname.as_deref(), Some("video0"));
        assert_eq!(e.devpath, "/devices/platform/vivid.0/video4linux/video0");
        assert_eq!(e.devnum, Some(rustix::fs::makedev(81, 0)));
        assert!(relevant(&e));
        let tty =
            parse(b"add@/devices/virtual/tty/tty9\0ACTION=add\0SUBSYSTEM=tty\0DEVNAME=tty9\0")
                .expect("parses");
        assert!(!relevant(&tty));
        let loop_misc =
            parse(b"add@/devices/virtual/misc/loop-control\0ACTION=add\0SUBSYSTEM=misc\0DEVNAME=loop-control\0")
                .expect("parses");
        assert!(!relevant(&loop_misc));
        assert_eq!(parse(b"libudev\0\0\0"), None);
        assert_eq!(parse(b""), None);
    }
}
