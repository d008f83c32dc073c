//! Pictures of a run: training curves, prediction-versus-truth overlays, scatter plots and ROC
//! curves as PNG, drawn on medburn-io's canvas (an 8x8 bitmap font; no system fonts or
//! plotting stack needed).

use std::path::Path;

use medburn_io::preview::{Canvas, Rgb};

use crate::error::{Result, TrainError};
use crate::metrics_log::LogEntry;

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
/// validation metric `metric` against the step.
///
/// ```
/// use medburn_train::{write_curves_png, LogEntry, Metrics};
/// let mut log: Vec<LogEntry> = (1..=50).map(|s| LogEntry::Train { step: s, epoch: 0, lr: 0.1, loss: 1.0 / s as f64, seconds: 0.0 }).collect();
/// log.push(LogEntry::Validation { step: 50, metrics: Metrics::new(vec![("mae".into(), 4.0)]) });
/// let dir = tempfile::tempdir()?;
/// write_curves_png(&log, "mae", &dir.path().join("curves.png"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_curves_png(entries: &[LogEntry], metric: &str, path: &Path) -> Result<()> {
    let mut loss = Vec::new();
    let mut values = Vec::new();
    for e in entries {
        match e {
            LogEntry::Train { step, loss: l, .. } => loss.push((*step as f64, *l)),
            LogEntry::Validation { step, metrics } => {
                if let Some(v) = metrics.get(metric) {
                    values.push((*step as f64, v));
                }
            }
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
        "training loss, smoothed",
        &[(&loss, [190, 200, 230]), (&smooth, [20, 60, 200])],
        None,
    );
    let (title, range) = match metric {
        "mean_dice" => (
            "validation mean foreground Dice".to_string(),
            Some((0.0, 1.0)),
        ),
        "auc" | "accuracy" => (format!("validation {metric}"), Some((0.0, 1.0))),
        _ => (format!("validation {metric}"), None),
    };
    chart(
        &mut c,
        (490, 40),
        (380, 260),
        &title,
        &[(&values, [200, 40, 40])],
        range,
    );
    Ok(c.save_png(path)?)
}

/// A square panel with equal axes from `lo` to `hi`, axis labels and the diagonal.
fn square_panel(
    c: &mut Canvas,
    origin: (i64, i64),
    side: i64,
    lo: f64,
    hi: f64,
    labels: [&str; 2],
) {
    let (x0, y0) = origin;
    let grey = [90, 90, 90];
    for (a, b) in [
        ((0, 0), (side, 0)),
        ((0, 0), (0, side)),
        ((side, 0), (side, side)),
        ((0, side), (side, side)),
    ] {
        c.line((x0 + a.0, y0 + a.1), (x0 + b.0, y0 + b.1), grey);
    }
    c.line((x0, y0 + side), (x0 + side, y0), [200, 200, 200]);
    c.text(x0, y0 + side + 6, &format!("{lo:.3}"), grey);
    let hi_text = format!("{hi:.3}");
    c.text(
        x0 + side - 8 * hi_text.len() as i64,
        y0 + side + 6,
        &hi_text,
        grey,
    );
    c.text(
        x0 + side / 2 - 4 * labels[0].len() as i64,
        y0 + side + 20,
        labels[0],
        [0, 0, 0],
    );
    c.text(x0 + 4, y0 + 4, labels[1], [0, 0, 0]);
    c.text(x0 + 4, y0 + 16, &hi_text, grey);
}

/// Predicted against true values (regression), with the identity line and the mean
/// predictor's answer (`baseline`) as a horizontal line.
///
/// ```
/// let points = [(30.0, 35.0), (50.0, 48.0), (70.0, 66.0)];
/// let dir = tempfile::tempdir()?;
/// medburn_train::write_scatter_png(&points, 50.0, "test", "age", &dir.path().join("s.png"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_scatter_png(
    points: &[(f64, f64)],
    baseline: f64,
    title: &str,
    name: &str,
    path: &Path,
) -> Result<()> {
    let finite = points
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .chain([baseline])
        .filter(|v| v.is_finite());
    let (mut lo, mut hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !(lo.is_finite() && hi.is_finite()) {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    let (lo, hi) = (lo - pad, hi + pad);
    let side = 400;
    let (x0, y0) = (60i64, 40i64);
    let mut c = Canvas::new(520, 500, [255, 255, 255]);
    c.text(x0, 12, title, [0, 0, 0]);
    let true_label = format!("true {name}");
    let predicted_label = format!("predicted {name}");
    square_panel(
        &mut c,
        (x0, y0),
        side,
        lo,
        hi,
        [&true_label, &predicted_label],
    );
    let to_px = |v: f64| ((v - lo) / (hi - lo) * side as f64).round() as i64;
    let by = y0 + side - to_px(baseline);
    for x in (0..side).step_by(4) {
        c.set(x0 + x, by, [230, 140, 0]);
    }
    for &(t, p) in points
        .iter()
        .filter(|(a, b)| a.is_finite() && b.is_finite())
    {
        let (px, py) = (x0 + to_px(t), y0 + side - to_px(p));
        for dx in -2..=2 {
            for dy in -2..=2 {
                if dx * dx + dy * dy <= 5 {
                    c.set(px + dx, py + dy, [20, 60, 200]);
                }
            }
        }
    }
    c.text(
        x0 + side - 200,
        y0 + side - 14,
        "-- mean predictor",
        [230, 140, 0],
    );
    Ok(c.save_png(path)?)
}

/// ROC curves (false-positive rate against true-positive rate), one per named curve, with the
/// chance diagonal.
///
/// ```
/// let curve = vec![(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)];
/// let dir = tempfile::tempdir()?;
/// medburn_train::write_roc_png(&[("sex = M".into(), curve)], "test", &dir.path().join("r.png"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_roc_png(curves: &[(String, Vec<(f64, f64)>)], title: &str, path: &Path) -> Result<()> {
    let side = 400;
    let (x0, y0) = (60i64, 40i64);
    let mut c = Canvas::new(520, 500, [255, 255, 255]);
    c.text(x0, 12, title, [0, 0, 0]);
    square_panel(
        &mut c,
        (x0, y0),
        side,
        0.0,
        1.0,
        ["false-positive rate", "true-positive rate"],
    );
    let to_px = |v: f64| (v.clamp(0.0, 1.0) * side as f64).round() as i64;
    for (k, (name, points)) in curves.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        for w in points.windows(2) {
            let a = (x0 + to_px(w[0].0), y0 + side - to_px(w[0].1));
            let b = (x0 + to_px(w[1].0), y0 + side - to_px(w[1].1));
            c.line(a, b, colour);
            c.line((a.0, a.1 - 1), (b.0, b.1 - 1), colour);
        }
        c.text(
            x0 + side - 8 * name.len() as i64 - 8,
            y0 + side - 16 - 12 * k as i64,
            name,
            colour,
        );
    }
    Ok(c.save_png(path)?)
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
    let panels = [
        SlicePanel {
            title: format!("{title} image"),
            values: slice,
            labels: None,
        },
        SlicePanel {
            title: "truth".into(),
            values: slice,
            labels: Some(&truth[k * n..(k + 1) * n]),
        },
        SlicePanel {
            title: "prediction".into(),
            values: slice,
            labels: Some(&prediction[k * n..(k + 1) * n]),
        },
    ];
    write_slice_panels_png(&panels, [h, w], slice, 0.45, path)
}

