//! The Y′CbCr test pattern's codes and the reference conversion the tests compare weft's pixels
//! with.

/// Y′CbCr codes (8-bit) of the YUV test pattern's quadrants.
pub const YUV_QUADRANTS: [(u8, u8, u8); 4] = [
    (81, 90, 240),
    (145, 54, 34),
    (41, 240, 110),
    (180, 128, 128),
];

/// The reference Y′CbCr → RGB conversion (8-bit codes; `bits` only scales the range constants,
/// the codes are the 8-bit ones scaled by the client).
pub fn yuv_to_rgb(c: (u8, u8, u8), bt709: bool, full: bool) -> [u8; 3] {
    let k = if bt709 { BT709 } else { BT601 };
    yuv_to_rgb_with(c, k, full)
}

/// (Kr, Kb) of BT.601 and BT.709.
pub const BT601: (f64, f64) = (0.299, 0.114);
pub const BT709: (f64, f64) = (0.2126, 0.0722);

/// [`yuv_to_rgb`] with any matrix, given by its (Kr, Kb).
pub fn yuv_to_rgb_with(c: (u8, u8, u8), (kr, kb): (f64, f64), full: bool) -> [u8; 3] {
    let (y, u, v) = (f64::from(c.0), f64::from(c.1), f64::from(c.2));
    let (l, cb, cr) = if full {
        (y / 255.0, (u - 128.0) / 255.0, (v - 128.0) / 255.0)
    } else {
        ((y - 16.0) / 219.0, (u - 128.0) / 224.0, (v - 128.0) / 224.0)
    };
    let r = l + 2.0 * (1.0 - kr) * cr;
    let b = l + 2.0 * (1.0 - kb) * cb;
    let g = (l - kr * r - kb * b) / (1.0 - kr - kb);
    [r, g, b].map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
}
