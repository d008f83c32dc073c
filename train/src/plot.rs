//! Pictures of a run: training curves and prediction-versus-truth overlays as PNG, drawn on a
//! small RGB canvas with an 8x8 bitmap font (no system fonts or plotting stack needed).

use std::path::Path;

use font8x8::UnicodeFonts;

use crate::error::{Result, TrainError};
use crate::metrics_log::LogEntry;

/// An RGB image to draw on.
#[derive(Clone, Debug)]
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

type Rgb = [u8; 3];

impl Canvas {
    /// A canvas filled with `colour`.
    ///
    /// ```
    /// let c = medburn_train::Canvas::new(4, 3, [255, 255, 255]);
    /// assert_eq!(c.pixel(3, 2), [255, 255, 255]);
    /// ```
    pub fn new(width: usize, height: usize, colour: Rgb) -> Canvas {
        Canvas {
            width,
            height,
            pixels: colour.repeat(width * height),
        }
    }

    /// The colour at (x, y), y down.
    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        let k = 3 * (y * self.width + x);
        [self.pixels[k], self.pixels[k + 1], self.pixels[k + 2]]
    }

    /// Sets the pixel at (x, y), y down; outside the canvas, nothing.
    ///
    /// ```
    /// let mut c = medburn_train::Canvas::new(2, 2, [0, 0, 0]);
    /// c.set(1, 0, [9, 9, 9]);
    /// c.set(5, 5, [9, 9, 9]);
    /// assert_eq!(c.pixel(1, 0), [9, 9, 9]);
    /// ```
    pub fn set(&mut self, x: i64, y: i64, colour: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let k = 3 * (y as usize * self.width + x as usize);
            self.pixels[k..k + 3].copy_from_slice(&colour);
        }
    }

    /// Mixes `colour` into the pixel at (x, y) with weight `alpha` (inside the canvas).
    ///
    /// ```
    /// let mut c = medburn_train::Canvas::new(1, 1, [0, 0, 0]);
    /// c.blend(0, 0, [200, 100, 0], 0.5);
    /// assert_eq!(c.pixel(0, 0), [100, 50, 0]);
    /// ```
    pub fn blend(&mut self, x: usize, y: usize, colour: Rgb, alpha: f32) {
        let k = 3 * (y * self.width + x);
        for (p, c) in self.pixels[k..k + 3].iter_mut().zip(colour) {
            *p = (*p as f32 * (1.0 - alpha) + c as f32 * alpha).round() as u8;
        }
    }

    /// A straight line (Bresenham).
    pub fn line(&mut self, from: (i64, i64), to: (i64, i64), colour: Rgb) {
        let (mut x, mut y) = from;
        let (dx, dy) = ((to.0 - x).abs(), -(to.1 - y).abs());
        let (sx, sy) = (if x < to.0 { 1 } else { -1 }, if y < to.1 { 1 } else { -1 });
        let mut err = dx + dy;
        loop {
            self.set(x, y, colour);
            if (x, y) == to {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Text in the 8x8 font, top-left at (x, y); characters the font lacks are skipped.
    pub fn text(&mut self, x: i64, y: i64, text: &str, colour: Rgb) {
        for (n, ch) in text.chars().enumerate() {
            if let Some(glyph) = font8x8::BASIC_FONTS.get(ch) {
                for (row, bits) in glyph.iter().enumerate() {
                    for col in 0..8 {
                        if bits >> col & 1 == 1 {
                            self.set(x + 8 * n as i64 + col, y + row as i64, colour);
                        }
                    }
                }
            }
        }
    }

    /// Writes the canvas as an 8-bit RGB PNG, through a temporary file and a rename.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// medburn_train::Canvas::new(8, 8, [0, 0, 0]).save_png(&dir.path().join("x.png"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let mut bytes = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut bytes, self.width as u32, self.height as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().map_err(|e| png_err(path, e))?;
            w.write_image_data(&self.pixels)
                .map_err(|e| png_err(path, e))?;
        }
        crate::checkpoint::write_atomic(path, &bytes)
    }
}

