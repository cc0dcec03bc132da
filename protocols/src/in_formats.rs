//! Parsing the KMS `IN_FORMATS` plane property blob (`struct drm_format_modifier_blob`):
//!
//! ```text
//! u32 version (1), u32 flags, u32 count_formats, u32 formats_offset,
//! u32 count_modifiers, u32 modifiers_offset
//! u32 formats[count_formats]                        at formats_offset
//! { u64 formats; u32 offset; u32 pad; u64 modifier } [count_modifiers] at modifiers_offset
//! ```
//! Bit *i* of an entry's `formats` mask means `formats[offset + i]` supports its `modifier`.
//! Offsets are from the start of the blob; everything is read unaligned and bounds-checked.

use std::collections::BTreeMap;

/// Why a blob could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("blob is {len} bytes, too short for its header or arrays")]
    Truncated { len: usize },
    #[error("unknown blob version {0}")]
    Version(u32),
}

/// The blob version this parser knows (`FORMAT_BLOB_CURRENT`).
pub const FORMAT_BLOB_CURRENT: u32 = 1;
const HEADER: usize = 24;
const MODIFIER_ENTRY: usize = 24;

/// Each format with the modifiers it can be scanned out with, in blob order of formats.
pub fn parse(blob: &[u8]) -> Result<Vec<(u32, Vec<u64>)>, ParseError> {
    let len = blob.len();
    let u32_at = |off: usize| -> Result<u32, ParseError> {
        let bytes = blob.get(off..off.checked_add(4).ok_or(ParseError::Truncated { len })?);
        let bytes: [u8; 4] = bytes
            .and_then(|b| b.try_into().ok())
            .ok_or(ParseError::Truncated { len })?;
        Ok(u32::from_ne_bytes(bytes))
    };
    let u64_at = |off: usize| -> Result<u64, ParseError> {
        let bytes = blob.get(off..off.checked_add(8).ok_or(ParseError::Truncated { len })?);
        let bytes: [u8; 8] = bytes
            .and_then(|b| b.try_into().ok())
            .ok_or(ParseError::Truncated { len })?;
        Ok(u64::from_ne_bytes(bytes))
    };
    if len < HEADER {
        return Err(ParseError::Truncated { len });
    }
    let version = u32_at(0)?;
    if version != FORMAT_BLOB_CURRENT {
        return Err(ParseError::Version(version));
    }
    let count_formats = u32_at(8)? as usize;
    let formats_offset = u32_at(12)? as usize;
    let count_modifiers = u32_at(16)? as usize;
    let modifiers_offset = u32_at(20)? as usize;

    let formats = (0..count_formats)
        .map(|i| u32_at(formats_offset + 4 * i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out: Vec<(u32, Vec<u64>)> = formats.iter().map(|&f| (f, Vec::new())).collect();
    for m in 0..count_modifiers {
        let entry = modifiers_offset + MODIFIER_ENTRY * m;
        let mask = u64_at(entry)?;
        let offset = u32_at(entry + 8)? as usize;
        let modifier = u64_at(entry + 16)?;
        for bit in 0..64 {
            if mask & (1 << bit) != 0 {
                if let Some((_, mods)) = out.get_mut(offset + bit) {
                    mods.push(modifier);
                }
            }
        }
    }
    Ok(out)
}

/// The same, keyed by format (a format listed twice gets its modifiers merged).
pub fn parse_map(blob: &[u8]) -> Result<BTreeMap<u32, Vec<u64>>, ParseError> {
    let mut map: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (format, mods) in parse(blob)? {
        let entry = map.entry(format).or_default();
        for m in mods {
            if !entry.contains(&m) {
                entry.push(m);
            }
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(formats: &[u32], mods: &[(u64, u32, u64)]) -> Vec<u8> {
        let formats_offset = HEADER as u32;
        let modifiers_offset = formats_offset + 4 * formats.len() as u32;
        let mut b = Vec::new();
        for v in [
            1,
            0,
            formats.len() as u32,
            formats_offset,
            mods.len() as u32,
            modifiers_offset,
        ] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        for f in formats {
            b.extend_from_slice(&f.to_ne_bytes());
        }
        for &(mask, offset, modifier) in mods {
            b.extend_from_slice(&mask.to_ne_bytes());
            b.extend_from_slice(&offset.to_ne_bytes());
            b.extend_from_slice(&0u32.to_ne_bytes());
            b.extend_from_slice(&modifier.to_ne_bytes());
        }
        b
    }

    #[test]
    fn masks_select_formats_from_offset() {
        let b = blob(&[10, 20, 30], &[(0b101, 0, 0), (0b1, 1, 7)]);
        assert_eq!(
            parse(&b),
            Ok(vec![(10, vec![0]), (20, vec![7]), (30, vec![0])])
        );
    }

    #[test]
    fn bits_past_the_format_list_are_ignored() {
        let b = blob(&[10], &[(u64::MAX, 0, 5)]);
        assert_eq!(parse(&b), Ok(vec![(10, vec![5])]));
    }

    #[test]
    fn rejects_truncated_and_unknown_versions() {
        let mut b = blob(&[10, 20], &[(0b11, 0, 0)]);
        assert_eq!(parse(&b[..10]), Err(ParseError::Truncated { len: 10 }));
        let short = b.len() - 1;
        assert_eq!(
            parse(&b[..short]),
            Err(ParseError::Truncated { len: short })
        );
        b[0] = 2;
        assert_eq!(parse(&b), Err(ParseError::Version(2)));
    }

    #[test]
    fn duplicate_formats_merge_in_the_map() {
        let b = blob(&[10, 10], &[(0b01, 0, 0), (0b10, 0, 3)]);
        let map = parse_map(&b).expect("valid blob");
        assert_eq!(map.get(&10), Some(&vec![0, 3]));
    }
}
