//! Decoding a file's pixel data into typed samples: native data (any byte order) here,
//! compressed data through dicom-pixeldata's codecs; then bits stored, MONOCHROME1,
//! planar configuration, YCbCr and palettes.

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use dicom_core::value::{PrimitiveValue, Value};
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::PixelDecoder;

use super::elements::transfer_syntax_name;
use super::header::{Colour, FileHeader, TS_EXPLICIT_BE, TS_RLE};
use super::open_object;
use crate::volume::Voxel;
use crate::{IoError, IoErrorKind, Result};

/// An integer voxel type a DICOM sample decodes to.
pub(crate) trait Sample: Voxel + Default {
    /// From a value known to fit.
    fn from_i64(v: i64) -> Self;
}

macro_rules! sample_impl {
    ($($t:ty),*) => {$(
        impl Sample for $t {
            #[inline]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
        }
    )*};
}
sample_impl!(u8, i8, u16, i16, u32, i32);

/// How stored bits become a value: BitsStored, HighBit, PixelRepresentation.
#[derive(Clone, Copy)]
struct Bits {
    shift: u32,
    stored: u32,
    signed: bool,
}

impl Bits {
    fn of(h: &FileHeader) -> Bits {
        let stored = h.bits_stored as u32;
        Bits {
            shift: (h.high_bit as u32 + 1).saturating_sub(stored),
            stored,
            signed: h.signed,
        }
    }

    #[inline]
    fn value(self, raw: u32) -> i64 {
        let v = raw >> self.shift;
        if self.stored >= 32 {
            return if self.signed {
                v as i32 as i64
            } else {
                v as i64
            };
        }
        let v = v & ((1u32 << self.stored) - 1);
        if self.signed && (v >> (self.stored - 1)) & 1 == 1 {
            v as i64 - (1i64 << self.stored)
        } else {
            v as i64
        }
    }

    /// MONOCHROME1 to MONOCHROME2 as GDCM (and so SimpleITK) does it:
    /// `(2^BitsStored - 1) - v` for unsigned samples, `-v - 1` for signed ones.
    #[inline]
    fn invert(self, v: i64) -> i64 {
        if self.signed {
            -v - 1
        } else {
            ((1i64 << self.stored) - 1) - v
        }
    }
}

/// A lower-layer error as one line with its causes.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}

fn dicom_err(path: &Path, msg: impl Into<String>) -> IoError {
    IoError::new(path, IoErrorKind::Dicom(msg.into()))
}

