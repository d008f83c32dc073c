//! [`Canvas`]: a small RGB image to draw pictures on (slices, overlays, curves, labels in an
//! 8x8 bitmap font) and save as PNG, with no system fonts or plotting stack. Re-exported from
//! [`preview`](crate::preview).

use std::path::Path;

use font8x8::UnicodeFonts;

use crate::atomic::write_atomically;
use crate::{IoErrorKind, Result};

/// An RGB colour, 8 bits a channel.
///
/// ```
/// let orange: medburn_io::preview::Rgb = [255, 160, 0];
/// let c = medburn_io::preview::Canvas::new(1, 1, orange);
/// assert_eq!(c.pixel(0, 0), orange);
/// ```
pub type Rgb = [u8; 3];

/// An RGB image to draw on, `(x, y)` with `y` down, saved as PNG.
///
/// ```
/// use medburn_io::preview::Canvas;
/// let mut c = Canvas::new(40, 12, [0, 0, 0]);
/// c.line((0, 11), (39, 11), [255, 0, 0]);
/// c.text(2, 2, "dice", [255, 255, 255]);
/// let dir = tempfile::tempdir()?;
/// c.save_png(&dir.path().join("c.png"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `colour`.
    ///
    /// ```
    /// let c = medburn_io::preview::Canvas::new(4, 3, [255, 255, 255]);
    /// assert_eq!(c.pixel(3, 2), [255, 255, 255]);
    /// ```
    pub fn new(width: usize, height: usize, colour: Rgb) -> Canvas {
        Canvas {
            width,
            height,
            pixels: colour.repeat(width * height),
        }
    }

    /// Width in pixels.
    ///
    /// ```
    /// assert_eq!(medburn_io::preview::Canvas::new(4, 3, [0; 3]).width(), 4);
    /// ```
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    ///
    /// ```
    /// assert_eq!(medburn_io::preview::Canvas::new(4, 3, [0; 3]).height(), 3);
    /// ```
    pub fn height(&self) -> usize {
        self.height
    }

    /// The colour at (x, y), y down. Panics outside the canvas.
    ///
    /// ```
    /// let mut c = medburn_io::preview::Canvas::new(2, 2, [0, 0, 0]);
    /// c.set(0, 1, [1, 2, 3]);
    /// assert_eq!(c.pixel(0, 1), [1, 2, 3]);
    /// ```
    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) is outside the {} x {} canvas",
            self.width,
            self.height
        );
        let k = 3 * (y * self.width + x);
        [self.pixels[k], self.pixels[k + 1], self.pixels[k + 2]]
    }

    /// Sets the pixel at (x, y), y down; outside the canvas, nothing.
    ///
    /// ```
    /// let mut c = medburn_io::preview::Canvas::new(2, 2, [0, 0, 0]);
    /// c.set(1, 0, [9, 9, 9]);
    /// c.set(5, 5, [9, 9, 9]);
    /// assert_eq!(c.pixel(1, 0), [9, 9, 9]);
    /// ```
    pub fn set(&mut self, x: i64, y: i64, colour: Rgb) {
        if let Some(k) = self.offset(x, y) {
            self.pixels[k..k + 3].copy_from_slice(&colour);
        }
    }

    /// Mixes `colour` into the pixel at (x, y) with weight `alpha`; outside the canvas,
    /// nothing.
    ///
    /// ```
    /// let mut c = medburn_io::preview::Canvas::new(1, 1, [0, 0, 0]);
    /// c.blend(0, 0, [200, 100, 0], 0.5);
    /// c.blend(3, 0, [200, 100, 0], 0.5);
    /// assert_eq!(c.pixel(0, 0), [100, 50, 0]);
    /// ```
    pub fn blend(&mut self, x: usize, y: usize, colour: Rgb, alpha: f32) {
        let Some(k) = self.offset(x as i64, y as i64) else {
            return;
        };
        for (p, c) in self.pixels[k..k + 3].iter_mut().zip(colour) {
            *p = (*p as f32 * (1.0 - alpha) + c as f32 * alpha).round() as u8;
        }
    }

    /// A straight line from `from` to `to`, both ends included (Bresenham); the parts outside
    /// the canvas are skipped.
    ///
    /// ```
    /// let mut c = medburn_io::preview::Canvas::new(3, 3, [0, 0, 0]);
    /// c.line((0, 0), (2, 2), [255, 255, 255]);
    /// assert_eq!((c.pixel(1, 1), c.pixel(1, 0)), ([255; 3], [0; 3]));
    /// ```
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

    /// Text in the 8x8 font (`font8x8`'s basic Latin), top-left at (x, y), 8 pixels a
    /// character; characters the font lacks are skipped.
    ///
    /// ```
    /// let mut c = medburn_io::preview::Canvas::new(16, 8, [0, 0, 0]);
    /// c.text(0, 0, "T", [255, 255, 255]);
    /// assert_eq!(c.pixel(3, 0), [255, 255, 255]); // the bar of the T
    /// assert_eq!(c.pixel(12, 4), [0, 0, 0]);
    /// ```
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

    /// Writes the canvas as an 8-bit PNG through [`atomic`](crate::atomic) (a temporary file,
    /// synced, then renamed): RGB, or grey when every pixel is grey (`r = g = b`), which is the
    /// same picture in a third of the data.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// medburn_io::preview::Canvas::new(8, 8, [0, 0, 0]).save_png(&dir.path().join("x.png"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let grey = self
            .pixels
            .chunks_exact(3)
            .all(|p| p[0] == p[1] && p[1] == p[2]);
        let (colour, data) = if grey {
            let data: Vec<u8> = self.pixels.iter().step_by(3).copied().collect();
            (png::ColorType::Grayscale, std::borrow::Cow::Owned(data))
        } else {
            (
                png::ColorType::Rgb,
                std::borrow::Cow::Borrowed(&self.pixels[..]),
            )
        };
        write_png(path, self.width, self.height, colour, &data)
    }

    /// The byte offset of pixel (x, y), if it is inside the canvas.
    fn offset(&self, x: i64, y: i64) -> Option<usize> {
        (x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height)
            .then(|| 3 * (y as usize * self.width + x as usize))
    }
}

