//! zwp_linux_buffer_params_v1 sequences through the linux-dmabuf guard's state machine
//! (`weft_protocols::dmabuf_guard::ParamsShadow`), exactly as its Dispatch impl drives it.
//!
//! Invariants: nothing panics (no arithmetic overflow either: this target is built with overflow
//! checks); a create that passes hands smithay planes 0..n in index order, n being the plane count
//! advertised for plane 0's (format, modifier) pair, all with the same modifier since v5 (before,
//! smithay keeps the first plane's, which the index-order replay makes plane 0's), each with a non-zero
//! stride, `offset + stride` and `offset + stride × rows` within 32 bits (smithay adds them in
//! u32) and, when the size is known, inside the dma-buf; after a create, every request but destroy
//! is `already_used`.
#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smithay::reexports::wayland_protocols::wp::linux_dmabuf::zv1::server::zwp_linux_buffer_params_v1::Error;
use weft_protocols::dmabuf_guard::{CreateRequest, ParamsShadow, PlaneParams};
use weft_protocols::drm_format::{self, MOD_INVALID, MOD_LINEAR};

/// An explicit (vendor) modifier the table below advertises with a metadata plane.
const TILED: u64 = 0x0100_0000_0000_0001;

#[derive(Debug, Arbitrary)]
enum Op {
    Add {
        idx: u8,
        offset: u32,
        stride: u32,
        modifier: Modifier,
        size: Option<u32>,
    },
    Create {
        width: i32,
        height: i32,
        format: Format,
        flags: u32,
    },
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Modifier {
    Linear,
    Invalid,
    Tiled,
    Other(u64),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Format {
    Known(u8),
    Other(u32),
}

#[derive(Debug, Arbitrary)]
struct Input {
    version: u8,
    ops: Vec<Op>,
}

fn advertised() -> HashMap<(u32, u64), usize> {
    let mut a = HashMap::new();
    for f in drm_format::FORMATS {
        a.insert((f.fourcc, MOD_LINEAR), f.planes.len());
        a.insert((f.fourcc, MOD_INVALID), f.planes.len());
        a.insert((f.fourcc, TILED), f.planes.len() + 1);
    }
    a
}

fuzz_target!(|input: Input| {
    let advertised = advertised();
    let version = u32::from(input.version % 6).max(1);
    let mut shadow = ParamsShadow::<usize>::default();
    let mut created = false;
    for (n, op) in input.ops.into_iter().take(64).enumerate() {
        match op {
            Op::Add {
                idx,
                offset,
                stride,
                modifier,
                size,
            } => {
                let modifier = match modifier {
                    Modifier::Linear => MOD_LINEAR,
                    Modifier::Invalid => MOD_INVALID,
                    Modifier::Tiled => TILED,
                    Modifier::Other(m) => m,
                };
                let plane = PlaneParams {
                    idx: u32::from(idx % 6),
                    offset,
                    stride,
                    modifier,
                    size: size.map(u64::from),
                };
                let result = shadow.add(plane, n, version);
                if created {
                    assert_eq!(result.unwrap_err().error, Error::AlreadyUsed);
                }
            }
            Op::Create {
                width,
                height,
                format,
                flags,
            } => {
                let format = match format {
                    Format::Known(i) => {
                        drm_format::FORMATS[usize::from(i) % drm_format::FORMATS.len()].fourcc
                    }
                    Format::Other(f) => f,
                };
                let req = CreateRequest {
                    width,
                    height,
                    format,
                    flags,
                    version,
                };
                let result = shadow.create(&req, &advertised);
                if created {
                    assert_eq!(result.unwrap_err().error, Error::AlreadyUsed);
                    continue;
                }
                created = true;
                let Ok(planes) = result else { continue };
                check_accepted(&req, &planes, &advertised);
            }
        }
    }
});

fn check_accepted(
    req: &CreateRequest,
    planes: &[(PlaneParams, usize)],
    advertised: &HashMap<(u32, u64), usize>,
) {
    assert!(req.width > 0 && req.height > 0, "{req:?}");
    assert!(!planes.is_empty());
    let modifier = planes[0].0.modifier;
    for (i, (p, _)) in planes.iter().enumerate() {
        assert_eq!(p.idx as usize, i, "planes in index order without gaps");
        if req.version >= 5 {
            assert_eq!(p.modifier, modifier, "one modifier for all planes since v5");
        }
    }
    let Some(&count) = advertised.get(&(req.format, modifier)) else {
        // Only old clients get past an unadvertised pair (their import then fails).
        assert!(req.version < 4, "{req:?}");
        return;
    };
    assert_eq!(planes.len(), count);
    for (p, _) in planes {
        assert!(p.stride > 0);
        assert!(p.offset.checked_add(p.stride).is_some(), "{p:?}");
        if p.idx == 0 {
            let end = u64::from(p.offset) + u64::from(p.stride) * req.height as u64;
            assert!(end <= u64::from(u32::MAX), "{p:?}");
            if let Some(size) = p.size {
                assert!(end <= size, "{p:?} {req:?}");
            }
        }
        if let Some(size) = p.size {
            assert!(u64::from(p.offset) < size, "{p:?}");
        }
    }
}
