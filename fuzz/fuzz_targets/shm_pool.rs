//! wl_shm_pool sequences (create_buffer, resize) through the wl_shm guard
//! (`weft_protocols::shm_guard`), followed by smithay 0.7's own create_buffer arithmetic on what
//! the guard lets through (for a Y′CbCr buffer: under its stand-in format).
//!
//! Invariants: nothing panics; a resize the guard passes has a size smithay can make a
//! `NonZeroUsize` of (smithay unwraps it); a create_buffer the guard passes has a format weft
//! advertises, and smithay knows the bytes per pixel of it or of its stand-in (otherwise smithay
//! answers a valid buffer with `invalid_stride`); smithay's checks (`offset < 0`, size, stride
//! against width × bpp, `i32::MAX / stride < height`, `offset > pool_size - stride × height`)
//! never overflow on it; a Y′CbCr buffer the guard passes has every plane inside the pool, and
//! smithay accepts its plane 0 under the stand-in.
#![no_main]

use std::num::NonZeroUsize;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smithay::reexports::wayland_server::protocol::wl_shm;
use smithay::reexports::wayland_server::WEnum;
use smithay::wayland::shm::wl_bytes_per_pixel;
use weft_compositor::state::shm_formats;
use weft_protocols::shm_guard::{check_pool_request, PoolRequest};
use weft_protocols::shm_layout::stand_in;

#[derive(Debug, Arbitrary)]
enum Op {
    CreateBuffer {
        offset: i32,
        width: i32,
        height: i32,
        stride: i32,
        format: u32,
    },
    Resize {
        size: i32,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    pool_size: i32,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    // wl_shm.create_pool refuses sizes <= 0 itself.
    if input.pool_size <= 0 {
        return;
    }
    let advertised = shm_formats();
    let mut pool_size = input.pool_size;
    for op in input.ops.into_iter().take(64) {
        match op {
            Op::Resize { size } => {
                let request = PoolRequest::Resize { size };
                if check_pool_request(&request, &advertised, pool_size as u64).is_ok() {
                    assert!(NonZeroUsize::new(size as usize).is_some());
                    // smithay refuses shrinking (invalid_fd) and keeps the old size.
                    pool_size = pool_size.max(size);
                }
            }
            Op::CreateBuffer {
                offset,
                width,
                height,
                stride,
                format,
            } => {
                let format: WEnum<wl_shm::Format> = WEnum::from(format);
                let request = PoolRequest::CreateBuffer {
                    offset,
                    width,
                    height,
                    stride,
                    format,
                };
                let Ok(ycbcr) = check_pool_request(&request, &advertised, pool_size as u64) else {
                    continue;
                };
                let smithay_format = match &ycbcr {
                    Some((f, planes)) => {
                        let end = planes.iter().map(|p| p.end()).max().expect("planes");
                        assert!(end <= pool_size as u64, "{f:?} past the pool");
                        WEnum::Value(stand_in(*f).expect("a stand-in"))
                    }
                    None => format,
                };
                let bpp = wl_bytes_per_pixel(smithay_format);
                assert!(bpp > 0, "{format:?} is advertised but has no size in smithay");
                let smithay = smithay_create_buffer_check(pool_size, offset, width, height, stride, bpp);
                if ycbcr.is_some() {
                    assert_eq!(smithay, Ok(()), "smithay refuses plane 0 the guard accepted");
                }
            }
        }
    }
});

/// smithay 0.7's `wl_shm_pool.create_buffer` validation, transcribed with checked arithmetic: a
/// `None` from any step would be an overflow panic in smithay (debug builds).
fn smithay_create_buffer_check(
    pool_size: i32,
    offset: i32,
    width: i32,
    height: i32,
    stride: i32,
    bpp: i32,
) -> Result<(), &'static str> {
    if offset < 0 {
        return Err("offset");
    }
    if width <= 0 || height <= 0 {
        return Err("size");
    }
    if stride.checked_div(bpp).unwrap_or(0) < width {
        return Err("stride");
    }
    let max_height = i32::MAX
        .checked_div(stride)
        .expect("stride is positive here");
    if max_height < height {
        return Err("height");
    }
    let bytes = stride.checked_mul(height).expect("stride × height");
    let room = pool_size.checked_sub(bytes).expect("pool size - bytes");
    if offset > room {
        return Err("offset too large");
    }
    Ok(())
}
