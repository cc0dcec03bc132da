//! V4L2 capture into exported dma-bufs (vivid): `VIDIOC_S_FMT`, `REQBUFS(MMAP)`, `EXPBUF`, then
//! `QBUF` / `STREAMON` / `DQBUF`. The non-DRM source-device case: frames come from a device that
//! KMS and the GPU know nothing about.
//!
//! Single-planar API only (vivid's default).

use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::dmabuf::DmaBuf;
use crate::error::{Error, IoContext, Result};
use crate::ioctl::{ioctl, ior, iow, iowr};

use weft_protocols::v4l2_abi::{
    Capability, RequestBuffers, BUF_TYPE_VIDEO_CAPTURE, CAP_STREAMING, CAP_VIDEO_CAPTURE,
    MEMORY_MMAP,
};

const FIELD_NONE: u32 = 1;
/// `V4L2_PIX_FMT_YUYV`.
pub const PIX_FMT_YUYV: u32 = u32::from_le_bytes(*b"YUYV");

/// `struct v4l2_pix_format`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PixFormat {
    pub width: u32,
    pub height: u32,
    pub pixelformat: u32,
    pub field: u32,
    pub bytesperline: u32,
    pub sizeimage: u32,
    pub colorspace: u32,
    pub priv_: u32,
    pub flags: u32,
    pub ycbcr_enc: u32,
    pub quantization: u32,
    pub xfer_func: u32,
}

/// `struct v4l2_format`: the union is 200 bytes and 8-aligned (it holds pointers).
#[repr(C)]
union FormatUnion {
    pix: PixFormat,
    pix_mp: PixFormatMplane,
    raw: [u64; 25],
}

/// `struct v4l2_plane_pix_format` (packed in the uapi; naturally aligned here, same layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PlanePixFormat {
    pub sizeimage: u32,
    pub bytesperline: u32,
    reserved: [u16; 6],
}

/// `struct v4l2_pix_format_mplane`: the multi-planar API's format, one entry per memory plane.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PixFormatMplane {
    pub width: u32,
    pub height: u32,
    pub pixelformat: u32,
    pub field: u32,
    pub colorspace: u32,
    pub plane_fmt: [PlanePixFormat; 8],
    pub num_planes: u8,
    pub flags: u8,
    pub ycbcr_enc: u8,
    pub quantization: u8,
    pub xfer_func: u8,
    reserved: [u8; 7],
}

/// `struct v4l2_plane`: a memory plane of a multi-planar buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct V4l2Plane {
    bytesused: u32,
    length: u32,
    m: u64,
    data_offset: u32,
    reserved: [u32; 11],
}

const _: () = assert!(std::mem::size_of::<PlanePixFormat>() == 20);
const _: () = assert!(std::mem::size_of::<PixFormatMplane>() == 192);
const _: () = assert!(std::mem::size_of::<V4l2Plane>() == 64);

#[repr(C)]
struct Format {
    type_: u32,
    fmt: FormatUnion,
}

#[repr(C)]
#[derive(Default)]
struct Timecode {
    type_: u32,
    flags: u32,
    frames: u8,
    seconds: u8,
    minutes: u8,
    hours: u8,
    userbits: [u8; 4],
}

/// `struct v4l2_buffer` (88 bytes on 64-bit); `m` is the offset/userptr/planes/fd union.
#[repr(C)]
#[derive(Default)]
struct Buffer {
    index: u32,
    type_: u32,
    bytesused: u32,
    flags: u32,
    field: u32,
    timestamp: libc::timeval,
    timecode: Timecode,
    sequence: u32,
    memory: u32,
    m: u64,
    length: u32,
    reserved2: u32,
    request_fd: i32,
}

#[repr(C)]
struct ExportBuffer {
    type_: u32,
    index: u32,
    plane: u32,
    flags: u32,
    fd: i32,
    reserved: [u32; 11],
}

const _: () = assert!(std::mem::size_of::<Format>() == 208);
const _: () = assert!(std::mem::size_of::<Buffer>() == 88);
const _: () = assert!(std::mem::size_of::<ExportBuffer>() == 64);