/// One panel of a slice picture: a title, a slice's values (`[H, W]`, W fastest) and the
/// label map drawn over it, if any.
pub(crate) struct SlicePanel<'a> {
    pub title: String,
    pub values: &'a [f32],
    pub labels: Option<&'a [u8]>,
}

/// Draws `panels` (each `[h, w]`) side by side as a PNG: one grey scale, the 1st to 99th
/// percentile of `window`'s finite values; each label in its colour, blended at `alpha`; the j
/// axis running up, as viewers show RAS images.
pub(crate) fn write_slice_panels_png(
    panels: &[SlicePanel],
    [h, w]: [usize; 2],
    window: &[f32],
    alpha: f32,
    path: &Path,
) -> Result<()> {
    let grey = percentile_window(window);
    write_slice_grid_png(&[panels], [h, w], &vec![grey; panels.len()], alpha, path)
}

/// The 1st and 99th percentiles of `values`' finite entries (a grey-scale window that a few
/// extreme voxels do not wash out); never an empty interval.
pub(crate) fn percentile_window(values: &[f32]) -> (f32, f32) {
    let mut sorted: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let pct = |q: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    (pct(0.01), pct(0.99).max(pct(0.01) + 1e-6))
}

/// Draws `rows` of panels (each `[h, w]`) as a grid PNG, a montage: column `c` on the grey
/// scale `windows[c]` (low, high); labels in colour, blended at `alpha`; the j axis running up.
/// Rows may be shorter than `windows`.
pub(crate) fn write_slice_grid_png<'a, P: AsRef<[SlicePanel<'a>]>>(
    rows: &[P],
    [h, w]: [usize; 2],
    windows: &[(f32, f32)],
    alpha: f32,
    path: &Path,
) -> Result<()> {
    let n = h * w;
    let bad = rows.iter().any(|row| {
        let row = row.as_ref();
        row.len() > windows.len()
            || row
                .iter()
                .any(|p| p.values.len() != n || p.labels.is_some_and(|l| l.len() != n))
    });
    if bad || rows.is_empty() || n == 0 {
        return Err(TrainError::Invalid(format!(
            "slice picture: a panel does not fit [{h}, {w}] or has no grey scale"
        )));
    }
    // Montages of several rows at a smaller scale, so that the file stays small.
    let target = if rows.len() > 1 { 256 } else { 400 };
    let scale = (target / w.max(h)).clamp(2, 8);
    let (pw, ph) = (w * scale, h * scale);
    let columns = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(1);
    let mut c = Canvas::new(
        columns * pw + 10 * (columns + 1),
        rows.len() * (ph + 20) + 10,
        [0, 0, 0],
    );
    for (r, row) in rows.iter().enumerate() {
        let y0 = r * (ph + 20);
        for (p, panel) in row.as_ref().iter().enumerate() {
            let (lo, hi) = windows[p];
            let hi = hi.max(lo + 1e-6);
            let x0 = 10 + p * (pw + 10);
            c.text(x0 as i64, (y0 + 4) as i64, &panel.title, [255, 255, 255]);
            for y in 0..ph {
                for x in 0..pw {
                    let (i, j) = (x / scale, h - 1 - y / scale);
                    let v = ((panel.values[j * w + i] - lo) / (hi - lo)).clamp(0.0, 1.0);
                    let g = (v * 255.0).round() as u8;
                    let (px, py) = (x0 + x, y0 + 20 + y);
                    c.set(px as i64, py as i64, [g, g, g]);
                    if let Some(l) = panel.labels {
                        let label = l[j * w + i];
                        if label > 0 {
                            c.blend(px, py, PALETTE[(label as usize - 1) % PALETTE.len()], alpha);
                        }
                    }
                }
            }
        }
    }
    Ok(c.save_png(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

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
