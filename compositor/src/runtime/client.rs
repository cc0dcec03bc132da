//! What weft keeps per client: smithay's compositor state and the client's budget
//! ([`crate::budget`]).

use std::sync::Arc;

use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::{Client, DisplayHandle};
use smithay::wayland::compositor::CompositorClientState;

use crate::budget::ClientBudget;

/// Per-client data: what smithay needs, and the client's budget ([`crate::budget`]).
#[derive(Default)]
pub struct ClientState {
    pub compositor_state: CompositorClientState,
    pub budget: Arc<ClientBudget>,
    /// Set for a client that connected through a sandbox's socket ([`crate::runtime::security`]).
    pub security_context: Option<smithay::wayland::security_context::SecurityContext>,
    /// What weft knows its process to break on ([`crate::shell::quirks`]).
    pub quirks: crate::shell::quirks::ClientQuirks,
}

impl ClientData for ClientState {
    fn initialized(&self, _client_id: ClientId) {}
    fn disconnected(&self, client_id: ClientId, reason: DisconnectReason) {
        tracing::debug!(?client_id, ?reason, "client disconnected");
    }
}

/// The budget of `client` (every client weft accepts carries one in its `ClientState`).
pub fn budget_of(client: &Client) -> Option<Arc<ClientBudget>> {
    client.get_data::<ClientState>().map(|s| s.budget.clone())
}

/// The budget of the client `id`, while it is connected.
pub fn budget_of_id(dh: &DisplayHandle, id: ClientId) -> Option<Arc<ClientBudget>> {
    let data = dh.backend_handle().get_client_data(id).ok()?;
    data.downcast_arc::<ClientState>()
        .ok()
        .map(|s| s.budget.clone())
}
