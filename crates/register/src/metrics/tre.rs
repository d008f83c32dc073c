//! Target registration error: how far the points a registration maps landmarks to lie from
//! where the true transform maps them (millimetres, physical LPS space).

use serde::Serialize;

use crate::error::RegistrationError;

/// Summary of the distances between estimated and true landmark positions, in millimetres.
///
/// ```
/// use medburn_register::metrics::target_registration_error;
/// let tre = target_registration_error(&[[0.0, 0.0, 1.0], [3.0, 4.0, 0.0]], &[[0.0; 3], [0.0; 3]])?;
/// assert_eq!((tre.mean, tre.max, tre.count), (3.0, 5.0, 2));
/// # Ok::<(), medburn_register::RegistrationError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetRegistrationError {
    /// The mean distance.
    pub mean: f64,
    /// The median distance (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The largest distance.
    pub max: f64,
    /// The standard deviation of the distances (population: divided by the count).
    pub std: f64,
    /// How many landmarks.
    pub count: usize,
    /// The distance of each landmark, in the order given.
    pub distances: Vec<f64>,
}

/// The target registration error of `points_estimated` (where a registration maps the
/// landmarks, LPS mm) against `points_true` (where the true transform maps them): the Euclidean
/// distance of each pair, summarized.
///
/// Errors when the lists differ in length, are empty, or hold a non-finite coordinate.
///
/// ```
/// use medburn_register::metrics::target_registration_error;
/// let truth = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
/// let estimate = [[1.0, 2.0, 3.5], [4.0, 5.0, 6.0], [7.0, 6.0, 9.0]];
/// let tre = target_registration_error(&estimate, &truth)?;
/// assert_eq!(tre.distances, vec![0.5, 0.0, 2.0]);
/// assert_eq!((tre.median, tre.max), (0.5, 2.0));
/// assert!(target_registration_error(&estimate[..2], &truth).is_err());
/// assert!(target_registration_error(&[[f64::NAN; 3]], &[[0.0; 3]]).is_err());
/// # Ok::<(), medburn_register::RegistrationError>(())
/// ```
pub fn target_registration_error(
    points_estimated: &[[f64; 3]],
    points_true: &[[f64; 3]],
) -> crate::Result<TargetRegistrationError> {
    if points_estimated.len() != points_true.len() {
        return Err(RegistrationError::Shape(format!(
            "{} estimated points for {} true points",
            points_estimated.len(),
            points_true.len()
        )));
    }
    if points_true.is_empty() {
        return Err(RegistrationError::Shape(
            "no landmarks: the target registration error needs at least one".into(),
        ));
    }
    let finite = |p: &[f64; 3]| p.iter().all(|c| c.is_finite());
    if let Some(n) =
        (0..points_true.len()).find(|&n| !finite(&points_estimated[n]) || !finite(&points_true[n]))
    {
        return Err(RegistrationError::Option(format!(
            "landmark {n} has a non-finite coordinate: estimated {:?}, true {:?}",
            points_estimated[n], points_true[n]
        )));
    }
    let distances: Vec<f64> = points_estimated
        .iter()
        .zip(points_true)
        .map(|(a, b)| {
            (0..3)
                .map(|d| (a[d] - b[d]) * (a[d] - b[d]))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let count = distances.len();
    let mean = distances.iter().sum::<f64>() / count as f64;
    let var = distances
        .iter()
        .map(|d| (d - mean) * (d - mean))
        .sum::<f64>()
        / count as f64;
    let mut sorted = distances.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if count % 2 == 1 {
        sorted[count / 2]
    } else {
        0.5 * (sorted[count / 2 - 1] + sorted[count / 2])
    };
    Ok(TargetRegistrationError {
        mean,
        median,
        max: sorted[count - 1],
        std: var.sqrt(),
        count,
        distances,
    })
}