const VIDIOC_QUERYCAP: libc::c_ulong = ior::<Capability>(b'V', 0);
const VIDIOC_S_FMT: libc::c_ulong = iowr::<Format>(b'V', 5);
const VIDIOC_REQBUFS: libc::c_ulong = iowr::<RequestBuffers>(b'V', 8);
const VIDIOC_QUERYBUF: libc::c_ulong = iowr::<Buffer>(b'V', 9);
const VIDIOC_QBUF: libc::c_ulong = iowr::<Buffer>(b'V', 15);
const VIDIOC_EXPBUF: libc::c_ulong = iowr::<ExportBuffer>(b'V', 16);
const VIDIOC_DQBUF: libc::c_ulong = iowr::<Buffer>(b'V', 17);
const VIDIOC_STREAMON: libc::c_ulong = iow::<libc::c_int>(b'V', 18);
const VIDIOC_STREAMOFF: libc::c_ulong = iow::<libc::c_int>(b'V', 19);

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .op("open(/dev/video*)")
}

/// The driver name and whether the node is a single-planar streaming capture device.
fn probe(file: &File) -> Result<(String, bool)> {
    probe_caps(file, CAP_VIDEO_CAPTURE | CAP_STREAMING)
}

/// The driver name and whether the node has every capability in `wanted`.
fn probe_caps(file: &File, wanted: u32) -> Result<(String, bool)> {
    let mut cap = Capability::default();
    // SAFETY: VIDIOC_QUERYCAP fills a `struct v4l2_capability`, mirrored by `Capability`.
    unsafe { ioctl(file.as_fd(), VIDIOC_QUERYCAP, &mut cap) }.op("VIDIOC_QUERYCAP")?;
    let caps = cap.node_caps();
    Ok((cap.driver(), caps & wanted == wanted))
}

/// The first `/dev/videoN` that `driver` exposes as a multi-planar capture device.
pub fn find_capture_mplane(driver: &str) -> Result<PathBuf> {
    let mut nodes: Vec<u32> = std::fs::read_dir("/dev")
        .op("read_dir(/dev)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("video")?.parse().ok())
        .collect();
    nodes.sort_unstable();
    for n in nodes {
        let path = PathBuf::from(format!("/dev/video{n}"));
        let Ok(file) = open(&path) else { continue };
        let wanted = weft_protocols::v4l2_abi::CAP_VIDEO_CAPTURE_MPLANE | CAP_STREAMING;
        if matches!(probe_caps(&file, wanted), Ok((d, true)) if d == driver) {
            return Ok(path);
        }
    }
    Err(Error::Unsupported(format!(
        "no {driver} multi-planar capture device"
    )))
}

/// The first `/dev/videoN` that `driver` exposes as a capture device.
pub fn find_capture(driver: &str) -> Result<PathBuf> {
    let mut nodes: Vec<u32> = std::fs::read_dir("/dev")
        .op("read_dir(/dev)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("video")?.parse().ok())
        .collect();
    nodes.sort_unstable();
    for n in nodes {
        let path = PathBuf::from(format!("/dev/video{n}"));
        let Ok(file) = open(&path) else { continue };
        if matches!(probe(&file), Ok((d, true)) if d == driver) {
            return Ok(path);
        }
    }
    Err(Error::Unsupported(format!("no {driver} capture device")))
}

/// A streaming capture whose MMAP buffers are exported as dma-bufs; streams off on drop.
#[derive(Debug)]
pub struct Capture {
    file: File,
    pub format: PixFormat,
    /// One dma-buf per V4L2 buffer index.
    pub buffers: Vec<DmaBuf>,
}

/// How `VIDIOC_EXPBUF` exports a buffer: read-write, or read-only as much capture code does
/// (flags `O_CLOEXEC` alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    ReadWrite,
    ReadOnly,
}

/// One dequeued frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub index: usize,
    pub bytesused: u32,
    pub sequence: u32,
    /// When the capture completed, in ns (CLOCK_MONOTONIC: vivid's buffers carry
    /// `V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC`).
    pub timestamp_ns: u128,
}

