//! V4L2 devices (`/dev/video*`): decoders (memory-to-memory) and capture devices, the sources that
//! are not DRM devices at all. `VIDIOC_QUERYCAP` says what a node is, `VIDIOC_ENUM_FMT` what its
//! capture queue produces, `VIDIOC_REQBUFS` with zero buffers which memory its queue supports (a
//! videobuf2 queue with MMAP buffers exports them with `VIDIOC_EXPBUF`).
//!
//! Nodes that produce no frames (video output, VBI, SDR, metadata, touch) are not registered.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustix::ioctl::{ioctl, opcode, Updater};
use tracing::debug;
use weft_protocols::drm_format::fourcc_str;
use weft_protocols::v4l2_abi::{
    Capability, RequestBuffers, BUF_CAP_SUPPORTS_DMABUF, BUF_CAP_SUPPORTS_MMAP,
    BUF_TYPE_VIDEO_CAPTURE, BUF_TYPE_VIDEO_CAPTURE_MPLANE, CAP_STREAMING, CAP_VIDEO_CAPTURE,
    CAP_VIDEO_CAPTURE_MPLANE, CAP_VIDEO_M2M, CAP_VIDEO_M2M_MPLANE, MEMORY_MMAP,
};

use super::{Caps, DevT, DeviceId, DeviceKind, DeviceRecord, Node};

/// `struct v4l2_fmtdesc`.
#[repr(C)]
struct FmtDesc {
    index: u32,
    type_: u32,
    flags: u32,
    description: [u8; 32],
    pixelformat: u32,
    mbus_code: u32,
    reserved: [u32; 3],
}

const _: () = assert!(std::mem::size_of::<FmtDesc>() == 64);

const VIDIOC_QUERYCAP: rustix::ioctl::Opcode = opcode::read::<Capability>(b'V', 0);
const VIDIOC_ENUM_FMT: rustix::ioctl::Opcode = opcode::read_write::<FmtDesc>(b'V', 2);
const VIDIOC_REQBUFS: rustix::ioctl::Opcode = opcode::read_write::<RequestBuffers>(b'V', 8);

/// The `videoN` nodes under `dev`, in N order.
fn video_nodes(dev: &Path) -> Vec<String> {
    let mut nodes: Vec<(u32, String)> = std::fs::read_dir(dev)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_str()?.to_owned();
                    Some((name.strip_prefix("video")?.parse().ok()?, name))
                })
                .collect()
        })
        .unwrap_or_default();
    nodes.sort_unstable();
    nodes.into_iter().map(|(_, n)| n).collect()
}

/// Every V4L2 node that produces frames, probed.
pub fn probe_all(sysfs: &Path, dev: &Path) -> Vec<DeviceRecord> {
    video_nodes(dev)
        .into_iter()
        .filter_map(|n| probe(sysfs, dev, &n))
        .collect()
}

/// One `videoN` node, probed; `None` if it cannot be opened or produces no frames.
pub fn probe(sysfs: &Path, dev: &Path, name: &str) -> Option<DeviceRecord> {
    let path = dev.join(name);
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) => {
            debug!(node = %path.display(), error = %e, "V4L2 node not probed");
            return None;
        }
    };
    let mut cap = Capability::default();
    // SAFETY: VIDIOC_QUERYCAP fills a `struct v4l2_capability`, which `Capability` mirrors
    // (size asserted above).
    unsafe { ioctl(&file, Updater::<VIDIOC_QUERYCAP, Capability>::new(&mut cap)) }.ok()?;
    let caps = cap.node_caps();
    let m2m = caps & (CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE) != 0;
    let mplane = caps & (CAP_VIDEO_CAPTURE_MPLANE | CAP_VIDEO_M2M_MPLANE) != 0;
    let capture = caps & (CAP_VIDEO_CAPTURE | CAP_VIDEO_CAPTURE_MPLANE) != 0;
    if !m2m && !capture {
        return None;
    }
    let mut words = vec![if m2m { "m2m" } else { "capture" }.to_string()];
    if mplane {
        words.push("mplane".into());
    }
    if caps & CAP_STREAMING != 0 {
        words.push("streaming".into());
    }
    let queue = if mplane {
        BUF_TYPE_VIDEO_CAPTURE_MPLANE
    } else {
        BUF_TYPE_VIDEO_CAPTURE
    };
    let mut formats = Vec::new();
    for index in 0..64 {
        // SAFETY: all-zero is a valid `FmtDesc`.
        let mut desc: FmtDesc = unsafe { std::mem::zeroed() };
        desc.index = index;
        desc.type_ = queue;
        // SAFETY: VIDIOC_ENUM_FMT reads index/type and fills a `struct v4l2_fmtdesc`.
        if unsafe { ioctl(&file, Updater::<VIDIOC_ENUM_FMT, FmtDesc>::new(&mut desc)) }.is_err() {
            break;
        }
        formats.push(fourcc_str(desc.pixelformat));
    }
    // REQBUFS with count 0 frees nothing that is not ours and reports the queue's memory types
    // (videobuf2 drivers only; EBUSY when another process streams: then nothing is known).
    let mut req = RequestBuffers {
        count: 0,
        type_: queue,
        memory: MEMORY_MMAP,
        capabilities: 0,
        flags: 0,
        reserved: [0; 3],
    };
    // SAFETY: VIDIOC_REQBUFS reads and writes a `struct v4l2_requestbuffers`.
    let expbuf = unsafe {
        ioctl(
            &file,
            Updater::<VIDIOC_REQBUFS, RequestBuffers>::new(&mut req),
        )
    }
    .ok()
    .map(|()| req.capabilities & BUF_CAP_SUPPORTS_MMAP != 0);
    if req.capabilities & BUF_CAP_SUPPORTS_DMABUF != 0 {
        words.push("dmabuf_import".into());
    }
    let syspath = std::fs::canonicalize(sysfs.join("class/video4linux").join(name).join("device"))
        .ok()
        .map(|p| p.display().to_string());
    Some(DeviceRecord {
        id: DeviceId::new(format!("v4l2:{name}")),
        kind: if m2m {
            DeviceKind::Decoder
        } else {
            DeviceKind::Capture
        },
        driver: cap.driver(),
        nodes: vec![Node {
            path: path.display().to_string(),
            dev: DevT::of_node(&path),
        }],
        caps: Caps {
            v4l2: words,
            expbuf,
            formats,
            ..Caps::default()
        },
        syspath,
        logical_of: None,
    })
}
