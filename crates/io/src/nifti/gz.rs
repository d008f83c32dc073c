//! gzip in parallel: the data is cut into chunks that are deflated independently
//! on all cores and joined into ONE gzip member (as pigz does): every chunk but the
//! last ends with a full flush, which byte-aligns it without ending the stream.
//! Any gzip reader (nibabel, ITK's zlib, gunzip) reads the result; only the
//! dictionary is not carried across chunk borders, which costs a fraction of a percent.

use std::io::{self, Write};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use rayon::prelude::*;

/// Bytes per independently compressed chunk.
const CHUNK: usize = 1 << 20;

/// Writes `parts`, concatenated, as one gzip member at `level` (0-9).
pub(crate) fn write_gzip_parallel<W: Write>(
    parts: &[&[u8]],
    level: u32,
    w: &mut W,
) -> io::Result<()> {
    let chunks: Vec<&[u8]> = parts
        .iter()
        .flat_map(|p| p.chunks(CHUNK))
        .filter(|c| !c.is_empty())
        .collect();
    let last = chunks.len().saturating_sub(1);
    let compressed: Vec<io::Result<(Vec<u8>, Crc)>> = chunks
        .par_iter()
        .enumerate()
        .map(|(n, chunk)| {
            let mut crc = Crc::new();
            crc.update(chunk);
            let flush = if n == last {
                FlushCompress::Finish
            } else {
                FlushCompress::Full
            };
            Ok((deflate_chunk(chunk, level, flush)?, crc))
        })
        .collect();
    // gzip header: magic, deflate, no flags, mtime 0, xfl, OS unknown.
    let xfl = match level {
        0 | 1 => 4,
        9 => 2,
        _ => 0,
    };
    w.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255])?;
    let mut crc = Crc::new();
    if chunks.is_empty() {
        w.write_all(&deflate_chunk(&[], level, FlushCompress::Finish)?)?;
    }
    for part in compressed {
        let (bytes, c) = part?;
        w.write_all(&bytes)?;
        crc.combine(&c);
    }
    w.write_all(&crc.sum().to_le_bytes())?;
    w.write_all(&crc.amount().to_le_bytes())?;
    Ok(())
}

/// Raw deflate of one chunk, ended by `flush` (Full: byte-aligned, stream open; Finish: final block).
fn deflate_chunk(input: &[u8], level: u32, flush: FlushCompress) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(Compression::new(level), false);
    let mut out = Vec::with_capacity(input.len() / 2 + 1024);
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(1 << 16));
        }
        let done_in = c.total_in() as usize;
        let status = c
            .compress_vec(&input[done_in..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = c.total_in() as usize == input.len();
        match (status, flush) {
            (Status::StreamEnd, _) => break,
            // A flush is complete once all input is in and the output did not fill up.
            (_, FlushCompress::Full) if all_in && out.len() < out.capacity() => break,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn parallel_gzip_is_one_valid_member() {
        // Over three chunks, with a small first part, compressible and not.
        let mut data = vec![0u8; 2 * CHUNK + 12345];
        let mut x = 1u32;
        for (n, b) in data.iter_mut().enumerate() {
            x = x.wrapping_mul(1664525).wrapping_add(1013904223);
            *b = if n % 3 == 0 {
                (x >> 24) as u8
            } else {
                (n / 1000) as u8
            };
        }
        let head = b"header bytes";
        for level in [0, 1, 6] {
            let mut out = Vec::new();
            write_gzip_parallel(&[head, &data], level, &mut out).unwrap();
            // A single-member decoder must read everything.
            let mut dec = flate2::read::GzDecoder::new(&out[..]);
            let mut back = Vec::new();
            dec.read_to_end(&mut back).unwrap();
            assert_eq!(&back[..head.len()], head);
            assert_eq!(&back[head.len()..], &data[..]);
        }
        let mut out = Vec::new();
        write_gzip_parallel(&[], 1, &mut out).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&out[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
    }
}
