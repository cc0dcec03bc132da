//! Sandboxed clients (`wp_security_context_v1`): a sandbox engine (Flatpak, a browser's own) asks
//! weft for a socket whose clients it vouches for; every client that connects through it carries
//! the context, and the globals that read or drive other clients are not offered to it.
//!
//! Privileged globals (each names [`may_see_others`] as its filter): data control (wlr, ext),
//! session lock, virtual keyboard, input method, the foreign-toplevel list, screen capture, and
//! the security-context manager itself (a sandboxed client may not make a looser sandbox).

use smithay::reexports::wayland_server::{Client, DisplayHandle};
use smithay::wayland::security_context::{
    SecurityContext, SecurityContextHandler, SecurityContextListenerSource, SecurityContextState,
};

use crate::runtime::client::ClientState;
use crate::Weft;

/// The client's security context, if it connected through a sandbox's socket.
pub fn security_context(client: &Client) -> Option<&SecurityContext> {
    client
        .get_data::<ClientState>()
        .and_then(|s| s.security_context.as_ref())
}

/// Whether `client` may bind the globals that read or drive other clients: only clients that did
/// not connect through a security context (a global filter: called at every registry announce).
pub fn may_see_others(client: &Client) -> bool {
    security_context(client).is_none()
}

/// Creates the `wp_security_context_manager_v1` global.
pub(crate) fn create_global(dh: &DisplayHandle) -> SecurityContextState {
    SecurityContextState::new::<Weft, _>(dh, may_see_others)
}

impl SecurityContextHandler for Weft {
    fn context_created(&mut self, source: SecurityContextListenerSource, context: SecurityContext) {
        tracing::info!(
            engine = context.sandbox_engine.as_deref().unwrap_or("?"),
            app_id = context.app_id.as_deref().unwrap_or("?"),
            instance = context.instance_id.as_deref().unwrap_or("?"),
            "security context: serving sandboxed clients on its socket"
        );
        let inserted = self
            .runtime
            .loop_handle()
            .insert_source(source, move |stream, _, weft| {
                let state = ClientState {
                    security_context: Some(context.clone()),
                    ..ClientState::default()
                };
                if let Err(e) = weft.runtime.insert_client_with(stream, state) {
                    tracing::warn!(error = %e, "a sandboxed client could not be served");
                }
            });
        if let Err(e) = inserted {
            // The context's socket is dropped: its clients cannot connect, nothing else changes.
            tracing::warn!(error = %e.error, "security context socket not served");
        }
    }
}

weft_protocols::delegate_security_context_guarded!(Weft);
