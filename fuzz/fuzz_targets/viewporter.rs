//! wp_viewport requests through weft's wp_viewporter rules (`weft_protocols::viewporter`): the
//! request-time checks on wl_fixed / int arguments, then the commit-time checks against a buffer.
//!
//! Invariants: nothing panics; an accepted source has x, y >= 0 and a positive size; an accepted
//! destination is positive; a commit that passes with a buffer has its source inside the buffer,
//! and with no destination an integer source size.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use weft_protocols::viewporter::{check_commit, check_destination, check_source};

#[derive(Debug, Arbitrary)]
struct Input {
    /// wl_fixed_t values (24.8 fixed point), as they come off the wire.
    source: [i32; 4],
    destination: (i32, i32),
    buffer: Option<(u16, u16)>,
}

fn fixed(v: i32) -> f64 {
    f64::from(v) / 256.0
}

fuzz_target!(|input: Input| {
    let [x, y, w, h] = input.source.map(fixed);
    let src = check_source(x, y, w, h);
    if let Ok(Some(r)) = src {
        assert!(r.loc.x >= 0.0 && r.loc.y >= 0.0 && r.size.w > 0.0 && r.size.h > 0.0);
    }
    let dst = check_destination(input.destination.0, input.destination.1);
    if let Ok(Some(d)) = dst {
        assert!(d.w > 0 && d.h > 0);
    }
    let (Ok(src), Ok(dst)) = (src, dst) else {
        return;
    };
    let buffer = input
        .buffer
        .map(|(w, h)| smithay::utils::Size::from((i32::from(w), i32::from(h))));
    if check_commit(src, dst, buffer).is_ok() {
        if let Some(src) = src {
            if dst.is_none() {
                assert_eq!(src.size.w.fract(), 0.0);
                assert_eq!(src.size.h.fract(), 0.0);
            }
            if let Some(b) = buffer {
                assert!(src.loc.x + src.size.w <= f64::from(b.w));
                assert!(src.loc.y + src.size.h <= f64::from(b.h));
            }
        }
    }
});
