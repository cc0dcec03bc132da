//! Idle: `ext_idle_notifier_v1` (screen lockers and power managers are told when the user is away)
//! and `zwp_idle_inhibit_manager_v1` (a video player keeps the screen on).
//!
//! Every input event through the seat is activity. An inhibitor counts while its surface is alive,
//! shows content and the session is not locked (a player in a hidden window does not keep the
//! screen on); while any counts, idle notifications that respect inhibitors do not fire (smithay's
//! notifier; `get_input_idle_notification` ignores inhibitors, as the protocol says).

use smithay::reexports::calloop::LoopHandle;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::utils::IsAlive;
use smithay::wayland::idle_inhibit::{IdleInhibitHandler, IdleInhibitManagerState};
use smithay::wayland::idle_notify::{IdleNotifierHandler, IdleNotifierState};

use crate::Weft;

/// The idle notifier and the surfaces that inhibit idling.
pub struct Idle {
    notifier: IdleNotifierState<Weft>,
    inhibitors: Vec<WlSurface>,
    inhibited: bool,
}

impl Idle {
    /// Creates both globals.
    pub fn new(dh: &DisplayHandle, loop_handle: LoopHandle<'static, Weft>) -> Self {
        IdleInhibitManagerState::new::<Weft>(dh);
        Self {
            notifier: IdleNotifierState::new(dh, loop_handle),
            inhibitors: Vec::new(),
            inhibited: false,
        }
    }

    /// Whether an inhibitor keeps the session from idling now (`weft msg outputs`, tests).
    pub fn inhibited(&self) -> bool {
        self.inhibited
    }
}

impl Weft {
    /// Input happened on the seat: idle timers start again.
    pub(crate) fn idle_activity(&mut self) {
        let seat = self.input.seat.clone();
        self.input.idle.notifier.notify_activity(&seat);
    }

    /// Per iteration: whether any inhibitor counts, told to the notifier when it changes.
    pub(crate) fn refresh_idle(&mut self) {
        self.input.idle.inhibitors.retain(IsAlive::alive);
        let locked = self.lock.is_locked();
        let inhibited = !locked
            && self
                .input
                .idle
                .inhibitors
                .iter()
                .any(|s| crate::surface::content_snapshot(s, |c| c.has_content()));
        if inhibited != self.input.idle.inhibited {
            tracing::debug!(inhibited, "idle inhibition");
            self.input.idle.inhibited = inhibited;
            self.input.idle.notifier.set_is_inhibited(inhibited);
        }
    }
}

impl IdleNotifierHandler for Weft {
    fn idle_notifier_state(&mut self) -> &mut IdleNotifierState<Self> {
        &mut self.input.idle.notifier
    }
}

impl IdleInhibitHandler for Weft {
    fn inhibit(&mut self, surface: WlSurface) {
        self.input.idle.inhibitors.push(surface);
        self.refresh_idle();
    }

    fn uninhibit(&mut self, surface: WlSurface) {
        self.input.idle.inhibitors.retain(|s| s != &surface);
        self.refresh_idle();
    }
}

smithay::delegate_idle_notify!(Weft);
smithay::delegate_idle_inhibit!(Weft);
