//! Where the planes of a Y′CbCr wl_shm buffer lie, and the rules a `create_buffer` of one must meet.
//!
//! wl_shm gives a buffer one offset and one stride. For formats of several planes weft follows the
//! convention Weston's renderers and GStreamer's waylandsink share, so a client written for either
//! works here:
//! - the planes follow one another from `offset`, with no gap;
//! - plane 0's stride is the buffer's `stride`; each further plane's stride is derived from it in
//!   proportion to its bytes per row (NV12: the CbCr plane has the same stride; YUV420: Cb and Cr
//!   have half);
//! - plane *i* has `ceil(height / vsub_i)` rows.
//!
//! Rules (each a `wl_shm.invalid_stride`, the code wl_shm has for a buffer that does not fit):
//! a derived stride must be a whole number of bytes, every plane's stride must hold its samples,
//! and every plane must end inside the pool.
//!
//! smithay's `create_buffer` knows no bytes-per-pixel of these formats, so the guard hands it the
//! buffer under a *stand-in* format with plane 0's bytes per pixel ([`stand_in`]): smithay then
//! checks and keeps plane 0 (offset, width, height, stride), and weft remembers the real format.

use smithay::reexports::wayland_server::protocol::wl_shm;

use crate::drm_format::{self, FormatKind};
use crate::Violation;

/// One plane of a wl_shm buffer: its byte offset in the pool, its stride and its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmPlane {
    pub offset: u64,
    pub stride: u64,
    pub rows: u32,
}

impl ShmPlane {
    /// The first byte past this plane.
    pub fn end(&self) -> u64 {
        self.offset + self.stride * u64::from(self.rows)
    }
}

/// The Y′CbCr formats weft offers on wl_shm: every 8-bit one its decode reads (wl_shm's codes for
/// them are their DRM fourccs). P010 is left out: the copy path's converter reads 8-bit samples.
pub fn ycbcr_formats() -> impl Iterator<Item = wl_shm::Format> {
    drm_format::FORMATS
        .iter()
        .filter(|f| f.kind == FormatKind::Yuv { bits: 8 })
        .filter_map(|f| wl_shm::Format::try_from(f.fourcc).ok())
}

/// Whether `format` is one of [`ycbcr_formats`].
pub fn is_ycbcr(format: wl_shm::Format) -> bool {
    drm_format::info(format as u32).is_some_and(|f| f.kind == FormatKind::Yuv { bits: 8 })
}

/// The format smithay is handed in place of `format`: one it knows the size of, with plane 0's
/// bytes per pixel, so its width and stride checks mean plane 0's. `None`: not a Y′CbCr format.
pub fn stand_in(format: wl_shm::Format) -> Option<wl_shm::Format> {
    let info =
        drm_format::info(format as u32).filter(|f| matches!(f.kind, FormatKind::Yuv { .. }))?;
    let plane0 = info.planes.first()?;
    match plane0.bytes_per_sample / plane0.hsub {
        1 => Some(wl_shm::Format::R8),
        2 => Some(wl_shm::Format::Rg88),
        _ => None,
    }
}

/// Every stand-in [`stand_in`] can give (smithay must accept them; clients may not use them).
pub const STAND_INS: [wl_shm::Format; 2] = [wl_shm::Format::R8, wl_shm::Format::Rg88];

fn invalid(message: String) -> Violation<wl_shm::Error> {
    Violation::new(wl_shm::Error::InvalidStride, message)
}