impl Capture {
    /// Sets `width`×`height` `pixelformat` (the driver may adjust it: see `format`), allocates
    /// `count` buffers, exports each, queues them all and starts streaming.
    pub fn start(
        path: &Path,
        width: u32,
        height: u32,
        pixelformat: u32,
        count: u32,
    ) -> Result<Self> {
        Self::start_exporting(path, width, height, pixelformat, count, Export::ReadWrite)
    }

    /// As [`Self::start`], exporting the buffers with `access`.
    pub fn start_exporting(
        path: &Path,
        width: u32,
        height: u32,
        pixelformat: u32,
        count: u32,
        access: Export,
    ) -> Result<Self> {
        let access = match access {
            Export::ReadWrite => libc::O_RDWR,
            Export::ReadOnly => libc::O_RDONLY,
        };
        let file = open(path)?;
        let mut fmt = Format {
            type_: BUF_TYPE_VIDEO_CAPTURE,
            fmt: FormatUnion {
                pix: PixFormat {
                    width,
                    height,
                    pixelformat,
                    field: FIELD_NONE,
                    ..Default::default()
                },
            },
        };
        // SAFETY: VIDIOC_S_FMT takes and returns a `struct v4l2_format`, mirrored by `Format`.
        unsafe { ioctl(file.as_fd(), VIDIOC_S_FMT, &mut fmt) }.op("VIDIOC_S_FMT")?;
        // SAFETY: for BUF_TYPE_VIDEO_CAPTURE the kernel filled the `pix` member.
        let format = unsafe { fmt.fmt.pix };

        let mut req = RequestBuffers {
            count,
            type_: BUF_TYPE_VIDEO_CAPTURE,
            memory: MEMORY_MMAP,
            capabilities: 0,
            flags: 0,
            reserved: [0; 3],
        };
        // SAFETY: VIDIOC_REQBUFS takes `struct v4l2_requestbuffers`, mirrored by `RequestBuffers`.
        unsafe { ioctl(file.as_fd(), VIDIOC_REQBUFS, &mut req) }.op("VIDIOC_REQBUFS")?;
        if req.count == 0 {
            return Err(Error::Unsupported("VIDIOC_REQBUFS gave no buffers".into()));
        }

        let mut buffers = Vec::new();
        for index in 0..req.count {
            let mut exp = ExportBuffer {
                type_: BUF_TYPE_VIDEO_CAPTURE,
                index,
                plane: 0,
                flags: (access | libc::O_CLOEXEC) as u32,
                fd: -1,
                reserved: [0; 11],
            };
            // SAFETY: VIDIOC_EXPBUF takes `struct v4l2_exportbuffer`, mirrored by `ExportBuffer`.
            unsafe { ioctl(file.as_fd(), VIDIOC_EXPBUF, &mut exp) }.op("VIDIOC_EXPBUF")?;
            // SAFETY: on success `fd` is a new dma-buf fd owned by nobody else.
            buffers.push(DmaBuf::new(
                unsafe { OwnedFd::from_raw_fd(exp.fd) },
                "vivid",
            )?);
        }
        let capture = Self {
            file,
            format,
            buffers,
        };
        for index in 0..req.count {
            let mut buf = capture.buffer(index)?;
            // SAFETY: VIDIOC_QBUF takes `struct v4l2_buffer`, mirrored by `Buffer`.
            unsafe { ioctl(capture.file.as_fd(), VIDIOC_QBUF, &mut buf) }.op("VIDIOC_QBUF")?;
        }
        let mut ty = BUF_TYPE_VIDEO_CAPTURE as libc::c_int;
        // SAFETY: VIDIOC_STREAMON reads one int, the buffer type.
        unsafe { ioctl(capture.file.as_fd(), VIDIOC_STREAMON, &mut ty) }.op("VIDIOC_STREAMON")?;
        Ok(capture)
    }

