//! Y′CbCr → BGRX on the CPU, for `StageOnCpu` when the render device *is* the CPU (lavapipe).
//!
//! There the planar shader decodes every Y′CbCr pixel of every frame that redraws it, in
//! software, through storage-buffer reads: for a full-damage 1080p NV12 video that is several
//! times the CPU of converting each commit's damaged rows once. So on a CPU device the staging
//! copy converts: the staged buffer is XRGB8888 (bytes B, G, R, X, the target's own texels), which
//! a cover copies straight into the target, and which the planar shader samples cheaply when the
//! surface is scaled.
//!
//! The arithmetic is the shader's (`shaders/planar.frag`: the same matrix and range, chroma taken
//! from the nearest sample), in 16.16 fixed point; results agree with the shader within one step
//! of 8 bits. The loops are plain Rust over whole rows, written so that LLVM vectorizes them; on
//! x86-64 they are compiled a second time for AVX2 and picked at run time.

use crate::render::{YuvParams, YuvRange};

/// Fixed-point (16.16) conversion coefficients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coefficients {
    y_offset: i32,
    y_mul: i32,
    rv: i32,
    gu: i32,
    gv: i32,
    bu: i32,
}

impl Coefficients {
    pub fn new(yuv: YuvParams) -> Self {
        let (kr, kb) = yuv.coefficients();
        let (kr, kb) = (f64::from(kr), f64::from(kb));
        let kg = 1.0 - kr - kb;
        let (y_offset, y_scale, c_scale) = match yuv.range {
            YuvRange::Limited => (16, 255.0 / 219.0, 255.0 / 224.0),
            YuvRange::Full => (0, 1.0, 1.0),
        };
        let fixed = |v: f64| (v * 65536.0).round() as i32;
        Self {
            y_offset,
            y_mul: fixed(y_scale),
            rv: fixed(c_scale * 2.0 * (1.0 - kr)),
            gu: fixed(c_scale * 2.0 * kb * (1.0 - kb) / kg),
            gv: fixed(c_scale * 2.0 * kr * (1.0 - kr) / kg),
            bu: fixed(c_scale * 2.0 * (1.0 - kb)),
        }
    }
}

/// How a row's chroma is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chroma {
    /// NV12: one plane of Cb, Cr pairs.
    Interleaved,
    /// YUV420: a Cb plane and a Cr plane.
    Planar,
}

/// One row's sources: luma, and the chroma row(s) it takes its samples from.
pub struct Row<'a> {
    pub y: &'a [u8],
    /// NV12: the Cb,Cr pairs; YUV420: the Cb samples.
    pub c0: &'a [u8],
    /// YUV420: the Cr samples; NV12: unused.
    pub c1: &'a [u8],
}

