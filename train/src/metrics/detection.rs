//! Detection counts of small structures (lesions) on host label maps: connected components of
//! a label, with 26-connectivity, and which of them touch the truth.

/// The connected components (26-connectivity) of the voxels equal to `label` in a label map of
/// `dims` = `[D, H, W]` (W fastest): one list of voxel indices per component.
fn components(labels: &[u8], dims: [usize; 3], label: u8) -> Vec<Vec<usize>> {
    let [d, h, w] = dims;
    let mut seen = vec![false; labels.len()];
    let mut out = Vec::new();
    for start in 0..labels.len().min(d * h * w) {
        if labels[start] != label || seen[start] {
            continue;
        }
        seen[start] = true;
        let mut stack = vec![start];
        let mut component = Vec::new();
        while let Some(v) = stack.pop() {
            component.push(v);
            let (k, j, i) = (v / (h * w), (v / w) % h, v % w);
            for dk in -1i64..=1 {
                for dj in -1i64..=1 {
                    for di in -1i64..=1 {
                        let (kk, jj, ii) = (k as i64 + dk, j as i64 + dj, i as i64 + di);
                        if kk < 0 || jj < 0 || ii < 0 {
                            continue;
                        }
                        let (kk, jj, ii) = (kk as usize, jj as usize, ii as usize);
                        if kk >= d || jj >= h || ii >= w {
                            continue;
                        }
                        let n = (kk * h + jj) * w + ii;
                        if labels[n] == label && !seen[n] {
                            seen[n] = true;
                            stack.push(n);
                        }
                    }
                }
            }
        }
        out.push(component);
    }
    out
}

/// Lesion-wise detection of `label` in a predicted label map against the truth, both `[D, H,
/// W]` (W fastest): `(true components found, true components, predicted components that touch
/// no true voxel)`. The last is the false-positive count that a Dice of a lesion-free case
/// cannot show.
///
/// ```
/// use medburn_train::metrics::detections;
/// // One true lesion (voxels 0-1), found; one predicted blob away from it (voxel 7).
/// let truth = [4, 4, 0, 0, 0, 0, 0, 0];
/// let pred = [4, 0, 0, 0, 0, 0, 0, 4];
/// assert_eq!(detections(&pred, &truth, [2, 2, 2], 4), (1, 1, 0)); // 26-connected: one blob
/// assert_eq!(detections(&pred, &truth, [1, 1, 8], 4), (1, 1, 1));
/// ```
pub fn detections(
    predicted: &[u8],
    truth: &[u8],
    dims: [usize; 3],
    label: u8,
) -> (usize, usize, usize) {
    let true_components = components(truth, dims, label);
    let found = true_components
        .iter()
        .filter(|c| c.iter().any(|&v| predicted.get(v) == Some(&label)))
        .count();
    let false_positives = components(predicted, dims, label)
        .iter()
        .filter(|c| c.iter().all(|&v| truth.get(v) != Some(&label)))
        .count();
    (found, true_components.len(), false_positives)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_counted_once_and_matched_by_overlap() {
        // 4 x 4 x 4: two true lesions (corners), the prediction finds one and adds two.
        let dims = [4, 4, 4];
        let at = |k: usize, j: usize, i: usize| (k * 4 + j) * 4 + i;
        let mut truth = vec![0u8; 64];
        let mut pred = vec![0u8; 64];
        for v in [at(0, 0, 0), at(0, 0, 1), at(0, 1, 1)] {
            truth[v] = 4;
        }
        truth[at(3, 3, 3)] = 4;
        pred[at(0, 0, 1)] = 4; // overlaps the first
        pred[at(2, 0, 3)] = 4; // alone
        pred[at(3, 0, 0)] = 4; // alone
        pred[at(3, 1, 1)] = 2; // another label: ignored
        assert_eq!(detections(&pred, &truth, dims, 4), (1, 2, 2));
        // No lesion anywhere: nothing found, nothing false.
        assert_eq!(detections(&[0; 64], &[0; 64], dims, 4), (0, 0, 0));
    }
}
