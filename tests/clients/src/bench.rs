//! The benchmark client of `benches/compositors`: one toplevel that draws a new frame at every
//! frame callback and reports its frame rate. With `wl_shm` it needs only wl_compositor, wl_shm
//! and xdg_wm_base, so the same code runs against weft, weston and sway; with dma-bufs (memfd
//! stand-ins through linux-dmabuf, weft's test setup) it uses [`crate::Client`].
//!
//! Each frame repaints the damaged region of the next free buffer (three rotate) and declares just
//! that region: the whole buffer (`full`), or a 64×64 square (`square`), always at the same place,
//! so every buffer agrees with the others outside it.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Instant;

use rustix::fs::{ftruncate, memfd_create, MemfdFlags};
use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{
    wl_buffer, wl_callback, wl_compositor, wl_registry, wl_shm, wl_shm_pool, wl_surface,
};
use wayland_client::{delegate_noop, Connection, Dispatch, EventQueue, QueueHandle};
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};

use crate::dmabuf::{Layout, LinuxDmabuf, MemBuffer};
use crate::ClientError;

/// What each frame damages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Damage {
    Full,
    /// A 64×64 square.
    Square,
}

/// What the client draws into.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Buffers {
    Shm,
    /// memfd "dma-bufs" of this fourcc, through linux-dmabuf v5 (weft only).
    Dmabuf(u32),
}

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub width: i32,
    pub height: i32,
    /// Frames measured, after `warmup` unmeasured ones.
    pub frames: u32,
    pub warmup: u32,
    pub damage: Damage,
    pub buffers: Buffers,
}

/// What a run measured.
#[derive(Debug, Clone, Copy)]
pub struct BenchResult {
    pub frames: u32,
    pub seconds: f64,
}

impl BenchResult {
    pub fn fps(&self) -> f64 {
        f64::from(self.frames) / self.seconds.max(1e-9)
    }
}

const SQUARE: i32 = 64;
const ROTATE: usize = 3;

/// Runs the client on the compositor `stream` is connected to.
pub fn run(stream: UnixStream, options: &BenchOptions) -> Result<BenchResult, ClientError> {
    match options.buffers {
        Buffers::Shm => run_shm(Connection::from_socket(stream)?, options),
        Buffers::Dmabuf(fourcc) => run_dmabuf(crate::Client::from_stream(stream)?, options, fourcc),
    }
}

/// The damaged rectangle of a frame.
fn damaged(options: &BenchOptions) -> (i32, i32, i32, i32) {
    match options.damage {
        Damage::Full => (0, 0, options.width, options.height),
        Damage::Square => (
            (options.width - SQUARE) / 2,
            (options.height - SQUARE) / 2,
            SQUARE.min(options.width),
            SQUARE.min(options.height),
        ),
    }
}

#[derive(Default)]
struct State {
    configured: Option<u32>,
    frame_done: bool,
    released: Vec<wayland_client::backend::ObjectId>,
    closed: bool,
}

struct ShmFrame {
    buffer: wl_buffer::WlBuffer,
    ptr: *mut u32,
    len: usize,
    busy: bool,
}

