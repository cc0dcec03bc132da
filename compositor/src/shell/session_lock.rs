//! Screen locking (`ext_session_lock_v1`): while the session is locked, every output shows only
//! the locker's surface for it (or nothing but the background where it has none yet), and only
//! the lock surfaces get input.
//!
//! - **Locking**: a `lock` request blanks every output at once; the locker is told `locked` once
//!   each output has rendered a locked frame (the protocol's promise that nothing else is visible).
//! - **A dead locker** leaves the session locked: outputs stay blank and windows unreachable. A new
//!   locker may then take over (and is told `locked` at once); while a live locker holds the lock,
//!   another is told `finished`.
//! - **Unlocking** (`unlock_and_destroy` from the locker) shows the windows again and gives the
//!   keyboard back to the topmost one.
//!
//! Each lock surface is configured to its output's size; smithay's state machine raises every
//! error of the protocol (tests/session_lock.rs provokes them).

use smithay::output::Output;
use smithay::reexports::wayland_protocols::ext::session_lock::v1::server::ext_session_lock_v1::ExtSessionLockV1;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{DisplayHandle, Resource};
use smithay::utils::{Logical, Point};
use smithay::wayland::session_lock::{LockSurface, SessionLockManagerState, SessionLocker};

use crate::Weft;

/// Where the lock stands.
#[derive(Default)]
enum Stage {
    #[default]
    Unlocked,
    /// Blanking: the locker is told `locked` when every output rendered scene generation `from`
    /// or later.
    Locking {
        locker: SessionLocker,
        from: u64,
    },
    Locked,
}

/// The lock, its locker and its surfaces.
pub struct SessionLock {
    pub(crate) manager: SessionLockManagerState,
    stage: Stage,
    /// The lock object of the locker that holds the lock (to tell a dead locker from a live one).
    holder: Option<ExtSessionLockV1>,
    surfaces: Vec<(Output, LockSurface)>,
}

impl SessionLock {
    /// Creates the `ext_session_lock_manager_v1` global.
    pub fn new(dh: &DisplayHandle) -> Self {
        Self {
            manager: SessionLockManagerState::new::<Weft, _>(
                dh,
                crate::runtime::security::may_see_others,
            ),
            stage: Stage::Unlocked,
            holder: None,
            surfaces: Vec::new(),
        }
    }

    /// Whether windows are hidden and unreachable (locking or locked).
    pub fn is_locked(&self) -> bool {
        !matches!(self.stage, Stage::Unlocked)
    }

    /// The lock surface shown on `output`.
    pub fn surface_on(&self, output: &Output) -> Option<&LockSurface> {
        self.surfaces
            .iter()
            .find(|(o, s)| o == output && s.alive())
            .map(|(_, s)| s)
    }

    /// A name for `weft msg outputs` and logs.
    pub fn stage_name(&self) -> &'static str {
        match self.stage {
            Stage::Unlocked => "unlocked",
            Stage::Locking { .. } => "locking",
            Stage::Locked => "locked",
        }
    }
}

impl Weft {
    /// A locker asks to lock the session.
    pub(crate) fn lock_requested(&mut self, locker: SessionLocker) {
        let holder_alive = self.lock.holder.as_ref().is_some_and(Resource::is_alive);
        match self.lock.stage {
            Stage::Unlocked => {}
            // Another locker holds it: this one is told `finished` (the locker is dropped).
            _ if holder_alive => {
                tracing::info!("a second locker refused: the session is locked by a live one");
                return;
            }
            // The locker died while locked: a new one takes over the blank outputs.
            Stage::Locked => {
                tracing::info!("a new locker takes over the lock of one that died");
                self.lock.holder = Some(locker.ext_session_lock().clone());
                self.lock.surfaces.clear();
                locker.lock();
                return;
            }
            Stage::Locking { .. } => {}
        }
        tracing::info!("session locking");
        self.lock.holder = Some(locker.ext_session_lock().clone());
        self.lock.surfaces.clear();
        self.damage();
        self.lock.stage = Stage::Locking {
            locker,
            from: self.outputs.scene_generation,
        };
        // Nothing under the locker keeps the keyboard or the pointer.
        self.dismiss_popups_leaving(None);
        self.set_activated(None);
        if let Some(keyboard) = self.input.seat.get_keyboard() {
            keyboard.set_focus(self, None, smithay::utils::SERIAL_COUNTER.next_serial());
        }
        self.refresh_pointer_focus();
    }

    /// The locker unlocks.
    pub(crate) fn unlock_requested(&mut self) {
        tracing::info!("session unlocked");
        self.lock.stage = Stage::Unlocked;
        self.lock.holder = None;
        self.lock.surfaces.clear();
        self.damage();
        let top = self.shell.space.elements().last().cloned();
        self.focus_window(top);
        self.refresh_pointer_focus();
    }

    /// A lock surface for `output`: configured to the output's size.
    pub(crate) fn lock_surface_created(&mut self, surface: LockSurface, output: Output) {
        let size = self
            .outputs
            .slots
            .iter()
            .find(|s| s.output == output)
            .map(|s| s.logical_size());
        if let Some(size) = size {
            surface.with_pending_state(|state| {
                state.size = Some((size.w as u32, size.h as u32).into());
            });
        }
        self.lock
            .surfaces
            .retain(|(o, s)| o != &output && s.alive());
        self.lock.surfaces.push((output, surface));
    }

    /// A lock surface committed: the first one to show gets the keyboard. Returns whether
    /// `surface` is a lock surface.
    pub(crate) fn lock_surface_commit(&mut self, surface: &WlSurface) -> bool {
        if !self
            .lock
            .surfaces
            .iter()
            .any(|(_, s)| s.wl_surface() == surface)
        {
            return false;
        }
        let focused = self
            .input
            .seat
            .get_keyboard()
            .and_then(|k| k.current_focus())
            .map(crate::seat::focus::KeyboardFocus::into_surface);
        let focus_is_lock =
            focused.is_some_and(|f| self.lock.surfaces.iter().any(|(_, s)| s.wl_surface() == &f));
        if !focus_is_lock && crate::surface::content_snapshot(surface, |c| c.has_content()) {
            if let Some(keyboard) = self.input.seat.get_keyboard() {
                keyboard.set_focus(
                    self,
                    Some(surface.clone().into()),
                    smithay::utils::SERIAL_COUNTER.next_serial(),
                );
            }
        }
        self.damage();
        true
    }

    /// Per iteration: once every output rendered a locked frame, the locker is told `locked`.
    pub(crate) fn refresh_lock(&mut self) {
        let Stage::Locking { from, .. } = self.lock.stage else {
            return;
        };
        let blanked = self
            .outputs
            .slots
            .iter()
            .all(|o| o.rendered_generation.is_some_and(|g| g >= from));
        if !blanked {
            return;
        }
        if let Stage::Locking { locker, .. } =
            std::mem::replace(&mut self.lock.stage, Stage::Locked)
        {
            tracing::info!("session locked: every output is blank or shows the locker");
            locker.lock();
        }
    }

    /// The lock surface under `pos` (global), with its origin.
    pub(crate) fn lock_surface_under(
        &self,
        pos: Point<f64, Logical>,
    ) -> Option<(WlSurface, Point<f64, Logical>)> {
        let output = self.shell.space.output_under(pos).next()?;
        let origin = self.shell.space.output_geometry(output)?.loc;
        let lock = self.lock.surface_on(output)?;
        Some((lock.wl_surface().clone(), origin.to_f64()))
    }
}
