//! wp_security_context_v1's errors that smithay does not raise.
//!
//! - `wp_security_context_manager_v1.invalid_listen_fd`: the fd handed to `create_listener` must
//!   be a listening Unix socket (smithay takes any fd and fails later, at `commit`, with a log
//!   line, leaving the sandbox engine waiting on a socket no one serves).
//! - `wp_security_context_v1.invalid_metadata`: the sandbox engine, app id and instance id must
//!   be non-empty (an empty one names nothing: the protocol calls them names and IDs).
//!
//! `nested` needs no guard: the manager is not offered to clients inside a security context (the
//! compositor's global filter), so none can bind it. `already_used` and `already_set` are smithay's.

use std::os::fd::AsFd;

use smithay::reexports::wayland_protocols::wp::security_context::v1::server::{
    wp_security_context_manager_v1::{self, WpSecurityContextManagerV1},
    wp_security_context_v1::{self, WpSecurityContextV1},
};
use smithay::reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle, Resource};
use smithay::wayland::security_context::{
    SecurityContextHandler, SecurityContextState, SecurityContextUserData,
};

use crate::Violation;

/// The guard: sees the requests first, then hands them to smithay's `SecurityContextState`.
pub struct SecurityContextGuard;

/// Whether `fd` is a Unix socket that listens (what `create_listener` requires).
pub fn check_listen_fd(
    fd: impl AsFd,
) -> Result<(), Violation<wp_security_context_manager_v1::Error>> {
    use rustix::net::sockopt;
    let invalid = |why: &str| {
        Violation::new(
            wp_security_context_manager_v1::Error::InvalidListenFd,
            format!("create_listener: listen_fd {why}"),
        )
    };
    match sockopt::socket_domain(&fd) {
        Ok(rustix::net::AddressFamily::UNIX) => {}
        Ok(_) => return Err(invalid("is not a Unix socket")),
        Err(_) => return Err(invalid("is not a socket")),
    }
    match sockopt::socket_acceptconn(&fd) {
        Ok(true) => Ok(()),
        _ => Err(invalid("is a socket that does not listen")),
    }
}

/// An empty name is not a name.
pub fn check_metadata(
    what: &str,
    value: &str,
) -> Result<(), Violation<wp_security_context_v1::Error>> {
    if value.is_empty() {
        return Err(Violation::new(
            wp_security_context_v1::Error::InvalidMetadata,
            format!("{what} is empty"),
        ));
    }
    Ok(())
}

impl<D> Dispatch<WpSecurityContextManagerV1, (), D> for SecurityContextGuard
where
    D: Dispatch<WpSecurityContextManagerV1, ()>
        + Dispatch<WpSecurityContextV1, SecurityContextUserData>
        + SecurityContextHandler
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        manager: &WpSecurityContextManagerV1,
        request: wp_security_context_manager_v1::Request,
        data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let wp_security_context_manager_v1::Request::CreateListener { listen_fd, .. } = &request
        {
            if let Err(v) = check_listen_fd(listen_fd) {
                manager.post_error(v.error, v.message);
                // smithay still makes the object (a new id must be initialised); the client is
                // gone before it can commit it.
            }
        }
        <SecurityContextState as Dispatch<WpSecurityContextManagerV1, (), D>>::request(
            state, client, manager, request, data, dh, data_init,
        );
    }
}

impl<D> Dispatch<WpSecurityContextV1, SecurityContextUserData, D> for SecurityContextGuard
where
    D: Dispatch<WpSecurityContextV1, SecurityContextUserData> + SecurityContextHandler + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        context: &WpSecurityContextV1,
        request: wp_security_context_v1::Request,
        data: &SecurityContextUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let checked = match &request {
            wp_security_context_v1::Request::SetSandboxEngine { name } => {
                check_metadata("the sandbox engine", name)
            }
            wp_security_context_v1::Request::SetAppId { app_id } => {
                check_metadata("the app id", app_id)
            }
            wp_security_context_v1::Request::SetInstanceId { instance_id } => {
                check_metadata("the instance id", instance_id)
            }
            _ => Ok(()),
        };
        if let Err(v) = checked {
            context.post_error(v.error, v.message);
            return;
        }
        <SecurityContextState as Dispatch<WpSecurityContextV1, SecurityContextUserData, D>>::request(
            state, client, context, request, data, dh, data_init,
        );
    }
}

/// Delegates wp_security_context_v1 to [`SecurityContextGuard`] (and smithay behind it).
#[macro_export]
macro_rules! delegate_security_context_guarded {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::security_context::v1::server::wp_security_context_manager_v1::WpSecurityContextManagerV1: smithay::wayland::security_context::SecurityContextGlobalData
        ] => smithay::wayland::security_context::SecurityContextState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::security_context::v1::server::wp_security_context_manager_v1::WpSecurityContextManagerV1: ()
        ] => $crate::security_context_guard::SecurityContextGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::security_context::v1::server::wp_security_context_v1::WpSecurityContextV1: smithay::wayland::security_context::SecurityContextUserData
        ] => $crate::security_context_guard::SecurityContextGuard);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_listening_unix_socket_is_a_listen_fd() {
        let dir = std::env::temp_dir().join(format!("weft-scg-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("s");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        assert!(check_listen_fd(&listener).is_ok());
        let connected = std::os::unix::net::UnixStream::connect(&path).expect("connect");
        assert!(check_listen_fd(&connected).is_err(), "a connected socket");
        let file = std::fs::File::open("/dev/null").expect("open");
        assert!(check_listen_fd(&file).is_err(), "a file");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn empty_metadata_is_invalid() {
        assert!(check_metadata("x", "").is_err());
        assert!(check_metadata("x", "flatpak").is_ok());
    }
}
