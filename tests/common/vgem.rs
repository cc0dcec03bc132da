//! Helpers of the tests that run in the tests/vm guest: small vgem frames of one colour, sent as
//! linear XRGB8888 dma-bufs, and the colour shown at a surface's centre.

use std::os::fd::AsFd;

use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::Flags;
use weft_clients::dmabuf::{LinuxDmabuf, MOD_LINEAR, XRGB8888};
use weft_clients::Client;
use weft_guest::vgem::{Vgem, VgemBuffer};

use super::Harness;

/// The size of every frame (and of the surfaces showing one).
pub const W: u32 = 64;
pub const H: u32 = 48;

/// A vgem buffer of one colour (bytes B, G, R, X), not fenced.
pub fn frame(vgem: &Vgem, bgrx: [u8; 4]) -> VgemBuffer {
    let buffer = vgem.alloc(W, H).expect("vgem buffer (run inside tests/vm)");
    let mut map = buffer.dmabuf.map().expect("mmap");
    for px in map.as_mut_slice().chunks_exact_mut(4) {
        px.copy_from_slice(&bgrx);
    }
    drop(map);
    buffer
}

/// `b` as a linear XRGB8888 wl_buffer (`create_immed`).
pub fn send(c: &Client, d: &LinuxDmabuf, b: &VgemBuffer) -> WlBuffer {
    let (params, _) = d.params(c);
    let fd = b.dmabuf.try_clone_fd().expect("dup");
    params.add(
        fd.as_fd(),
        0,
        0,
        W * 4,
        (MOD_LINEAR >> 32) as u32,
        MOD_LINEAR as u32,
    );
    let wl = params.create_immed(W as i32, H as i32, XRGB8888, Flags::empty(), &c.qh, ());
    params.destroy();
    wl
}

/// The RGB at the centre of the `W`×`H` surface titled `title`.
pub fn centre(h: &Harness, title: &str) -> [u8; 3] {
    let s = h.surface(title);
    let (x, y) = (s["x"].as_u64().expect("x"), s["y"].as_u64().expect("y"));
    let p = h
        .screenshot("HEADLESS-1")
        .pixel(x as u32 + W / 2, y as u32 + H / 2);
    [p[0], p[1], p[2]]
}