impl ShmFrame {
    fn pixels(&mut self) -> &mut [u32] {
        // SAFETY: `ptr..ptr+len` u32s are this buffer's live shared mapping (see `run_shm`); the
        // compositor only reads it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

fn toplevel(
    compositor: &wl_compositor::WlCompositor,
    wm_base: &xdg_wm_base::XdgWmBase,
    qh: &QueueHandle<State>,
) -> (
    wl_surface::WlSurface,
    xdg_surface::XdgSurface,
    xdg_toplevel::XdgToplevel,
) {
    let surface = compositor.create_surface(qh, ());
    let xdg = wm_base.get_xdg_surface(&surface, qh, ());
    let top = xdg.get_toplevel(qh, ());
    top.set_title("weft-bench".into());
    top.set_app_id("weft-bench".into());
    surface.commit();
    (surface, xdg, top)
}

fn run_shm(conn: Connection, options: &BenchOptions) -> Result<BenchResult, ClientError> {
    let (globals, mut queue): (_, EventQueue<State>) = registry_queue_init(&conn)?;
    let qh = queue.handle();
    let compositor: wl_compositor::WlCompositor = globals.bind(&qh, 1..=4, ())?;
    let shm: wl_shm::WlShm = globals.bind(&qh, 1..=1, ())?;
    let wm_base: xdg_wm_base::XdgWmBase = globals.bind(&qh, 1..=2, ())?;
    let mut state = State::default();
    let (surface, xdg, _top) = toplevel(&compositor, &wm_base, &qh);
    while state.configured.is_none() {
        queue.blocking_dispatch(&mut state)?;
    }
    xdg.ack_configure(state.configured.unwrap_or_default());

    let (w, h) = (options.width, options.height);
    let len = (w * h) as usize;
    let bytes = len * 4;
    let mut frames = Vec::new();
    let mut pools = Vec::new();
    for _ in 0..ROTATE {
        // Sealed against shrinking, as libwayland's and most toolkits' pools are.
        let fd = memfd_create(
            "weft-bench",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        ftruncate(&fd, bytes as u64)?;
        rustix::fs::fcntl_add_seals(&fd, rustix::fs::SealFlags::SHRINK)?;
        // SAFETY: a fresh memfd of `bytes` bytes, mapped shared for the compositor to read; unmapped
        // at the end of this function, after the buffers are destroyed.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                bytes,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )?
        };
        let pool = shm.create_pool(fd.as_fd(), bytes as i32, &qh, ());
        let buffer = pool.create_buffer(0, w, h, w * 4, wl_shm::Format::Xrgb8888, &qh, ());
        let mut f = ShmFrame {
            buffer,
            ptr: ptr.cast(),
            len,
            busy: false,
        };
        f.pixels().fill(0xff20_3040);
        frames.push(f);
        pools.push((pool, fd));
    }
    let rect = damaged(options);
    let total = options.warmup + options.frames;
    let mut started = Instant::now();
    for n in 0..total {
        if n == options.warmup {
            started = Instant::now();
        }
        let i = loop {
            for id in state.released.drain(..) {
                for f in frames
                    .iter_mut()
                    .filter(|f| wayland_client::Proxy::id(&f.buffer) == id)
                {
                    f.busy = false;
                }
            }
            if let Some(i) = frames.iter().position(|f| !f.busy) {
                break i;
            }
            queue.blocking_dispatch(&mut state)?;
        };
        let f = &mut frames[i];
        let colour = 0xff00_0000 | (n.wrapping_mul(0x0009_0507) & 0x00ff_ffff);
        let px = f.pixels();
        for y in rect.1..rect.1 + rect.3 {
            let row = (y * w + rect.0) as usize;
            px[row..row + rect.2 as usize].fill(colour);
        }
        f.busy = true;
        surface.attach(Some(&f.buffer), 0, 0);
        surface.damage_buffer(rect.0, rect.1, rect.2, rect.3);
        surface.frame(&qh, ());
        state.frame_done = false;
        surface.commit();
        while !state.frame_done {
            if state.closed {
                return Err(ClientError::Timeout("the compositor closed the window"));
            }
            queue.blocking_dispatch(&mut state)?;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    for f in &frames {
        f.buffer.destroy();
        // SAFETY: exactly the mapping made above; the buffer over it is destroyed.
        let _ = unsafe { munmap(f.ptr.cast(), f.len * 4) };
    }
    for (pool, _) in &pools {
        pool.destroy();
    }
    let _ = queue.roundtrip(&mut state);
    Ok(BenchResult {
        frames: options.frames,
        seconds,
    })
}

fn run_dmabuf(
    mut c: crate::Client,
    options: &BenchOptions,
    fourcc: u32,
) -> Result<BenchResult, ClientError> {
    let d = LinuxDmabuf::bind(&mut c, 5)?;
    let t = c.toplevel("weft-bench", "weft-bench")?;
    let (w, h) = (options.width as u32, options.height as u32);
    let mut buffers = Vec::new();
    for _ in 0..2 {
        let mut b = MemBuffer::new(fourcc, w, h, Layout::default())?;
        fill(&mut b, 0);
        let wl = b.create_immed(&c, &d);
        buffers.push((b, wl));
    }
    let total = options.warmup + options.frames;
    let mut started = Instant::now();
    for n in 0..total {
        if n == options.warmup {
            started = Instant::now();
        }
        let (b, wl) = &mut buffers[n as usize % 2];
        fill(b, n);
        t.surface.attach(Some(wl), 0, 0);
        t.surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
        c.frame(&t.surface, n);
        t.surface.commit();
        c.wait_until("a frame callback", 10_000, |s| {
            s.frames_done.iter().any(|(tag, _)| *tag == n)
        })?;
    }
    Ok(BenchResult {
        frames: options.frames,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A new frame's content: a flat colour that changes every frame (what it costs the client is
/// not measured; the compositor's CPU is).
fn fill(b: &mut MemBuffer, n: u32) {
    let v = (n * 7) as u8;
    if crate::dmabuf::is_yuv(b.fourcc) {
        b.fill_yuv(|_, _| (v, 128, 128));
    } else {
        b.fill_rgb(|_, _| [v, v / 2, 255 - v, 255]);
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for State {
    fn event(
        _: &mut Self,
        wm: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm.pong(serial);
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, ()> for State {
    fn event(
        state: &mut Self,
        xdg: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            if state.configured.is_some() {
                xdg.ack_configure(serial);
            }
            state.configured = Some(serial);
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ()> for State {
    fn event(
        state: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_toplevel::Event::Close = event {
            state.closed = true;
        }
    }
}

impl Dispatch<wl_callback::WlCallback, ()> for State {
    fn event(
        state: &mut Self,
        _: &wl_callback::WlCallback,
        _: wl_callback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        state.frame_done = true;
    }
}

impl Dispatch<wl_buffer::WlBuffer, ()> for State {
    fn event(
        state: &mut Self,
        buffer: &wl_buffer::WlBuffer,
        _: wl_buffer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        state.released.push(wayland_client::Proxy::id(buffer));
    }
}

delegate_noop!(State: ignore wl_compositor::WlCompositor);
delegate_noop!(State: ignore wl_surface::WlSurface);
delegate_noop!(State: ignore wl_shm::WlShm);
delegate_noop!(State: ignore wl_shm_pool::WlShmPool);
