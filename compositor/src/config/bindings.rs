//! Key bindings: a chord (modifiers and one key) and what it does. Bindings are matched on key
//! press before the focused client sees the key; a matched key's release is not sent either. A
//! window that inhibits shortcuts (`zwp_keyboard_shortcuts_inhibit_manager_v1`) gets every key
//! instead, except the VT switches (the way back to another session must always work).

use smithay::input::keyboard::{keysyms, xkb, Keysym, ModifiersState};

/// Modifiers of a chord.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mods {
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
    pub logo: bool,
}

impl Mods {
    pub fn of(state: &ModifiersState) -> Self {
        Self {
            ctrl: state.ctrl,
            alt: state.alt,
            shift: state.shift,
            logo: state.logo,
        }
    }
}

/// A chord: modifiers held and the key (its keysym without modifiers, lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chord {
    pub mods: Mods,
    pub key: Keysym,
}

/// What a binding does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Runs a shell command with `WAYLAND_DISPLAY` (and `DISPLAY` where XWayland runs) set.
    Spawn(String),
    /// Asks the focused window to close.
    Close,
    FocusNext,
    FocusPrevious,
    /// Toggles the focused window's fullscreen state.
    Fullscreen,
    /// Moves the focused window to the next output.
    MoveToOutput,
    Quit,
    /// Switches to virtual terminal N (`--backend drm`).
    Vt(i32),
}

/// One binding as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// As written (`Super+Return`), for messages.
    pub keys: String,
    pub chord: Chord,
    pub action: Action,
}

impl Action {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (verb, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
        let rest = rest.trim();
        let none = |a: Action| {
            if rest.is_empty() {
                Ok(a)
            } else {
                Err(format!("{verb:?} takes no argument"))
            }
        };
        match verb {
            "spawn" if !rest.is_empty() => Ok(Action::Spawn(rest.to_string())),
            "spawn" => Err("spawn needs a command".into()),
            "close" => none(Action::Close),
            "focus-next" => none(Action::FocusNext),
            "focus-previous" => none(Action::FocusPrevious),
            "fullscreen" => none(Action::Fullscreen),
            "move-to-output" => none(Action::MoveToOutput),
            "quit" => none(Action::Quit),
            "vt" => match rest.parse::<i32>() {
                Ok(n) if (1..=12).contains(&n) => Ok(Action::Vt(n)),
                _ => Err(format!("vt {rest:?}: a number from 1 to 12")),
            },
            other => Err(format!(
                "{other:?}: one of spawn, close, focus-next, focus-previous, fullscreen, \
                 move-to-output, quit, vt"
            )),
        }
    }
}

/// `Super+Shift+Return`: modifiers (Super/Logo/Mod4, Ctrl/Control, Alt/Mod1, Shift) and a key
/// named as xkb names keysyms (`Return`, `q`, `F1`, `XF86AudioMute`), any case.
pub fn parse_chord(s: &str) -> Result<Chord, String> {
    let mut mods = Mods::default();
    let parts: Vec<&str> = s.split('+').map(str::trim).collect();
    let Some((key, held)) = parts.split_last() else {
        return Err("an empty chord".into());
    };
    for m in held {
        match m.to_ascii_lowercase().as_str() {
            "super" | "logo" | "mod4" | "win" => mods.logo = true,
            "ctrl" | "control" => mods.ctrl = true,
            "alt" | "mod1" => mods.alt = true,
            "shift" => mods.shift = true,
            other => {
                return Err(format!(
                    "{other:?} is not a modifier (Super, Ctrl, Alt, Shift)"
                ))
            }
        }
    }
    if key.is_empty() {
        return Err("no key after the modifiers".into());
    }
    let sym = xkb::keysym_from_name(key, xkb::KEYSYM_NO_FLAGS);
    let sym = if sym.raw() == keysyms::KEY_NoSymbol {
        xkb::keysym_from_name(key, xkb::KEYSYM_CASE_INSENSITIVE)
    } else {
        sym
    };
    if sym.raw() == keysyms::KEY_NoSymbol {
        return Err(format!("{key:?} is not a key name"));
    }
    Ok(Chord {
        mods,
        key: lower(sym),
    })
}

/// The lower-case form of a letter keysym (bindings match keys, not the letters Shift makes).
pub fn lower(sym: Keysym) -> Keysym {
    let raw = sym.raw();
    if (keysyms::KEY_A..=keysyms::KEY_Z).contains(&raw) {
        Keysym::new(raw + (keysyms::KEY_a - keysyms::KEY_A))
    } else {
        sym
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chords_and_actions_parse() {
        let c = parse_chord("Super+Shift+Q").expect("chord");
        assert!(c.mods.logo && c.mods.shift && !c.mods.ctrl);
        assert_eq!(c.key.raw(), keysyms::KEY_q);
        assert_eq!(
            parse_chord("ctrl+alt+F2").expect("chord").key.raw(),
            keysyms::KEY_F2
        );
        assert_eq!(
            parse_chord("Super+return").expect("any case").key.raw(),
            keysyms::KEY_Return
        );
        assert!(parse_chord("Hyper+Q").is_err());
        assert!(parse_chord("Super+Nope").is_err());
        assert_eq!(
            Action::parse("spawn foot -e top"),
            Ok(Action::Spawn("foot -e top".into()))
        );
        assert_eq!(Action::parse("vt 3"), Ok(Action::Vt(3)));
        assert!(Action::parse("vt 13").is_err());
        assert!(Action::parse("close now").is_err());
    }
}
