//! A linux-dmabuf client: binds `zwp_linux_dmabuf_v1` (v5), reads the default and per-surface
//! feedback (format table, main device, tranches), allocates memfd-backed "dma-bufs" (what the host
//! has: lavapipe imports a memfd as DMA_BUF memory), fills each format with a known pattern and sends
//! them through `create` or `create_immed`, planes in one fd or one fd per plane (disjoint).
//!
//! Used by `tests/dmabuf.rs` and by `weft demo` (the NV12 surface).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};

use rustix::fs::{ftruncate, memfd_create, MemfdFlags};
use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
use wayland_client::protocol::{wl_buffer, wl_surface};
use wayland_client::{event_created_child, Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols::wp::linux_dmabuf::zv1::client::{
    zwp_linux_buffer_params_v1, zwp_linux_dmabuf_feedback_v1, zwp_linux_dmabuf_v1,
};

use crate::client::{Client, ClientError, State};

/// `fourcc_code` from drm_fourcc.h.
pub const fn fourcc(c: &[u8; 4]) -> u32 {
    c[0] as u32 | (c[1] as u32) << 8 | (c[2] as u32) << 16 | (c[3] as u32) << 24
}

pub const ARGB8888: u32 = fourcc(b"AR24");
pub const XRGB8888: u32 = fourcc(b"XR24");
pub const ABGR8888: u32 = fourcc(b"AB24");
pub const XBGR8888: u32 = fourcc(b"XB24");
pub const ARGB2101010: u32 = fourcc(b"AR30");
pub const XRGB2101010: u32 = fourcc(b"XR30");
pub const NV12: u32 = fourcc(b"NV12");
pub const P010: u32 = fourcc(b"P010");
pub const YUV420: u32 = fourcc(b"YU12");
pub const YUYV: u32 = fourcc(b"YUYV");
pub const YVYU: u32 = fourcc(b"YVYU");
pub const UYVY: u32 = fourcc(b"UYVY");
pub const VYUY: u32 = fourcc(b"VYUY");
pub const NV21: u32 = fourcc(b"NV21");
pub const NV16: u32 = fourcc(b"NV16");
pub const NV61: u32 = fourcc(b"NV61");
pub const NV24: u32 = fourcc(b"NV24");
pub const NV42: u32 = fourcc(b"NV42");
pub const YVU420: u32 = fourcc(b"YV12");
pub const YUV422: u32 = fourcc(b"YU16");
pub const YUV444: u32 = fourcc(b"YU24");
pub const MOD_LINEAR: u64 = 0;
pub const MOD_INVALID: u64 = 0x00ff_ffff_ffff_ffff;

/// Every format weft imports, in the test suite's order.
pub const ALL_FORMATS: [u32; 21] = [
    ARGB8888,
    XRGB8888,
    ABGR8888,
    XBGR8888,
    ARGB2101010,
    XRGB2101010,
    NV12,
    P010,
    YUV420,
    YUYV,
    YVYU,
    UYVY,
    VYUY,
    NV21,
    NV16,
    NV61,
    NV24,
    NV42,
    YVU420,
    YUV422,
    YUV444,
];

/// The 8-bit Y′CbCr formats (those a CPU render device converts once per commit).
pub const YUV8_FORMATS: [u32; 14] = [
    NV12, YUV420, YUYV, YVYU, UYVY, VYUY, NV21, NV16, NV61, NV24, NV42, YVU420, YUV422, YUV444,
];

/// Whether `fourcc` is Y′CbCr.
pub fn is_yuv(fourcc: u32) -> bool {
    fourcc == P010 || YUV8_FORMATS.contains(&fourcc)
}

/// One feedback tranche.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tranche {
    pub target_device: Option<u64>,
    pub flags: u32,
    /// (fourcc, modifier) pairs, resolved through the format table.
    pub formats: Vec<(u32, u64)>,
}

/// Everything a feedback object said, as of its last `done`.
#[derive(Debug, Clone, Default)]
pub struct Feedback {
    pub table: Vec<(u32, u64)>,
    pub main_device: Option<u64>,
    pub tranches: Vec<Tranche>,
    pub done: u32,
    pending: Tranche,
    pending_tranches: Vec<Tranche>,
}