/// The pixel data bytes of a file, samples little-endian, frames one after another.
fn pixel_bytes<'a>(obj: &'a DefaultDicomObject, h: &FileHeader) -> Result<Cow<'a, [u8]>> {
    let path = h.path.as_path();
    let elem = obj
        .get(tags::PIXEL_DATA)
        .ok_or_else(|| dicom_err(path, "DICOM file has no pixel data (0x7FE0,0x0010)"))?;
    if let Value::PixelSequence(seq) = elem.value() {
        // Before any decoder allocates from a frame header (RLE has none: ignored).
        super::codestream::check_fragments(seq.fragments(), h.rows, h.cols).map_err(|m| {
            let ts = &h.transfer_syntax;
            dicom_err(
                path,
                format!("{} pixel data: {m}", transfer_syntax_name(ts)),
            )
        })?;
    }
    match elem.value() {
        Value::Primitive(p) => {
            native_bytes(p, h.transfer_syntax == TS_EXPLICIT_BE, h.bits_allocated).ok_or_else(
                || {
                    dicom_err(
                        path,
                        "PixelData (7FE0,0010) holds values that are not pixel samples",
                    )
                },
            )
        }
        Value::PixelSequence(seq) if h.transfer_syntax == TS_RLE => {
            let size = (h.bits_allocated as usize).div_ceil(8);
            rle_decode(seq.fragments(), h.frames, h.rows * h.cols, h.samples, size)
                .map(Cow::Owned)
                .map_err(|m| dicom_err(path, format!("RLE Lossless pixel data: {m}")))
        }
        Value::PixelSequence(seq) if rgb_jpeg_without_transform(h, seq.fragments()) => {
            jpeg_rgb_no_transform(seq.fragments(), h)
                .map(Cow::Owned)
                .map_err(|m| dicom_err(path, format!("JPEG pixel data: {m}")))
        }
        Value::PixelSequence(_) => {
            let ts = &h.transfer_syntax;
            // CharLS builds with cmake, so JPEG-LS is opt-in: say so rather than "unsupported".
            if !cfg!(feature = "jpeg-ls") && is_jpeg_ls(ts) {
                return Err(IoError::new(
                    path,
                    IoErrorKind::Unsupported(format!(
                        "pixel data in transfer syntax {ts} ({}): build medburn with the \
                         `jpeg-ls` feature (needs cmake) to decode JPEG-LS",
                        transfer_syntax_name(ts)
                    )),
                ));
            }
            let decoded = catch_unwind(AssertUnwindSafe(|| {
                obj.decode_pixel_data().map(|d| d.into_data())
            }));
            match decoded {
                Ok(Ok(data)) => Ok(Cow::Owned(data)),
                Ok(Err(e)) => {
                    let msg = chain(&e);
                    let kind =
                        if msg.contains("nsupported") || msg.contains("nknown transfer syntax") {
                            IoErrorKind::Unsupported(format!(
                                "pixel data in transfer syntax {ts} ({}): {msg}",
                                transfer_syntax_name(ts)
                            ))
                        } else {
                            IoErrorKind::Dicom(format!(
                                "cannot decode pixel data in transfer syntax {ts} ({}): {msg}",
                                transfer_syntax_name(ts)
                            ))
                        };
                    Err(IoError::new(path, kind))
                }
                Err(_) => Err(dicom_err(
                    path,
                    format!(
                        "the {} decoder failed on this pixel data (corrupt data?)",
                        transfer_syntax_name(ts)
                    ),
                )),
            }
        }
        Value::Sequence(_) => Err(dicom_err(path, "PixelData (7FE0,0010) is a sequence")),
    }
}

/// Little-endian sample bytes from a native PixelData value.
///
/// dicom-object decodes OB into bytes and OW into 16-bit numbers (byte-swapped from a
/// big-endian file); when that unit differs from the sample size, the big-endian byte
/// stream is rebuilt and each sample swapped at its own size.
fn native_bytes(
    p: &PrimitiveValue,
    big_endian: bool,
    bits_allocated: u16,
) -> Option<Cow<'_, [u8]>> {
    let (unit, le): (usize, Cow<'_, [u8]>) = match p {
        PrimitiveValue::U8(v) => (1, Cow::Borrowed(&v[..])),
        PrimitiveValue::Empty => (1, Cow::Borrowed(&[][..])),
        PrimitiveValue::U16(_) | PrimitiveValue::I16(_) => (2, le_bytes(p)),
        PrimitiveValue::U32(_) | PrimitiveValue::I32(_) | PrimitiveValue::F32(_) => {
            (4, le_bytes(p))
        }
        PrimitiveValue::U64(_) | PrimitiveValue::I64(_) | PrimitiveValue::F64(_) => {
            (8, le_bytes(p))
        }
        _ => return None,
    };
    let sample = (bits_allocated as usize).div_ceil(8).max(1);
    // Samples smaller than the word (8-bit samples in OW) are packed low-order first in
    // each word whatever the byte order: the words' little-endian bytes are the samples.
    if !big_endian || unit >= sample {
        return Some(le);
    }
    // Samples larger than the word (32-bit samples in OW): back to the file's big-endian
    // byte stream, then each sample to little-endian.
    let mut b = le.into_owned();
    for c in b.chunks_exact_mut(unit) {
        c.reverse();
    }
    for c in b.chunks_exact_mut(sample) {
        c.reverse();
    }
    Some(Cow::Owned(b))
}