/// The planes of a `width`×`height` buffer of `format` at `offset` with `stride`, or the
/// `invalid_stride` its numbers earn. `format` must be one of [`ycbcr_formats`].
pub fn planes(
    format: wl_shm::Format,
    offset: i32,
    width: i32,
    height: i32,
    stride: i32,
) -> Result<Vec<ShmPlane>, Violation<wl_shm::Error>> {
    let info = drm_format::info(format as u32)
        .ok_or_else(|| Violation::new(wl_shm::Error::InvalidFormat, format!("{format:?}")))?;
    let (Ok(offset), Ok(width), Ok(height), Ok(stride)) = (
        u64::try_from(offset),
        u32::try_from(width),
        u32::try_from(height),
        u64::try_from(stride),
    ) else {
        return Err(invalid(format!(
            "offset {offset}, size {width}x{height} and stride {stride} must not be negative"
        )));
    };
    if width == 0 || height == 0 || stride == 0 {
        return Err(invalid(format!(
            "a {width}x{height} buffer with stride {stride} has no pixels"
        )));
    }
    let first = info
        .planes
        .first()
        .ok_or_else(|| invalid(format!("{format:?} has no planes")))?;
    // Plane i's stride = stride × (bytes per row of plane i) / (bytes per row of plane 0), with the
    // bytes per row of plane i taken per luma pixel: bytes_per_sample_i / hsub_i.
    let (num0, den0) = (u64::from(first.bytes_per_sample), u64::from(first.hsub));
    let mut at = offset;
    let mut out = Vec::with_capacity(info.planes.len());
    for (i, p) in info.planes.iter().enumerate() {
        let num = stride * u64::from(p.bytes_per_sample) * den0;
        let den = u64::from(p.hsub) * num0;
        if num % den != 0 {
            return Err(invalid(format!(
                "stride {stride} gives plane {i} of {format:?} a stride of {num}/{den} bytes: \
                 not a whole number"
            )));
        }
        let plane_stride = num / den;
        let (samples, rows) = p.extent(width, height);
        let needed = u64::from(samples) * u64::from(p.bytes_per_sample);
        if plane_stride < needed {
            return Err(invalid(format!(
                "plane {i} of a {width}-pixel-wide {format:?} buffer needs {needed} bytes per row, \
                 its stride is {plane_stride} (buffer stride {stride})"
            )));
        }
        let plane = ShmPlane {
            offset: at,
            stride: plane_stride,
            rows,
        };
        at = plane.end();
        out.push(plane);
    }
    Ok(out)
}

/// Every plane inside a pool of `pool_size` bytes, or the `invalid_stride` for the first that is
/// not.
pub fn check_in_pool(planes: &[ShmPlane], pool_size: u64) -> Result<(), Violation<wl_shm::Error>> {
    for (i, p) in planes.iter().enumerate() {
        if p.end() > pool_size {
            return Err(invalid(format!(
                "plane {i} ends at byte {}, past the pool's {pool_size} bytes",
                p.end()
            )));
        }
    }
    Ok(())
}