impl Feedback {
    /// The modifier to allocate `fourcc` with, the way a client should choose: tranches in the
    /// compositor's order of preference, and within a tranche the first modifier in the producer's
    /// own order (`producible`) that the tranche offers. `None`: the compositor takes `fourcc` with
    /// none of these modifiers, so the buffer must not be sent.
    pub fn pick_modifier(&self, fourcc: u32, producible: &[u64]) -> Option<u64> {
        self.tranches.iter().find_map(|t| {
            producible
                .iter()
                .copied()
                .find(|&m| t.formats.contains(&(fourcc, m)))
        })
    }

    /// Whether any tranche offers `(fourcc, modifier)`.
    pub fn offers(&self, fourcc: u32, modifier: u64) -> bool {
        self.tranches
            .iter()
            .any(|t| t.formats.contains(&(fourcc, modifier)))
    }
}

pub type FeedbackHandle = Arc<Mutex<Feedback>>;

/// What a `create` request was answered with.
#[derive(Debug, Clone, Default)]
pub enum Outcome {
    #[default]
    Pending,
    Created(wl_buffer::WlBuffer),
    Failed,
}

pub type OutcomeHandle = Arc<Mutex<Outcome>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The bound linux-dmabuf global with its default feedback.
pub struct LinuxDmabuf {
    pub global: zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1,
    pub default_feedback: FeedbackHandle,
}

impl LinuxDmabuf {
    /// Binds version `version` (4 or 5 for feedback) and waits for the default feedback.
    pub fn bind(c: &mut Client, version: u32) -> Result<Self, ClientError> {
        let global: zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1 =
            c.globals.bind(&c.qh, version..=version, ())?;
        let default_feedback = FeedbackHandle::default();
        global.get_default_feedback(&c.qh, default_feedback.clone());
        let fb = default_feedback.clone();
        for _ in 0..100 {
            if lock(&fb).done > 0 {
                break;
            }
            c.roundtrip()?;
        }
        if lock(&fb).done == 0 {
            return Err(ClientError::Timeout("linux-dmabuf default feedback"));
        }
        Ok(Self {
            global,
            default_feedback,
        })
    }

    /// A per-surface feedback object; its state fills in as events arrive.
    pub fn surface_feedback(&self, c: &Client, surface: &wl_surface::WlSurface) -> FeedbackHandle {
        let fb = FeedbackHandle::default();
        self.global.get_surface_feedback(surface, &c.qh, fb.clone());
        fb
    }

    /// A per-surface feedback object, after its first `done` (what the surface's buffers should
    /// be allocated by).
    pub fn surface_feedback_done(
        &self,
        c: &mut Client,
        surface: &wl_surface::WlSurface,
    ) -> Result<(FeedbackHandle, Feedback), ClientError> {
        let fb = self.surface_feedback(c, surface);
        for _ in 0..100 {
            if lock(&fb).done > 0 {
                let now = lock(&fb).clone();
                return Ok((fb, now));
            }
            c.roundtrip()?;
        }
        Err(ClientError::Timeout("linux-dmabuf surface feedback"))
    }

    /// A params object whose `created`/`failed` answer lands in the returned handle.
    pub fn params(
        &self,
        c: &Client,
    ) -> (
        zwp_linux_buffer_params_v1::ZwpLinuxBufferParamsV1,
        OutcomeHandle,
    ) {
        let outcome = OutcomeHandle::default();
        let params = self.global.create_params(&c.qh, outcome.clone());
        (params, outcome)
    }
}

/// The layouts a [`MemBuffer`] (a linear memfd) can be described with, preferred first: LINEAR,
/// then INVALID ("the driver's implicit layout", which a CPU render device defines as linear).
pub const MEMFD_MODIFIERS: [u64; 2] = [MOD_LINEAR, MOD_INVALID];

/// One plane of a [`MemBuffer`].
#[derive(Debug, Clone, Copy)]
pub struct PlaneSpec {
    pub file: usize,
    pub offset: u32,
    pub stride: u32,
    pub rows: u32,
    /// Bytes one sample takes and the subsampling.
    pub bytes_per_sample: u32,
    pub hsub: u32,
    pub vsub: u32,
}

/// A memfd and its shared mapping.
pub struct MemFile {
    pub fd: OwnedFd,
    ptr: *mut u8,
    len: usize,
}

impl MemFile {
    /// A memfd of `len` bytes, sealed against shrinking (weft refuses unsealed memfds as dma-bufs:
    /// a client could truncate one under the compositor's reads).
    pub fn new(len: usize) -> Result<Self, ClientError> {
        let me = Self::unsealed(len)?;
        rustix::fs::fcntl_add_seals(&me.fd, rustix::fs::SealFlags::SHRINK)?;
        Ok(me)
    }