    fn buffer(&self, index: u32) -> Result<Buffer> {
        let mut buf = Buffer {
            index,
            type_: BUF_TYPE_VIDEO_CAPTURE,
            memory: MEMORY_MMAP,
            ..Default::default()
        };
        // SAFETY: VIDIOC_QUERYBUF takes `struct v4l2_buffer`, mirrored by `Buffer`.
        unsafe { ioctl(self.file.as_fd(), VIDIOC_QUERYBUF, &mut buf) }.op("VIDIOC_QUERYBUF")?;
        Ok(buf)
    }

    /// Blocks until a frame is filled; its dma-buf is `buffers[frame.index]`, owned by us until
    /// [`Self::requeue`].
    pub fn dequeue(&self) -> Result<Frame> {
        let mut buf = Buffer {
            type_: BUF_TYPE_VIDEO_CAPTURE,
            memory: MEMORY_MMAP,
            ..Default::default()
        };
        // SAFETY: VIDIOC_DQBUF takes `struct v4l2_buffer`, mirrored by `Buffer`.
        unsafe { ioctl(self.file.as_fd(), VIDIOC_DQBUF, &mut buf) }.op("VIDIOC_DQBUF")?;
        Ok(Frame {
            index: buf.index as usize,
            bytesused: buf.bytesused,
            sequence: buf.sequence,
            timestamp_ns: buf.timestamp.tv_sec as u128 * 1_000_000_000
                + buf.timestamp.tv_usec as u128 * 1_000,
        })
    }

    /// Hands a dequeued buffer back to the driver.
    pub fn requeue(&self, frame: Frame) -> Result<()> {
        let mut buf = self.buffer(frame.index as u32)?;
        // SAFETY: as in `start`.
        unsafe { ioctl(self.file.as_fd(), VIDIOC_QBUF, &mut buf) }.op("VIDIOC_QBUF")?;
        Ok(())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let mut ty = BUF_TYPE_VIDEO_CAPTURE as libc::c_int;
        // SAFETY: VIDIOC_STREAMOFF reads one int. A failure leaves nothing to clean up: closing
        // the fd stops streaming too.
        let _ = unsafe { ioctl(self.file.as_fd(), VIDIOC_STREAMOFF, &mut ty) };
    }
}

/// A streaming capture through the multi-planar API: each buffer has `format.num_planes` memory
/// planes, each exported as a dma-buf of its own (`NV12M`: luma and chroma in two fds).
#[derive(Debug)]
pub struct CaptureMplane {
    file: File,
    pub format: PixFormatMplane,
    /// Per V4L2 buffer, one dma-buf per memory plane.
    pub buffers: Vec<Vec<DmaBuf>>,
}

