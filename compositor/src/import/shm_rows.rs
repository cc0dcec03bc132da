//! A wl_shm buffer's rows as the texels of a B8G8R8A8 texture, for the copy path: RGB rows as
//! they are, Y′CbCr rows converted on the way ([`super::convert`]).

use weft_protocols::drm_format;

use super::convert::{convert_row, Chroma, Coefficients, Row};
use crate::buffers::shm_pixels::ShmLayout;
use crate::render::{RenderError, UploadRect, YuvParams};

/// The rows of a buffer in its pool mapping, as texels of its [`ShmLayout::texture_format`].
pub struct ShmRows<'a> {
    pool: &'a [u8],
    layout: &'a ShmLayout,
    /// Y′CbCr: the layout, the conversion and each plane's vertical subsampling.
    convert: Option<(Chroma, Coefficients, Vec<u32>)>,
}

impl<'a> ShmRows<'a> {
    /// The rows of `layout` in `pool` (the whole pool mapping); Y′CbCr converted with `yuv`.
    pub fn new(pool: &'a [u8], layout: &'a ShmLayout, yuv: YuvParams) -> Result<Self, RenderError> {
        if layout.end() > pool.len() as u64 {
            return Err(RenderError::SourceTooSmall);
        }
        let convert = match layout.is_ycbcr() {
            false => None,
            true => {
                let chroma = Chroma::of(layout.fourcc()).ok_or(RenderError::SourceTooSmall)?;
                let vsub = drm_format::info(layout.fourcc())
                    .map(|i| i.planes.iter().map(|p| p.vsub.max(1)).collect())
                    .unwrap_or_default();
                Some((chroma, Coefficients::new(yuv), vsub))
            }
        };
        Ok(Self {
            pool,
            layout,
            convert,
        })
    }

    /// The rectangles to fill for `damage`: Y′CbCr rows are converted whole, so its rectangles
    /// span the width.
    pub fn rects(&self, damage: Vec<UploadRect>) -> Vec<UploadRect> {
        if self.convert.is_none() {
            return damage;
        }
        damage
            .into_iter()
            .map(|r| UploadRect {
                x: 0,
                y: r.y,
                w: self.layout.width,
                h: r.h,
            })
            .collect()
    }

    /// Row `r` of plane `i`, `stride` bytes (or fewer at the pool's end).
    fn plane_row(&self, i: usize, r: u32) -> Option<&'a [u8]> {
        let p = self.layout.planes.get(i)?;
        let r = r.min(p.rows.checked_sub(1)?);
        let start = usize::try_from(p.offset + p.stride * u64::from(r)).ok()?;
        let end = start.checked_add(usize::try_from(p.stride).ok()?)?;
        self.pool.get(start..end.min(self.pool.len()))
    }

    /// Fills `dst` with the texels of row `y` from column `x0` on (`dst.len() / 4` of them).
    pub fn fill(&self, y: u32, x0: u32, dst: &mut [u8]) -> Result<(), RenderError> {
        match &self.convert {
            None => {
                let row = self.plane_row(0, y).ok_or(RenderError::SourceTooSmall)?;
                let from = x0 as usize * 4;
                let src = row
                    .get(from..from + dst.len())
                    .ok_or(RenderError::SourceTooSmall)?;
                dst.copy_from_slice(src);
            }
            Some((chroma, k, vsub)) => {
                // Rows are converted whole ([`Self::rects`]).
                if x0 != 0 || dst.len() != self.layout.width as usize * 4 {
                    return Err(RenderError::SourceTooSmall);
                }
                let at = |i: usize| {
                    let v = vsub.get(i).copied().unwrap_or(1);
                    self.plane_row(i, y / v).unwrap_or(&[])
                };
                let row = Row {
                    y: self.plane_row(0, y).ok_or(RenderError::SourceTooSmall)?,
                    c0: at(1),
                    c1: at(2),
                };
                convert_row(k, *chroma, &row, dst);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smithay::reexports::wayland_server::protocol::wl_shm;
    use weft_protocols::shm_layout::ShmPlane;

    fn layout(format: wl_shm::Format, width: u32, height: u32, stride: i32) -> ShmLayout {
        let planes =
            weft_protocols::shm_layout::planes(format, 0, width as i32, height as i32, stride)
                .expect("valid");
        ShmLayout {
            format,
            width,
            height,
            planes,
        }
    }

    #[test]
    fn ycbcr_rows_are_converted_whole_and_rgb_rows_copied() {
        // 4x2 NV12: luma 16, 235 alternating; chroma neutral → grey levels.
        let l = layout(wl_shm::Format::Nv12, 4, 2, 4);
        let mut pool = vec![0u8; l.end() as usize];
        pool[..8].copy_from_slice(&[16, 235, 16, 235, 235, 16, 235, 16]);
        pool[8..12].copy_from_slice(&[128; 4]);
        let rows = ShmRows::new(&pool, &l, YuvParams::default()).expect("rows");
        let r = rows.rects(vec![UploadRect {
            x: 1,
            y: 1,
            w: 1,
            h: 1,
        }]);
        assert_eq!((r[0].x, r[0].w), (0, 4));
        let mut out = [0u8; 16];
        rows.fill(1, 0, &mut out).expect("fill");
        // Limited range (the default): 235 is white, 16 black; alpha opaque.
        assert_eq!(&out[..8], &[255, 255, 255, 255, 0, 0, 0, 255]);
        assert!(rows.fill(1, 1, &mut out[4..]).is_err());

        let rgb = ShmLayout {
            format: wl_shm::Format::Xrgb8888,
            width: 2,
            height: 1,
            planes: vec![ShmPlane {
                offset: 4,
                stride: 8,
                rows: 1,
            }],
        };
        let pool: Vec<u8> = (0..12).collect();
        let rows = ShmRows::new(&pool, &rgb, YuvParams::default()).expect("rows");
        let mut out = [0u8; 4];
        rows.fill(0, 1, &mut out).expect("fill");
        assert_eq!(out, [8, 9, 10, 11]);
        // A layout past the pool is refused up front.
        assert!(ShmRows::new(&pool[..11], &rgb, YuvParams::default()).is_err());
    }
}