    /// A memfd that can still shrink (for the test that weft refuses it).
    pub fn unsealed(len: usize) -> Result<Self, ClientError> {
        let fd = memfd_create(
            "weft-test-dmabuf",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        Self::map(fd, len)
    }

    /// An unlinked regular file in the temporary directory: neither a dma-buf nor sealable (for the
    /// test that weft refuses it).
    pub fn plain_file(len: usize) -> Result<Self, ClientError> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(
            std::env::temp_dir(),
            OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )?;
        Self::map(fd, len)
    }

    fn map(fd: OwnedFd, len: usize) -> Result<Self, ClientError> {
        ftruncate(&fd, len as u64)?;
        // SAFETY: a fresh shared mapping of a file of `len` bytes; unmapped in Drop.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )?
        };
        Ok(Self {
            fd,
            ptr: ptr.cast(),
            len,
        })
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: our live shared mapping of `len` bytes; only this process writes it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for MemFile {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping made in `new`.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

/// How to lay out a [`MemBuffer`].
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// One memfd per plane.
    pub disjoint: bool,
    /// Bytes before the first plane (tests that offsets are honoured).
    pub first_offset: u32,
    /// Extra bytes at the end of every row (tests that strides are honoured).
    pub row_padding: u32,
}

impl Default for Layout {
    fn default() -> Self {
        Self {
            disjoint: false,
            first_offset: 256,
            row_padding: 64,
        }
    }
}

/// A memfd-backed "dma-buf" of a known format.
pub struct MemBuffer {
    pub files: Vec<MemFile>,
    pub planes: Vec<PlaneSpec>,
    pub fourcc: u32,
    pub width: u32,
    pub height: u32,
}

/// (bytes per sample, hsub, vsub) of each plane.
pub fn plane_layouts(fourcc: u32) -> &'static [(u32, u32, u32)] {
    match fourcc {
        NV12 | NV21 => &[(1, 1, 1), (2, 2, 2)],
        NV16 | NV61 => &[(1, 1, 1), (2, 2, 1)],
        NV24 | NV42 => &[(1, 1, 1), (2, 1, 1)],
        P010 => &[(2, 1, 1), (4, 2, 2)],
        YUV420 | YVU420 => &[(1, 1, 1), (1, 2, 2), (1, 2, 2)],
        YUV422 => &[(1, 1, 1), (1, 2, 1), (1, 2, 1)],
        YUV444 => &[(1, 1, 1), (1, 1, 1), (1, 1, 1)],
        // Packed 4:2:2: four bytes per pair of pixels.
        YUYV | YVYU | UYVY | VYUY => &[(4, 2, 1)],
        _ => &[(4, 1, 1)],
    }
}

impl MemBuffer {
    pub fn new(fourcc: u32, width: u32, height: u32, layout: Layout) -> Result<Self, ClientError> {
        Self::with_files(fourcc, width, height, layout, MemFile::new)
    }

