//! Y′CbCr on wl_shm: the formats are advertised, each shows the right pixels read in place (a
//! pool sealed against shrinking) and copied with its rows converted (a pool that may shrink),
//! the matrix and range apply, and every wl_shm rule holds per plane, each broken rule costing only
//! its client.
//!
//! The layout is the one Weston's renderers and GStreamer's waylandsink share: planes one after
//! another from the buffer's offset, further strides derived from the buffer's stride.

mod common;

use common::yuv::{yuv_to_rgb, YUV_QUADRANTS};
use common::{assert_ended_with, memfd_pool, Harness};
use wayland_client::protocol::wl_shm::Format;
use weft::Request;
use weft_clients::dmabuf::{MemBuffer, MemFile, NV12, YUV420, YUV8_FORMATS, YUYV};

const OUTPUT: &str = "HEADLESS-1";
const W: u32 = 64;
const H: u32 = 48;
/// Bytes past each row of plane 0 (so that strides are honoured, not assumed).
const PADDING: u32 = 64;

fn name(fourcc: u32) -> String {
    fourcc.to_le_bytes().iter().map(|&b| b as char).collect()
}

/// The quadrant pattern in `fourcc`, laid out as wl_shm describes it, in a memfd from `make`.
fn pattern(
    fourcc: u32,
    make: fn(usize) -> Result<MemFile, weft_clients::ClientError>,
) -> MemBuffer {
    let mut b = MemBuffer::wl_shm_layout(fourcc, W, H, PADDING, make).expect("memfd buffer");
    b.fill_yuv(|x, y| YUV_QUADRANTS[quadrant(x, y)]);
    b
}

fn quadrant(x: u32, y: u32) -> usize {
    usize::from(x >= W / 2) + 2 * usize::from(y >= H / 2)
}

/// Checks the four quadrant centres of the surface `title` against the reference conversion.
fn assert_quadrants(h: &Harness, title: &str, bt709: bool, full: bool, what: &str) {
    let s = h.surface(title);
    let (sx, sy) = (
        s["x"].as_u64().unwrap() as u32,
        s["y"].as_u64().unwrap() as u32,
    );
    let img = h.screenshot(OUTPUT);
    for (q, (x, y)) in [
        (W / 4, H / 4),
        (3 * W / 4, H / 4),
        (W / 4, 3 * H / 4),
        (3 * W / 4, 3 * H / 4),
    ]
    .into_iter()
    .enumerate()
    {
        let want = yuv_to_rgb(YUV_QUADRANTS[q], bt709, full);
        let got = img.pixel(sx + x, sy + y);
        for i in 0..3 {
            assert!(
                (i32::from(got[i]) - i32::from(want[i])).abs() <= 2,
                "{what} quadrant {q}: got {got:?}, want {want:?} ({s})"
            );
        }
    }
}

fn policy(h: &Harness, yuv: serde_json::Value) {
    let req = serde_json::json!({ "command": "import_policy", "disabled": [], "yuv": yuv });
    h.msg(serde_json::from_value::<Request>(req).expect("policy request"));
}

#[test]
fn ycbcr_formats_are_advertised_on_wl_shm() {
    let h = Harness::new(320, 240, 60);
    let c = h.client();
    for fourcc in YUV8_FORMATS {
        assert!(
            c.state.shm_formats.contains(&fourcc),
            "{} not on wl_shm: {:x?}",
            name(fourcc),
            c.state.shm_formats
        );
    }
    // The stand-ins smithay is handed are not offered.
    for stand_in in [Format::R8, Format::Rg88] {
        assert!(!c.state.shm_formats.contains(&(stand_in as u32)));
    }
    // RGB stays (ARGB8888 and XRGB8888 have codes 0 and 1 on wl_shm).
    assert!(c.state.shm_formats.contains(&0) && c.state.shm_formats.contains(&1));
}