impl CaptureMplane {
    pub fn start(
        path: &Path,
        width: u32,
        height: u32,
        pixelformat: u32,
        count: u32,
        access: Export,
    ) -> Result<Self> {
        use weft_protocols::v4l2_abi::BUF_TYPE_VIDEO_CAPTURE_MPLANE as MPLANE;
        let access = match access {
            Export::ReadWrite => libc::O_RDWR,
            Export::ReadOnly => libc::O_RDONLY,
        };
        let file = open(path)?;
        let mut fmt = Format {
            type_: MPLANE,
            fmt: FormatUnion {
                pix_mp: PixFormatMplane {
                    width,
                    height,
                    pixelformat,
                    field: FIELD_NONE,
                    ..Default::default()
                },
            },
        };
        // SAFETY: VIDIOC_S_FMT takes and returns a `struct v4l2_format`, mirrored by `Format`.
        unsafe { ioctl(file.as_fd(), VIDIOC_S_FMT, &mut fmt) }.op("VIDIOC_S_FMT(MPLANE)")?;
        // SAFETY: for the MPLANE type the kernel filled the `pix_mp` member.
        let format = unsafe { fmt.fmt.pix_mp };
        let mut req = RequestBuffers {
            count,
            type_: MPLANE,
            memory: MEMORY_MMAP,
            capabilities: 0,
            flags: 0,
            reserved: [0; 3],
        };
        // SAFETY: VIDIOC_REQBUFS takes `struct v4l2_requestbuffers`, mirrored by `RequestBuffers`.
        unsafe { ioctl(file.as_fd(), VIDIOC_REQBUFS, &mut req) }.op("VIDIOC_REQBUFS(MPLANE)")?;
        if req.count == 0 {
            return Err(Error::Unsupported("VIDIOC_REQBUFS gave no buffers".into()));
        }
        let mut buffers = Vec::new();
        for index in 0..req.count {
            let mut planes = Vec::new();
            for plane in 0..u32::from(format.num_planes) {
                let mut exp = ExportBuffer {
                    type_: MPLANE,
                    index,
                    plane,
                    flags: (access | libc::O_CLOEXEC) as u32,
                    fd: -1,
                    reserved: [0; 11],
                };
                // SAFETY: VIDIOC_EXPBUF takes `struct v4l2_exportbuffer`, mirrored by `ExportBuffer`.
                unsafe { ioctl(file.as_fd(), VIDIOC_EXPBUF, &mut exp) }
                    .op("VIDIOC_EXPBUF(MPLANE)")?;
                // SAFETY: on success `fd` is a new dma-buf fd owned by nobody else.
                planes.push(DmaBuf::new(
                    unsafe { OwnedFd::from_raw_fd(exp.fd) },
                    "vivid",
                )?);
            }
            buffers.push(planes);
        }
        let capture = Self {
            file,
            format,
            buffers,
        };
        for index in 0..req.count {
            capture.queue(index)?;
        }
        let mut ty = MPLANE as libc::c_int;
        // SAFETY: VIDIOC_STREAMON reads one int, the buffer type.
        unsafe { ioctl(capture.file.as_fd(), VIDIOC_STREAMON, &mut ty) }.op("VIDIOC_STREAMON")?;
        Ok(capture)
    }

    /// Runs `f` on a `struct v4l2_buffer` of the MPLANE type whose `m.planes` points at a plane
    /// array of `num_planes` entries.
    fn with_buffer<T>(&self, index: u32, f: impl FnOnce(&mut Buffer) -> Result<T>) -> Result<T> {
        let mut planes = [V4l2Plane::default(); 8];
        let mut buf = Buffer {
            index,
            type_: weft_protocols::v4l2_abi::BUF_TYPE_VIDEO_CAPTURE_MPLANE,
            memory: MEMORY_MMAP,
            m: planes.as_mut_ptr() as u64,
            length: u32::from(self.format.num_planes),
            ..Default::default()
        };
        f(&mut buf)
    }

    fn queue(&self, index: u32) -> Result<()> {
        self.with_buffer(index, |buf| {
            // SAFETY: VIDIOC_QBUF takes `struct v4l2_buffer`; for the MPLANE type `m` points at
            // `length` `struct v4l2_plane`s, which live on the stack for the call.
            unsafe { ioctl(self.file.as_fd(), VIDIOC_QBUF, buf) }.op("VIDIOC_QBUF(MPLANE)")?;
            Ok(())
        })
    }

    /// Blocks until a frame is filled; its planes are `buffers[frame.index]`.
    pub fn dequeue(&self) -> Result<Frame> {
        self.with_buffer(0, |buf| {
            // SAFETY: as in `queue`; the kernel fills the plane array too.
            unsafe { ioctl(self.file.as_fd(), VIDIOC_DQBUF, buf) }.op("VIDIOC_DQBUF(MPLANE)")?;
            Ok(Frame {
                index: buf.index as usize,
                bytesused: 0,
                sequence: buf.sequence,
                timestamp_ns: buf.timestamp.tv_sec as u128 * 1_000_000_000
                    + buf.timestamp.tv_usec as u128 * 1_000,
            })
        })
    }

    pub fn requeue(&self, frame: Frame) -> Result<()> {
        self.queue(frame.index as u32)
    }
}

impl Drop for CaptureMplane {
    fn drop(&mut self) {
        let mut ty = weft_protocols::v4l2_abi::BUF_TYPE_VIDEO_CAPTURE_MPLANE as libc::c_int;
        // SAFETY: VIDIOC_STREAMOFF reads one int.
        let _ = unsafe { ioctl(self.file.as_fd(), VIDIOC_STREAMOFF, &mut ty) };
    }
}
