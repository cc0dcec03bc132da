//! wp_color_representation_v1's state and rules (staging protocol): per surface, the matrix
//! coefficients and range of its Y′CbCr buffers, the chroma location and the alpha mode, as
//! double-buffered state. The requests are `handlers/color_representation.rs`.
//!
//! What weft's decode supports, and so advertises:
//! - coefficients and range: identity (RGB buffers, full range), BT.601, BT.709 and BT.2020 (non
//!   constant luminance), each full or limited range — the matrices the planar shader and
//!   StageOnCpu's conversion compute with;
//! - alpha: premultiplied electrical only (what every rung draws; straight alpha would need the
//!   shaders to premultiply);
//! - chroma location: every value H.273 defines is accepted and shown; weft samples chroma at the
//!   co-sited position of its block (type 2) whatever is set.

use smithay::reexports::wayland_protocols::wp::color_representation::v1::server::wp_color_representation_surface_v1::{
    AlphaMode, ChromaLocation, Coefficients, Error, Range,
};
use smithay::reexports::wayland_server::{DisplayHandle, WEnum};
use smithay::wayland::compositor::Cacheable;

use crate::render::{YuvMatrix, YuvParams, YuvRange};

/// The coefficient and range pairs weft decodes.
pub const SUPPORTED: [(Coefficients, Range); 7] = [
    (Coefficients::Identity, Range::Full),
    (Coefficients::Bt601, Range::Full),
    (Coefficients::Bt601, Range::Limited),
    (Coefficients::Bt709, Range::Full),
    (Coefficients::Bt709, Range::Limited),
    (Coefficients::Bt2020, Range::Full),
    (Coefficients::Bt2020, Range::Limited),
];

/// The alpha modes weft draws.
pub const ALPHA_MODES: [AlphaMode; 1] = [AlphaMode::PremultipliedElectrical];

/// A surface's color representation (double-buffered; persists until changed or unset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Representation {
    pub coefficients: Option<(Coefficients, Range)>,
    pub alpha_mode: Option<AlphaMode>,
    pub chroma_location: Option<ChromaLocation>,
}

impl Cacheable for Representation {
    // The state stays what it was set to until a request changes it: the pending copy is kept.
    fn commit(&mut self, _dh: &DisplayHandle) -> Self {
        *self
    }

    fn merge_into(self, into: &mut Self, _dh: &DisplayHandle) {
        *into = self;
    }
}

impl Representation {
    /// The Y′CbCr conversion the client asked for (`None`: not set, or identity).
    pub fn yuv(&self) -> Option<YuvParams> {
        let (coefficients, range) = self.coefficients?;
        let matrix = match coefficients {
            Coefficients::Bt601 => YuvMatrix::Bt601,
            Coefficients::Bt709 => YuvMatrix::Bt709,
            Coefficients::Bt2020 => YuvMatrix::Bt2020,
            _ => return None,
        };
        let range = match range {
            Range::Full => YuvRange::Full,
            _ => YuvRange::Limited,
        };
        Some(YuvParams { matrix, range })
    }
}

/// What `weft msg surfaces` shows of a surface's representation (`None` fields: not set).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RepresentationRecord {
    pub coefficients: Option<String>,
    pub range: Option<String>,
    pub chroma_location: Option<String>,
    pub alpha_mode: Option<String>,
    /// The conversion weft applies to the surface's Y′CbCr buffers (the client's, else the
    /// default).
    pub yuv: YuvParams,
}

impl Representation {
    pub fn record(&self, applied: YuvParams) -> RepresentationRecord {
        let name = |v: &dyn std::fmt::Debug| Some(format!("{v:?}").to_lowercase());
        RepresentationRecord {
            coefficients: self.coefficients.and_then(|(c, _)| name(&c)),
            range: self.coefficients.and_then(|(_, r)| name(&r)),
            chroma_location: self.chroma_location.and_then(|l| name(&l)),
            alpha_mode: self.alpha_mode.and_then(|m| name(&m)),
            yuv: applied,
        }
    }
}

/// `set_coefficients_and_range`: a pair weft advertised, else the `coefficients` error.
pub fn check_coefficients(
    coefficients: WEnum<Coefficients>,
    range: WEnum<Range>,
) -> Result<(Coefficients, Range), (Error, String)> {
    match (coefficients, range) {
        (WEnum::Value(c), WEnum::Value(r)) if SUPPORTED.contains(&(c, r)) => Ok((c, r)),
        (c, r) => Err((
            Error::Coefficients,
            format!("coefficients {c:?} with range {r:?} are not supported"),
        )),
    }
}