/// Writes 8-bit PNG `data` atomically.
fn write_png(
    path: &Path,
    width: usize,
    height: usize,
    colour: png::ColorType,
    data: &[u8],
) -> Result<()> {
    let png_err = |e: png::EncodingError| IoErrorKind::Conversion(format!("PNG: {e}"));
    write_atomically(path, |w| {
        let mut enc = png::Encoder::new(w, width as u32, height as u32);
        enc.set_color(colour);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(png_err)?;
        writer.write_image_data(data).map_err(png_err)?;
        writer.finish().map_err(png_err)?;
        Ok::<(), IoErrorKind>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(path: &Path) -> (png::ColorType, u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.color_type, info.width, info.height, buf)
    }

    #[test]
    fn grey_canvases_are_written_grey_and_coloured_ones_rgb() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Canvas::new(3, 2, [10, 10, 10]);
        c.set(2, 1, [200, 200, 200]);
        let grey = dir.path().join("grey.png");
        c.save_png(&grey).unwrap();
        assert_eq!(
            decoded(&grey),
            (
                png::ColorType::Grayscale,
                3,
                2,
                vec![10, 10, 10, 10, 10, 200]
            )
        );
        c.blend(0, 0, [255, 0, 0], 1.0);
        let rgb = dir.path().join("rgb.png");
        c.save_png(&rgb).unwrap();
        let (colour, _, _, data) = decoded(&rgb);
        assert_eq!(colour, png::ColorType::Rgb);
        assert_eq!(&data[..6], &[255, 0, 0, 10, 10, 10]);
        // Only the two pictures: no temporary file is left beside them.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