fn png_err(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// One panel of a line chart: series of (x, y) points in a box with the value range labelled.
fn chart(
    c: &mut Canvas,
    origin: (i64, i64),
    size: (i64, i64),
    title: &str,
    series: &[(&[(f64, f64)], Rgb)],
    y_range: Option<(f64, f64)>,
) {
    let (x0, y0) = origin;
    let (w, h) = size;
    let grey = [90, 90, 90];
    c.text(x0, y0 - 14, title, [0, 0, 0]);
    for (a, b) in [
        ((0, 0), (w, 0)),
        ((0, 0), (0, h)),
        ((w, 0), (w, h)),
        ((0, h), (w, h)),
    ] {
        c.line((x0 + a.0, y0 + a.1), (x0 + b.0, y0 + b.1), grey);
    }
    let points: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|(s, _)| s.iter().copied())
        .filter(|p| p.1.is_finite())
        .collect();
    if points.is_empty() {
        return;
    }
    let (xmin, xmax) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
    let (ymin, ymax) = y_range.unwrap_or_else(|| {
        points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.1), b.max(p.1))
            })
    });
    let (xspan, yspan) = ((xmax - xmin).max(1e-12), (ymax - ymin).max(1e-12));
    let to_px = |p: (f64, f64)| {
        (
            x0 + ((p.0 - xmin) / xspan * w as f64).round() as i64,
            y0 + h - ((p.1 - ymin) / yspan * h as f64).round() as i64,
        )
    };
    for (s, colour) in series {
        let mut last = None;
        for p in s.iter().filter(|p| p.1.is_finite()) {
            let q = to_px(*p);
            if let Some(l) = last {
                c.line(l, q, *colour);
            } else {
                c.set(q.0, q.1, *colour);
            }
            last = Some(q);
        }
    }
    c.text(x0 - 4, y0 + h + 4, &format!("{xmin:.0}"), grey);
    let xm = format!("step {xmax:.0}");
    c.text(x0 + w - 8 * xm.len() as i64, y0 + h + 4, &xm, grey);
    c.text(x0 + 4, y0 + 4, &format!("{ymax:.3}"), grey);
    c.text(x0 + 4, y0 + h - 12, &format!("{ymin:.3}"), grey);
}

/// Draws the training loss (raw, and smoothed by an exponential moving average) and the
/// validation mean foreground Dice against the step.
///
/// ```
/// use medburn_train::{write_curves_png, LogEntry};
/// let log: Vec<LogEntry> = (1..=50).map(|s| LogEntry::Train { step: s, epoch: 0, lr: 0.1, loss: 1.0 / s as f64, seconds: 0.0 }).collect();
/// let dir = tempfile::tempdir()?;
/// write_curves_png(&log, &dir.path().join("curves.png"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_curves_png(entries: &[LogEntry], path: &Path) -> Result<()> {
    let mut loss = Vec::new();
    let mut dice = Vec::new();
    for e in entries {
        match e {
            LogEntry::Train { step, loss: l, .. } => loss.push((*step as f64, *l)),
            LogEntry::Validation {
                step, mean_dice, ..
            } => dice.push((*step as f64, *mean_dice)),
        }
    }
    let mut smooth = Vec::with_capacity(loss.len());
    let mut ema = None;
    for &(s, l) in &loss {
        let v = match ema {
            Some(m) => 0.95 * m + 0.05 * l,
            None => l,
        };
        ema = Some(v);
        smooth.push((s, v));
    }
    let mut c = Canvas::new(900, 340, [255, 255, 255]);
    chart(
        &mut c,
        (50, 40),
        (380, 260),
        "training loss (Dice+CE), smoothed",
        &[(&loss, [190, 200, 230]), (&smooth, [20, 60, 200])],
        None,
    );
    chart(
        &mut c,
        (490, 40),
        (380, 260),
        "validation mean foreground Dice",
        &[(&dice, [200, 40, 40])],
        Some((0.0, 1.0)),
    );
    c.save_png(path)
}

/// Colours of labels 1, 2, ... in overlays (then repeating).
const PALETTE: [Rgb; 6] = [
    [30, 120, 255],
    [40, 200, 60],
    [255, 210, 0],
    [255, 40, 40],
    [200, 0, 255],
    [0, 230, 230],
];

