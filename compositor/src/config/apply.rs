//! Putting a configuration in force: the keymap and key repeat, outputs, bindings, import
//! defaults, the start commands (once); reloading when the file changes or on `weft msg reload`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use smithay::input::keyboard::{FilterResult, KeysymHandle, ModifiersState, XkbConfig};
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::utils::IsAlive;
use tracing::{info, warn};

use super::bindings::{lower, Action, Mods};
use super::{Config, ConfigError};
use crate::Weft;

/// How often the file is checked for changes.
const POLL: Duration = Duration::from_secs(1);

/// The configuration in force and where it comes from.
#[derive(Default)]
pub struct ConfigState {
    path: Option<PathBuf>,
    current: Config,
    /// The last refusal, until a good file is read.
    last_error: Option<ConfigError>,
    /// The file's modification time when it was last read (or refused).
    read_at: Option<SystemTime>,
    /// Keys whose press a binding took: their release is not sent either.
    swallowed: Vec<u32>,
    /// Environment for spawned commands (`WAYLAND_DISPLAY`, `WEFT_SOCKET`, …).
    env: Vec<(String, String)>,
    started: bool,
}

impl ConfigState {
    /// The file in force, if any.
    pub fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    pub fn current(&self) -> &Config {
        &self.current
    }

    pub fn last_error(&self) -> Option<&ConfigError> {
        self.last_error.as_ref()
    }
}

