//! A bar chart drawn into an RGBA buffer with a 3×5 bitmap font and written as a PNG: panels of
//! bar groups (one bar per series), linear scales, values on the bars. Shared by the benches that
//! plot (`#[path = "support/chart.rs"] mod chart;`).

#![allow(dead_code)]

use std::path::Path;

pub type Rgb = [u8; 3];
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 760;
pub const WHITE: Rgb = [255, 255, 255];
pub const BLACK: Rgb = [20, 20, 20];
const AXIS: Rgb = [90, 90, 90];
const GRID: Rgb = [225, 225, 225];
pub const LEFT: i32 = 90;
const RIGHT: i32 = 20;

/// A series: its name in the legend and its bars' colour.
pub struct Series {
    pub name: String,
    pub colour: Rgb,
}

/// One group of bars: its label and a value per series.
pub struct Group {
    pub label: String,
    pub values: Vec<Option<f64>>,
}

pub struct Canvas {
    px: Vec<u8>,
}

impl Canvas {
    pub fn new() -> Self {
        let px = WHITE
            .iter()
            .copied()
            .chain([255])
            .cycle()
            .take((WIDTH * HEIGHT * 4) as usize)
            .collect();
        Self { px }
    }

    pub fn rect(&mut self, x: i32, y: i32, w: i32, h: i32, c: Rgb) {
        let (x0, x1) = (x.max(0), (x + w).min(WIDTH as i32));
        let (y0, y1) = (y.max(0), (y + h).min(HEIGHT as i32));
        for yy in y0..y1 {
            for xx in x0..x1 {
                let i = ((yy as u32 * WIDTH + xx as u32) * 4) as usize;
                self.px[i..i + 3].copy_from_slice(&c);
            }
        }
    }

    /// `s` in the 3×5 font, each font pixel `scale` pixels square, top-left at (x, y).
    pub fn text(&mut self, x: i32, y: i32, scale: i32, s: &str, c: Rgb) {
        for (i, ch) in s.chars().enumerate() {
            let gx = x + i as i32 * 4 * scale;
            for (row, bits) in glyph(ch).iter().enumerate() {
                for col in 0..3 {
                    if bits & (0b100 >> col) != 0 {
                        self.rect(gx + col * scale, y + row as i32 * scale, scale, scale, c);
                    }
                }
            }
        }
    }
}

fn text_width(s: &str, scale: i32) -> i32 {
    (s.chars().count() as i32 * 4 - 1).max(0) * scale
}

/// A 3×5 glyph, one row per byte (bit 2 is the left column); unknown characters are blank.
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b001, 0b001, 0b001],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        'A' => [0b010, 0b101, 0b111, 0b101, 0b101],
        'B' => [0b110, 0b101, 0b110, 0b101, 0b110],
        'C' => [0b011, 0b100, 0b100, 0b100, 0b011],
        'D' => [0b110, 0b101, 0b101, 0b101, 0b110],
        'E' => [0b111, 0b100, 0b110, 0b100, 0b111],
        'F' => [0b111, 0b100, 0b110, 0b100, 0b100],
        'G' => [0b011, 0b100, 0b101, 0b101, 0b011],
        'H' => [0b101, 0b101, 0b111, 0b101, 0b101],
        'I' => [0b111, 0b010, 0b010, 0b010, 0b111],
        'J' => [0b001, 0b001, 0b001, 0b101, 0b010],
        'K' => [0b101, 0b101, 0b110, 0b101, 0b101],
        'L' => [0b100, 0b100, 0b100, 0b100, 0b111],
        'M' => [0b101, 0b111, 0b111, 0b101, 0b101],
        'N' => [0b110, 0b101, 0b101, 0b101, 0b101],
        'O' => [0b010, 0b101, 0b101, 0b101, 0b010],
        'P' => [0b110, 0b101, 0b110, 0b100, 0b100],
        'Q' => [0b010, 0b101, 0b101, 0b110, 0b011],
        'R' => [0b110, 0b101, 0b110, 0b101, 0b101],
        'S' => [0b011, 0b100, 0b010, 0b001, 0b110],
        'T' => [0b111, 0b010, 0b010, 0b010, 0b010],
        'U' => [0b101, 0b101, 0b101, 0b101, 0b111],
        'V' => [0b101, 0b101, 0b101, 0b101, 0b010],
        'W' => [0b101, 0b101, 0b111, 0b111, 0b101],
        'X' => [0b101, 0b101, 0b010, 0b101, 0b101],
        'Y' => [0b101, 0b101, 0b010, 0b010, 0b010],
        'Z' => [0b111, 0b001, 0b010, 0b100, 0b111],
        '.' => [0, 0, 0, 0, 0b010],
        '-' => [0, 0, 0b111, 0, 0],
        '/' => [0b001, 0b001, 0b010, 0b100, 0b100],
        ':' => [0, 0b010, 0, 0b010, 0],
        '(' => [0b010, 0b100, 0b100, 0b100, 0b010],
        ')' => [0b010, 0b001, 0b001, 0b001, 0b010],
        _ => [0; 5],
    }
}

