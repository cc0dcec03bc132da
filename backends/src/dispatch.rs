//! Client requests dispatched one client at a time, each behind a panic boundary.
//!
//! weft's guards see every request smithay would mishandle — once wayland-server has parsed it.
//! The parsing itself is generated code (wayland-scanner 0.31), and it unwraps a non-nullable string
//! argument: a client that sends `xdg_toplevel.set_title` with a null string panics the thread that
//! dispatches it, before any guard can look. Dispatched all at once, such a panic would take every
//! client down with weft. Dispatched per client inside `catch_unwind`, it ends only the client that
//! sent it, with `wl_display.error(invalid_method)`.
//!
//! Why unwinding out of a dispatch is sound here: wayland-backend releases its state lock before it
//! hands a request to wayland-server (the lock is never poisoned), and a panic in the parser happens
//! before smithay or weft touch any state. A panic anywhere else (smithay's or weft's handlers) is a
//! bug: it is contained the same way so the other clients live on, and logged at ERROR.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use smithay::reexports::wayland_server::Display;
use tracing::{error, warn};
use weft_compositor::runtime::disconnect::{display_error, DisplayError};
use weft_compositor::Weft;

thread_local! {
    /// Where the last panic on this thread happened (file, line), recorded by the hook below.
    static LAST_PANIC: RefCell<Option<(String, u32)>> = const { RefCell::new(None) };
}

/// Chains a panic hook that records each panic's location (for [`dispatch`] to tell a parser
/// panic from a bug), then runs the hook that was there (which prints the message as always).
fn record_panic_locations() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(at) = info.location() {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some((at.file().to_string(), at.line())));
            }
            previous(info);
        }));
    });
}

/// Whether a panic at `file` is wayland-rs failing to parse what a client sent: the generated
/// request parsers live in wayland-server (core protocol) and wayland-protocols (the rest).
fn is_parser_panic(file: &str) -> bool {
    [
        "/wayland-server-",
        "/wayland-backend-",
        "/wayland-protocols",
    ]
    .iter()
    .any(|c| file.contains(c))
}

/// Dispatches the requests of every client.
pub fn dispatch(display: &mut Display<Weft>, state: &mut Weft) {
    record_panic_locations();
    for client in state.clients().to_vec() {
        let id = client.id();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            display.backend().dispatch_single_client(state, id.clone())
        }));
        let Err(payload) = outcome else {
            continue;
        };
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = LAST_PANIC.with(|p| p.borrow_mut().take());
        let (file, line) = at.unwrap_or_default();
        if is_parser_panic(&file) {
            warn!(client = ?id, panic = %what, %file, line,
                "a request wayland-server cannot parse (a null string where one is required): client ended");
        } else {
            error!(client = ?id, panic = %what, %file, line,
                "panic while handling a client's requests (a bug): client ended, everyone else served");
        }
        display_error(
            state.display_handle(),
            &client,
            DisplayError::InvalidMethod,
            "weft: malformed request",
        );
        // The panic skipped the backend's clean-up after that dispatch, which is what closes a
        // killed client's connection: one more (empty) dispatch of the client runs it.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            display.backend().dispatch_single_client(state, id.clone())
        }));
    }
    // Every client weft accepts is in `state.clients`; this finds nothing to do unless a client was
    // inserted some other way.
    if let Ok(Err(e)) = catch_unwind(AssertUnwindSafe(|| display.dispatch_clients(state))) {
        warn!(error = %e, "dispatching clients failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_panics_are_told_from_bugs() {
        assert!(is_parser_panic(
            "/root/.cargo/registry/src/x/wayland-server-0.31.14/src/lib.rs"
        ));
        assert!(!is_parser_panic("compositor/src/surface.rs"));
        assert!(is_parser_panic(
            "/root/.cargo/registry/src/x/wayland-protocols-0.32.8/src/xdg.rs"
        ));
        assert!(!is_parser_panic(
            "/root/.cargo/registry/src/x/smithay-0.7.0/src/wayland/compositor/tree.rs"
        ));
    }
}
