//! Reading the file: TOML into [`Config`], every value checked, errors with file, line and key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::bindings::{Action, Binding};

/// A refused configuration: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {key}: {message}", file.display())]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub key: String,
    pub message: String,
}

/// A checked configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub keyboard: Keyboard,
    pub outputs: Vec<OutputRule>,
    pub bindings: Vec<Binding>,
    pub import: ImportDefaults,
    pub start: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keyboard {
    #[serde(default)]
    pub rules: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub layout: String,
    #[serde(default)]
    pub variant: String,
    #[serde(default)]
    pub options: Option<String>,
    /// Repeats per second (0: no repeat).
    pub repeat_rate: Option<i32>,
    /// Milliseconds before a held key repeats.
    pub repeat_delay: Option<i32>,
}

/// What to do with one output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputRule {
    pub name: String,
    /// (width, height, refresh in mHz; 0: unchanged).
    pub mode: Option<(u32, u32, u32)>,
    pub position: Option<(i32, i32)>,
    /// Logical pixels per output pixel's inverse: 2 shows everything twice as large.
    pub scale: Option<f64>,
    /// How the output is turned or mirrored ([`crate::outputs::transform`]).
    pub transform: Option<smithay::utils::Transform>,
    /// `false`: the output is turned off ([`crate::outputs::power`]).
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportDefaults {
    pub disabled: Option<Vec<String>>,
    /// The default Y′CbCr conversion (`{ matrix = "bt709", range = "limited" }`, as
    /// `weft msg import-policy` takes it).
    pub yuv: Option<crate::render::YuvParams>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    keyboard: Keyboard,
    #[serde(default, rename = "output")]
    outputs: Vec<OutputFile>,
    #[serde(default)]
    bindings: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    import: ImportFile,
    #[serde(default)]
    start: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputFile {
    name: String,
    mode: Option<Spanned<String>>,
    position: Option<[i32; 2]>,
    scale: Option<Spanned<f64>>,
    transform: Option<Spanned<String>>,
    enabled: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ImportFile {
    disabled: Option<Vec<String>>,
    yuv: Option<crate::render::YuvParams>,
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// The key of the line at byte `offset`: what stands before its `=` (or the table header).
fn key_at(text: &str, offset: usize) -> String {
    let start = text
        .get(..offset.min(text.len()))
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line = text
        .get(start..)
        .and_then(|t| t.lines().next())
        .unwrap_or("");
    match line.split_once('=') {
        Some((key, _)) => key.trim().trim_matches('"').to_string(),
        None => line.trim().to_string(),
    }
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: 0,
            key: "(file)".into(),
            message: e.to_string(),
        })?;
        Self::parse(path, &text)
    }

    /// Checks `text`, the contents of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let err = |offset: usize, key: String, message: String| ConfigError {
            file: path.to_path_buf(),
            line: line_of(text, offset),
            key,
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            err(offset, key_at(text, offset), e.message().to_string())
        })?;
        let mut outputs = Vec::new();
        for o in file.outputs {
            let scale = match &o.scale {
                None => None,
                Some(scale) => Some(
                    crate::outputs::scale::check(*scale.get_ref())
                        .map_err(|why| err(scale.span().start, "scale".into(), why.to_string()))?,
                ),
            };
            let transform = match &o.transform {
                None => None,
                Some(t) => Some(
                    crate::outputs::transform::parse(t.get_ref())
                        .map_err(|why| err(t.span().start, "transform".into(), why.to_string()))?,
                ),
            };
            let mode = match &o.mode {
                None => None,
                Some(m) => Some(
                    parse_mode(m.get_ref())
                        .map_err(|why| err(m.span().start, "mode".into(), why))?,
                ),
            };
            outputs.push(OutputRule {
                name: o.name,
                mode,
                position: o.position.map(|[x, y]| (x, y)),
                scale,
                transform,
                enabled: o.enabled,
            });
        }
        let mut bindings = Vec::new();
        for (keys, action) in &file.bindings {
            let chord = super::bindings::parse_chord(keys.get_ref())
                .map_err(|why| err(keys.span().start, keys.get_ref().clone(), why))?;
            let action = Action::parse(action.get_ref())
                .map_err(|why| err(action.span().start, keys.get_ref().clone(), why))?;
            bindings.push(Binding {
                keys: keys.get_ref().clone(),
                chord,
                action,
            });
        }
        if let Some(rate) = file
            .keyboard
            .repeat_rate
            .filter(|r| !(0..=1000).contains(r))
        {
            return Err(err(
                text.find("repeat_rate").unwrap_or(0),
                "repeat_rate".into(),
                format!("{rate}: 0 to 1000 per second"),
            ));
        }
        if let Some(delay) = file
            .keyboard
            .repeat_delay
            .filter(|d| !(0..=10_000).contains(d))
        {
            return Err(err(
                text.find("repeat_delay").unwrap_or(0),
                "repeat_delay".into(),
                format!("{delay}: 0 to 10000 ms"),
            ));
        }
        Ok(Self {
            keyboard: file.keyboard,
            outputs,
            bindings,
            import: ImportDefaults {
                disabled: file.import.disabled,
                yuv: file.import.yuv,
            },
            start: file.start,
        })
    }
}