/// Converts one row of `width` pixels into `out` (4 bytes per pixel: B, G, R, 255).
pub fn convert_row(k: &Coefficients, chroma: Chroma, row: &Row<'_>, out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { convert_row_avx2(k, chroma, row, out) };
            return;
        }
    }
    convert_row_generic(k, chroma, row, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn convert_row_avx2(k: &Coefficients, chroma: Chroma, row: &Row<'_>, out: &mut [u8]) {
    convert_row_generic(k, chroma, row, out);
}

#[inline(always)]
fn convert_row_generic(k: &Coefficients, chroma: Chroma, row: &Row<'_>, out: &mut [u8]) {
    let (out_pairs, _) = out.as_chunks_mut::<8>();
    let (y_pairs, _) = row.y.as_chunks::<2>();
    match chroma {
        Chroma::Interleaved => {
            let (uv, _) = row.c0.as_chunks::<2>();
            for ((o, &[y0, y1]), &[u, v]) in out_pairs.iter_mut().zip(y_pairs).zip(uv) {
                *o = pair(k, [y0, y1], u, v);
            }
        }
        Chroma::Planar => {
            for (((o, &[y0, y1]), &u), &v) in
                out_pairs.iter_mut().zip(y_pairs).zip(row.c0).zip(row.c1)
            {
                *o = pair(k, [y0, y1], u, v);
            }
        }
    }
    // An odd width: the last pixel has a chroma sample of its own.
    if out.len() % 8 == 4 {
        let last = out.len() / 4 - 1;
        let (u, v) = match chroma {
            Chroma::Interleaved => (row.c0.get(last / 2 * 2), row.c0.get(last / 2 * 2 + 1)),
            Chroma::Planar => (row.c0.get(last / 2), row.c1.get(last / 2)),
        };
        if let (Some(&l), Some(&u), Some(&v), Some(o)) =
            (row.y.get(last), u, v, out.get_mut(last * 4..last * 4 + 4))
        {
            let both = pair(k, [l, l], u, v);
            o.copy_from_slice(both.get(..4).unwrap_or(&[0; 4]));
        }
    }
}

/// Two pixels sharing one chroma sample, as B, G, R, 255 each.
#[inline(always)]
fn pair(k: &Coefficients, [y0, y1]: [u8; 2], u: u8, v: u8) -> [u8; 8] {
    let cb = i32::from(u) - 128;
    let cr = i32::from(v) - 128;
    let r_off = k.rv * cr + 32768;
    let g_off = -k.gu * cb - k.gv * cr + 32768;
    let b_off = k.bu * cb + 32768;
    let clamp = |v: i32| (v >> 16).clamp(0, 255) as u8;
    let l0 = (i32::from(y0) - k.y_offset) * k.y_mul;
    let l1 = (i32::from(y1) - k.y_offset) * k.y_mul;
    [
        clamp(l0 + b_off),
        clamp(l0 + g_off),
        clamp(l0 + r_off),
        255,
        clamp(l1 + b_off),
        clamp(l1 + g_off),
        clamp(l1 + r_off),
        255,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::YuvMatrix;

    /// The shader's float arithmetic, for one pixel.
    fn reference(yuv: YuvParams, y: u8, u: u8, v: u8) -> [u8; 3] {
        let (kr, kb) = yuv.coefficients();
        let (y, u, v) = (f32::from(y), f32::from(u), f32::from(v));
        let (l, cb, cr) = match yuv.range {
            YuvRange::Limited => ((y - 16.0) / 219.0, (u - 128.0) / 224.0, (v - 128.0) / 224.0),
            YuvRange::Full => (y / 255.0, (u - 128.0) / 255.0, (v - 128.0) / 255.0),
        };
        let r = l + 2.0 * (1.0 - kr) * cr;
        let b = l + 2.0 * (1.0 - kb) * cb;
        let g = (l - kr * r - kb * b) / (1.0 - kr - kb);
        let q = |c: f32| (c.clamp(0.0, 1.0) * 255.0).round() as u8;
        [q(b), q(g), q(r)]
    }

    #[test]
    fn agrees_with_the_shader_within_one_step() {
        for matrix in [YuvMatrix::Bt601, YuvMatrix::Bt709] {
            for range in [YuvRange::Limited, YuvRange::Full] {
                let yuv = YuvParams { matrix, range };
                let k = Coefficients::new(yuv);
                for y in (0..=255u8).step_by(5) {
                    for u in (0..=255u8).step_by(15) {
                        for v in (0..=255u8).step_by(15) {
                            let out = pair(&k, [y, y], u, v);
                            let want = reference(yuv, y, u, v);
                            for c in 0..3 {
                                let d = i32::from(out[c]) - i32::from(want[c]);
                                assert!(
                                    d.abs() <= 1,
                                    "{yuv:?} y{y} u{u} v{v}: {out:?} vs {want:?}"
                                );
                            }
                            assert_eq!(out[3], 255);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn nv12_and_i420_rows_take_chroma_per_pair_and_odd_widths_end_right() {
        let k = Coefficients::new(YuvParams::default());
        let y = [16u8, 235, 16, 235, 128];
        let uv = [128u8, 128, 90, 240, 54, 34];
        let (u, v) = ([128u8, 90, 54], [128u8, 240, 34]);
        let mut a = [0u8; 20];
        let mut b = [0u8; 20];
        convert_row(
            &k,
            Chroma::Interleaved,
            &Row {
                y: &y,
                c0: &uv,
                c1: &[],
            },
            &mut a,
        );
        convert_row(
            &k,
            Chroma::Planar,
            &Row {
                y: &y,
                c0: &u,
                c1: &v,
            },
            &mut b,
        );
        assert_eq!(a, b);
        assert_eq!(&a[..8], &[0, 0, 0, 255, 255, 255, 255, 255]);
        let last = pair(&k, [128, 128], 54, 34);
        assert_eq!(&a[16..], &last[..4]);
    }
}
