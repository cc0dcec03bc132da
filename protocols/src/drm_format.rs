//! The DRM formats weft knows how to read from a linear dma-buf: fourcc codes, plane count, the bytes
//! one sample takes in each plane and each plane's chroma subsampling (SPECS.md §5).
//!
//! This is the single table both the linux-dmabuf guard (plane count, bounds of subsampled planes)
//! and the compositor's import rungs (how to address and decode each plane) read from.

/// `fourcc_code(a, b, c, d)` from `drm_fourcc.h`.
pub const fn fourcc(code: &[u8; 4]) -> u32 {
    code[0] as u32 | (code[1] as u32) << 8 | (code[2] as u32) << 16 | (code[3] as u32) << 24
}

/// `DRM_FORMAT_MOD_LINEAR`.
pub const MOD_LINEAR: u64 = 0;
/// `DRM_FORMAT_MOD_INVALID`: no explicit modifier, the layout is implicit.
pub const MOD_INVALID: u64 = 0x00ff_ffff_ffff_ffff;

pub const ARGB8888: u32 = fourcc(b"AR24");
pub const XRGB8888: u32 = fourcc(b"XR24");
pub const ABGR8888: u32 = fourcc(b"AB24");
pub const XBGR8888: u32 = fourcc(b"XB24");
pub const ARGB2101010: u32 = fourcc(b"AR30");
pub const XRGB2101010: u32 = fourcc(b"XR30");
pub const NV12: u32 = fourcc(b"NV12");
pub const P010: u32 = fourcc(b"P010");
pub const YUV420: u32 = fourcc(b"YU12");
/// Packed 4:2:2, one plane, two pixels in four bytes (cameras, capture cards: V4L2's default).
pub const YUYV: u32 = fourcc(b"YUYV");
pub const YVYU: u32 = fourcc(b"YVYU");
pub const UYVY: u32 = fourcc(b"UYVY");
pub const VYUY: u32 = fourcc(b"VYUY");
/// Semi-planar: a luma plane and one plane of chroma pairs (NV21/NV61/NV42: Cr first).
pub const NV21: u32 = fourcc(b"NV21");
pub const NV16: u32 = fourcc(b"NV16");
pub const NV61: u32 = fourcc(b"NV61");
pub const NV24: u32 = fourcc(b"NV24");
pub const NV42: u32 = fourcc(b"NV42");
/// Planar: luma, then two chroma planes (YVU420 = YV12: Cr before Cb).
pub const YVU420: u32 = fourcc(b"YV12");
pub const YUV422: u32 = fourcc(b"YU16");
pub const YUV444: u32 = fourcc(b"YU24");

/// How one plane is laid out in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneLayout {
    /// Bytes one sample position of this plane takes (an interleaved CbCr pair counts as one).
    pub bytes_per_sample: u32,
    /// Horizontal and vertical subsampling: this plane has `ceil(width / hsub)` samples per row and
    /// `ceil(height / vsub)` rows.
    pub hsub: u32,
    pub vsub: u32,
}

impl PlaneLayout {
    /// Samples per row and rows of this plane for a `width`×`height` buffer.
    pub fn extent(&self, width: u32, height: u32) -> (u32, u32) {
        (width.div_ceil(self.hsub), height.div_ceil(self.vsub))
    }
}

/// What a format's samples mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatKind {
    /// Packed RGB; `alpha` says whether the alpha channel is meaningful (A*) or padding (X*).
    Rgb { alpha: bool },
    /// Y′CbCr with `bits` significant bits per component.
    Yuv { bits: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatInfo {
    pub fourcc: u32,
    pub kind: FormatKind,
    pub planes: &'static [PlaneLayout],
}

const fn plane(bytes_per_sample: u32, hsub: u32, vsub: u32) -> PlaneLayout {
    PlaneLayout {
        bytes_per_sample,
        hsub,
        vsub,
    }
}

const PACKED32: &[PlaneLayout] = &[plane(4, 1, 1)];
const NV12_PLANES: &[PlaneLayout] = &[plane(1, 1, 1), plane(2, 2, 2)];
const P010_PLANES: &[PlaneLayout] = &[plane(2, 1, 1), plane(4, 2, 2)];
const YUV420_PLANES: &[PlaneLayout] = &[plane(1, 1, 1), plane(1, 2, 2), plane(1, 2, 2)];
/// Packed 4:2:2: one sample position is a pair of pixels (Y, C, Y, C: four bytes).
const PACKED422: &[PlaneLayout] = &[plane(4, 2, 1)];
const NV16_PLANES: &[PlaneLayout] = &[plane(1, 1, 1), plane(2, 2, 1)];
const NV24_PLANES: &[PlaneLayout] = &[plane(1, 1, 1), plane(2, 1, 1)];
const YUV422_PLANES: &[PlaneLayout] = &[plane(1, 1, 1), plane(1, 2, 1), plane(1, 2, 1)];
const YUV444_PLANES: &[PlaneLayout] = &[plane(1, 1, 1), plane(1, 1, 1), plane(1, 1, 1)];

const fn yuv8(fourcc: u32, planes: &'static [PlaneLayout]) -> FormatInfo {
    FormatInfo {
        fourcc,
        kind: FormatKind::Yuv { bits: 8 },
        planes,
    }
}

/// Every format weft imports from dma-bufs, in the order it advertises them.
pub const FORMATS: &[FormatInfo] = &[
    FormatInfo {
        fourcc: ARGB8888,
        kind: FormatKind::Rgb { alpha: true },
        planes: PACKED32,
    },
    FormatInfo {
        fourcc: XRGB8888,
        kind: FormatKind::Rgb { alpha: false },
        planes: PACKED32,
    },
    FormatInfo {
        fourcc: ABGR8888,
        kind: FormatKind::Rgb { alpha: true },
        planes: PACKED32,
    },
    FormatInfo {
        fourcc: XBGR8888,
        kind: FormatKind::Rgb { alpha: false },
        planes: PACKED32,
    },
    FormatInfo {
        fourcc: ARGB2101010,
        kind: FormatKind::Rgb { alpha: true },
        planes: PACKED32,
    },
    FormatInfo {
        fourcc: XRGB2101010,
        kind: FormatKind::Rgb { alpha: false },
        planes: PACKED32,
    },
    FormatInfo {
        fourcc: NV12,
        kind: FormatKind::Yuv { bits: 8 },
        planes: NV12_PLANES,
    },
    FormatInfo {
        fourcc: P010,
        kind: FormatKind::Yuv { bits: 10 },
        planes: P010_PLANES,
    },
    FormatInfo {
        fourcc: YUV420,
        kind: FormatKind::Yuv { bits: 8 },
        planes: YUV420_PLANES,
    },
    yuv8(YUYV, PACKED422),
    yuv8(YVYU, PACKED422),
    yuv8(UYVY, PACKED422),
    yuv8(VYUY, PACKED422),
    yuv8(NV21, NV12_PLANES),
    yuv8(NV16, NV16_PLANES),
    yuv8(NV61, NV16_PLANES),
    yuv8(NV24, NV24_PLANES),
    yuv8(NV42, NV24_PLANES),
    yuv8(YVU420, YUV420_PLANES),
    yuv8(YUV422, YUV422_PLANES),
    yuv8(YUV444, YUV444_PLANES),
];

/// The table entry of `fourcc`, if weft knows the format.
pub fn info(fourcc: u32) -> Option<&'static FormatInfo> {
    FORMATS.iter().find(|f| f.fourcc == fourcc)
}

