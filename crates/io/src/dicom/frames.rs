//! The geometry and rescale of one frame: per-frame functional group, then shared, then root.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::elements::*;
use super::header::*;

/// Geometry and rescale of one frame: per-frame functional group, then shared, then root.
pub(super) fn frame_info(
    root: &InMemDicomObject,
    shared: Option<&InMemDicomObject>,
    frame: Option<&InMemDicomObject>,
) -> HResult<FrameInfo> {
    let mut position = None;
    let mut orientation = None;
    let mut pixel_spacing = None;
    let mut slope = None;
    let mut inter = None;
    for fg in [frame, shared] {
        if position.is_none() {
            if let Some(item) = group_item(fg, tags::PLANE_POSITION_SEQUENCE) {
                position =
                    get_fixed::<3>(item, tags::IMAGE_POSITION_PATIENT, "ImagePositionPatient")?;
            }
        }
        if orientation.is_none() {
            if let Some(item) = group_item(fg, tags::PLANE_ORIENTATION_SEQUENCE) {
                orientation = get_fixed::<6>(
                    item,
                    tags::IMAGE_ORIENTATION_PATIENT,
                    "ImageOrientationPatient",
                )?;
            }
        }
        if pixel_spacing.is_none() {
            if let Some(item) = group_item(fg, tags::PIXEL_MEASURES_SEQUENCE) {
                pixel_spacing = get_fixed::<2>(item, tags::PIXEL_SPACING, "PixelSpacing")?;
            }
        }
        if slope.is_none() {
            if let Some(item) = group_item(fg, tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE) {
                slope = get_f64(item, tags::RESCALE_SLOPE, "RescaleSlope")?;
                inter = get_f64(item, tags::RESCALE_INTERCEPT, "RescaleIntercept")?;
            }
        }
    }
    if position.is_none() {
        position = get_fixed::<3>(root, tags::IMAGE_POSITION_PATIENT, "ImagePositionPatient")?;
    }
    if orientation.is_none() {
        orientation = get_fixed::<6>(
            root,
            tags::IMAGE_ORIENTATION_PATIENT,
            "ImageOrientationPatient",
        )?;
    }
    if pixel_spacing.is_none() {
        pixel_spacing = get_fixed::<2>(root, tags::PIXEL_SPACING, "PixelSpacing")?;
    }
    if pixel_spacing.is_none() {
        pixel_spacing = get_fixed::<2>(root, tags::IMAGER_PIXEL_SPACING, "ImagerPixelSpacing")?;
    }
    if slope.is_none() && inter.is_none() {
        slope = get_f64(root, tags::RESCALE_SLOPE, "RescaleSlope")?;
        inter = get_f64(root, tags::RESCALE_INTERCEPT, "RescaleIntercept")?;
    }
    let mut slope = slope.unwrap_or(1.0);
    if slope == 0.0 {
        // A zero slope would erase the image; readers treat it as absent.
        slope = 1.0;
    }
    if let Some(ps) = pixel_spacing {
        if ps.iter().any(|&s| s <= 0.0) {
            return invalid(format!("PixelSpacing is {ps:?}: it must be positive"));
        }
    }
    Ok(FrameInfo {
        position,
        orientation,
        pixel_spacing,
        rescale: (slope, inter.unwrap_or(0.0)),
    })
}