/// Shows every Y′CbCr format on one surface from pools made by `make`; checks rung, record and
/// pixels.
fn every_format(
    h: &Harness,
    title: &str,
    make: fn(usize) -> Result<MemFile, weft_clients::ClientError>,
    rung: &str,
) {
    let mut c = h.client();
    let t = c.toplevel(title, "weft.test").expect("toplevel");
    for fourcc in YUV8_FORMATS {
        let b = pattern(fourcc, make);
        let (pool, buffer) = b.create_shm(&c);
        c.show(&t.surface, &buffer);
        h.settle(&mut c);
        assert!(c.protocol_error().is_none(), "{:?}", c.protocol_error());
        let s = h.surface(title);
        assert_eq!(s["rung"], rung, "{}: {s}", name(fourcc));
        assert_eq!(s["buffer"]["kind"], "shm", "{s}");
        assert_eq!(s["buffer"]["format"], name(fourcc), "{s}");
        assert_eq!(s["buffer"]["width"], W, "{s}");
        assert_eq!(s["buffer"]["planes"], b.planes.len(), "{s}");
        assert_quadrants(
            h,
            title,
            false,
            false,
            &format!("{} via {rung}", name(fourcc)),
        );
        match rung {
            "ShmInPlace" => assert_eq!(s["copied_bytes_per_frame"], 0, "{s}"),
            // Converted rows: four bytes a pixel into the texture.
            _ => {
                assert_eq!(s["copied_bytes_per_frame"], W * H * 4, "{s}");
                assert!(
                    s["reason"].as_str().is_some_and(|r| r.contains("Y′CbCr")),
                    "{s}"
                );
            }
        }
        buffer.destroy();
        pool.destroy();
    }
}

#[test]
fn every_ycbcr_format_is_read_in_place_from_a_sealed_pool() {
    let h = Harness::new(320, 240, 60);
    every_format(&h, "in place", MemFile::new, "ShmInPlace");
}

#[test]
fn every_ycbcr_format_is_converted_from_a_pool_that_may_shrink() {
    let h = Harness::new(320, 240, 60);
    every_format(&h, "copied", MemFile::unsealed, "Shm");
}

#[test]
fn matrix_and_range_apply_on_both_paths() {
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    let cases = [
        ("nv12 in place", NV12, MemFile::new as fn(usize) -> _),
        ("yuyv copied", YUYV, MemFile::unsealed),
    ];
    for (title, fourcc, make) in cases {
        let t = c.toplevel(title, "weft.test").expect("toplevel");
        let b = pattern(fourcc, make);
        let (pool, buffer) = b.create_shm(&c);
        c.show(&t.surface, &buffer);
        h.settle(&mut c);
        assert_quadrants(&h, title, false, false, "BT.601 limited");
        policy(
            &h,
            serde_json::json!({ "matrix": "bt709", "range": "full" }),
        );
        // In place, the next frame decodes with the new default; the copy converts again at the
        // surface's next commit (the same buffer, undamaged).
        c.show(&t.surface, &buffer);
        h.settle(&mut c);
        assert_quadrants(&h, title, true, true, &format!("{title}: BT.709 full"));
        policy(
            &h,
            serde_json::json!({ "matrix": "bt601", "range": "limited" }),
        );
        t.toplevel.destroy();
        t.xdg_surface.destroy();
        t.surface.destroy();
        buffer.destroy();
        pool.destroy();
        h.settle(&mut c);
    }
}

#[test]
fn a_pool_grown_by_resize_holds_the_chroma_plane() {
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    let t = c.toplevel("grown", "weft.test").expect("toplevel");
    let b = pattern(NV12, MemFile::new);
    let file = &b.files[0];
    let p = b.planes[0];
    // First only as large as the luma plane, then grown to the whole buffer.
    let luma_end = (p.offset + p.stride * p.rows) as i32;
    let pool = c
        .shm
        .create_pool(std::os::fd::AsFd::as_fd(&file.fd), luma_end, &c.qh, ());
    pool.resize(b.planes[1].offset as i32 + (b.planes[1].stride * b.planes[1].rows) as i32);
    let buffer = pool.create_buffer(
        p.offset as i32,
        W as i32,
        H as i32,
        p.stride as i32,
        Format::Nv12,
        &c.qh,
        (),
    );
    c.show(&t.surface, &buffer);
    h.settle(&mut c);
    assert!(c.protocol_error().is_none(), "{:?}", c.protocol_error());
    assert_quadrants(&h, "grown", false, false, "NV12 in a grown pool");
}