    /// Like [`MemBuffer::new`] with memfds made by `make` (say, [`MemFile::unsealed`]).
    pub fn with_files(
        fourcc: u32,
        width: u32,
        height: u32,
        layout: Layout,
        make: impl Fn(usize) -> Result<MemFile, ClientError>,
    ) -> Result<Self, ClientError> {
        let mut planes = Vec::new();
        let mut sizes: Vec<usize> = Vec::new();
        let mut offset = layout.first_offset;
        for &(bps, hsub, vsub) in plane_layouts(fourcc) {
            let stride = width.div_ceil(hsub) * bps + layout.row_padding;
            let rows = height.div_ceil(vsub);
            let file = if layout.disjoint { planes.len() } else { 0 };
            if layout.disjoint {
                offset = layout.first_offset;
            }
            planes.push(PlaneSpec {
                file,
                offset,
                stride,
                rows,
                bytes_per_sample: bps,
                hsub,
                vsub,
            });
            let end = (offset + stride * rows) as usize;
            if sizes.len() <= file {
                sizes.push(0);
            }
            sizes[file] = sizes[file].max(end);
            offset = (offset + stride * rows).next_multiple_of(256);
        }
        let files = sizes
            .into_iter()
            .map(|s| make(s.next_multiple_of(4096)))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            files,
            planes,
            fourcc,
            width,
            height,
        })
    }

    /// A buffer laid out the way wl_shm describes one (Weston's and GStreamer's convention): the
    /// planes follow one another from byte 64 of one memfd made by `make`, plane 0's rows padded
    /// by `padding` bytes, each further plane's stride derived from plane 0's in proportion to its
    /// bytes per row.
    pub fn wl_shm_layout(
        fourcc: u32,
        width: u32,
        height: u32,
        padding: u32,
        make: impl Fn(usize) -> Result<MemFile, ClientError>,
    ) -> Result<Self, ClientError> {
        let layouts = plane_layouts(fourcc);
        let &(bps0, hsub0, _) = layouts.first().expect("a plane");
        let stride0 = width.div_ceil(hsub0) * bps0 + padding;
        let mut offset = 64;
        let mut planes = Vec::new();
        for &(bps, hsub, vsub) in layouts {
            let stride = stride0 * bps * hsub0 / (bps0 * hsub);
            let rows = height.div_ceil(vsub);
            planes.push(PlaneSpec {
                file: 0,
                offset,
                stride,
                rows,
                bytes_per_sample: bps,
                hsub,
                vsub,
            });
            offset += stride * rows;
        }
        Ok(Self {
            files: vec![make(offset as usize)?],
            planes,
            fourcc,
            width,
            height,
        })
    }

    /// This buffer as a wl_shm buffer: a pool of its (one) memfd, the buffer at plane 0 with plane
    /// 0's stride (a [`Self::wl_shm_layout`] buffer).
    pub fn create_shm(
        &self,
        c: &Client,
    ) -> (
        wayland_client::protocol::wl_shm_pool::WlShmPool,
        wl_buffer::WlBuffer,
    ) {
        let file = &self.files[0];
        let pool = c
            .shm
            .create_pool(file.fd.as_fd(), file.len as i32, &c.qh, ());
        let p = self.planes[0];
        let format = wayland_client::protocol::wl_shm::Format::try_from(self.fourcc)
            .expect("a wl_shm format");
        let buffer = pool.create_buffer(
            p.offset as i32,
            self.width as i32,
            self.height as i32,
            p.stride as i32,
            format,
            &c.qh,
            (),
        );
        (pool, buffer)
    }

    /// Fills an RGB format from `rgba(x, y)` (8-bit premultiplied components).
    pub fn fill_rgb(&mut self, rgba: impl Fn(u32, u32) -> [u8; 4]) {
        let p = self.planes[0];
        let fourcc = self.fourcc;
        let (w, h) = (self.width, self.height);
        let bytes = self.files[p.file].bytes_mut();
        for y in 0..h {
            for x in 0..w {
                let [r, g, b, a] = rgba(x, y);
                let px: [u8; 4] = match fourcc {
                    ARGB8888 | XRGB8888 => [b, g, r, a],
                    ABGR8888 | XBGR8888 => [r, g, b, a],
                    _ => {
                        let ten = |v: u8| (u32::from(v) * 1023 + 127) / 255;
                        let v = (u32::from(a) / 85) << 30 | ten(r) << 20 | ten(g) << 10 | ten(b);
                        v.to_le_bytes()
                    }
                };
                let o = (p.offset + y * p.stride + x * 4) as usize;
                bytes[o..o + 4].copy_from_slice(&px);
            }
        }
    }

    /// Fills a Y′CbCr format from `yuv(x, y)` as 8-bit codes (P010 scales them to 10 bits); chroma is
    /// taken at the top-left luma position of each subsampled block.
    pub fn fill_yuv(&mut self, yuv: impl Fn(u32, u32) -> (u8, u8, u8)) {
        let fourcc = self.fourcc;
        let (w, h) = (self.width, self.height);
        let planes = self.planes.clone();
        let p10 = |v: u8| ((u16::from(v) * 4) << 6).to_le_bytes();
        // Packed 4:2:2: byte positions of (Y0, Cb, Y1, Cr) in each four-byte group.
        let packed = match fourcc {
            YUYV => Some([0, 1, 2, 3]),
            YVYU => Some([0, 3, 2, 1]),
            UYVY => Some([1, 0, 3, 2]),
            VYUY => Some([1, 2, 3, 0]),
            _ => None,
        };
        if let Some([p0, pu, p1, pv]) = packed {
            let p = planes[0];
            let bytes = self.files[p.file].bytes_mut();
            for y in 0..h {
                for gx in 0..w.div_ceil(2) {
                    let (l0, u, v) = yuv(gx * 2, y);
                    let (l1, _, _) = yuv((gx * 2 + 1).min(w - 1), y);
                    let o = (p.offset + y * p.stride + gx * 4) as usize;
                    bytes[o + p0] = l0;
                    bytes[o + pu] = u;
                    bytes[o + p1] = l1;
                    bytes[o + pv] = v;
                }
            }
            return;
        }
        {
            let p = planes[0];
            let bytes = self.files[p.file].bytes_mut();
            for y in 0..h {
                for x in 0..w {
                    let (l, _, _) = yuv(x, y);
                    let o = (p.offset + y * p.stride + x * p.bytes_per_sample) as usize;
                    if fourcc == P010 {
                        bytes[o..o + 2].copy_from_slice(&p10(l));
                    } else {
                        bytes[o] = l;
                    }
                }
            }
        }
        let c = planes[1];
        let swap = matches!(fourcc, NV21 | NV61 | NV42 | YVU420);
        for cy in 0..h.div_ceil(c.vsub) {
            for cx in 0..w.div_ceil(c.hsub) {
                let (_, u, v) = yuv(cx * c.hsub, cy * c.vsub);
                let (a, b) = if swap { (v, u) } else { (u, v) };
                match planes.len() {
                    2 if fourcc == P010 => {
                        let o = (c.offset + cy * c.stride + cx * 4) as usize;
                        let bytes = self.files[c.file].bytes_mut();
                        bytes[o..o + 2].copy_from_slice(&p10(a));
                        bytes[o + 2..o + 4].copy_from_slice(&p10(b));
                    }
                    2 => {
                        let o = (c.offset + cy * c.stride + cx * 2) as usize;
                        let bytes = self.files[c.file].bytes_mut();
                        bytes[o] = a;
                        bytes[o + 1] = b;
                    }
                    _ => {
                        for (plane, val) in [(planes[1], a), (planes[2], b)] {
                            let o = (plane.offset + cy * plane.stride + cx) as usize;
                            self.files[plane.file].bytes_mut()[o] = val;
                        }
                    }
                }
            }
        }
    }

    /// Adds every plane to `params` with `modifier`.
    pub fn add_planes(
        &self,
        params: &zwp_linux_buffer_params_v1::ZwpLinuxBufferParamsV1,
        modifier: u64,
    ) {
        for (i, p) in self.planes.iter().enumerate() {
            params.add(
                self.files[p.file].fd.as_fd(),
                i as u32,
                p.offset,
                p.stride,
                (modifier >> 32) as u32,
                modifier as u32,
            );
        }
    }

    /// Sends the buffer with `create_immed`, with the modifier `feedback` prefers among those a memfd
    /// can be (`MEMFD_MODIFIERS`), and returns the wl_buffer; `None` when the feedback offers the
    /// format with none of them.
    pub fn create_by_feedback(
        &self,
        c: &Client,
        dmabuf: &LinuxDmabuf,
        feedback: &Feedback,
    ) -> Option<(wl_buffer::WlBuffer, u64)> {
        let modifier = feedback.pick_modifier(self.fourcc, &MEMFD_MODIFIERS)?;
        Some((self.create_immed_with(c, dmabuf, modifier, 0), modifier))
    }

    /// Sends the buffer with `create_immed` (LINEAR, no flags) and returns the wl_buffer.
    pub fn create_immed(&self, c: &Client, dmabuf: &LinuxDmabuf) -> wl_buffer::WlBuffer {
        self.create_immed_with(c, dmabuf, MOD_LINEAR, 0)
    }

    pub fn create_immed_with(
        &self,
        c: &Client,
        dmabuf: &LinuxDmabuf,
        modifier: u64,
        flags: u32,
    ) -> wl_buffer::WlBuffer {
        let (params, _) = dmabuf.params(c);
        self.add_planes(&params, modifier);
        let buffer = params.create_immed(
            self.width as i32,
            self.height as i32,
            self.fourcc,
            zwp_linux_buffer_params_v1::Flags::from_bits_retain(flags),
            &c.qh,
            (),
        );
        params.destroy();
        buffer
    }

    /// Sends the buffer with `create` and waits for `created` or `failed`.
    pub fn create(
        &self,
        c: &mut Client,
        dmabuf: &LinuxDmabuf,
        flags: u32,
    ) -> Result<Outcome, ClientError> {
        let (params, outcome) = dmabuf.params(c);
        self.add_planes(&params, MOD_LINEAR);
        params.create(
            self.width as i32,
            self.height as i32,
            self.fourcc,
            zwp_linux_buffer_params_v1::Flags::from_bits_retain(flags),
        );
        let o = outcome.clone();
        for _ in 0..100 {
            if !matches!(*lock(&o), Outcome::Pending) {
                break;
            }
            c.roundtrip()?;
        }
        params.destroy();
        let result = lock(&o).clone();
        match result {
            Outcome::Pending => Err(ClientError::Timeout(
                "zwp_linux_buffer_params_v1.created/failed",
            )),
            other => Ok(other),
        }
    }
}