fn modified(path: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Weft {
    /// Reads the configuration at `path` (none: weft's defaults), puts it in force, runs its start
    /// commands with `env` added to their environment, and watches the file for changes.
    pub fn load_config(&mut self, path: Option<PathBuf>, env: Vec<(String, String)>) {
        self.config.path = path;
        self.config.env = env;
        if self.config.path.is_none() {
            return;
        }
        if let Err(e) = self.reload_config() {
            warn!(error = %e, "configuration refused: weft's defaults are in force");
        }
        let timer = Timer::from_duration(POLL);
        let inserted = self
            .runtime
            .loop_handle()
            .insert_source(timer, |_, _, weft| {
                weft.config_file_changed();
                TimeoutAction::ToDuration(POLL)
            });
        if let Err(e) = inserted {
            warn!(error = %e, "the configuration file is not watched for changes");
        }
    }

    /// Reloads when the file's modification time changed since it was last read.
    fn config_file_changed(&mut self) {
        let Some(path) = self.config.path.clone() else {
            return;
        };
        let now = modified(&path);
        if now.is_some() && now != self.config.read_at {
            if let Err(e) = self.reload_config() {
                warn!(error = %e, "configuration refused: the previous one stays in force");
            }
        }
    }

    /// Reads the file again and puts it in force; a refused file leaves the configuration in
    /// force as it was. Returns the path read.
    pub fn reload_config(&mut self) -> Result<Option<PathBuf>, ConfigError> {
        let Some(path) = self.config.path.clone() else {
            return Ok(None);
        };
        self.config.read_at = modified(&path);
        let config = match Config::load(&path) {
            Ok(c) => c,
            Err(e) => {
                self.config.last_error = Some(e.clone());
                return Err(e);
            }
        };
        self.apply_config(config, &path)?;
        self.config.last_error = None;
        info!(path = %path.display(), bindings = self.config.current.bindings.len(), "configuration in force");
        Ok(Some(path))
    }

    fn apply_config(&mut self, config: Config, path: &std::path::Path) -> Result<(), ConfigError> {
        let refuse = |key: &str, message: String| ConfigError {
            file: path.to_path_buf(),
            line: 0,
            key: key.into(),
            message,
        };
        // Checked before anything changes: the keymap compiles, the import names are known.
        let kb = &config.keyboard;
        let xkb = XkbConfig {
            rules: &kb.rules,
            model: &kb.model,
            layout: &kb.layout,
            variant: &kb.variant,
            options: kb.options.clone(),
        };
        if config.keyboard != self.config.current.keyboard {
            if let Some(keyboard) = self.input.seat.get_keyboard() {
                keyboard.set_xkb_config(self, xkb).map_err(|_| {
                    refuse(
                        "keyboard",
                        format!(
                            "xkb cannot make a keymap of layout {:?}, variant {:?}, options {:?}",
                            kb.layout, kb.variant, kb.options
                        ),
                    )
                })?;
                keyboard.change_repeat_info(
                    kb.repeat_rate.unwrap_or(25),
                    kb.repeat_delay.unwrap_or(200),
                );
            }
        }
        if config.import != self.config.current.import
            && (config.import.disabled.is_some() || config.import.yuv.is_some())
        {
            let request = crate::ipc::Request::ImportPolicy {
                disabled: config.import.disabled.clone(),
                yuv: config.import.yuv,
                cpu_convert: None,
            };
            crate::ipc::server::handle(self, request)
                .map_err(|e| refuse("import", e.to_string()))?;
        }
        for rule in &config.outputs {
            let Some(index) = self.output_index(&rule.name) else {
                info!(output = %rule.name, "configured output not present (applied when it appears)");
                continue;
            };
            if let Some((w, h, _)) = rule.mode {
                let sized_by_weft = self
                    .outputs
                    .slots
                    .get(index)
                    .is_some_and(|s| s.display_device.is_none() && !s.draws_cursor);
                if sized_by_weft {
                    if let Err(e) = self.resize_output(index, w, h) {
                        return Err(refuse("mode", e.to_string()));
                    }
                } else {
                    warn!(output = %rule.name, "mode: this output's size is set by its window or display, not by weft");
                }
            }
            self.set_output_enabled(&rule.name, rule.enabled.unwrap_or(true))
                .map_err(|e| refuse("enabled", e.to_string()))?;
            if let Some(slot) = self.outputs.slots.get_mut(index) {
                slot.position = rule.position;
            }
            self.set_output_scale(&rule.name, rule.scale.unwrap_or(1.0))
                .map_err(|e| refuse("scale", e.to_string()))?;
            self.set_output_transform(
                &rule.name,
                rule.transform.unwrap_or(smithay::utils::Transform::Normal),
            )
            .map_err(|e| refuse("transform", e.to_string()))?;
        }
        self.relayout_outputs();
        self.config.current = config;
        if !self.config.started {
            self.config.started = true;
            for command in self.config.current.start.clone() {
                self.spawn(&command);
            }
        }
        self.damage();
        Ok(())
    }

    /// Runs `command` with `sh -c`, with weft's sockets in its environment; it is waited for on a
    /// thread of its own (no zombies).
    pub(crate) fn spawn(&self, command: &str) {
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(command);
        for (k, v) in &self.config.env {
            cmd.env(k, v);
        }
        match cmd.spawn() {
            Ok(mut child) => {
                info!(pid = child.id(), %command, "spawned");
                let _ = std::thread::Builder::new()
                    .name("weft-child".into())
                    .spawn(move || child.wait());
            }
            Err(e) => warn!(error = %e, %command, "spawning failed"),
        }
    }

    /// The keyboard filter: a press that matches a binding is taken (and its release later); the
    /// window with the keyboard gets every other key, and every key while it inhibits shortcuts
    /// (but a VT switch).
    pub(crate) fn binding_filter(
        &mut self,
        keycode: u32,
        pressed: bool,
        mods: &ModifiersState,
        handle: &KeysymHandle<'_>,
    ) -> FilterResult<Option<Action>> {
        if !pressed {
            if let Some(i) = self.config.swallowed.iter().position(|k| *k == keycode) {
                self.config.swallowed.remove(i);
                return FilterResult::Intercept(None);
            }
            return FilterResult::Forward;
        }
        let Some(sym) = handle.raw_latin_sym_or_raw_current_sym() else {
            return FilterResult::Forward;
        };
        let chord_mods = Mods::of(mods);
        let Some(binding) = self
            .config
            .current
            .bindings
            .iter()
            .find(|b| b.chord.mods == chord_mods && b.chord.key == lower(sym))
        else {
            return FilterResult::Forward;
        };
        if self.shortcuts_inhibited() && !matches!(binding.action, Action::Vt(_)) {
            return FilterResult::Forward;
        }
        let action = binding.action.clone();
        tracing::debug!(keys = %binding.keys, ?action, "binding");
        self.config.swallowed.push(keycode);
        FilterResult::Intercept(Some(action))
    }

    /// Does what a binding says.
    pub(crate) fn run_action(&mut self, action: Action) {
        let focused = self
            .input
            .seat
            .get_keyboard()
            .and_then(|k| k.current_focus())
            .map(crate::seat::focus::KeyboardFocus::into_surface)
            .and_then(|s| self.window_for_surface(&s));
        match action {
            Action::Spawn(command) => self.spawn(&command),
            Action::Close => {
                if let Some(w) = focused.as_ref() {
                    match w.x11_surface() {
                        // WM_DELETE_WINDOW where the window takes it, else its client is killed.
                        Some(x11) => {
                            let _ = x11.close();
                        }
                        None => {
                            if let Some(toplevel) = w.toplevel() {
                                toplevel.send_close();
                            }
                        }
                    }
                }
            }
            Action::FocusNext | Action::FocusPrevious => {
                // In the order the windows were made, wrapping around.
                let mut windows: Vec<_> = self
                    .shell
                    .space
                    .elements()
                    .chain(self.shell.minimized.windows())
                    .filter(|w| w.alive())
                    .cloned()
                    .collect();
                windows.sort_by_key(|w| {
                    w.toplevel()
                        .map(|t| crate::surface::content_snapshot(t.wl_surface(), |c| c.id()))
                        .unwrap_or(u64::MAX)
                });
                if windows.is_empty() {
                    return;
                }
                let at = focused
                    .as_ref()
                    .and_then(|f| windows.iter().position(|w| w == f));
                let n = windows.len();
                let next = match (at, &action) {
                    (None, _) => 0,
                    (Some(i), Action::FocusNext) => (i + 1) % n,
                    (Some(i), _) => (i + n - 1) % n,
                };
                let window = windows.swap_remove(next);
                self.focus_window(Some(window));
            }
            Action::Fullscreen => {
                if let Some(toplevel) = focused.as_ref().and_then(|w| w.toplevel()).cloned() {
                    let on = !toplevel
                        .with_pending_state(|s| s.states.contains(xdg_toplevel::State::Fullscreen));
                    self.set_fill_state(&toplevel, xdg_toplevel::State::Fullscreen, on);
                }
            }
            Action::MoveToOutput => {
                if let Some(window) = focused {
                    self.move_to_next_output(&window);
                }
            }
            Action::Quit => {
                info!("quit (binding)");
                self.runtime.stop();
            }
            Action::Vt(n) => self.runtime.switch_vt(n),
        }
    }

    /// Puts `window` on the output after the one it is on (wrapping), at the same place relative
    /// to the output; a fullscreen or maximized window fills the new output.
    fn move_to_next_output(&mut self, window: &smithay::desktop::Window) {
        let slots: Vec<_> = self
            .outputs
            .slots
            .iter()
            .map(|s| s.output.clone())
            .collect();
        if slots.len() < 2 {
            return;
        }
        let on = self.shell.space.outputs_for_element(window);
        let at = on
            .first()
            .and_then(|o| slots.iter().position(|s| s == o))
            .unwrap_or(0);
        let Some(to) = slots.get((at + 1) % slots.len()) else {
            return;
        };
        let (Some(from_geo), Some(to_geo), Some(loc)) = (
            slots
                .get(at)
                .and_then(|o| self.shell.space.output_geometry(o)),
            self.shell.space.output_geometry(to),
            self.shell.space.element_location(window),
        ) else {
            return;
        };
        self.shell
            .space
            .map_element(window.clone(), to_geo.loc + (loc - from_geo.loc), true);
        if let Some(toplevel) = window.toplevel().cloned() {
            let (fullscreen, maximized) = toplevel.with_pending_state(|s| {
                (
                    s.states.contains(xdg_toplevel::State::Fullscreen),
                    s.states.contains(xdg_toplevel::State::Maximized),
                )
            });
            if fullscreen {
                let wl_output =
                    smithay::reexports::wayland_server::Resource::client(toplevel.wl_surface())
                        .and_then(|client| to.client_outputs(&client).next());
                toplevel.with_pending_state(|s| s.fullscreen_output = wl_output);
                self.set_fill_state(&toplevel, xdg_toplevel::State::Fullscreen, true);
            } else if maximized {
                self.set_fill_state(&toplevel, xdg_toplevel::State::Maximized, true);
            }
        }
        self.damage();
    }
}
