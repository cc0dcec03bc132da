//! `zxdg_decoration_manager_v1` v2: who draws a toplevel's title bar and borders.
//!
//! weft's policy is fixed: **clients draw their own** (client-side decorations, as GTK, Qt, foot
//! and Firefox do when asked); weft draws no frames. Every toplevel decoration is configured
//! `client_side`, and a `set_mode(server_side)` or `unset_mode` is answered with `client_side`
//! again (the protocol lets the compositor choose). With a fixed answer smithay's decoration state
//! machine adds nothing and raises one error of four, so the protocol is implemented here, with
//! every error of the spec:
//! - `get_toplevel_decoration` for a toplevel that already has one: `already_constructed`;
//! - on a version-1 manager, for a toplevel with a buffer attached or committed:
//!   `unconfigured_buffer` (version 2 allows it);
//! - `set_mode` with a mode outside the enum: `invalid_mode`;
//! - the xdg_toplevel destroyed while its decoration object lives: `orphaned` (the decoration
//!   "must be destroyed before its xdg_toplevel").
//!
//! Each error is raised on the decoration object (made first when the request creates it).

use std::collections::HashMap;

use smithay::reexports::wayland_protocols::xdg::decoration::zv1::server::{
    zxdg_decoration_manager_v1::{self, ZxdgDecorationManagerV1},
    zxdg_toplevel_decoration_v1::{self, Mode, ZxdgToplevelDecorationV1},
};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::XdgToplevel;
use smithay::reexports::wayland_server::backend::{ClientId, ObjectId};
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};

/// The decoration mode weft answers every request with.
pub const POLICY: Mode = Mode::ClientSide;

/// The live decoration object of each xdg_toplevel.
#[derive(Debug, Default)]
pub struct DecorationData {
    by_toplevel: HashMap<ObjectId, ZxdgToplevelDecorationV1>,
}

impl DecorationData {
    /// Call when an xdg_toplevel is destroyed: a decoration object still alive is `orphaned`.
    pub fn toplevel_destroyed(&mut self, toplevel: &ObjectId) {
        if let Some(decoration) = self.by_toplevel.remove(toplevel) {
            if decoration.is_alive() {
                decoration.post_error(
                    zxdg_toplevel_decoration_v1::Error::Orphaned,
                    "the xdg_toplevel was destroyed before its decoration object",
                );
            }
        }
    }

    /// How many toplevels have a decoration object (introspection, tests).
    pub fn len(&self) -> usize {
        self.by_toplevel.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_toplevel.is_empty()
    }
}

/// What the compositor provides.
pub trait DecorationState {
    fn decorations(&mut self) -> &mut DecorationData;
    /// The wl_surface of `toplevel`.
    fn toplevel_surface(
        &self,
        toplevel: &XdgToplevel,
    ) -> Option<smithay::reexports::wayland_server::protocol::wl_surface::WlSurface>;
    /// A decoration configure went to `toplevel`'s client: send the xdg_surface.configure that
    /// completes it (unless the initial configure, which will carry it, is still to come).
    fn decoration_configured(&mut self, toplevel: &XdgToplevel);
}

/// Dispatches the manager and the toplevel decorations.
pub struct DecorationGuard;

impl<D> GlobalDispatch<ZxdgDecorationManagerV1, (), D> for DecorationGuard
where
    D: Dispatch<ZxdgDecorationManagerV1, ()> + 'static,
{
    fn bind(
        _: &mut D,
        _: &DisplayHandle,
        _: &Client,
        resource: New<ZxdgDecorationManagerV1>,
        _: &(),
        data_init: &mut DataInit<'_, D>,
    ) {
        data_init.init(resource, ());
    }
}

impl<D> Dispatch<ZxdgDecorationManagerV1, (), D> for DecorationGuard
where
    D: Dispatch<ZxdgDecorationManagerV1, ()>
        + Dispatch<ZxdgToplevelDecorationV1, XdgToplevel>
        + DecorationState
        + 'static,
{
    fn request(
        state: &mut D,
        _: &Client,
        manager: &ZxdgDecorationManagerV1,
        request: zxdg_decoration_manager_v1::Request,
        _: &(),
        _: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let zxdg_decoration_manager_v1::Request::GetToplevelDecoration { id, toplevel } = request
        else {
            return;
        };
        let decoration = data_init.init(id, toplevel.clone());
        let existing = state
            .decorations()
            .by_toplevel
            .get(&toplevel.id())
            .is_some_and(Resource::is_alive);
        if existing {
            decoration.post_error(
                zxdg_toplevel_decoration_v1::Error::AlreadyConstructed,
                "this xdg_toplevel already has a decoration object",
            );
            return;
        }
        let has_buffer = state
            .toplevel_surface(&toplevel)
            .is_some_and(|s| crate::xdg_guard::buffer_attached_or_committed(&s));
        if manager.version() < 2 && has_buffer {
            decoration.post_error(
                zxdg_toplevel_decoration_v1::Error::UnconfiguredBuffer,
                "a version-1 decoration for an xdg_toplevel that has a buffer attached or committed",
            );
            return;
        }
        state
            .decorations()
            .by_toplevel
            .insert(toplevel.id(), decoration.clone());
        configure(state, &decoration, &toplevel);
    }
}

fn configure<D: DecorationState>(
    state: &mut D,
    decoration: &ZxdgToplevelDecorationV1,
    toplevel: &XdgToplevel,
) {
    decoration.configure(POLICY);
    state.decoration_configured(toplevel);
}

impl<D> Dispatch<ZxdgToplevelDecorationV1, XdgToplevel, D> for DecorationGuard
where
    D: Dispatch<ZxdgToplevelDecorationV1, XdgToplevel> + DecorationState + 'static,
{
    fn request(
        state: &mut D,
        _: &Client,
        decoration: &ZxdgToplevelDecorationV1,
        request: zxdg_toplevel_decoration_v1::Request,
        toplevel: &XdgToplevel,
        _: &DisplayHandle,
        _: &mut DataInit<'_, D>,
    ) {
        match request {
            zxdg_toplevel_decoration_v1::Request::SetMode {
                mode: WEnum::Unknown(mode),
            } => decoration.post_error(
                zxdg_toplevel_decoration_v1::Error::InvalidMode,
                format!("decoration mode {mode} is not in the enum"),
            ),
            zxdg_toplevel_decoration_v1::Request::SetMode { .. }
            | zxdg_toplevel_decoration_v1::Request::UnsetMode
                if toplevel.is_alive() =>
            {
                configure(state, decoration, toplevel);
            }
            _ => {}
        }
    }

    fn destroyed(
        state: &mut D,
        _: ClientId,
        decoration: &ZxdgToplevelDecorationV1,
        toplevel: &XdgToplevel,
    ) {
        let table = &mut state.decorations().by_toplevel;
        if table.get(&toplevel.id()) == Some(decoration) {
            table.remove(&toplevel.id());
        }
    }
}

/// Delegates zxdg_decoration_manager_v1 and zxdg_toplevel_decoration_v1 to [`DecorationGuard`].
#[macro_export]
macro_rules! delegate_decoration {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::decoration::zv1::server::zxdg_decoration_manager_v1::ZxdgDecorationManagerV1: ()
        ] => $crate::decoration::DecorationGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::decoration::zv1::server::zxdg_decoration_manager_v1::ZxdgDecorationManagerV1: ()
        ] => $crate::decoration::DecorationGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::decoration::zv1::server::zxdg_toplevel_decoration_v1::ZxdgToplevelDecorationV1: smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::XdgToplevel
        ] => $crate::decoration::DecorationGuard);
    };
}