/// Draws the middle slice along k of `image` (one channel, `[D, H, W]` values), three times:
/// plain, with the true labels, and with the predicted labels, each label in its colour.
/// Rows are flipped so that the j axis runs up, as viewers show RAS images.
///
/// ```
/// let (d, h, w) = (4, 8, 8);
/// let image: Vec<f32> = (0..d * h * w).map(|v| (v % 7) as f32).collect();
/// let truth: Vec<u8> = (0..d * h * w).map(|v| (v % 3 == 0) as u8).collect();
/// let dir = tempfile::tempdir()?;
/// medburn_train::write_overlay_png(&image, &truth, &truth, [d, h, w], "case", &dir.path().join("o.png"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_overlay_png(
    image: &[f32],
    truth: &[u8],
    prediction: &[u8],
    dims: [usize; 3],
    title: &str,
    path: &Path,
) -> Result<()> {
    let [d, h, w] = dims;
    let n = h * w;
    if image.len() < d * n || truth.len() != d * n || prediction.len() != d * n {
        return Err(TrainError::Invalid(format!(
            "overlay: sizes do not match {dims:?}"
        )));
    }
    let k = d / 2;
    let slice = &image[k * n..(k + 1) * n];
    let mut sorted: Vec<f32> = slice.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let pct = |q: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let (lo, hi) = (pct(0.01), pct(0.99).max(pct(0.01) + 1e-6));
    let scale = (400 / w.max(h)).clamp(2, 8);
    let (pw, ph) = (w * scale, h * scale);
    let mut c = Canvas::new(3 * pw + 40, ph + 30, [0, 0, 0]);
    let panels: [(&str, Option<&[u8]>); 3] = [
        ("image", None),
        ("truth", Some(&truth[k * n..(k + 1) * n])),
        ("prediction", Some(&prediction[k * n..(k + 1) * n])),
    ];
    for (p, (name, labels)) in panels.iter().enumerate() {
        let x0 = 10 + p * (pw + 10);
        let label = if p == 0 {
            format!("{title} {name}")
        } else {
            name.to_string()
        };
        c.text(x0 as i64, 4, &label, [255, 255, 255]);
        for y in 0..ph {
            for x in 0..pw {
                let (i, j) = (x / scale, h - 1 - y / scale);
                let v = ((slice[j * w + i] - lo) / (hi - lo)).clamp(0.0, 1.0);
                let g = (v * 255.0).round() as u8;
                let (px, py) = (x0 + x, 20 + y);
                c.set(px as i64, py as i64, [g, g, g]);
                if let Some(l) = labels {
                    let label = l[j * w + i];
                    if label > 0 {
                        c.blend(px, py, PALETTE[(label as usize - 1) % PALETTE.len()], 0.45);
                    }
                }
            }
        }
    }
    c.save_png(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_text_touch_the_pixels_they_should() {
        let mut c = Canvas::new(20, 20, [255, 255, 255]);
        c.line((0, 0), (19, 19), [0, 0, 0]);
        assert_eq!(c.pixel(10, 10), [0, 0, 0]);
        assert_eq!(c.pixel(10, 11), [255, 255, 255]);
        c.text(0, 10, "1", [255, 0, 0]);
        let red = (0..8)
            .flat_map(|x| (10..18).map(move |y| (x, y)))
            .filter(|&(x, y)| c.pixel(x, y) == [255, 0, 0])
            .count();
        assert!(red > 5, "{red}");
    }

    #[test]
    fn overlays_colour_the_labelled_voxels() {
        let (d, h, w) = (3, 4, 5);
        let image = vec![0.5f32; d * h * w];
        let mut truth = vec![0u8; d * h * w];
        truth[h * w + 2] = 4; // middle slice, j = 0, i = 2
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.png");
        write_overlay_png(&image, &truth, &vec![0; d * h * w], [d, h, w], "t", &p).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&p).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let scale = (400 / 5usize).clamp(2, 8);
        let width = info.width as usize;
        let px = |x: usize, y: usize| &buf[3 * (y * width + x)..3 * (y * width + x) + 3];
        // Truth panel (second), voxel i = 2, j = 0 drawn in the bottom row: reddish.
        let (x, y) = (10 + (5 * scale + 10) + 2 * scale + 1, 20 + 4 * scale - 2);
        assert!(px(x, y)[0] > px(x, y)[1] + 50, "{:?}", px(x, y));
        // Prediction panel: no label there, grey.
        let x2 = x + 5 * scale + 10;
        assert_eq!(px(x2, y)[0], px(x2, y)[1]);
    }
}