/// `create_buffer(offset, W, H, stride, format)` on a pool of `pool_size` bytes ends the client
/// with `wl_shm_pool.code`, and a bystander is still served.
fn expect_pool_error(
    h: &Harness,
    pool_size: usize,
    (offset, stride): (i32, i32),
    format: Format,
    code: u32,
) {
    h.with_bystander(|| {
        let mut c = h.client();
        let (_fd, pool) = memfd_pool(&c, pool_size);
        let _ = pool.create_buffer(offset, W as i32, H as i32, stride, format, &c.qh, ());
        assert_ended_with(&mut c, "wl_shm_pool", code);
    });
}

const INVALID_FORMAT: u32 = 0;
const INVALID_STRIDE: u32 = 1;

#[test]
fn a_chroma_plane_past_the_pool_is_invalid_stride() {
    let h = Harness::new(320, 240, 60);
    let luma = (W * H) as usize;
    // Luma fits (smithay alone would accept it); the CbCr plane does not.
    expect_pool_error(&h, luma, (0, W as i32), Format::Nv12, INVALID_STRIDE);
    // Offset pushes the last chroma plane one byte out.
    expect_pool_error(
        &h,
        luma * 3 / 2,
        (1, W as i32),
        Format::Nv12,
        INVALID_STRIDE,
    );
    expect_pool_error(
        &h,
        luma * 3 / 2,
        (4, W as i32),
        Format::Yuv420,
        INVALID_STRIDE,
    );
}

#[test]
fn stride_rules_hold_per_plane() {
    let h = Harness::new(320, 240, 60);
    let big = 1 << 20;
    // YUV420's chroma strides are half the stride: an odd stride has none.
    expect_pool_error(&h, big, (0, W as i32 + 1), Format::Yuv420, INVALID_STRIDE);
    // Luma narrower than the image.
    expect_pool_error(&h, big, (0, W as i32 - 1), Format::Nv12, INVALID_STRIDE);
    // Packed 4:2:2 takes two bytes a pixel.
    expect_pool_error(&h, big, (0, 2 * W as i32 - 1), Format::Yuyv, INVALID_STRIDE);
    // Negative offset.
    expect_pool_error(&h, big, (-4, W as i32), Format::Nv24, INVALID_STRIDE);
}

#[test]
fn the_stand_in_formats_are_not_for_clients() {
    let h = Harness::new(320, 240, 60);
    expect_pool_error(&h, 1 << 20, (0, 256), Format::R8, INVALID_FORMAT);
    expect_pool_error(&h, 1 << 20, (0, 256), Format::Rg88, INVALID_FORMAT);
    // P010 is read from dma-bufs, not from wl_shm (the copy path converts 8-bit samples).
    expect_pool_error(&h, 1 << 20, (0, 256), Format::P010, INVALID_FORMAT);
}

#[test]
fn ycbcr_and_rgb_buffers_share_a_pool() {
    // One pool, an XRGB8888 buffer after a YUV420 one: smithay keeps both, each shown as itself.
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    let b = pattern(YUV420, MemFile::new);
    let (pool, yuv) = b.create_shm(&c);
    let t = c.toplevel("yuv420", "weft.test").expect("toplevel");
    c.show(&t.surface, &yuv);
    h.settle(&mut c);
    assert_quadrants(&h, "yuv420", false, false, "YUV420");
    // An RGB buffer over the first rows of the same pool (whatever bytes are there).
    let rgb = pool.create_buffer(
        64,
        16,
        16,
        PADDING as i32 + W as i32,
        Format::Xrgb8888,
        &c.qh,
        (),
    );
    let t2 = c.toplevel("rgb", "weft.test").expect("toplevel");
    c.show(&t2.surface, &rgb);
    h.settle(&mut c);
    assert!(c.protocol_error().is_none(), "{:?}", c.protocol_error());
    let s = h.surface("rgb");
    assert_eq!(s["buffer"]["format"], "XR24", "{s}");
    assert_eq!(s["buffer"]["planes"], 1, "{s}");
    assert_eq!(h.surface("yuv420")["buffer"]["format"], "YU12");
}
