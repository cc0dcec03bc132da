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

/// How a row's chroma is laid out (vertical subsampling is the caller's: it picks the rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chroma {
    /// One plane of chroma pairs, one pair per `hsub` pixels: NV12/NV16 (2), NV24 (1); `swap`: Cr
    /// before Cb (NV21/NV61/NV42).
    Interleaved { hsub: u32, swap: bool },
    /// A Cb plane and a Cr plane, one sample per `hsub` pixels: YUV420/YUV422 (2), YUV444 (1);
    /// `swap`: the first chroma plane is Cr (YVU420).
    Planar { hsub: u32, swap: bool },
    /// Packed 4:2:2 in the luma plane: the byte positions of (Y0, Cb, Y1, Cr) in each four-byte
    /// group of two pixels (YUYV, YVYU, UYVY, VYUY).
    Packed([usize; 4]),
}

impl Chroma {
    /// The layout of an 8-bit Y′CbCr fourcc, `None` for others.
    pub fn of(fourcc: u32) -> Option<Self> {
        use weft_protocols::drm_format as f;
        let (i, p) = (
            |hsub, swap| Self::Interleaved { hsub, swap },
            |hsub, swap| Self::Planar { hsub, swap },
        );
        Some(match fourcc {
            f::NV12 | f::NV16 => i(2, false),
            f::NV21 | f::NV61 => i(2, true),
            f::NV24 => i(1, false),
            f::NV42 => i(1, true),
            f::YUV420 | f::YUV422 => p(2, false),
            f::YVU420 => p(2, true),
            f::YUV444 => p(1, false),
            f::YUYV => Self::Packed([0, 1, 2, 3]),
            f::YVYU => Self::Packed([0, 3, 2, 1]),
            f::UYVY => Self::Packed([1, 0, 3, 2]),
            f::VYUY => Self::Packed([1, 2, 3, 0]),
            _ => return None,
        })
    }

    /// The bytes one row of each plane holds for `width` pixels (a stride must be at least that).
    pub fn row_bytes(self, width: u32) -> Vec<u64> {
        let w = u64::from(width);
        match self {
            Self::Interleaved { hsub, .. } => vec![w, w.div_ceil(u64::from(hsub)) * 2],
            Self::Planar { hsub, .. } => {
                let c = w.div_ceil(u64::from(hsub));
                vec![w, c, c]
            }
            Self::Packed(_) => vec![w.div_ceil(2) * 4],
        }
    }
}

