//! The metadata kept in a volume (modality, patient, study, series, acquisition), and the
//! modality subtype.

use std::collections::BTreeMap;

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::elements::*;

/// Tags copied into the volume's metadata, by keyword.
const META_TAGS: &[(Tag, &str)] = &[
    (tags::PATIENT_ID, "PatientID"),
    (tags::PATIENT_SEX, "PatientSex"),
    (tags::PATIENT_AGE, "PatientAge"),
    (tags::STUDY_INSTANCE_UID, "StudyInstanceUID"),
    (tags::STUDY_DATE, "StudyDate"),
    (tags::STUDY_DESCRIPTION, "StudyDescription"),
    (tags::SERIES_INSTANCE_UID, "SeriesInstanceUID"),
    (tags::SERIES_NUMBER, "SeriesNumber"),
    (tags::SERIES_DESCRIPTION, "SeriesDescription"),
    (tags::SERIES_DATE, "SeriesDate"),
    (tags::MODALITY, "Modality"),
    (tags::SOP_CLASS_UID, "SOPClassUID"),
    (tags::MANUFACTURER, "Manufacturer"),
    (tags::MANUFACTURER_MODEL_NAME, "ManufacturerModelName"),
    (tags::BODY_PART_EXAMINED, "BodyPartExamined"),
    (tags::PROTOCOL_NAME, "ProtocolName"),
    (tags::SEQUENCE_NAME, "SequenceName"),
    (tags::IMAGE_TYPE, "ImageType"),
    (
        tags::PHOTOMETRIC_INTERPRETATION,
        "PhotometricInterpretation",
    ),
    (tags::BITS_ALLOCATED, "BitsAllocated"),
    (tags::BITS_STORED, "BitsStored"),
    (tags::PIXEL_REPRESENTATION, "PixelRepresentation"),
    (tags::SLICE_THICKNESS, "SliceThickness"),
    (tags::SPACING_BETWEEN_SLICES, "SpacingBetweenSlices"),
    (tags::KVP, "KVP"),
    (tags::CONVOLUTION_KERNEL, "ConvolutionKernel"),
    (tags::MAGNETIC_FIELD_STRENGTH, "MagneticFieldStrength"),
    (tags::REPETITION_TIME, "RepetitionTime"),
    (tags::ECHO_TIME, "EchoTime"),
    (tags::INVERSION_TIME, "InversionTime"),
    (tags::FLIP_ANGLE, "FlipAngle"),
    (tags::WINDOW_CENTER, "WindowCenter"),
    (tags::WINDOW_WIDTH, "WindowWidth"),
    (tags::RESCALE_TYPE, "RescaleType"),
    (tags::UNITS, "Units"),
    (tags::DOSE_UNITS, "DoseUnits"),
    (tags::DOSE_GRID_SCALING, "DoseGridScaling"),
];

/// String metadata of a file.
pub(super) fn metadata(root: &InMemDicomObject, ts: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for &(tag, name) in META_TAGS {
        if let Some(v) = get_str(root, tag) {
            m.insert(name.to_string(), v);
        }
    }
    m.insert("TransferSyntaxUID".into(), ts.to_string());
    if let Some(r) = items(root, tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE).first() {
        if let Some(v) = get_str(r, tags::RADIOPHARMACEUTICAL) {
            m.insert("Radiopharmaceutical".into(), v);
        }
    }
    m
}

/// A modality subtype guessed from the series description and protocol (MR contrasts,
/// PET tracers); `None` when nothing is recognised.
pub(crate) fn subtype(modality: &str, meta: &BTreeMap<String, String>) -> Option<String> {
    let text = |keys: &[&str]| {
        keys.iter()
            .filter_map(|k| meta.get(*k))
            .map(|s| s.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_ascii_alphanumeric() && c != '*')
            .filter(|w| !w.is_empty())
            .map(|w| w.to_string())
            .collect()
    };
    match modality.to_ascii_uppercase().as_str() {
        "MR" => {
            let t = text(&["SeriesDescription", "ProtocolName", "SequenceName"]);
            let w = words(&t);
            let has = |names: &[&str]| w.iter().any(|x| names.iter().any(|n| x == n));
            let prefix = |p: &str| w.iter().any(|x| x.starts_with(p));
            if prefix("FLAIR") {
                Some("FLAIR".into())
            } else if has(&["ADC"]) {
                Some("ADC".into())
            } else if has(&["DWI", "DIFFUSION", "DIFF", "DTI", "TRACEW"]) {
                Some("DWI".into())
            } else if has(&["SWI"]) {
                Some("SWI".into())
            } else if prefix("T1") || has(&["MPRAGE", "SPGR", "BRAVO", "TFL3D", "VIBE"]) {
                Some("T1".into())
            } else if prefix("T2") || has(&["TSE2D", "SPACE"]) {
                Some("T2".into())
            } else if prefix("PD") {
                Some("PD".into())
            } else {
                None
            }
        }
        "PT" => {
            let t = text(&["Radiopharmaceutical", "SeriesDescription"]);
            if t.contains("FLUORODEOXYGLUCOSE") || t.contains("FDG") {
                Some("FDG".into())
            } else if t.contains("PSMA") {
                Some("PSMA".into())
            } else if t.contains("DOTATATE") || t.contains("DOTATOC") {
                Some("DOTATATE".into())
            } else {
                None
            }
        }
        _ => None,
    }
}
