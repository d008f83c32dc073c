//! Ordering the slices of a series along the slice normal and checking that they form
//! a regular grid: one orientation, one pixel spacing, uniform steps, no gaps.

use std::path::Path;

use medburn_core::{Direction, Geometry};

use medburn_core::vec3::{cross, dot, norm};

use super::header::{FileHeader, FrameInfo};

/// One slice: a frame of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SliceRef {
    /// Index into the series' files.
    pub file: usize,
    /// Frame within that file.
    pub frame: usize,
}

/// The slices in order and the grid they make.
#[derive(Debug, Clone)]
pub(crate) struct Stack {
    /// Slice `k` of the volume.
    pub order: Vec<SliceRef>,
    pub geometry: Geometry,
    /// RescaleSlope and RescaleIntercept of each slice, in `order`.
    pub rescales: Vec<(f64, f64)>,
    /// Remarks for the metadata (`dicom:...` keys).
    pub notes: Vec<(String, String)>,
}

/// Two orientations are the same when no cosine differs by more than this.
const ORIENTATION_TOL: f64 = 1e-3;
/// Relative tolerance on pixel spacings.
const PIXEL_SPACING_RTOL: f64 = 1e-4;
/// Slice steps: |step - expected| <= STEP_RTOL * expected + STEP_ATOL (mm).
const STEP_RTOL: f64 = 1e-3;
const STEP_ATOL: f64 = 1e-3;

/// A path as shown in messages: relative to `base` when inside it.
pub(crate) fn show(path: &Path, base: &Path) -> String {
    match path.strip_prefix(base) {
        Ok(p) if !p.as_os_str().is_empty() => p.display().to_string(),
        _ => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string()),
    }
}

