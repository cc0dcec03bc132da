//! smithay's ext_session_lock_v1 handler for weft (policy in [`crate::shell::session_lock`]).

use smithay::output::Output;
use smithay::reexports::wayland_server::protocol::wl_output::WlOutput;
use smithay::wayland::session_lock::{
    LockSurface, SessionLockHandler, SessionLockManagerState, SessionLocker,
};

use crate::Weft;

impl SessionLockHandler for Weft {
    fn lock_state(&mut self) -> &mut SessionLockManagerState {
        &mut self.lock.manager
    }

    fn lock(&mut self, confirmation: SessionLocker) {
        self.lock_requested(confirmation);
    }

    fn unlock(&mut self) {
        self.unlock_requested();
    }

    fn new_surface(&mut self, surface: LockSurface, output: WlOutput) {
        if let Some(output) = Output::from_resource(&output) {
            self.lock_surface_created(surface, output);
        }
    }
}

smithay::delegate_session_lock!(Weft);
