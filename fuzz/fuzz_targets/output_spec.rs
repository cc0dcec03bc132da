//! The `--output WxH@HZ` parser (`weft_compositor::OutputSpec`'s `FromStr`) on arbitrary text.
//!
//! Invariants: it never panics; an accepted spec is within the documented ranges (1..=16384 on
//! each side, 1..=1000 Hz) and, written back as `WxH@HZ`, parses to the same spec.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_compositor::OutputSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = text.parse::<OutputSpec>() else {
        return;
    };
    assert!((1..=16384).contains(&spec.width), "{text:?} → {spec:?}");
    assert!((1..=16384).contains(&spec.height), "{text:?} → {spec:?}");
    assert!((1000..=1_000_000).contains(&spec.refresh_mhz), "{text:?} → {spec:?}");
    let written = format!(
        "{}x{}@{}",
        spec.width,
        spec.height,
        f64::from(spec.refresh_mhz) / 1000.0
    );
    let again: OutputSpec = written
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} → {written:?} does not parse: {e}"));
    assert_eq!(spec, again, "{text:?} → {written:?}");
});