/// The whole `create_buffer` check of a Y′CbCr buffer: its planes, each inside the pool.
pub fn check_create(
    format: wl_shm::Format,
    (offset, width, height, stride): (i32, i32, i32, i32),
    pool_size: u64,
) -> Result<Vec<ShmPlane>, Violation<wl_shm::Error>> {
    let planes = planes(format, offset, width, height, stride)?;
    check_in_pool(&planes, pool_size)?;
    Ok(planes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wl_shm::Format as F;

    fn strides(format: F, width: i32, height: i32, stride: i32) -> Vec<(u64, u64, u32)> {
        planes(format, 16, width, height, stride)
            .unwrap_or_else(|v| panic!("{format:?}: {}", v.message))
            .iter()
            .map(|p| (p.offset, p.stride, p.rows))
            .collect()
    }

    #[test]
    fn planes_follow_weston_and_gstreamer() {
        // 64x48 at offset 16, stride 64 (YUYV: 128).
        assert_eq!(
            strides(F::Nv12, 64, 48, 64),
            [(16, 64, 48), (16 + 64 * 48, 64, 24)]
        );
        assert_eq!(
            strides(F::Yuv420, 64, 48, 64),
            [(16, 64, 48), (3088, 32, 24), (3088 + 32 * 24, 32, 24)]
        );
        assert_eq!(strides(F::Yuyv, 64, 48, 128), [(16, 128, 48)]);
        assert_eq!(strides(F::Nv16, 64, 48, 64), [(16, 64, 48), (3088, 64, 48)]);
        assert_eq!(
            strides(F::Nv24, 64, 48, 64),
            [(16, 64, 48), (3088, 128, 48)]
        );
        // Odd sizes: chroma rows and samples round up.
        assert_eq!(
            strides(F::Nv12, 63, 47, 64),
            [(16, 64, 47), (16 + 64 * 47, 64, 24)]
        );
        assert_eq!(strides(F::Yuyv, 63, 1, 128), [(16, 128, 1)]);
    }

    #[test]
    fn every_violation_is_invalid_stride() {
        let code = |f, o, w, h, s, pool| check_create(f, (o, w, h, s), pool).err().map(|v| v.error);
        let big = 1 << 20;
        assert_eq!(code(F::Nv12, 0, 64, 48, 64, big), None);
        // Stride narrower than the luma row; than a YUYV row (two bytes a pixel).
        assert_eq!(
            code(F::Nv12, 0, 64, 48, 63, big),
            Some(wl_shm::Error::InvalidStride)
        );
        assert_eq!(
            code(F::Yuyv, 0, 64, 48, 127, big),
            Some(wl_shm::Error::InvalidStride)
        );
        // YUV420 chroma strides are half the stride: an odd stride has none.
        assert_eq!(
            code(F::Yuv420, 0, 64, 48, 65, big),
            Some(wl_shm::Error::InvalidStride)
        );
        // Negative or empty numbers.
        assert_eq!(
            code(F::Nv12, -1, 64, 48, 64, big),
            Some(wl_shm::Error::InvalidStride)
        );
        assert_eq!(
            code(F::Nv12, 0, 0, 48, 64, big),
            Some(wl_shm::Error::InvalidStride)
        );
        assert_eq!(
            code(F::Nv12, 0, 64, -2, 64, big),
            Some(wl_shm::Error::InvalidStride)
        );
        assert_eq!(
            code(F::Nv12, 0, 64, 48, 0, big),
            Some(wl_shm::Error::InvalidStride)
        );
        // Luma fits the pool, chroma does not: the check smithay cannot make.
        let luma = 64 * 48;
        assert_eq!(
            code(F::Nv12, 0, 64, 48, 64, luma),
            Some(wl_shm::Error::InvalidStride)
        );
        assert_eq!(code(F::Nv12, 0, 64, 48, 64, luma + luma / 2), None);
        assert_eq!(
            code(F::Nv12, 1, 64, 48, 64, luma + luma / 2),
            Some(wl_shm::Error::InvalidStride)
        );
        // Extremes do not overflow.
        assert_eq!(
            code(
                F::Nv24,
                i32::MAX,
                i32::MAX,
                i32::MAX,
                i32::MAX,
                u64::from(u32::MAX)
            ),
            Some(wl_shm::Error::InvalidStride)
        );
    }

    #[test]
    fn stand_ins_carry_plane_zero_bytes_per_pixel() {
        for format in ycbcr_formats() {
            let s = stand_in(format).unwrap_or_else(|| panic!("{format:?} has no stand-in"));
            assert!(STAND_INS.contains(&s));
            let info = drm_format::info(format as u32).expect("known");
            let p0 = info.planes.first().expect("a plane");
            let want = if p0.bytes_per_sample / p0.hsub == 1 {
                F::R8
            } else {
                F::Rg88
            };
            assert_eq!(s, want, "{format:?}");
            assert!(is_ycbcr(format));
        }
        assert!(ycbcr_formats().any(|f| f == F::Nv12));
        assert!(ycbcr_formats().any(|f| f == F::Yuv420));
        assert!(ycbcr_formats().any(|f| f == F::Yuyv));
        assert_eq!(stand_in(F::Argb8888), None);
        assert!(!is_ycbcr(F::R8));
        assert!(!is_ycbcr(F::P010));
    }
}