/// The values of a primitive as little-endian bytes.
fn le_bytes(p: &PrimitiveValue) -> Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        return p.to_bytes();
    }
    let v: Vec<u8> = match p {
        PrimitiveValue::U16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::U64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        other => return other.to_bytes(),
    };
    Cow::Owned(v)
}

/// Decodes RLE Lossless (PS3.5 annex G) into little-endian samples, channels
/// interleaved: one fragment per frame, one segment per byte of each sample (most
/// significant first), each segment PackBits-coded.
fn rle_decode(
    fragments: &[Vec<u8>],
    frames: usize,
    pixels: usize,
    samples: usize,
    size: usize,
) -> std::result::Result<Vec<u8>, String> {
    let joined;
    let per_frame: Vec<&[u8]> = if fragments.len() == frames {
        fragments.iter().map(|f| f.as_slice()).collect()
    } else if frames == 1 {
        joined = fragments.concat();
        vec![joined.as_slice()]
    } else {
        return Err(format!(
            "{} fragments for {frames} frames (expected one per frame)",
            fragments.len()
        ));
    };
    let frame_len = pixels * samples * size;
    let mut out = vec![0u8; frame_len * frames];
    let nseg = samples * size;
    let mut seg = vec![0u8; pixels];
    for (f, data) in per_frame.iter().enumerate() {
        let word = |i: usize| {
            data.get(4 * i..4 * i + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        };
        let n = word(0).ok_or("frame shorter than the 64-byte RLE header")?;
        if n != nseg || nseg > 15 {
            return Err(format!("frame {} has {n} segments, expected {nseg}", f + 1));
        }
        for s in 0..nseg {
            let start = word(1 + s).ok_or("truncated RLE header")?;
            let end = if s + 1 < nseg {
                word(2 + s).ok_or("truncated RLE header")?
            } else {
                data.len()
            };
            let src = data
                .get(start..end.max(start).min(data.len()))
                .ok_or_else(|| {
                    format!(
                        "frame {}: segment {} offset {start} is past the end",
                        f + 1,
                        s + 1
                    )
                })?;
            let got = packbits(src, &mut seg);
            if got < pixels {
                return Err(format!(
                    "frame {}: segment {} decodes to {got} bytes, expected {pixels}",
                    f + 1,
                    s + 1
                ));
            }
            let (c, b) = (s / size, s % size);
            let base = f * frame_len;
            for (p, &v) in seg.iter().enumerate() {
                out[base + (p * samples + c) * size + (size - 1 - b)] = v;
            }
        }
    }
    Ok(out)
}

/// Whether an 8-bit RGB JPEG stream has neither an Adobe APP14 nor a JFIF APP0 marker:
/// then, as the DICOM header says RGB, its components are R, G, B, not YCbCr (pydicom
/// and GDCM agree; jpeg-decoder alone would convert from YCbCr).
fn rgb_jpeg_without_transform(h: &FileHeader, fragments: &[Vec<u8>]) -> bool {
    if !(h.transfer_syntax == "1.2.840.10008.1.2.4.50"
        || h.transfer_syntax == "1.2.840.10008.1.2.4.51")
        || h.photometric != "RGB"
        || h.samples != 3
        || h.bits_allocated != 8
    {
        return false;
    }
    let Some(data) = fragments.iter().find(|f| !f.is_empty()) else {
        return false;
    };
    let mut pos = 2;
    while pos + 4 <= data.len() && data[pos] == 0xFF {
        let marker = data[pos + 1];
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        let len = u16::from_be_bytes([data[pos + 2], data[pos + 3]]) as usize;
        let body = data
            .get(pos + 4..(pos + 2 + len).min(data.len()))
            .unwrap_or(&[]);
        if (marker == 0xEE && body.starts_with(b"Adobe"))
            || (marker == 0xE0 && body.starts_with(b"JFIF"))
        {
            return false;
        }
        pos += 2 + len;
    }
    true
}

/// Decodes 8-bit RGB JPEG frames without a colour transform.
fn jpeg_rgb_no_transform(
    fragments: &[Vec<u8>],
    h: &FileHeader,
) -> std::result::Result<Vec<u8>, String> {
    let joined;
    let per_frame: Vec<&[u8]> = if fragments.len() == h.frames {
        fragments.iter().map(|f| f.as_slice()).collect()
    } else if h.frames == 1 {
        joined = fragments.concat();
        vec![joined.as_slice()]
    } else {
        return Err(format!(
            "{} fragments for {} frames",
            fragments.len(),
            h.frames
        ));
    };
    let frame_len = h.rows * h.cols * 3;
    let mut out = Vec::with_capacity(frame_len * h.frames);
    for (f, data) in per_frame.iter().enumerate() {
        let mut dec = jpeg_decoder::Decoder::new(*data);
        // `RGB` interleaves the components as they are (`None` would give planar lines).
        dec.set_color_transform(jpeg_decoder::ColorTransform::RGB);
        let px = dec.decode().map_err(|e| format!("frame {}: {e}", f + 1))?;
        if px.len() != frame_len {
            return Err(format!(
                "frame {} decodes to {} bytes, expected {frame_len}",
                f + 1,
                px.len()
            ));
        }
        out.extend_from_slice(&px);
    }
    Ok(out)
}

/// PackBits into `out`; returns how many bytes were written.
fn packbits(src: &[u8], out: &mut [u8]) -> usize {
    let (mut i, mut o) = (0usize, 0usize);
    while i < src.len() && o < out.len() {
        let n = src[i] as i8;
        i += 1;
        if n >= 0 {
            let run = (n as usize + 1).min(src.len() - i).min(out.len() - o);
            out[o..o + run].copy_from_slice(&src[i..i + run]);
            i += n as usize + 1;
            o += run;
        } else if n != -128 {
            let Some(&v) = src.get(i) else { break };
            i += 1;
            let run = ((1 - n as isize) as usize).min(out.len() - o);
            out[o..o + run].fill(v);
            o += run;
        }
    }
    o
}

/// Reads one sample (little-endian, `size` bytes) as an unsigned number.
#[inline]
fn raw(b: &[u8], size: usize) -> u32 {
    match size {
        1 => b[0] as u32,
        2 => u16::from_le_bytes([b[0], b[1]]) as u32,
        _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
    }
}

/// Decodes every frame of a file into `out` (`frames * rows * cols * channels` values,
/// channels interleaved), reopening the file.
/// JPEG-LS lossless and near-lossless.
fn is_jpeg_ls(ts: &str) -> bool {
    matches!(ts, "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81")
}

pub(crate) fn decode_into<T: Sample>(h: &FileHeader, out: &mut [T]) -> Result<()> {
    let path = h.path.as_path();
    let obj = open_object(path).map_err(|e| dicom_err(path, e))?;
    let bytes = pixel_bytes(&obj, h)?;
    convert(h, &bytes, out)
}

/// Turns pixel data bytes into values.
pub(crate) fn convert<T: Sample>(h: &FileHeader, bytes: &[u8], out: &mut [T]) -> Result<()> {
    let path = h.path.as_path();
    let pixels = h.rows * h.cols;
    let frames = h.frames;
    let ch = h.channels();
    if out.len() != pixels * frames * ch {
        return Err(dicom_err(path, "internal error: output buffer size"));
    }
    let size = (h.bits_allocated as usize).div_ceil(8);
    let bits = Bits::of(h);
    let decoded_ybr422 = matches!(h.colour, Colour::YbrFull422);
    let stored_per_frame = if decoded_ybr422 {
        pixels * 2
    } else {
        pixels * h.samples
    };
    let needed = if h.bits_allocated == 1 {
        (stored_per_frame * frames).div_ceil(8)
    } else {
        stored_per_frame * frames * size
    };
    if bytes.len() < needed {
        return Err(IoError::new(
            path,
            IoErrorKind::Truncated {
                what: format!(
                    "pixel data ({frames} frame(s) of {}x{}x{})",
                    h.rows, h.cols, h.samples
                ),
                expected: needed as u64,
                got: bytes.len() as u64,
            },
        ));
    }

    if h.bits_allocated == 1 {
        // Bits packed least significant first, frames back to back without padding.
        for (n, o) in out.iter_mut().enumerate() {
            let bit = (bytes[n / 8] >> (n % 8)) & 1;
            *o = T::from_i64(bit as i64);
        }
        return Ok(());
    }

    let planar = h.planar == 1 && !h.encapsulated && h.samples == 3;
    let frame_bytes = stored_per_frame * size;
    for f in 0..frames {
        let src = &bytes[f * frame_bytes..(f + 1) * frame_bytes];
        let dst = &mut out[f * pixels * ch..(f + 1) * pixels * ch];
        match &h.colour {
            Colour::Grey | Colour::Rgb if !planar => {
                for (o, b) in dst.iter_mut().zip(src.chunks_exact(size)) {
                    *o = T::from_i64(bits.value(raw(b, size)));
                }
            }
            Colour::Monochrome1 => {
                for (o, b) in dst.iter_mut().zip(src.chunks_exact(size)) {
                    *o = T::from_i64(bits.invert(bits.value(raw(b, size))));
                }
            }
            Colour::Grey | Colour::Rgb => {
                // Planar: all reds, then greens, then blues.
                for c in 0..3 {
                    for p in 0..pixels {
                        let o = (c * pixels + p) * size;
                        dst[p * 3 + c] = T::from_i64(bits.value(raw(&src[o..o + size], size)));
                    }
                }
            }
            Colour::YbrFull => {
                for p in 0..pixels {
                    let get = |c: usize| {
                        let o = if planar { c * pixels + p } else { p * 3 + c };
                        bits.value(raw(&src[o * size..o * size + size], size))
                    };
                    let rgb = ybr_to_rgb(get(0), get(1), get(2));
                    for c in 0..3 {
                        dst[p * 3 + c] = T::from_i64(rgb[c]);
                    }
                }
            }
            Colour::YbrFull422 => {
                // Y0 Y1 Cb Cr for each pair of pixels along a row.
                for r in 0..h.rows {
                    for x in 0..h.cols {
                        let pair = (r * h.cols + x) / 2;
                        let o = pair * 4;
                        let y = src[o + (x % 2)] as i64;
                        let rgb = ybr_to_rgb(y, src[o + 2] as i64, src[o + 3] as i64);
                        let p = r * h.cols + x;
                        for c in 0..3 {
                            dst[p * 3 + c] = T::from_i64(rgb[c]);
                        }
                    }
                }
            }
            Colour::Palette(pal) => {
                for (p, b) in src.chunks_exact(size).enumerate().take(pixels) {
                    let v = bits.value(raw(b, size));
                    // Values below the first mapped value take the first entry, above the
                    // table the last.
                    let off = (v - pal.first).max(0) as usize;
                    for c in 0..3 {
                        let lut = &pal.lut[c];
                        let e = lut.get(off).or(lut.last()).copied().unwrap_or(0);
                        dst[p * 3 + c] = T::from_i64(e as i64);
                    }
                }
            }
        }
    }
    Ok(())
}

/// YCbCr (full range, 8-bit) to RGB as pydicom does it (SimpleITK agrees on the test files).
#[inline]
fn ybr_to_rgb(y: i64, cb: i64, cr: i64) -> [i64; 3] {
    let (y, cb, cr) = (y as f32, cb as f32 - 128.0, cr as f32 - 128.0);
    let r = y + 1.402 * cr;
    let g = y - (0.114 * 1.772 / 0.587) * cb - (0.299 * 1.402 / 0.587) * cr;
    let b = y + 1.772 * cb;
    [r, g, b].map(|v| ((v + 0.5).floor()).clamp(0.0, 255.0) as i64)
}