fn fmt_num(x: f64) -> String {
    // Short but exact enough to tell positions apart.
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn fmt_vec(v: &[f64]) -> String {
    format!(
        "[{}]",
        v.iter().map(|&x| fmt_num(x)).collect::<Vec<_>>().join(", ")
    )
}

/// The direction matrix (columns i, j, k) from ImageOrientationPatient: the two
/// cosines normalized (as GDCM does), the normal their cross product; cosines that are
/// not orthogonal to 1e-4 are orthonormalized (noted) when close enough.
fn direction(o: &[f64; 6], notes: &mut Vec<(String, String)>) -> Result<Direction, String> {
    let r = [o[0], o[1], o[2]];
    let c = [o[3], o[4], o[5]];
    let (nr, nc) = (norm(r), norm(c));
    if (nr - 1.0).abs() > 1e-2 || (nc - 1.0).abs() > 1e-2 || dot(r, c).abs() > 1e-2 {
        return Err(format!(
            "ImageOrientationPatient {} is not two orthogonal unit vectors",
            fmt_vec(o)
        ));
    }
    let r1 = r.map(|x| x / nr);
    let mut c1 = c.map(|x| x / nc);
    let k = dot(c1, r1);
    if k.abs() > 1e-4 {
        let c2 = [c1[0] - k * r1[0], c1[1] - k * r1[1], c1[2] - k * r1[2]];
        let n2 = norm(c2);
        c1 = c2.map(|x| x / n2);
        notes.push((
            "dicom:orientation".into(),
            format!("ImageOrientationPatient {} orthonormalized", fmt_vec(o)),
        ));
    }
    let n = cross(r1, c1);
    let l = norm(n);
    Ok(Direction::from_columns([r1, c1, n.map(|x| x / l)]))
}

/// Orders the frames of `files` (one series) and builds the grid, or says why they do not
/// make one. `base` is the folder paths are shown relative to.
pub(crate) fn build(files: &[&FileHeader], base: &Path) -> Result<Stack, String> {
    let Some(first) = files.first() else {
        return Err("the series has no files".into());
    };
    let name = |f: usize| show(&files[f].path, base);
    let label = |s: SliceRef| {
        if files[s.file].frames > 1 {
            format!("frame {} of {}", s.frame + 1, name(s.file))
        } else {
            name(s.file)
        }
    };

    // Same image size and pixel format everywhere.
    for (n, f) in files.iter().enumerate().skip(1) {
        if (f.rows, f.cols) != (first.rows, first.cols) {
            return Err(format!(
                "files {} ({}x{}) and {} ({}x{}) differ in Rows/Columns",
                name(0),
                first.rows,
                first.cols,
                name(n),
                f.rows,
                f.cols
            ));
        }
        if f.voxel_type() != first.voxel_type() || f.channels() != first.channels() {
            return Err(format!(
                "files {} ({} x{}) and {} ({} x{}) differ in pixel format (BitsAllocated, PixelRepresentation, SamplesPerPixel, PhotometricInterpretation)",
                name(0),
                first.voxel_type(),
                first.channels(),
                name(n),
                f.voxel_type(),
                f.channels()
            ));
        }
    }

    let mut slices: Vec<(SliceRef, &FrameInfo)> = Vec::new();
    for (n, f) in files.iter().enumerate() {
        for (k, fi) in f.frame_info.iter().enumerate() {
            slices.push((SliceRef { file: n, frame: k }, fi));
        }
    }
    let mut notes = Vec::new();
    if files.len() > 1 {
        for (n, f) in files.iter().enumerate() {
            if f.synthesized_positions.is_some()
                || f.frame_info.iter().any(|fi| fi.position.is_none())
            {
                return Err(format!(
                    "cannot order {} slices: {} has no ImagePositionPatient (0020,0032)",
                    slices.len(),
                    name(n)
                ));
            }
        }
    } else if let Some(s) = &first.synthesized_positions {
        notes.push(("dicom:positions".into(), s.clone()));
    }

    // One orientation.
    let (s0, f0) = slices[0];
    for &(s, fi) in &slices[1..] {
        let same = same_orientation(f0.orientation, fi.orientation);
        if !same {
            let distinct = count_distinct(&slices);
            let show_o =
                |o: Option<[f64; 6]>| o.map(|o| fmt_vec(&o)).unwrap_or_else(|| "none".into());
            return Err(format!(
                "mixed orientations ({distinct} different ImageOrientationPatient in {} slices): {} has {} but {} has {}",
                slices.len(),
                label(s0),
                show_o(f0.orientation),
                label(s),
                show_o(fi.orientation)
            ));
        }
    }
    // One pixel spacing.
    for &(s, fi) in &slices[1..] {
        let same = match (f0.pixel_spacing, fi.pixel_spacing) {
            (Some(a), Some(b)) => a
                .iter()
                .zip(&b)
                .all(|(x, y)| (x - y).abs() <= PIXEL_SPACING_RTOL * x.abs().max(y.abs()) + 1e-9),
            (None, None) => true,
            _ => false,
        };
        if !same {
            let show_s =
                |p: Option<[f64; 2]>| p.map(|p| fmt_vec(&p)).unwrap_or_else(|| "none".into());
            return Err(format!(
                "mixed pixel spacings: {} has PixelSpacing {} but {} has {}",
                label(s0),
                show_s(f0.pixel_spacing),
                label(s),
                show_s(fi.pixel_spacing)
            ));
        }
    }

    let dir = match &f0.orientation {
        Some(o) => direction(o, &mut notes)?,
        None => Direction::identity(),
    };
    // The slice normal of the file (row x column), before any orthonormalization.
    let normal = match &f0.orientation {
        Some(o) => {
            let n = cross([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
            let l = norm(n);
            n.map(|x| x / l)
        }
        None => [0.0, 0.0, 1.0],
    };
    // PixelSpacing is (between rows = along j, between columns = along i).
    let (si, sj) = match f0.pixel_spacing {
        Some([row_sp, col_sp]) => (col_sp, row_sp),
        None => (1.0, 1.0),
    };

    let n = slices.len();
    let (order, origin, sk) = if n == 1 {
        // As SimpleITK (GDCM): SpacingBetweenSlices, else 1. SliceThickness is the
        // slab's thickness, not a distance between slices; it stays in the metadata.
        let sk = match first.spacing_between_slices {
            Some(s) if s > 0.0 => s,
            _ => 1.0,
        };
        (vec![s0], f0.position.unwrap_or([0.0; 3]), sk)
    } else {
        let mut proj: Vec<(f64, SliceRef, [f64; 3])> = Vec::with_capacity(n);
        for &(s, fi) in &slices {
            let Some(p) = fi.position else {
                return Err(format!(
                    "cannot order {n} slices: {} has no ImagePositionPatient (0020,0032)",
                    label(s)
                ));
            };
            proj.push((dot(p, normal), s, p));
        }
        // Stable sort by position along the normal; ties keep file order (reported below).
        proj.sort_by(|a, b| a.0.total_cmp(&b.0));
        let steps: Vec<f64> = proj.windows(2).map(|w| w[1].0 - w[0].0).collect();
        let mut sorted = steps.clone();
        sorted.sort_by(f64::total_cmp);
        let expected = sorted[sorted.len() / 2];
        let tol = STEP_RTOL * expected.abs() + STEP_ATOL;
        for (k, &d) in steps.iter().enumerate() {
            let (za, sa, _) = proj[k];
            let (_, sb, _) = proj[k + 1];
            if d <= STEP_ATOL.max(tol.min(0.5 * expected)) {
                return Err(format!(
                    "duplicate position: slices k={k} and k={} are both at {} mm along the slice normal (ImagePositionPatient): {} and {}{}",
                    k + 1,
                    fmt_num(za),
                    label(sa),
                    label(sb),
                    if files.len() > 1 || first.frames > 1 {
                        " (several volumes in one series, e.g. echoes or time points, are not read)"
                    } else {
                        ""
                    }
                ));
            }
        }
        for (k, &d) in steps.iter().enumerate() {
            let (za, sa, _) = proj[k];
            let (zb, sb, _) = proj[k + 1];
            if (d - expected).abs() > tol {
                let ratio = d / expected;
                let what = if ratio > 1.5 && (ratio - ratio.round()).abs() < 0.05 {
                    format!(
                        "gap ({} missing slice{}?)",
                        ratio.round() as i64 - 1,
                        if ratio.round() as i64 - 1 == 1 {
                            ""
                        } else {
                            "s"
                        }
                    )
                } else {
                    "irregular slice spacing".into()
                };
                return Err(format!(
                    "{what} between slice k={k} (z={} mm, {}) and k={} (z={} mm, {}): spacing {} mm, expected {} mm",
                    fmt_num(za),
                    label(sa),
                    k + 1,
                    fmt_num(zb),
                    label(sb),
                    fmt_num(d),
                    fmt_num(expected)
                ));
            }
        }
        // Stacked along the normal: no drift within the image plane (gantry tilt).
        let p0 = proj[0].2;
        let in_plane_tol = 0.05 * si.min(sj) + STEP_ATOL;
        for &(z, s, p) in &proj[1..] {
            let d = [p[0] - p0[0], p[1] - p0[1], p[2] - p0[2]];
            let along = dot(d, normal);
            let off = [
                d[0] - along * normal[0],
                d[1] - along * normal[1],
                d[2] - along * normal[2],
            ];
            let shift = norm(off);
            if shift > in_plane_tol {
                return Err(format!(
                    "slices are not stacked along the slice normal: {} (z={} mm) is shifted {} mm within the image plane from {} (gantry tilt or a sheared acquisition; not a regular grid)",
                    label(s),
                    fmt_num(z),
                    fmt_num(shift),
                    label(proj[0].1)
                ));
            }
        }
        let sk = (proj[n - 1].0 - proj[0].0) / (n - 1) as f64;
        (proj.iter().map(|x| x.1).collect::<Vec<_>>(), p0, sk)
    };

    let geometry = Geometry::new([first.cols, first.rows, n], origin, [si, sj, sk], dir)
        .map_err(|e| e.to_string())?;
    let rescales = order
        .iter()
        .map(|s| {
            files[s.file]
                .frame_info
                .get(s.frame)
                .map(|f| f.rescale)
                .unwrap_or((1.0, 0.0))
        })
        .collect();
    Ok(Stack {
        order,
        geometry,
        rescales,
        notes,
    })
}

/// Whether two ImageOrientationPatient values agree (both absent counts as agreeing).
fn same_orientation(a: Option<[f64; 6]>, b: Option<[f64; 6]>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a
            .iter()
            .zip(&b)
            .all(|(x, y)| (x - y).abs() <= ORIENTATION_TOL),
        (None, None) => true,
        _ => false,
    }
}

/// How many different orientations the slices have.
fn count_distinct(slices: &[(SliceRef, &FrameInfo)]) -> usize {
    let mut seen: Vec<Option<[f64; 6]>> = Vec::new();
    for (_, fi) in slices {
        let known = seen.iter().any(|&o| same_orientation(o, fi.orientation));
        if !known {
            seen.push(fi.orientation);
        }
    }
    seen.len()
}