impl Dispatch<zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1,
        _: zwp_linux_dmabuf_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        // format/modifier events are not sent to v4+ clients; this client reads the feedback.
    }
}

impl Dispatch<zwp_linux_buffer_params_v1::ZwpLinuxBufferParamsV1, OutcomeHandle> for State {
    fn event(
        _: &mut Self,
        _: &zwp_linux_buffer_params_v1::ZwpLinuxBufferParamsV1,
        event: zwp_linux_buffer_params_v1::Event,
        outcome: &OutcomeHandle,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_linux_buffer_params_v1::Event::Created { buffer } => {
                *lock(outcome) = Outcome::Created(buffer)
            }
            zwp_linux_buffer_params_v1::Event::Failed => *lock(outcome) = Outcome::Failed,
            _ => {}
        }
    }

    event_created_child!(State, zwp_linux_buffer_params_v1::ZwpLinuxBufferParamsV1, [
        zwp_linux_buffer_params_v1::EVT_CREATED_OPCODE => (wl_buffer::WlBuffer, ()),
    ]);
}

fn dev_t(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_ne_bytes(bytes.try_into().ok()?))
}

impl Dispatch<zwp_linux_dmabuf_feedback_v1::ZwpLinuxDmabufFeedbackV1, FeedbackHandle> for State {
    fn event(
        _: &mut Self,
        _: &zwp_linux_dmabuf_feedback_v1::ZwpLinuxDmabufFeedbackV1,
        event: zwp_linux_dmabuf_feedback_v1::Event,
        fb: &FeedbackHandle,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwp_linux_dmabuf_feedback_v1::Event;
        let mut fb = lock(fb);
        match event {
            Event::FormatTable { fd, size } => fb.table = read_format_table(&fd, size as usize),
            Event::MainDevice { device } => fb.main_device = dev_t(&device),
            Event::TrancheTargetDevice { device } => fb.pending.target_device = dev_t(&device),
            Event::TrancheFlags { flags } => {
                fb.pending.flags = match flags {
                    WEnum::Value(f) => f.bits(),
                    WEnum::Unknown(u) => u,
                }
            }
            Event::TrancheFormats { indices } => {
                let pairs: Vec<(u32, u64)> = indices
                    .chunks_exact(2)
                    .filter_map(|c| {
                        fb.table
                            .get(usize::from(u16::from_ne_bytes([c[0], c[1]])))
                            .copied()
                    })
                    .collect();
                fb.pending.formats.extend(pairs);
            }
            Event::TrancheDone => {
                let t = std::mem::take(&mut fb.pending);
                fb.pending_tranches.push(t);
            }
            Event::Done => {
                fb.tranches = std::mem::take(&mut fb.pending_tranches);
                fb.done += 1;
            }
            _ => {}
        }
    }
}

/// Reads the 16-byte entries (u32 format, u32 padding, u64 modifier) of a format table fd.
fn read_format_table(fd: &OwnedFd, size: usize) -> Vec<(u32, u64)> {
    if size == 0 {
        return Vec::new();
    }
    // SAFETY: the compositor's table is read-only, `size` bytes; mapped privately and read-only as
    // the protocol asks, unmapped below.
    let Ok(ptr) = (unsafe {
        mmap(
            std::ptr::null_mut(),
            size,
            ProtFlags::READ,
            MapFlags::PRIVATE,
            fd,
            0,
        )
    }) else {
        return Vec::new();
    };
    // SAFETY: `ptr..ptr+size` is the mapping just made.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), size) };
    let table = bytes
        .chunks_exact(16)
        .map(|e| {
            let f = u32::from_ne_bytes([e[0], e[1], e[2], e[3]]);
            let m = u64::from_ne_bytes([e[8], e[9], e[10], e[11], e[12], e[13], e[14], e[15]]);
            (f, m)
        })
        .collect();
    // SAFETY: the mapping above, no longer referenced.
    let _ = unsafe { munmap(ptr, size) };
    table
}