/// `WIDTHxHEIGHT` or `WIDTHxHEIGHT@HZ` (HZ may have decimals).
fn parse_mode(s: &str) -> Result<(u32, u32, u32), String> {
    let bad = || format!("{s:?}: expected WIDTHxHEIGHT or WIDTHxHEIGHT@HZ (e.g. 1920x1080@60)");
    let (size, hz) = match s.split_once('@') {
        Some((size, hz)) => (size, Some(hz)),
        None => (s, None),
    };
    let (w, h) = size.split_once('x').ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(1..=16384).contains(&w) || !(1..=16384).contains(&h) {
        return Err(format!("{s:?}: width and height are 1 to 16384"));
    }
    let mhz = match hz {
        None => 0,
        Some(hz) => {
            let hz: f64 = hz.trim().parse().map_err(|_| bad())?;
            if !(1.0..=1000.0).contains(&hz) {
                return Err(format!("{s:?}: refresh is 1 to 1000 Hz"));
            }
            (hz * 1000.0).round() as u32
        }
    };
    Ok((w, h, mhz))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/c/weft/config.toml"), text)
    }

    #[test]
    fn a_whole_file_is_read() {
        let c = parse(
            r#"
start = ["swaybg -c '#334455'"]

[keyboard]
layout = "us,de"
options = "grp:alt_shift_toggle"
repeat_rate = 30
repeat_delay = 250

[[output]]
name = "HEADLESS-1"
mode = "800x600@59.94"
position = [0, 0]
scale = 1.5

[bindings]
"Super+Return" = "spawn foot"
"Super+Shift+Q" = "close"

[import]
disabled = ["StageOnCpu"]
"#,
        )
        .expect("valid");
        assert_eq!(c.keyboard.layout, "us,de");
        assert_eq!(c.keyboard.repeat_rate, Some(30));
        assert_eq!(c.outputs[0].mode, Some((800, 600, 59_940)));
        assert_eq!(c.bindings.len(), 2);
        assert_eq!(c.start.len(), 1);
    }

    #[test]
    fn the_readme_example_is_valid() {
        let readme = include_str!("../../../README.md");
        let (_, example) = readme
            .split_once("```toml\n")
            .expect("README has a TOML example");
        let (example, _) = example.split_once("```").expect("closed");
        let c = parse(example).expect("the README's example parses");
        assert_eq!(c.bindings.len(), 8);
        assert!(c.import.yuv.is_some());
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let e = parse("[keyboard]\nlayot = \"us\"\n").expect_err("unknown key");
        assert_eq!((e.line, e.key.as_str()), (2, "layot"), "{e}");
        assert!(
            e.to_string().starts_with("/c/weft/config.toml:2: layot: "),
            "{e}"
        );
        let e = parse("[[output]]\nname = \"X\"\nmode = \"big\"\n").expect_err("bad mode");
        assert_eq!((e.line, e.key.as_str()), (3, "mode"), "{e}");
        let e = parse("[bindings]\n\"Super+Nope\" = \"close\"\n").expect_err("bad key");
        assert_eq!((e.line, e.key.as_str()), (2, "Super+Nope"), "{e}");
        let e = parse("[bindings]\n\"Super+Q\" = \"explode\"\n").expect_err("bad action");
        assert_eq!((e.line, e.key.as_str()), (2, "Super+Q"), "{e}");
        let e = parse("[keyboard]\nrepeat_rate = \"fast\"\n").expect_err("bad type");
        assert_eq!((e.line, e.key.as_str()), (2, "repeat_rate"), "{e}");
        let e = parse("[keyboard\n").expect_err("syntax");
        assert_eq!(e.line, 1, "{e}");
        let e = parse("[[output]]\nname = \"X\"\ntransform = \"sideways\"\n")
            .expect_err("bad transform");
        assert_eq!((e.line, e.key.as_str()), (3, "transform"), "{e}");
    }

    #[test]
    fn outputs_are_turned_and_turned_off() {
        let c = parse("[[output]]\nname = \"X\"\ntransform = \"flipped-90\"\nenabled = false\n")
            .expect("valid");
        assert_eq!(
            c.outputs[0].transform,
            Some(smithay::utils::Transform::Flipped90)
        );
        assert_eq!(c.outputs[0].enabled, Some(false));
    }
}
