//! The configuration file: `$XDG_CONFIG_HOME/weft/config.toml` (else `~/.config/weft/config.toml`;
//! `weft --config PATH` names another). What it sets:
//!
//! - `[keyboard]`: the xkb keymap (`layout`, `variant`, `options`, `model`, `rules`) and key repeat
//!   (`repeat_rate` per second, `repeat_delay` in ms);
//! - `[[output]]`: per output (by `name`, as `weft msg outputs` shows it) its `mode`
//!   (`WIDTHxHEIGHT[@HZ]`, on outputs weft sizes itself: headless and nested) and `position`;
//! - `[bindings]`: `"Super+Shift+Return" = "spawn foot"`, and `close`, `focus-next`,
//!   `focus-previous`, `fullscreen`, `move-to-output`, `quit`, `vt N` (under `--backend drm`);
//! - `[import]`: import-policy defaults (`disabled` rungs, `yuv` conversion), as
//!   `weft msg import-policy` sets them;
//! - `start`: commands run once weft serves clients (with `WAYLAND_DISPLAY` set).
//!
//! It is read at start, again when the file changes (checked every second) and on
//! `weft msg reload`. A bad file is refused whole with a message naming the file, the line and the
//! key, and the configuration in force stays ([`parse`]).

pub mod apply;
pub mod bindings;
pub mod parse;

pub use parse::{Config, ConfigError};

use std::path::{Path, PathBuf};

/// The default path: `$XDG_CONFIG_HOME/weft/config.toml`, else `$HOME/.config/weft/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(base.join("weft").join("config.toml"))
}
