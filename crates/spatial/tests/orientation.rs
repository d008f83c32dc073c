//! Reorientation to every one of the 48 codes: the code is reached, every voxel keeps its
//! physical position, and reorienting back gives the original image exactly.

use burn::tensor::Device;
use medburn_core::{Direction, Geometry, MedImage, Orientation};
use medburn_spatial::change_orientation;

#[test]
fn all_48_codes_are_exact_permutations_and_flips() {
    let (s, c) = 0.2f64.sin_cos();
    let d = Direction::from_row_major([c, 0.0, s, 0.0, -1.0, 0.0, s, 0.0, -c]);
    let g = Geometry::new([4, 3, 2], [10.0, -5.0, 3.0], [1.1, 0.7, 2.5], d).unwrap();
    let values: Vec<f32> = (0..24).map(|v| v as f32).collect();
    let img = MedImage::from_vec(values.clone(), 1, g, &Device::flex()).unwrap();
    let codes = Orientation::all();
    assert_eq!(codes.len(), 48);
    for code in codes {
        let r = change_orientation(&img, code).unwrap();
        assert_eq!(r.geometry().orientation(), code);
        let rv = r.to_vec().unwrap();
        let [ni, nj, _] = r.geometry().size();
        // Each voxel of the result sits where the same value sat in the input.
        for (k, v) in rv.iter().enumerate() {
            let idx = [k % ni, (k / ni) % nj, k / (ni * nj)].map(|u| u as f64);
            let p = r.geometry().index_to_physical(idx);
            let q = img.geometry().physical_to_index(p);
            let q = q.map(|c| c.round() as usize);
            let at = q[0] + 4 * (q[1] + 3 * q[2]);
            assert_eq!(values[at], *v, "{code}: voxel {idx:?}");
        }
        let back = change_orientation(&r, img.geometry().orientation()).unwrap();
        assert_eq!(back.to_vec().unwrap(), values, "{code}");
        let (a, b) = (back.geometry(), img.geometry());
        assert_eq!(a.size(), b.size());
        assert!(
            a.origin()
                .iter()
                .zip(b.origin())
                .all(|(x, y)| (x - y).abs() < 1e-12),
            "{code}"
        );
    }
}