/// One row's sources: luma, and the chroma row(s) it takes its samples from.
pub struct Row<'a> {
    /// Luma; for [`Chroma::Packed`] the whole packed row.
    pub y: &'a [u8],
    /// Interleaved: the chroma pairs; planar: the first chroma plane's samples.
    pub c0: &'a [u8],
    /// Planar: the second chroma plane's samples; otherwise unused.
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
    convert_row_generic::<false>(k, chroma, row, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn convert_row_avx2(k: &Coefficients, chroma: Chroma, row: &Row<'_>, out: &mut [u8]) {
    convert_row_generic::<true>(k, chroma, row, out);
}

/// `SPLIT`: packed 4:2:2 is split into luma and chroma a block at a time before converting (what
/// AVX2 vectorizes best: 4× faster there); without it each group converts directly (faster with
/// SSE2 alone, measured by `conversion_speed_per_layout`).
#[inline(always)]
fn convert_row_generic<const SPLIT: bool>(
    k: &Coefficients,
    chroma: Chroma,
    row: &Row<'_>,
    out: &mut [u8],
) {
    let width = out.len() / 4;
    let (out_pairs, _) = out.as_chunks_mut::<8>();
    let (y_pairs, _) = row.y.as_chunks::<2>();
    let order = |swap: bool, a: u8, b: u8| if swap { (b, a) } else { (a, b) };
    match chroma {
        // The common cases (NV12, YUV420 and their 4:2:2 kin) pair pixels, so LLVM vectorizes them.
        Chroma::Interleaved { hsub: 2, swap } => {
            let (uv, _) = row.c0.as_chunks::<2>();
            for ((o, &[y0, y1]), &[a, b]) in out_pairs.iter_mut().zip(y_pairs).zip(uv) {
                let (u, v) = order(swap, a, b);
                *o = pair(k, [y0, y1], u, v);
            }
        }
        Chroma::Planar { hsub: 2, swap } => {
            for (((o, &[y0, y1]), &a), &b) in
                out_pairs.iter_mut().zip(y_pairs).zip(row.c0).zip(row.c1)
            {
                let (u, v) = order(swap, a, b);
                *o = pair(k, [y0, y1], u, v);
            }
        }
        Chroma::Packed(order) if !SPLIT => {
            let (groups, _) = row.y.as_chunks::<4>();
            each_group(
                order,
                groups.iter().zip(out_pairs.iter_mut()),
                |o, y, u, v| {
                    *o = pair(k, y, u, v);
                },
            );
        }
        Chroma::Packed(order) => {
            // A block at a time: split into luma pairs and chroma rows, then converted like planar
            // 4:2:2. LLVM vectorizes both loops for AVX2; one loop over the packed groups it did
            // not.
            let (groups, _) = row.y.as_chunks::<4>();
            let mut y = [[0u8; 2]; PACKED_BLOCK];
            let mut u = [0u8; PACKED_BLOCK];
            let mut v = [0u8; PACKED_BLOCK];
            for (gs, os) in groups
                .chunks(PACKED_BLOCK)
                .zip(out_pairs.chunks_mut(PACKED_BLOCK))
            {
                let dst = y.iter_mut().zip(u.iter_mut()).zip(v.iter_mut());
                each_group(order, gs.iter().zip(dst), |((y, u), v), luma, cb, cr| {
                    (*y, *u, *v) = (luma, cb, cr);
                });
                for (((o, &[y0, y1]), &u), &v) in os.iter_mut().zip(&y).zip(&u).zip(&v) {
                    *o = pair(k, [y0, y1], u, v);
                }
            }
        }
        // 4:4:4: a chroma sample per pixel (zipped the same way, so LLVM vectorizes these too).
        Chroma::Interleaved { swap, .. } => {
            let (pixels, _) = out.as_chunks_mut::<4>();
            let (uv, _) = row.c0.as_chunks::<2>();
            for ((o, &l), &[a, b]) in pixels.iter_mut().zip(row.y).zip(uv) {
                let (u, v) = order(swap, a, b);
                *o = single(k, l, u, v);
            }
            return;
        }
        Chroma::Planar { swap, .. } => {
            let (pixels, _) = out.as_chunks_mut::<4>();
            for (((o, &l), &a), &b) in pixels.iter_mut().zip(row.y).zip(row.c0).zip(row.c1) {
                let (u, v) = order(swap, a, b);
                *o = single(k, l, u, v);
            }
            return;
        }
    }
    // An odd width: the last pixel has a chroma sample of its own.
    if out.len() % 8 == 4 {
        let last = width - 1;
        let sample = match chroma {
            Chroma::Interleaved { swap, .. } => row
                .c0
                .get(last / 2 * 2)
                .zip(row.c0.get(last / 2 * 2 + 1))
                .map(|(&a, &b)| (row.y.get(last).copied(), order(swap, a, b))),
            Chroma::Planar { swap, .. } => row
                .c0
                .get(last / 2)
                .zip(row.c1.get(last / 2))
                .map(|(&a, &b)| (row.y.get(last).copied(), order(swap, a, b))),
            Chroma::Packed([p0, pu, _, pv]) => {
                let g = last / 2 * 4;
                row.y
                    .get(g + pu)
                    .zip(row.y.get(g + pv))
                    .map(|(&u, &v)| (row.y.get(g + p0).copied(), (u, v)))
            }
        };
        if let (Some((Some(l), (u, v))), Some(o)) = (sample, out.get_mut(last * 4..last * 4 + 4)) {
            let both = pair(k, [l, l], u, v);
            o.copy_from_slice(both.get(..4).unwrap_or(&[0; 4]));
        }
    }
}

/// Pixel pairs a packed 4:2:2 row is split in at a time (the block stays in L1).
const PACKED_BLOCK: usize = 256;

/// Calls `f(item, [y0, y1], cb, cr)` for each packed 4:2:2 group (`order`: where Y0, Cb, Y1 and Cr
/// lie in a group) with its item; one loop per byte order, each a plain destructuring.
#[inline(always)]
fn each_group<'a, T>(
    order: [usize; 4],
    groups: impl Iterator<Item = (&'a [u8; 4], T)>,
    mut f: impl FnMut(T, [u8; 2], u8, u8),
) {
    match order {
        [0, 1, 2, 3] => groups.for_each(|(&[y0, cb, y1, cr], t)| f(t, [y0, y1], cb, cr)),
        [0, 3, 2, 1] => groups.for_each(|(&[y0, cr, y1, cb], t)| f(t, [y0, y1], cb, cr)),
        [1, 0, 3, 2] => groups.for_each(|(&[cb, y0, cr, y1], t)| f(t, [y0, y1], cb, cr)),
        [1, 2, 3, 0] => groups.for_each(|(&[cr, y0, cb, y1], t)| f(t, [y0, y1], cb, cr)),
        [p0, pu, p1, pv] => groups.for_each(|(g, t)| {
            let at = |i: usize| g.get(i).copied().unwrap_or(0);
            f(t, [at(p0), at(p1)], at(pu), at(pv));
        }),
    }
}

/// One pixel with a chroma sample of its own, as B, G, R, 255.
#[inline(always)]
fn single(k: &Coefficients, y: u8, u: u8, v: u8) -> [u8; 4] {
    let [b, g, r, a, ..] = pair(k, [y, y], u, v);
    [b, g, r, a]
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

    /// Rows longer than a split block (and not a whole number of them) convert alike both ways.
    #[test]
    fn packed_rows_across_split_blocks_match_the_direct_conversion() {
        use weft_protocols::drm_format as f;
        let k = Coefficients::new(YuvParams::default());
        let width = PACKED_BLOCK * 2 * 2 + 3;
        let src: Vec<u8> = (0..width.div_ceil(2) * 4)
            .map(|i| (i * 37 % 251) as u8)
            .collect();
        for fourcc in [f::YUYV, f::YVYU, f::UYVY, f::VYUY] {
            let chroma = Chroma::of(fourcc).expect("packed");
            let row = Row {
                y: &src,
                c0: &[],
                c1: &[],
            };
            let (mut direct, mut split) = (vec![0u8; width * 4], vec![0u8; width * 4]);
            convert_row_generic::<false>(&k, chroma, &row, &mut direct);
            convert_row_generic::<true>(&k, chroma, &row, &mut split);
            assert!(direct == split, "{}", f::fourcc_str(fourcc));
            assert!(direct.iter().any(|&b| b != 0 && b != 255));
        }
    }

    #[test]
    fn agrees_with_the_shader_within_one_step() {
        for matrix in [YuvMatrix::Bt601, YuvMatrix::Bt709, YuvMatrix::Bt2020] {
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
            Chroma::Interleaved {
                hsub: 2,
                swap: false,
            },
            &Row {
                y: &y,
                c0: &uv,
                c1: &[],
            },
            &mut a,
        );
        convert_row(
            &k,
            Chroma::Planar {
                hsub: 2,
                swap: false,
            },
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

    /// Every 8-bit Y′CbCr layout, odd width: each pixel gets its own luma and the chroma sample of
    /// its column (`x / hsub`), Cb and Cr in the order the format stores them.
    #[test]
    fn every_layout_takes_its_samples_where_the_format_puts_them() {
        use weft_protocols::drm_format as f;
        let k = Coefficients::new(YuvParams::default());
        const W: usize = 5;
        let luma: [u8; W] = [16, 60, 110, 180, 235];
        // Chroma per sample position (enough for 4:4:4).
        let cb: [u8; W] = [90, 240, 54, 128, 200];
        let cr: [u8; W] = [240, 110, 34, 128, 20];
        let formats = [
            f::NV12,
            f::NV21,
            f::NV16,
            f::NV61,
            f::NV24,
            f::NV42,
            f::YUV420,
            f::YVU420,
            f::YUV422,
            f::YUV444,
            f::YUYV,
            f::YVYU,
            f::UYVY,
            f::VYUY,
        ];
        for fourcc in formats {
            let chroma = Chroma::of(fourcc).expect("an 8-bit Y′CbCr layout");
            let hsub = match chroma {
                Chroma::Interleaved { hsub, .. } | Chroma::Planar { hsub, .. } => hsub as usize,
                Chroma::Packed(_) => 2,
            };
            let n = W.div_ceil(hsub);
            let (mut y, mut c0, mut c1) = (Vec::new(), Vec::new(), Vec::new());
            match chroma {
                Chroma::Interleaved { swap, .. } => {
                    y.extend_from_slice(&luma);
                    for i in 0..n {
                        let (a, b) = if swap { (cr[i], cb[i]) } else { (cb[i], cr[i]) };
                        c0.extend_from_slice(&[a, b]);
                    }
                }
                Chroma::Planar { swap, .. } => {
                    y.extend_from_slice(&luma);
                    let (a, b) = if swap { (&cr, &cb) } else { (&cb, &cr) };
                    c0.extend_from_slice(&a[..n]);
                    c1.extend_from_slice(&b[..n]);
                }
                Chroma::Packed(pos) => {
                    for i in 0..n {
                        let mut g = [0u8; 4];
                        g[pos[0]] = luma[2 * i];
                        g[pos[1]] = cb[i];
                        g[pos[2]] = luma.get(2 * i + 1).copied().unwrap_or(0);
                        g[pos[3]] = cr[i];
                        y.extend_from_slice(&g);
                    }
                }
            }
            let mut out = [0u8; W * 4];
            let row = Row {
                y: &y,
                c0: &c0,
                c1: &c1,
            };
            convert_row(&k, chroma, &row, &mut out);
            // Both packed strategies (with and without AVX2) agree.
            let (mut direct, mut split) = ([0u8; W * 4], [0u8; W * 4]);
            convert_row_generic::<false>(&k, chroma, &row, &mut direct);
            convert_row_generic::<true>(&k, chroma, &row, &mut split);
            assert_eq!((direct, split), (out, out), "{}", f::fourcc_str(fourcc));
            for x in 0..W {
                let want = pair(&k, [luma[x], luma[x]], cb[x / hsub], cr[x / hsub]);
                assert_eq!(
                    &out[x * 4..x * 4 + 4],
                    &want[..4],
                    "{} pixel {x}",
                    f::fourcc_str(fourcc)
                );
            }
            assert_eq!(
                chroma.row_bytes(W as u32).len(),
                f::info(fourcc).expect("in the table").planes.len()
            );
        }
    }
}
