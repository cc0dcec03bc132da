//! Damage tracking: each frame redraws only what changed, and what it shows is exactly what a full
//! redraw shows. Random scene sequences (content damage in buffer and surface coordinates, buffer
//! scale, viewports, moves, restacking, unmaps) are compared pixel for pixel with a full redraw
//! (`weft msg redraw`), and the output's `damaged_pixels` says what each frame cost.

mod common;

use common::{Harness, Image};
use wayland_client::protocol::wl_shm::Format;
use wayland_client::protocol::{wl_subsurface, wl_surface};
use wayland_protocols::wp::viewporter::client::wp_viewport;
use weft::Request;
use weft_clients::{argb, ShmBuffer};

const OUTPUT: &str = "HEADLESS-1";

/// A small deterministic generator (xorshift64*): the same seed gives the same scene sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: i32) -> i32 {
        (self.next() % n.max(1) as u64) as i32
    }
    fn color(&mut self) -> [u8; 4] {
        let v = self.next();
        // Premultiplied ARGB: some opaque, some half transparent.
        let a = if v & 1 == 0 { 255 } else { 128 };
        let c = |s: u32| (((v >> s) & 0xff) as u32 * a / 255) as u8;
        argb(c(8), c(16), c(24), a as u8)
    }
}

struct Sub {
    surface: wl_surface::WlSurface,
    sub: wl_subsurface::WlSubsurface,
    viewport: wp_viewport::WpViewport,
    buffer: ShmBuffer,
    mapped: bool,
}

/// Paints `rect` of `buffer` with `color`.
fn paint(buffer: &mut ShmBuffer, (x, y, w, h): (i32, i32, i32, i32), color: [u8; 4]) {
    let stride = buffer.stride as usize;
    let (bw, bh) = (buffer.width, buffer.height);
    let bytes = buffer.bytes_mut();
    for yy in y.max(0)..(y + h).min(bh) {
        for xx in x.max(0)..(x + w).min(bw) {
            let o = yy as usize * stride + xx as usize * 4;
            bytes[o..o + 4].copy_from_slice(&color);
        }
    }
}

fn output(h: &Harness) -> serde_json::Value {
    h.msg(Request::Outputs)[0].clone()
}

/// Asserts what the damaged frames left equals a full redraw of the same scene.
#[track_caller]
fn assert_same_as_full_redraw(h: &Harness, step: usize, what: &str) {
    let damaged = h.screenshot(OUTPUT);
    h.msg(Request::Redraw {
        output: Some(OUTPUT.into()),
    });
    let full = h.screenshot(OUTPUT);
    if damaged.rgba != full.rgba {
        let bad = first_difference(&damaged, &full);
        let dir = std::env::temp_dir();
        damaged.save(&dir.join("weft-damage-damaged.png"));
        full.save(&dir.join("weft-damage-full.png"));
        panic!(
            "step {step} ({what}): the damaged redraw differs from a full redraw, first at {bad:?}; both saved in {}",
            dir.display()
        );
    }
}

fn first_difference(a: &Image, b: &Image) -> Option<(u32, u32)> {
    (0..a.height)
        .flat_map(|y| (0..a.width).map(move |x| (x, y)))
        .find(|&(x, y)| a.pixel(x, y) != b.pixel(x, y))
}