/// `set_alpha_mode`: one weft advertised, else the `alpha_mode` error.
pub fn check_alpha_mode(mode: WEnum<AlphaMode>) -> Result<AlphaMode, (Error, String)> {
    match mode {
        WEnum::Value(m) if ALPHA_MODES.contains(&m) => Ok(m),
        m => Err((
            Error::AlphaMode,
            format!("alpha mode {m:?} is not supported"),
        )),
    }
}

/// `set_chroma_location`: a value the enum defines, else the `chroma_location` error.
pub fn check_chroma_location(
    location: WEnum<ChromaLocation>,
) -> Result<ChromaLocation, (Error, String)> {
    match location {
        WEnum::Value(l) => Ok(l),
        WEnum::Unknown(v) => Err((
            Error::ChromaLocation,
            format!("chroma location {v} is not defined"),
        )),
    }
}

/// What the surface's contents are, for the commit-time check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contents {
    None,
    Rgb,
    Yuv,
}

/// At commit: the pixel format of the contents and the representation must fit (H.273): identity
/// coefficients describe RGB, the others Y′CbCr; a chroma location needs subsampled Y′CbCr.
pub fn check_commit(contents: Contents, r: &Representation) -> Result<(), (Error, String)> {
    let identity = matches!(r.coefficients, Some((Coefficients::Identity, _)));
    let matrix = r.coefficients.is_some() && !identity;
    match contents {
        Contents::None => Ok(()),
        Contents::Yuv if identity => Err((
            Error::PixelFormat,
            "identity coefficients with a Y′CbCr buffer".into(),
        )),
        Contents::Rgb if matrix => Err((
            Error::PixelFormat,
            "Y′CbCr coefficients with an RGB buffer".into(),
        )),
        Contents::Rgb if r.chroma_location.is_some() => Err((
            Error::PixelFormat,
            "a chroma location with an RGB buffer".into(),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_accept_what_weft_advertises() {
        use WEnum::{Unknown, Value};
        assert!(check_coefficients(Value(Coefficients::Bt709), Value(Range::Limited)).is_ok());
        assert!(check_coefficients(Value(Coefficients::Identity), Value(Range::Full)).is_ok());
        for (c, r) in [
            (Value(Coefficients::Identity), Value(Range::Limited)),
            (Value(Coefficients::Fcc), Value(Range::Full)),
            (Value(Coefficients::Ictcp), Value(Range::Limited)),
            (Value(Coefficients::Bt2020Cl), Value(Range::Full)),
            (Unknown(99), Value(Range::Full)),
            (Value(Coefficients::Bt601), Unknown(3)),
        ] {
            assert_eq!(
                check_coefficients(c, r).err().map(|e| e.0),
                Some(Error::Coefficients),
                "{c:?} {r:?}"
            );
        }
        assert!(check_alpha_mode(Value(AlphaMode::PremultipliedElectrical)).is_ok());
        for m in [
            Value(AlphaMode::Straight),
            Value(AlphaMode::PremultipliedOptical),
            Unknown(7),
        ] {
            assert_eq!(
                check_alpha_mode(m).err().map(|e| e.0),
                Some(Error::AlphaMode)
            );
        }
        assert!(check_chroma_location(Value(ChromaLocation::Type0)).is_ok());
        assert_eq!(
            check_chroma_location(Unknown(0)).err().map(|e| e.0),
            Some(Error::ChromaLocation)
        );
    }

    #[test]
    fn commit_rules() {
        let with = |c: Option<(Coefficients, Range)>, l: Option<ChromaLocation>| Representation {
            coefficients: c,
            alpha_mode: None,
            chroma_location: l,
        };
        let identity = Some((Coefficients::Identity, Range::Full));
        let bt709 = Some((Coefficients::Bt709, Range::Limited));
        let loc = Some(ChromaLocation::Type2);
        // (contents, representation, error expected)
        let table = [
            (Contents::None, with(bt709, loc), false),
            (Contents::Yuv, with(bt709, loc), false),
            (Contents::Yuv, with(None, None), false),
            (Contents::Yuv, with(identity, None), true),
            (Contents::Rgb, with(identity, None), false),
            (Contents::Rgb, with(None, None), false),
            (Contents::Rgb, with(bt709, None), true),
            (Contents::Rgb, with(None, loc), true),
        ];
        for (contents, r, err) in table {
            assert_eq!(
                check_commit(contents, &r).is_err(),
                err,
                "{contents:?} {r:?}"
            );
        }
        assert_eq!(
            with(bt709, None).yuv(),
            Some(YuvParams {
                matrix: YuvMatrix::Bt709,
                range: YuvRange::Limited
            })
        );
        assert_eq!(with(identity, None).yuv(), None);
    }
}