/// A value for a label: three significant figures or so.
fn num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The smallest 1, 2 or 5 × 10^k at or above `v`.
fn nice_ceil(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&n| n >= v)
        .unwrap_or(10.0 * p)
}

/// A panel from `top` to `top + height`: title, y grid with labels, bars with their values and
/// the group labels under the axis.
pub fn panel(cv: &mut Canvas, top: i32, height: i32, title: &str, series: &[Series], gs: &[Group]) {
    cv.text(LEFT, top + 8, 2, title, BLACK);
    let (y0, y1) = (top + 38, top + height - 30);
    let (x0, x1) = (LEFT, WIDTH as i32 - RIGHT);
    let max = gs
        .iter()
        .flat_map(|g| g.values.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    let scale_max = nice_ceil(max * 1.08);
    let y_of = |v: f64| y1 - ((v / scale_max) * f64::from(y1 - y0)).round() as i32;
    for k in 0..=4 {
        let v = scale_max * f64::from(k) / 4.0;
        let y = y_of(v);
        cv.rect(x0, y, x1 - x0, 1, GRID);
        let label = num(v);
        cv.text(x0 - 8 - text_width(&label, 2), y - 5, 2, &label, AXIS);
    }
    let group_w = (x1 - x0) / gs.len().max(1) as i32;
    let n = series.len().max(1) as i32;
    let bar_w = group_w * 2 / (2 * n + 3);
    for (gi, g) in gs.iter().enumerate() {
        let gx = x0 + gi as i32 * group_w;
        let start = gx + (group_w - bar_w * n) / 2;
        for (ri, (s, v)) in series.iter().zip(&g.values).enumerate() {
            let Some(v) = *v else { continue };
            let bx = start + ri as i32 * bar_w;
            let by = y_of(v).min(y1 - 1);
            cv.rect(bx + 2, by, bar_w - 4, y1 - by, s.colour);
            let label = num(v);
            let s = if text_width(&label, 2) <= bar_w { 2 } else { 1 };
            let lx = bx + (bar_w - text_width(&label, s)) / 2;
            cv.text(lx, by - 6 * s - 2, s, &label, BLACK);
        }
        let lx = gx + (group_w - text_width(&g.label, 2)) / 2;
        cv.text(lx, y1 + 10, 2, &g.label, BLACK);
    }
    cv.rect(x0, y0, 1, y1 - y0 + 1, AXIS);
    cv.rect(x0, y1, x1 - x0, 1, AXIS);
}

pub fn legend(cv: &mut Canvas, y: i32, series: &[Series]) {
    let mut x = LEFT;
    for s in series {
        cv.rect(x, y, 14, 14, s.colour);
        cv.text(x + 20, y + 2, 2, &s.name, BLACK);
        x += 20 + text_width(&s.name, 2) + 30;
    }
}

/// Writes `cv` to `path` as a PNG (creating its folder).
pub fn encode(path: &Path, cv: &Canvas) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(file, WIDTH, HEIGHT);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header()?;
    w.write_image_data(&cv.px)?;
    w.finish()?;
    Ok(())
}