fn random_scene_sequence(seed: u64, steps: usize) {
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    let mut rng = Rng(seed);
    let top = c.toplevel("damage", "weft.test").unwrap();
    let mut parent = ShmBuffer::new(&c.shm, &c.qh, 160, 120, Format::Xrgb8888, |_, _| {
        argb(40, 40, 200, 255)
    })
    .unwrap();
    let mut subs: Vec<Sub> = (0..3)
        .map(|i| {
            let (surface, sub) = c.subsurface(&top.surface);
            let viewport = c.viewport(&surface);
            let buffer =
                ShmBuffer::new(&c.shm, &c.qh, 40 + i * 10, 30, Format::Argb8888, |x, _| {
                    argb((x * 5) as u8, 200, 0, 255)
                })
                .unwrap();
            sub.set_position(10 + 40 * i, 20 + 20 * i);
            c.show(&surface, &buffer.buffer);
            Sub {
                surface,
                sub,
                viewport,
                buffer,
                mapped: true,
            }
        })
        .collect();
    c.show(&top.surface, &parent.buffer);
    h.settle(&mut c);
    assert_same_as_full_redraw(&h, 0, "first frame");

    for step in 1..=steps {
        let i = rng.below(subs.len() as i32) as usize;
        let what = match rng.below(9) {
            0 | 1 => {
                // Part of the parent repainted, damaged in buffer coordinates.
                let r = (
                    rng.below(150),
                    rng.below(110),
                    1 + rng.below(40),
                    1 + rng.below(40),
                );
                paint(&mut parent, r, rng.color());
                top.surface.attach(Some(&parent.buffer), 0, 0);
                top.surface.damage_buffer(r.0, r.1, r.2, r.3);
                "parent content (buffer damage)"
            }
            2 => {
                // A subsurface repainted, damaged in surface coordinates (through its viewport
                // and scale when it has them).
                let s = &mut subs[i];
                let (w, hh) = (s.buffer.width, s.buffer.height);
                paint(&mut s.buffer, (0, 0, w, hh), rng.color());
                s.surface.attach(Some(&s.buffer.buffer), 0, 0);
                s.surface.damage(0, 0, i32::MAX, i32::MAX);
                s.surface.commit();
                "subsurface content (surface damage)"
            }
            3 => {
                let s = &mut subs[i];
                let r = (
                    rng.below(s.buffer.width),
                    rng.below(s.buffer.height),
                    1 + rng.below(8),
                    1 + rng.below(8),
                );
                paint(&mut s.buffer, r, rng.color());
                s.surface.attach(Some(&s.buffer.buffer), 0, 0);
                s.surface.damage_buffer(r.0, r.1, r.2, r.3);
                s.surface.commit();
                "subsurface partial content"
            }
            4 => {
                subs[i]
                    .sub
                    .set_position(rng.below(200) - 20, rng.below(150) - 20);
                "move"
            }
            5 => {
                let j = (i + 1 + rng.below(2) as usize) % subs.len();
                if rng.below(2) == 0 {
                    subs[i].sub.place_above(&subs[j].surface);
                } else {
                    subs[i].sub.place_below(&top.surface);
                }
                "restack"
            }
            6 => {
                let s = &mut subs[i];
                if s.mapped {
                    s.surface.attach(None, 0, 0);
                } else {
                    s.surface.attach(Some(&s.buffer.buffer), 0, 0);
                    s.surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
                }
                s.mapped = !s.mapped;
                s.surface.commit();
                "unmap or map"
            }
            7 => {
                let s = &subs[i];
                if rng.below(3) == 0 {
                    s.viewport.set_destination(-1, -1);
                    s.viewport.set_source(-1.0, -1.0, -1.0, -1.0);
                } else {
                    s.viewport
                        .set_destination(10 + rng.below(90), 10 + rng.below(70));
                    let (sw, sh) = (s.buffer.width, s.buffer.height);
                    // Inside the surface at buffer scale 1 or 2.
                    let (x, y) = (rng.below(sw / 4), rng.below(sh / 4));
                    s.viewport
                        .set_source(x as f64, y as f64, (sw / 4) as f64, (sh / 4) as f64);
                }
                s.surface.commit();
                "viewport"
            }
            _ => {
                let s = &subs[i];
                s.surface.set_buffer_scale(1 + rng.below(2));
                s.surface.commit();
                "buffer scale"
            }
        };
        top.surface.commit();
        h.settle(&mut c);
        assert!(
            c.protocol_error().is_none(),
            "step {step} ({what}): {:?}",
            c.protocol_error()
        );
        assert_same_as_full_redraw(&h, step, what);
    }
}

#[test]
fn damaged_redraws_equal_full_redraws_over_random_scenes() {
    for seed in [0x9E37_79B9_7F4A_7C15, 0xD1B5_4A32_D192_ED03] {
        random_scene_sequence(seed, 30);
    }
}

#[test]
fn a_frame_costs_its_damage_and_an_unchanged_output_renders_nothing() {
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    let top = c.toplevel("cost", "weft.test").unwrap();
    let mut buffer = ShmBuffer::new(&c.shm, &c.qh, 200, 150, Format::Xrgb8888, |_, _| {
        argb(200, 0, 0, 255)
    })
    .unwrap();
    c.show(&top.surface, &buffer.buffer);
    h.settle(&mut c);
    let first = output(&h);
    // The window's first frame redrew the whole output (when it came first) or just the window.
    let px = first["damaged_pixels"].as_u64().unwrap();
    assert!(px == 320 * 240 || px == 200 * 150, "{first}");

    // Nothing new: frames still tick (and frame callbacks arrive) but nothing is rendered.
    let rendered = output(&h)["rendered"].as_u64().unwrap();
    c.frame(&top.surface, 7);
    top.surface.commit();
    c.wait_until("the frame callback of an unchanged surface", 100, |s| {
        s.frames_done.iter().any(|(tag, _)| *tag == 7)
    })
    .expect("frame callback");
    h.settle(&mut c);
    let idle = output(&h);
    assert!(idle["frames"].as_u64().unwrap() > first["frames"].as_u64().unwrap());
    assert_eq!(
        idle["rendered"].as_u64().unwrap(),
        rendered,
        "an unchanged output rendered: {idle}"
    );

    // A 10x10 change redraws 10x10 pixels.
    paint(&mut buffer, (50, 60, 10, 10), argb(0, 255, 0, 255));
    top.surface.attach(Some(&buffer.buffer), 0, 0);
    top.surface.damage_buffer(50, 60, 10, 10);
    top.surface.commit();
    h.settle(&mut c);
    let after = output(&h);
    assert_eq!(after["rendered"].as_u64().unwrap(), rendered + 1, "{after}");
    assert_eq!(after["damaged_pixels"], 100, "{after}");
    let img = h.screenshot(OUTPUT);
    let s = h.surface("cost");
    let (x, y) = (
        s["x"].as_u64().unwrap() as u32,
        s["y"].as_u64().unwrap() as u32,
    );
    img.assert_pixel(x + 55, y + 65, [0, 255, 0, 255], 0);
    img.assert_pixel(x + 45, y + 65, [200, 0, 0, 255], 0);
}
