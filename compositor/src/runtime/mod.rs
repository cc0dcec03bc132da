//! The Wayland display and event loop weft serves on, the clients connected to it, and whether it
//! keeps running.

pub mod client;
pub mod disconnect;
pub mod security;

use smithay::reexports::calloop::LoopHandle;
use smithay::reexports::wayland_server::{Client, DisplayHandle};

use crate::Weft;

/// Handles every other owner borrows to create globals and event sources.
pub struct Runtime {
    display_handle: DisplayHandle,
    /// The event loop, for sources the compositor adds itself (the implicit-sync bridge's fence
    /// waits, the upload queue's slices); given by the backend that runs the loop.
    loop_handle: LoopHandle<'static, Weft>,
    /// Connected clients (pruned in [`Weft::refresh`]), for `weft msg clients`.
    clients: Vec<Client>,
    running: bool,
    /// Whether `weft msg inject-fault` is accepted (`--fault-injection`; tests only).
    fault_injection: bool,
    /// Backends following device events from weft's one hotplug listener
    /// ([`crate::render_devices::hotplug`]).
    device_listeners: Vec<DeviceListener>,
    /// Switches virtual terminals (set by the session backend; `vt N` bindings).
    vt_switch: Option<Box<dyn FnMut(i32)>>,
    /// wp_security_context_manager_v1 ([`security`]).
    _security: smithay::wayland::security_context::SecurityContextState,
}

/// A backend's handler of device events (after the registry has taken them in).
pub type DeviceListener = Box<dyn FnMut(&mut Weft, &crate::devices::uevent::UEvent)>;

impl Runtime {
    pub(crate) fn new(
        display_handle: DisplayHandle,
        loop_handle: LoopHandle<'static, Weft>,
    ) -> Self {
        Self {
            vt_switch: None,
            _security: security::create_global(&display_handle),
            display_handle,
            loop_handle,
            clients: Vec::new(),
            running: true,
            fault_injection: false,
            device_listeners: Vec::new(),
        }
    }

    /// Sets what switches VTs (the session backend's seat session).
    pub(crate) fn set_vt_switch(&mut self, switch: Box<dyn FnMut(i32)>) {
        self.vt_switch = Some(switch);
    }

    /// Switches to virtual terminal `vt`, where a session backend can.
    pub(crate) fn switch_vt(&mut self, vt: i32) {
        match &mut self.vt_switch {
            Some(switch) => switch(vt),
            None => tracing::info!(vt, "no VTs to switch to (not a session backend)"),
        }
    }

    pub(crate) fn display_handle(&self) -> &DisplayHandle {
        &self.display_handle
    }

    pub(crate) fn loop_handle(&self) -> &LoopHandle<'static, Weft> {
        &self.loop_handle
    }

    /// Serves a client on `stream` (accepted by a backend) and records it.
    pub(crate) fn insert_client(
        &mut self,
        stream: std::os::unix::net::UnixStream,
    ) -> std::io::Result<Client> {
        self.insert_client_with(stream, client::ClientState::default())
    }

    /// As [`Self::insert_client`], with the client's state made by the caller (a sandboxed
    /// client's carries its security context).
    pub(crate) fn insert_client_with(
        &mut self,
        stream: std::os::unix::net::UnixStream,
        mut state: client::ClientState,
    ) -> std::io::Result<Client> {
        state.quirks = crate::shell::quirks::ClientQuirks::of_peer(&stream);
        let client = self
            .display_handle
            .insert_client(stream, std::sync::Arc::new(state))?;
        self.clients.push(client.clone());
        Ok(client)
    }

    /// Sends what is queued for every client; a failure is logged, not fatal.
    pub(crate) fn flush_clients(&mut self) {
        if let Err(e) = self.display_handle.flush_clients() {
            tracing::debug!(error = %e, "flushing clients failed");
        }
    }

    pub(crate) fn clients(&self) -> &[Client] {
        &self.clients
    }

    /// Forgets the clients that have disconnected.
    pub(crate) fn prune_clients(&mut self) {
        let backend = self.display_handle.backend_handle();
        self.clients
            .retain(|client| backend.get_client_data(client.id()).is_ok());
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running
    }

    pub(crate) fn stop(&mut self) {
        self.running = false;
    }

    pub(crate) fn fault_injection(&self) -> bool {
        self.fault_injection
    }

    pub(crate) fn set_fault_injection(&mut self, on: bool) {
        self.fault_injection = on;
    }

    pub(crate) fn subscribe(&mut self, listener: DeviceListener) {
        self.device_listeners.push(listener);
    }

    /// The device listeners, taken out while they run (they are given the whole `Weft`); put
    /// back with [`Runtime::restore_listeners`].
    pub(crate) fn take_listeners(&mut self) -> Vec<DeviceListener> {
        std::mem::take(&mut self.device_listeners)
    }

    /// Puts back what [`Runtime::take_listeners`] took, with any subscribed meanwhile after them.
    pub(crate) fn restore_listeners(&mut self, mut listeners: Vec<DeviceListener>) {
        listeners.append(&mut self.device_listeners);
        self.device_listeners = listeners;
    }
}