/// A fourcc as its four characters ("AR24"), or hex when they are not printable.
pub fn fourcc_str(code: u32) -> String {
    let bytes = code.to_le_bytes();
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        bytes.iter().map(|&b| b as char).collect()
    } else {
        format!("{code:#010x}")
    }
}

/// A modifier as the hex string introspection shows ("0x0000000000000000").
pub fn modifier_str(modifier: u64) -> String {
    format!("{modifier:#018x}")
}

/// The inverse of [`fourcc_str`]: four characters, or `0x`-prefixed hex.
pub fn parse_fourcc(s: &str) -> Option<u32> {
    if let Some(hex) = s.strip_prefix("0x") {
        return u32::from_str_radix(hex, 16).ok();
    }
    let bytes: [u8; 4] = s.as_bytes().try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

/// The inverse of [`modifier_str`] (any `0x`-prefixed hex, or decimal).
pub fn parse_modifier(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip() {
        for f in FORMATS {
            assert_eq!(parse_fourcc(&fourcc_str(f.fourcc)), Some(f.fourcc));
        }
        assert_eq!(parse_fourcc("0x00000001"), Some(1));
        assert_eq!(
            parse_modifier(&modifier_str(MOD_INVALID)),
            Some(MOD_INVALID)
        );
        assert_eq!(parse_modifier("0"), Some(MOD_LINEAR));
        assert_eq!(parse_fourcc("NV1"), None);
    }

    #[test]
    fn fourcc_values_match_drm_fourcc_h() {
        // Values from SPECS.md §5.
        let table = [
            (ARGB8888, 0x3432_5241),
            (XRGB8888, 0x3432_5258),
            (ABGR8888, 0x3432_4241),
            (XBGR8888, 0x3432_4258),
            (ARGB2101010, 0x3033_5241),
            (XRGB2101010, 0x3033_5258),
            (NV12, 0x3231_564E),
            (P010, 0x3031_3050),
            (YUV420, 0x3231_5559),
            (YUYV, 0x5659_5559),
            (YVYU, 0x5559_5659),
            (UYVY, 0x5956_5955),
            (VYUY, 0x5955_5956),
            (NV21, 0x3132_564E),
            (NV16, 0x3631_564E),
            (NV61, 0x3136_564E),
            (NV24, 0x3432_564E),
            (NV42, 0x3234_564E),
            (YVU420, 0x3231_5659),
            (YUV422, 0x3631_5559),
            (YUV444, 0x3432_5559),
        ];
        for (code, value) in table {
            assert_eq!(code, value, "{}", fourcc_str(code));
        }
    }

    #[test]
    fn plane_extents_round_up() {
        let nv12 = info(NV12).unwrap();
        assert_eq!(nv12.planes.len(), 2);
        assert_eq!(nv12.planes[1].extent(5, 3), (3, 2));
        let yuv = info(YUV420).unwrap();
        assert_eq!(yuv.planes.len(), 3);
        assert_eq!(yuv.planes[2].extent(640, 361), (320, 181));
    }

    #[test]
    fn names() {
        assert_eq!(fourcc_str(NV12), "NV12");
        assert_eq!(fourcc_str(1), "0x00000001");
        assert_eq!(modifier_str(MOD_INVALID), "0x00ffffffffffffff");
    }
}
