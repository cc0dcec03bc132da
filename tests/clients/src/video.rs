//! The demo's video producer: a synthetic NV12 "video" (moving colour bars) played from the most
//! real source device the machine has, the way a decoder's client would: a ring of dma-bufs, each
//! frame written into the next one, attached with full damage, paced by frame callbacks.
//!
//! Sources, first that allocates wins: a vgem dumb buffer (a DRM device's memory, PRIME-exported),
//! the system dma-buf heap, udmabuf (memfd pages as a dma-buf), and on a plain host a sealed memfd
//! (weft's stand-in for a dma-buf). The producer writes through a shared mapping; these are all
//! CPU-coherent memory, so no cache maintenance is needed on x86.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;

use crate::client::{Client, ClientError};
use crate::demo::{bar_color, yuv601};
use crate::dmabuf::{LinuxDmabuf, MemFile, MOD_LINEAR, NV12};

pub const WIDTH: u32 = 320;
pub const HEIGHT: u32 = 180;
/// Buffers in the producer's ring.
const RING: usize = 3;

/// Where the frames were allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Vgem,
    Heap,
    Udmabuf,
    Memfd,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Self::Vgem => "vgem dumb buffer (PRIME export)",
            Self::Heap => "dma-buf heap \"system\"",
            Self::Udmabuf => "udmabuf",
            Self::Memfd => "sealed memfd (no dma-buf allocator on this machine)",
        }
    }
}

/// One frame buffer: the dma-buf (or memfd) and its writable mapping.
struct Frame {
    fd: OwnedFd,
    ptr: *mut u8,
    len: usize,
    wl: Option<WlBuffer>,
    /// Keeps a vgem buffer's GEM handle (and the vgem fd) alive.
    _owner: Option<Box<dyn std::any::Any>>,
}

impl Frame {
    fn new(
        fd: OwnedFd,
        len: usize,
        owner: Option<Box<dyn std::any::Any>>,
    ) -> Result<Self, ClientError> {
        // SAFETY: a fresh shared mapping of `len` bytes of our own buffer, unmapped in Drop; the
        // compositor only reads it.
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
            wl: None,
            _owner: owner,
        })
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` bytes long and lives as long as `self`; `&mut self` makes
        // this the only Rust reference to it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        if let Some(wl) = self.wl.take() {
            wl.destroy();
        }
        // SAFETY: unmapping exactly the mapping made in `new`.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

/// Bytes of one NV12 frame (stride = width).
fn frame_len() -> usize {
    (WIDTH * HEIGHT * 3 / 2) as usize
}

fn allocate(source: Source) -> Result<Frame, ClientError> {
    let len = frame_len();
    // A device this machine lacks is expected: the caller tries the next source.
    let io = |what: &'static str| move |_: weft_guest::Error| ClientError::Unsupported(what);
    match source {
        Source::Vgem => {
            let vgem = weft_guest::vgem::Vgem::open().map_err(io("vgem"))?;
            // A 32-bpp dumb buffer of WIDTH × HEIGHT holds the 1.5 bytes per pixel of NV12.
            let b = vgem.alloc(WIDTH, HEIGHT).map_err(io("vgem dumb buffer"))?;
            let fd = b.dmabuf.try_clone_fd().map_err(io("dup"))?;
            Frame::new(fd, len, Some(Box::new((vgem, b))))
        }
        Source::Heap => {
            let b = weft_guest::heap::alloc_system(len as u64).map_err(io("dma-heap"))?;
            let fd = b.try_clone_fd().map_err(io("dup"))?;
            Frame::new(fd, len, Some(Box::new(b)))
        }
        Source::Udmabuf => {
            let b = weft_guest::udmabuf::alloc(len as u64).map_err(io("udmabuf"))?;
            let fd = b.try_clone_fd().map_err(io("dup"))?;
            Frame::new(fd, len, Some(Box::new(b)))
        }
        Source::Memfd => {
            let file = MemFile::new(len)?;
            let fd = file.fd.try_clone()?;
            Frame::new(fd, len, Some(Box::new(file)))
        }
    }
}

/// The first source that allocates here.
pub fn best_source() -> Source {
    [Source::Vgem, Source::Heap, Source::Udmabuf]
        .into_iter()
        .find(|&s| allocate(s).is_ok())
        .unwrap_or(Source::Memfd)
}

/// Draws frame `n`: colour bars scrolling left, as NV12 (BT.601 limited).
fn draw(bytes: &mut [u8], n: u32) {
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let shift = (n as usize * 4) % w;
    let colour = |x: usize| {
        let card_x = ((x + shift) % w) * crate::demo::WIDTH as usize / w;
        let [b, g, r, _] = bar_color(card_x as i32);
        yuv601(r, g, b)
    };
    let (luma, chroma) = bytes.split_at_mut(w * h);
    for row in luma.chunks_exact_mut(w) {
        for (x, px) in row.iter_mut().enumerate() {
            *px = colour(x).0;
        }
    }
    for row in chroma.chunks_exact_mut(w).take(h / 2) {
        for (i, pair) in row.chunks_exact_mut(2).enumerate() {
            let (_, u, v) = colour(2 * i);
            pair[0] = u;
            pair[1] = v;
        }
    }
}

/// What one run of the producer did.
#[derive(Debug, Clone)]
pub struct VideoReport {
    pub source: Source,
    pub frames: u32,
    pub duration: Duration,
}

/// Plays the video on a new toplevel titled `title` for `duration`, from `source`.
pub fn play(
    path: &Path,
    title: &str,
    source: Source,
    duration: Duration,
) -> Result<(VideoReport, Client), ClientError> {
    let mut c = Client::connect(path)?;
    let dmabuf = LinuxDmabuf::bind(&mut c, 4)?;
    let top = c.toplevel(title, "weft.demo.video")?;
    let mut ring = Vec::new();
    for _ in 0..RING {
        let mut f = allocate(source)?;
        let (params, _) = dmabuf.params(&c);
        for (plane, offset) in [(0, 0), (1, WIDTH * HEIGHT)] {
            params.add(
                f.fd.as_fd(),
                plane,
                offset,
                WIDTH,
                (MOD_LINEAR >> 32) as u32,
                MOD_LINEAR as u32,
            );
        }
        f.wl =
            Some(params.create_immed(WIDTH as i32, HEIGHT as i32, NV12, Flags::empty(), &c.qh, ()));
        params.destroy();
        ring.push(f);
    }
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < duration {
        let Some(f) = ring.get_mut(n as usize % RING) else {
            break;
        };
        draw(f.bytes(), n);
        c.frame(&top.surface, n);
        if let Some(wl) = &f.wl {
            c.show(&top.surface, wl);
        }
        n += 1;
        c.wait_until("video frame callback", 1000, |s| {
            s.frames_done.iter().any(|(tag, _)| *tag == n - 1)
        })?;
    }
    Ok((
        VideoReport {
            source,
            frames: n,
            duration: start.elapsed(),
        },
        c,
    ))
}
