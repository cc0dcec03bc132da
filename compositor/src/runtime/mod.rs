//! The Wayland display and event loop weft serves on, the clients connected to it, and whether it
//! keeps running.

pub mod client;
pub mod disconnect;

use smithay::reexports::calloop::LoopHandle;
use smithay::reexports::wayland_server::{Client, DisplayHandle};

use crate::Weft;

/// Handles every other owner borrows to create globals and event sources.
pub struct Runtime {
    pub(crate) display_handle: DisplayHandle,
    /// The event loop, for sources the compositor adds itself (the implicit-sync bridge's fence
    /// waits, the upload queue's slices); given by the backend that runs the loop.
    pub(crate) loop_handle: LoopHandle<'static, Weft>,
    /// Connected clients (pruned in [`Weft::refresh`]), for `weft msg clients`.
    pub(crate) clients: Vec<Client>,
    pub(crate) running: bool,
    /// Whether `weft msg inject-fault` is accepted (`--fault-injection`; tests only).
    pub(crate) fault_injection: bool,
    /// Backends following device events from weft's one hotplug listener
    /// ([`crate::render_devices::hotplug`]).
    pub(crate) device_listeners: Vec<DeviceListener>,
}

/// A backend's handler of device events (after the registry has taken them in).
pub type DeviceListener = Box<dyn FnMut(&mut Weft, &crate::devices::uevent::UEvent)>;

impl Runtime {
    pub(crate) fn new(
        display_handle: DisplayHandle,
        loop_handle: LoopHandle<'static, Weft>,
    ) -> Self {
        Self {
            display_handle,
            loop_handle,
            clients: Vec::new(),
            running: true,
            fault_injection: false,
            device_listeners: Vec::new(),
        }
    }
}
