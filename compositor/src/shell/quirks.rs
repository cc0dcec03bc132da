//! Clients known to break on a protocol version weft offers, and what each is offered instead.
//!
//! weft advertises xdg_wm_base v6 (configure_bounds, wm_capabilities, the suspended state). A
//! client that binds the version advertised must handle the events of that version; one that
//! does not is aborted by libwayland at its first configure ("listener function for opcode 2 of
//! xdg_toplevel is NULL"). Such a client sees an xdg_wm_base global of a version it survives
//! instead of the v6 one (two globals, each visible to its own clients). A client is known by
//! the executable of the process at the other end of its socket (SO_PEERCRED, `/proc/PID/exe`),
//! read once when it connects.

use std::os::fd::AsFd;

use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_wm_base::XdgWmBase;
use smithay::reexports::wayland_server::{Client, DataInit, DisplayHandle, GlobalDispatch, New};
use smithay::wayland::shell::xdg::XdgShellState;

use crate::runtime::client::ClientState;
use crate::Weft;

/// The xdg_wm_base version most clients get.
pub const XDG_WM_BASE_VERSION: u32 = 6;

/// The version known breakers get: the last before configure_bounds.
pub const XDG_WM_BASE_CAPPED: u32 = 3;

/// Executables that bind the advertised xdg_wm_base version but install no handler for v4's
/// configure_bounds, with where they come from.
const XDG_WM_BASE_BREAKERS: &[(&str, &str)] = &[(
    "weston-presentation-shm",
    "Debian bookworm's weston 10 demo client: binds any version, has no configure_bounds listener",
)];

/// What weft knows of a client's process when it connects.
#[derive(Debug, Clone, Default)]
pub struct ClientQuirks {
    /// The highest xdg_wm_base version the client survives (`None`: any).
    pub xdg_wm_base: Option<u32>,
}

impl ClientQuirks {
    /// The quirks of the process at the other end of `stream` (none when it cannot be read: a
    /// client in another pid namespace, a process gone already).
    pub fn of_peer(stream: &std::os::unix::net::UnixStream) -> Self {
        let Ok(cred) = rustix::net::sockopt::socket_peercred(stream.as_fd()) else {
            return Self::default();
        };
        let exe = std::fs::read_link(format!("/proc/{}/exe", cred.pid.as_raw_nonzero()));
        let name = exe
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        Self::of_executable(name.as_deref().unwrap_or_default())
    }

    fn of_executable(name: &str) -> Self {
        let breaker = XDG_WM_BASE_BREAKERS.iter().find(|(n, _)| *n == name);
        if let Some((name, why)) = breaker {
            tracing::info!(
                client = name,
                why,
                "known client: offered xdg_wm_base v{XDG_WM_BASE_CAPPED}"
            );
        }
        Self {
            xdg_wm_base: breaker.map(|_| XDG_WM_BASE_CAPPED),
        }
    }
}

/// An xdg_wm_base global's data: the version it is offered at, and so whose it is.
pub struct WmBaseGlobal {
    pub version: u32,
}

/// Creates the two xdg_wm_base globals (smithay's own is withdrawn by the caller).
pub(crate) fn create_wm_base_globals(dh: &DisplayHandle) {
    for version in [XDG_WM_BASE_VERSION, XDG_WM_BASE_CAPPED] {
        dh.create_global::<Weft, XdgWmBase, _>(version, WmBaseGlobal { version });
    }
}

fn wanted_version(client: &Client) -> u32 {
    client
        .get_data::<ClientState>()
        .and_then(|s| s.quirks.xdg_wm_base)
        .unwrap_or(XDG_WM_BASE_VERSION)
}

impl GlobalDispatch<XdgWmBase, WmBaseGlobal> for Weft {
    fn bind(
        state: &mut Self,
        dh: &DisplayHandle,
        client: &Client,
        resource: New<XdgWmBase>,
        _: &WmBaseGlobal,
        data_init: &mut DataInit<'_, Self>,
    ) {
        <XdgShellState as GlobalDispatch<XdgWmBase, (), Self>>::bind(
            state,
            dh,
            client,
            resource,
            &(),
            data_init,
        );
    }

    fn can_view(client: Client, global: &WmBaseGlobal) -> bool {
        wanted_version(&client) == global.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_breakers_are_capped() {
        assert_eq!(
            ClientQuirks::of_executable("weston-presentation-shm").xdg_wm_base,
            Some(XDG_WM_BASE_CAPPED)
        );
        assert_eq!(ClientQuirks::of_executable("foot").xdg_wm_base, None);
        assert_eq!(ClientQuirks::of_executable("").xdg_wm_base, None);
    }
}
