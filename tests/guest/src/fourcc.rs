//! Printable names for DRM fourccs and modifiers.

/// `DRM_FORMAT_MOD_LINEAR`.
pub const MOD_LINEAR: u64 = 0;
/// `DRM_FORMAT_MOD_INVALID`: "no explicit modifier".
pub const MOD_INVALID: u64 = 0x00ff_ffff_ffff_ffff;
/// `DRM_FORMAT_XRGB8888`.
pub const XRGB8888: u32 = u32::from_le_bytes(*b"XR24");

/// "XR24" for XRGB8888; non-printable bytes as '?'.
pub fn fourcc_str(code: u32) -> String {
    code.to_le_bytes()
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// "LINEAR", "INVALID", or the hex value.
pub fn modifier_str(modifier: u64) -> String {
    match modifier {
        MOD_LINEAR => "LINEAR".into(),
        MOD_INVALID => "INVALID".into(),
        m => format!("{m:#018x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(fourcc_str(XRGB8888), "XR24");
        assert_eq!(fourcc_str(0x3231_564e), "NV12");
        assert_eq!(modifier_str(0), "LINEAR");
        assert_eq!(modifier_str(MOD_INVALID), "INVALID");
    }
}
