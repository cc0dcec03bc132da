//! xdg-shell guard: the spec's error codes where smithay uses another one or none.
//!
//! Rules enforced before smithay sees the request:
//! - `xdg_surface.get_toplevel`/`get_popup` on an xdg_surface that already made its role object:
//!   `xdg_surface.already_constructed` (smithay says `xdg_wm_base.role`).
//! - `xdg_surface.ack_configure` with a serial weft never sent to this client:
//!   `xdg_surface.invalid_serial` (smithay says `xdg_wm_base.invalid_surface_state`). On an
//!   xdg_surface without a role object, smithay's `not_constructed` stands.
//! - `xdg_surface.get_popup` with a positioner that lacks a size or an anchor rectangle:
//!   `xdg_wm_base.invalid_positioner` (smithay accepts it).
//! - `xdg_surface.set_window_geometry` with a non-positive size: `xdg_surface.invalid_size`.
//! - `xdg_surface.destroy` while its xdg_toplevel/xdg_popup lives: `xdg_surface.defunct_role_object`
//!   (smithay says `xdg_wm_base.role`).
//! - `xdg_toplevel.set_min_size`/`set_max_size` with a negative size, or a max below the min:
//!   `xdg_toplevel.invalid_size`.
//! - `xdg_toplevel.resize` with an edge outside the enum: `xdg_toplevel.invalid_resize_edge`.
//! - `xdg_positioner.set_parent_size` with a negative size: `xdg_positioner.invalid_input` (smithay
//!   builds a `Size` of it, which asserts it is not negative: a panic found by the wire fuzzer).
//! - any xdg_positioner coordinate or size (anchor rectangle, size, offset, parent size) beyond
//!   ±[`POSITIONER_LIMIT`]: `xdg_positioner.invalid_input`. smithay places a popup by adding up to
//!   four of them (anchor corner, offset, minus the popup size) in 32-bit arithmetic and then
//!   slides it against the output: extreme values overflowed (a panic found by the wire fuzzer).
//!   Within the limit the sums stay below 2^30, which leaves room for any output's coordinates.
//! - `xdg_wm_base.get_xdg_surface` on a wl_surface with another role (a sub-surface, a cursor):
//!   `xdg_wm_base.role`; smithay checks roles only when the toplevel or popup is made.
//! - `xdg_wm_base.get_xdg_surface` on a wl_surface with a buffer attached or committed:
//!   `xdg_wm_base.invalid_surface_state` ("creating an xdg_surface from a wl_surface which has a
//!   buffer attached or committed is a client error"); smithay does not check it.
//!
//! `xdg_surface.unconfigured_buffer` needs the commit's buffer, so the compositor raises it at commit
//! through [`XdgGuardData::xdg_surface_of`], which this guard fills in when a role object is made.

use std::collections::{HashMap, HashSet};

use smithay::reexports::wayland_protocols::xdg::shell::server::{
    xdg_popup, xdg_positioner, xdg_surface, xdg_toplevel, xdg_wm_base,
};
use smithay::reexports::wayland_server::backend::{ClientId, ObjectId};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, Resource, WEnum,
};
use smithay::wayland::shell::xdg::{
    XdgShellHandler, XdgShellState, XdgShellSurfaceUserData, XdgSurfaceUserData,
};

use crate::Violation;

/// What the guard remembers. Lives in the compositor state (see [`XdgGuardState`]).
#[derive(Debug, Default)]
pub struct XdgGuardData {
    /// xdg_surfaces that already made their role object.
    constructed: HashSet<ObjectId>,
    /// xdg_surfaces whose role object is still alive.
    role_alive: HashSet<ObjectId>,
    /// The xdg_surface whose get_toplevel/get_popup is being handled, taken by
    /// [`XdgGuardData::role_object_created`] from smithay's new_toplevel/new_popup callback.
    creating: Option<xdg_surface::XdgSurface>,
    /// wl_surface → its xdg_surface, for errors raised at commit.
    by_surface: HashMap<ObjectId, xdg_surface::XdgSurface>,
    /// Configure serials sent to each client and not yet acknowledged (or superseded).
    sent_serials: HashMap<ClientId, Vec<u32>>,
    /// Positioners that were given a size and an anchor rectangle (xdg-shell: both are required).
    positioner_size: HashSet<ObjectId>,
    positioner_anchor: HashSet<ObjectId>,
    /// Each client's xdg_wm_base objects, to raise wm_base errors found on other objects.
    wm_bases: HashMap<ClientId, Vec<xdg_wm_base::XdgWmBase>>,
}

impl XdgGuardData {
    /// Call from `XdgShellHandler::toplevel_destroyed`/`popup_destroyed`.
    pub fn role_object_destroyed(&mut self, surface: &WlSurface) {
        if let Some(xdg) = self.by_surface.get(&surface.id()) {
            self.role_alive.remove(&xdg.id());
        }
    }

    /// Call from `XdgShellHandler::new_toplevel`/`new_popup` with the role object's wl_surface.
    pub fn role_object_created(&mut self, surface: &WlSurface) {
        if let Some(xdg) = self.creating.take() {
            self.role_alive.insert(xdg.id());
            self.by_surface.insert(surface.id(), xdg);
        }
    }

    /// The xdg_surface of a wl_surface that has an xdg role.
    pub fn xdg_surface_of(&self, surface: &WlSurface) -> Option<&xdg_surface::XdgSurface> {
        self.by_surface.get(&surface.id())
    }

    /// Sends the toplevel's pending configure and records its serial.
    pub fn send_configure(&mut self, toplevel: &smithay::wayland::shell::xdg::ToplevelSurface) {
        let serial = toplevel.send_configure();
        self.configure_sent(toplevel.wl_surface(), serial.into());
    }

    /// Call for every configure sent (toplevel or popup) with its serial.
    pub fn configure_sent(&mut self, surface: &WlSurface, serial: u32) {
        if let Some(client) = surface.client() {
            self.sent_serials
                .entry(client.id())
                .or_default()
                .push(serial);
        }
    }

    /// Forgets a destroyed surface.
    pub fn surface_destroyed(&mut self, surface: &WlSurface) {
        if let Some(xdg) = self.by_surface.remove(&surface.id()) {
            self.constructed.remove(&xdg.id());
            self.role_alive.remove(&xdg.id());
        }
    }

    /// Forgets what belongs to disconnected clients (`alive` says whether a client still is).
    pub fn prune(&mut self, alive: impl Fn(&ClientId) -> bool) {
        self.sent_serials.retain(|c, _| alive(c));
        self.wm_bases.retain(|c, _| alive(c));
        self.by_surface.retain(|_, x| x.is_alive());
    }
}

impl XdgGuardData {
    fn positioner_complete(&self, positioner: &xdg_positioner::XdgPositioner) -> bool {
        self.positioner_size.contains(&positioner.id())
            && self.positioner_anchor.contains(&positioner.id())
    }

    /// A live xdg_wm_base of `client`, to raise wm_base errors found elsewhere.
    pub fn wm_base_of(&self, client: &Client) -> Option<&xdg_wm_base::XdgWmBase> {
        self.wm_bases
            .get(&client.id())?
            .iter()
            .find(|w| w.is_alive())
    }
}

/// The guard's decision for one xdg_surface request, apart from the objects it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdgSurfaceOp {
    GetToplevel,
    /// `positioner_complete`: the positioner was given a valid size and anchor rectangle.
    GetPopup {
        positioner_complete: bool,
    },
    AckConfigure {
        serial: u32,
    },
    SetWindowGeometry {
        width: i32,
        height: i32,
    },
    Destroy,
}

/// What the guard knows about the xdg_surface a request is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XdgSurfaceFacts {
    /// It already made its xdg_toplevel or xdg_popup.
    pub constructed: bool,
    /// That role object is still alive.
    pub role_alive: bool,
}

/// An error the guard raises for an xdg_surface request, on the object the spec names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XdgSurfaceViolation {
    /// On the client's xdg_wm_base (or, when it has none left, `not_constructed` on the surface).
    WmBase(Violation<xdg_wm_base::Error>),
    Surface(Violation<xdg_surface::Error>),
}

/// Decides an xdg_surface request: `Ok` hands it to smithay. `serials` are the configure serials
/// sent to the client and not yet acknowledged; a valid ack removes it and every older one. Pure,
/// so `fuzz/fuzz_targets/xdg_shell.rs` drives it without a connection.
pub fn check_xdg_surface(
    op: XdgSurfaceOp,
    facts: XdgSurfaceFacts,
    serials: &mut Vec<u32>,
) -> Result<(), XdgSurfaceViolation> {
    let surface = |e, m: String| Err(XdgSurfaceViolation::Surface(Violation::new(e, m)));
    match op {
        XdgSurfaceOp::GetPopup {
            positioner_complete: false,
        } => Err(XdgSurfaceViolation::WmBase(Violation::new(
            xdg_wm_base::Error::InvalidPositioner,
            "get_popup: the positioner needs set_size and set_anchor_rect first",
        ))),
        XdgSurfaceOp::GetToplevel | XdgSurfaceOp::GetPopup { .. } if facts.constructed => surface(
            xdg_surface::Error::AlreadyConstructed,
            "this xdg_surface already has a role object".into(),
        ),
        XdgSurfaceOp::AckConfigure { serial } if facts.constructed => {
            if ack_serial(serials, serial) {
                Ok(())
            } else {
                surface(
                    xdg_surface::Error::InvalidSerial,
                    format!("ack_configure: serial {serial} was not sent to this client"),
                )
            }
        }
        XdgSurfaceOp::Destroy if facts.role_alive => surface(
            xdg_surface::Error::DefunctRoleObject,
            "xdg_surface destroyed before its xdg_toplevel or xdg_popup".into(),
        ),
        XdgSurfaceOp::SetWindowGeometry { width, height } if width <= 0 || height <= 0 => surface(
            xdg_surface::Error::InvalidSize,
            format!("set_window_geometry: size {width}x{height} must be positive"),
        ),
        _ => Ok(()),
    }
}

/// Acknowledges `serial` among the unacknowledged `serials`: false when it is not one of them;
/// else it and every older serial (in wrapping order) are removed.
pub fn ack_serial(serials: &mut Vec<u32>, serial: u32) -> bool {
    if !serials.contains(&serial) {
        return false;
    }
    serials.retain(|s| s.wrapping_sub(serial) as i32 > 0);
    true
}

/// xdg_toplevel's size and edge rules: `set_min_size`/`set_max_size` with a negative size is
/// `invalid_size`; a `resize` edge outside the enum is `invalid_resize_edge`.
pub fn check_toplevel_size(
    what: &str,
    width: i32,
    height: i32,
) -> Result<(), Violation<xdg_toplevel::Error>> {
    if width < 0 || height < 0 {
        return Err(Violation::new(
            xdg_toplevel::Error::InvalidSize,
            format!("{what}: {width}x{height} is not a valid size"),
        ));
    }
    Ok(())
}

/// See [`check_toplevel_size`].
pub fn check_resize_edge(
    edges: WEnum<xdg_toplevel::ResizeEdge>,
) -> Result<(), Violation<xdg_toplevel::Error>> {
    match edges {
        WEnum::Value(_) => Ok(()),
        WEnum::Unknown(edge) => Err(Violation::new(
            xdg_toplevel::Error::InvalidResizeEdge,
            format!("resize: {edge} is not an xdg_toplevel.resize_edge"),
        )),
    }
}

/// The largest magnitude of any xdg_positioner coordinate or size weft accepts: 2^28 px, far
/// beyond any output, small enough that smithay's popup placement (at most four such values added
/// up, then output coordinates) cannot overflow 32 bits.
pub const POSITIONER_LIMIT: i32 = 1 << 28;

/// xdg_positioner rules smithay does not enforce itself (`invalid_input`, the interface's one
/// error): a parent size is not negative; no value lies beyond ±[`POSITIONER_LIMIT`].
pub fn check_positioner(
    request: &xdg_positioner::Request,
) -> Result<(), Violation<xdg_positioner::Error>> {
    let invalid = |m: String| Err(Violation::new(xdg_positioner::Error::InvalidInput, m));
    let (what, values): (&str, &[i32]) = match request {
        xdg_positioner::Request::SetParentSize {
            parent_width,
            parent_height,
        } => {
            if *parent_width < 0 || *parent_height < 0 {
                return invalid(format!(
                    "set_parent_size: {parent_width}x{parent_height} is not a valid size"
                ));
            }
            ("set_parent_size", &[*parent_width, *parent_height])
        }
        xdg_positioner::Request::SetSize { width, height } => ("set_size", &[*width, *height]),
        xdg_positioner::Request::SetAnchorRect {
            x,
            y,
            width,
            height,
        } => ("set_anchor_rect", &[*x, *y, *width, *height]),
        xdg_positioner::Request::SetOffset { x, y } => ("set_offset", &[*x, *y]),
        _ => return Ok(()),
    };
    if values
        .iter()
        .any(|v| v.unsigned_abs() > POSITIONER_LIMIT as u32)
    {
        return invalid(format!(
            "{what}{values:?}: a value beyond ±{POSITIONER_LIMIT} cannot place a popup"
        ));
    }
    Ok(())
}

/// Whether a positioner request gives it a valid size / anchor rectangle (smithay raises
/// `invalid_input` for the invalid ones; a popup needs both).
pub fn positioner_gives(request: &xdg_positioner::Request) -> (bool, bool) {
    match request {
        xdg_positioner::Request::SetSize { width, height } => (*width > 0 && *height > 0, false),
        xdg_positioner::Request::SetAnchorRect { width, height, .. } => {
            (false, *width > 0 && *height > 0)
        }
        _ => (false, false),
    }
}

/// Access to the guard's data in the compositor state.
pub trait XdgGuardState {
    fn xdg_guard(&mut self) -> &mut XdgGuardData;
}

/// Dispatches xdg_surface and xdg_toplevel requests: validates, then delegates to [`XdgShellState`].
pub struct XdgGuard;

impl<D> Dispatch<xdg_surface::XdgSurface, XdgSurfaceUserData, D> for XdgGuard
where
    D: Dispatch<xdg_surface::XdgSurface, XdgSurfaceUserData>
        + Dispatch<xdg_toplevel::XdgToplevel, XdgShellSurfaceUserData>
        + Dispatch<xdg_popup::XdgPopup, XdgShellSurfaceUserData>
        + Dispatch<xdg_positioner::XdgPositioner, smithay::wayland::shell::xdg::XdgPositionerUserData>
        + Dispatch<xdg_wm_base::XdgWmBase, smithay::wayland::shell::xdg::XdgWmBaseUserData>
        + XdgShellHandler
        + XdgGuardState
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        resource: &xdg_surface::XdgSurface,
        request: xdg_surface::Request,
        data: &XdgSurfaceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let op = match &request {
            xdg_surface::Request::GetToplevel { .. } => Some(XdgSurfaceOp::GetToplevel),
            xdg_surface::Request::GetPopup { positioner, .. } => Some(XdgSurfaceOp::GetPopup {
                positioner_complete: state.xdg_guard().positioner_complete(positioner),
            }),
            xdg_surface::Request::AckConfigure { serial } => {
                Some(XdgSurfaceOp::AckConfigure { serial: *serial })
            }
            xdg_surface::Request::SetWindowGeometry { width, height, .. } => {
                Some(XdgSurfaceOp::SetWindowGeometry {
                    width: *width,
                    height: *height,
                })
            }
            xdg_surface::Request::Destroy => Some(XdgSurfaceOp::Destroy),
            _ => None,
        };
        if let Some(op) = op {
            let guard = state.xdg_guard();
            let facts = XdgSurfaceFacts {
                constructed: guard.constructed.contains(&resource.id()),
                role_alive: guard.role_alive.contains(&resource.id()),
            };
            let mut no_serials = Vec::new();
            let serials = match op {
                XdgSurfaceOp::AckConfigure { .. } => guard
                    .sent_serials
                    .get_mut(&client.id())
                    .unwrap_or(&mut no_serials),
                _ => &mut no_serials,
            };
            match check_xdg_surface(op, facts, serials) {
                Ok(()) => {}
                Err(XdgSurfaceViolation::WmBase(v)) => {
                    match state.xdg_guard().wm_base_of(client) {
                        Some(wm_base) => wm_base.post_error(v.error, v.message),
                        None => resource.post_error(xdg_surface::Error::NotConstructed, v.message),
                    }
                    return;
                }
                Err(XdgSurfaceViolation::Surface(v)) => {
                    resource.post_error(v.error, v.message);
                    return;
                }
            }
            if matches!(
                op,
                XdgSurfaceOp::GetToplevel | XdgSurfaceOp::GetPopup { .. }
            ) {
                let guard = state.xdg_guard();
                guard.constructed.insert(resource.id());
                guard.creating = Some(resource.clone());
            }
        }
        <XdgShellState as Dispatch<xdg_surface::XdgSurface, XdgSurfaceUserData, D>>::request(
            state, client, resource, request, data, dh, data_init,
        );
        // If smithay refused the role (another role, say), nothing consumed `creating`.
        state.xdg_guard().creating = None;
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        resource: &xdg_surface::XdgSurface,
        data: &XdgSurfaceUserData,
    ) {
        state.xdg_guard().constructed.remove(&resource.id());
        <XdgShellState as Dispatch<xdg_surface::XdgSurface, XdgSurfaceUserData, D>>::destroyed(
            state, client, resource, data,
        )
    }
}

impl<D> Dispatch<xdg_toplevel::XdgToplevel, XdgShellSurfaceUserData, D> for XdgGuard
where
    D: Dispatch<xdg_toplevel::XdgToplevel, XdgShellSurfaceUserData> + XdgShellHandler + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        resource: &xdg_toplevel::XdgToplevel,
        request: xdg_toplevel::Request,
        data: &XdgShellSurfaceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let checked = match &request {
            xdg_toplevel::Request::SetMinSize { width, height } => {
                check_toplevel_size("set_min_size", *width, *height)
            }
            xdg_toplevel::Request::SetMaxSize { width, height } => {
                check_toplevel_size("set_max_size", *width, *height)
            }
            xdg_toplevel::Request::Resize { edges, .. } => check_resize_edge(*edges),
            _ => Ok(()),
        };
        if let Err(v) = checked {
            resource.post_error(v.error, v.message);
            return;
        }
        <XdgShellState as Dispatch<xdg_toplevel::XdgToplevel, XdgShellSurfaceUserData, D>>::request(
            state, client, resource, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        resource: &xdg_toplevel::XdgToplevel,
        data: &XdgShellSurfaceUserData,
    ) {
        <XdgShellState as Dispatch<xdg_toplevel::XdgToplevel, XdgShellSurfaceUserData, D>>::destroyed(
            state, client, resource, data,
        )
    }
}

/// What `get_xdg_surface` needs to know of its wl_surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewXdgSurfaceFacts {
    /// The surface's role, if it has one.
    pub role: Option<&'static str>,
    /// A buffer is attached (pending) to the surface.
    pub buffer_attached: bool,
    /// The surface's current state has a buffer.
    pub buffer_committed: bool,
}

/// `xdg_wm_base.get_xdg_surface`: the wl_surface must have no role but an xdg one (a surface whose
/// toplevel or popup was destroyed may get a new one) and no buffer attached or committed.
pub fn check_new_xdg_surface(
    facts: &NewXdgSurfaceFacts,
) -> Result<(), Violation<xdg_wm_base::Error>> {
    if let Some(role) = facts
        .role
        .filter(|r| !matches!(*r, "xdg_toplevel" | "xdg_popup"))
    {
        return Err(Violation::new(
            xdg_wm_base::Error::Role,
            format!("the wl_surface already has the role {role}"),
        ));
    }
    if facts.buffer_attached || facts.buffer_committed {
        return Err(Violation::new(
            xdg_wm_base::Error::InvalidSurfaceState,
            "an xdg_surface cannot be made of a wl_surface with a buffer attached or committed",
        ));
    }
    Ok(())
}

/// Whether `surface` has a buffer attached (pending) or committed: what makes it too late to give
/// it a role that must be configured first (xdg_surface, layer surface, xdg-decoration v1).
pub fn buffer_attached_or_committed(surface: &WlSurface) -> bool {
    let facts = surface_facts(surface);
    facts.buffer_attached || facts.buffer_committed
}

/// The facts [`check_new_xdg_surface`] decides on, read from smithay's surface state.
fn surface_facts(surface: &WlSurface) -> NewXdgSurfaceFacts {
    use smithay::backend::renderer::utils::RendererSurfaceStateUserData;
    use smithay::wayland::compositor::{
        get_role, with_states, BufferAssignment, SurfaceAttributes,
    };
    let role = get_role(surface);
    let (buffer_attached, buffer_committed) = with_states(surface, |states| {
        let attached = matches!(
            states
                .cached_state
                .get::<SurfaceAttributes>()
                .pending()
                .buffer,
            Some(BufferAssignment::NewBuffer(_))
        );
        let committed = states
            .data_map
            .get::<RendererSurfaceStateUserData>()
            .is_some_and(|rs| rs.lock().map(|rs| rs.buffer().is_some()).unwrap_or(false));
        (attached, committed)
    });
    NewXdgSurfaceFacts {
        role,
        buffer_attached,
        buffer_committed,
    }
}

impl<D> Dispatch<xdg_wm_base::XdgWmBase, smithay::wayland::shell::xdg::XdgWmBaseUserData, D>
    for XdgGuard
where
    D: Dispatch<xdg_wm_base::XdgWmBase, smithay::wayland::shell::xdg::XdgWmBaseUserData>
        + Dispatch<xdg_surface::XdgSurface, XdgSurfaceUserData>
        + Dispatch<xdg_positioner::XdgPositioner, smithay::wayland::shell::xdg::XdgPositionerUserData>
        + XdgShellHandler
        + XdgGuardState
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        resource: &xdg_wm_base::XdgWmBase,
        request: xdg_wm_base::Request,
        data: &smithay::wayland::shell::xdg::XdgWmBaseUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let known = state.xdg_guard().wm_bases.entry(client.id()).or_default();
        if !known.contains(resource) {
            known.retain(|w| w.is_alive());
            known.push(resource.clone());
        }
        if let xdg_wm_base::Request::GetXdgSurface { surface, .. } = &request {
            if let Err(v) = check_new_xdg_surface(&surface_facts(surface)) {
                resource.post_error(v.error, v.message);
                return;
            }
        }
        <XdgShellState as Dispatch<xdg_wm_base::XdgWmBase, _, D>>::request(
            state, client, resource, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        resource: &xdg_wm_base::XdgWmBase,
        data: &smithay::wayland::shell::xdg::XdgWmBaseUserData,
    ) {
        <XdgShellState as Dispatch<xdg_wm_base::XdgWmBase, _, D>>::destroyed(
            state, client, resource, data,
        )
    }
}

impl<D>
    Dispatch<xdg_positioner::XdgPositioner, smithay::wayland::shell::xdg::XdgPositionerUserData, D>
    for XdgGuard
where
    D: Dispatch<xdg_positioner::XdgPositioner, smithay::wayland::shell::xdg::XdgPositionerUserData>
        + XdgShellHandler
        + XdgGuardState
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        resource: &xdg_positioner::XdgPositioner,
        request: xdg_positioner::Request,
        data: &smithay::wayland::shell::xdg::XdgPositionerUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let Err(v) = check_positioner(&request) {
            resource.post_error(v.error, v.message);
            return;
        }
        // Recorded only for valid values; smithay raises invalid_input for the others.
        let (size, anchor) = positioner_gives(&request);
        let guard = state.xdg_guard();
        if size {
            guard.positioner_size.insert(resource.id());
        }
        if anchor {
            guard.positioner_anchor.insert(resource.id());
        }
        <XdgShellState as Dispatch<xdg_positioner::XdgPositioner, _, D>>::request(
            state, client, resource, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        resource: &xdg_positioner::XdgPositioner,
        data: &smithay::wayland::shell::xdg::XdgPositionerUserData,
    ) {
        let guard = state.xdg_guard();
        guard.positioner_size.remove(&resource.id());
        guard.positioner_anchor.remove(&resource.id());
        <XdgShellState as Dispatch<xdg_positioner::XdgPositioner, _, D>>::destroyed(
            state, client, resource, data,
        )
    }
}

/// Like smithay's `delegate_xdg_shell!`, with xdg_surface and xdg_toplevel routed through [`XdgGuard`].
#[macro_export]
macro_rules! delegate_xdg_shell_guarded {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_wm_base::XdgWmBase: ()
        ] => smithay::wayland::shell::xdg::XdgShellState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_wm_base::XdgWmBase: smithay::wayland::shell::xdg::XdgWmBaseUserData
        ] => $crate::xdg_guard::XdgGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_positioner::XdgPositioner: smithay::wayland::shell::xdg::XdgPositionerUserData
        ] => $crate::xdg_guard::XdgGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_popup::XdgPopup: smithay::wayland::shell::xdg::XdgShellSurfaceUserData
        ] => smithay::wayland::shell::xdg::XdgShellState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_surface::XdgSurface: smithay::wayland::shell::xdg::XdgSurfaceUserData
        ] => $crate::xdg_guard::XdgGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::XdgToplevel: smithay::wayland::shell::xdg::XdgShellSurfaceUserData
        ] => $crate::xdg_guard::XdgGuard);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn surface_error(r: Result<(), XdgSurfaceViolation>) -> Option<String> {
        r.err().map(|v| match v {
            XdgSurfaceViolation::WmBase(v) => format!("xdg_wm_base {:?}", v.error),
            XdgSurfaceViolation::Surface(v) => format!("xdg_surface {:?}", v.error),
        })
    }

    #[test]
    fn a_new_xdg_surface_needs_no_other_role_and_no_buffer() {
        let facts = |role, attached, committed| NewXdgSurfaceFacts {
            role,
            buffer_attached: attached,
            buffer_committed: committed,
        };
        let error = |f: NewXdgSurfaceFacts| check_new_xdg_surface(&f).err().map(|v| v.error);
        assert_eq!(error(facts(None, false, false)), None);
        assert_eq!(error(facts(Some("xdg_toplevel"), false, false)), None);
        assert_eq!(error(facts(Some("xdg_popup"), false, false)), None);
        assert_eq!(
            error(facts(Some("subsurface"), false, false)),
            Some(xdg_wm_base::Error::Role)
        );
        assert_eq!(
            error(facts(None, true, false)),
            Some(xdg_wm_base::Error::InvalidSurfaceState)
        );
        assert_eq!(
            error(facts(Some("xdg_toplevel"), false, true)),
            Some(xdg_wm_base::Error::InvalidSurfaceState)
        );
    }

    #[test]
    fn xdg_surface_requests_table() {
        let fresh = XdgSurfaceFacts::default();
        let made = XdgSurfaceFacts {
            constructed: true,
            role_alive: true,
        };
        let gone = XdgSurfaceFacts {
            constructed: true,
            role_alive: false,
        };
        let complete = XdgSurfaceOp::GetPopup {
            positioner_complete: true,
        };
        let incomplete = XdgSurfaceOp::GetPopup {
            positioner_complete: false,
        };
        let geometry = |width, height| XdgSurfaceOp::SetWindowGeometry { width, height };
        let cases: Vec<(XdgSurfaceOp, XdgSurfaceFacts, Option<&str>)> = vec![
            (XdgSurfaceOp::GetToplevel, fresh, None),
            (complete, fresh, None),
            (incomplete, fresh, Some("xdg_wm_base InvalidPositioner")),
            (incomplete, made, Some("xdg_wm_base InvalidPositioner")),
            (
                XdgSurfaceOp::GetToplevel,
                made,
                Some("xdg_surface AlreadyConstructed"),
            ),
            (complete, gone, Some("xdg_surface AlreadyConstructed")),
            (
                XdgSurfaceOp::Destroy,
                made,
                Some("xdg_surface DefunctRoleObject"),
            ),
            (XdgSurfaceOp::Destroy, gone, None),
            (geometry(1, 1), made, None),
            (geometry(0, 1), made, Some("xdg_surface InvalidSize")),
            (geometry(1, i32::MIN), made, Some("xdg_surface InvalidSize")),
            // Without a role object smithay's not_constructed stands.
            (XdgSurfaceOp::AckConfigure { serial: 9 }, fresh, None),
            (
                XdgSurfaceOp::AckConfigure { serial: 9 },
                made,
                Some("xdg_surface InvalidSerial"),
            ),
        ];
        for (op, facts, want) in cases {
            let got = surface_error(check_xdg_surface(op, facts, &mut vec![]));
            assert_eq!(got.as_deref(), want, "{op:?} on {facts:?}");
        }
    }

    #[test]
    fn acking_a_serial_acks_the_older_ones() {
        let mut serials = vec![u32::MAX - 1, u32::MAX, 0, 1, 2];
        assert!(!ack_serial(&mut serials, 7));
        assert!(ack_serial(&mut serials, 0));
        assert_eq!(serials, [1, 2]);
        assert!(!ack_serial(&mut serials, u32::MAX));
        assert!(ack_serial(&mut serials, 2));
        assert!(serials.is_empty());
    }

    #[test]
    fn toplevel_sizes_and_edges() {
        assert!(check_toplevel_size("set_min_size", 0, 0).is_ok());
        assert_eq!(
            check_toplevel_size("set_max_size", -1, 5)
                .unwrap_err()
                .error,
            xdg_toplevel::Error::InvalidSize
        );
        assert!(check_resize_edge(WEnum::Value(xdg_toplevel::ResizeEdge::Top)).is_ok());
        assert_eq!(
            check_resize_edge(WEnum::Unknown(99)).unwrap_err().error,
            xdg_toplevel::Error::InvalidResizeEdge
        );
    }

    #[test]
    fn positioner_parent_size_table() {
        let parent = |parent_width, parent_height| xdg_positioner::Request::SetParentSize {
            parent_width,
            parent_height,
        };
        for (w, h, ok) in [
            (0, 0, true),
            (800, 600, true),
            (-1, 600, false),
            (1, i32::MIN, false),
        ] {
            assert_eq!(check_positioner(&parent(w, h)).is_ok(), ok, "{w}x{h}");
        }
        assert!(check_positioner(&xdg_positioner::Request::SetReactive).is_ok());
        let far = POSITIONER_LIMIT + 1;
        for (req, ok) in [
            (
                xdg_positioner::Request::SetOffset {
                    x: -POSITIONER_LIMIT,
                    y: 5,
                },
                true,
            ),
            (xdg_positioner::Request::SetOffset { x: far, y: 0 }, false),
            (
                xdg_positioner::Request::SetOffset { x: 0, y: i32::MIN },
                false,
            ),
            (
                xdg_positioner::Request::SetSize {
                    width: far,
                    height: 1,
                },
                false,
            ),
            (
                xdg_positioner::Request::SetAnchorRect {
                    x: -far,
                    y: 0,
                    width: 1,
                    height: 1,
                },
                false,
            ),
            (
                xdg_positioner::Request::SetAnchorRect {
                    x: 10,
                    y: 10,
                    width: 100,
                    height: 100,
                },
                true,
            ),
        ] {
            assert_eq!(check_positioner(&req).is_ok(), ok, "{req:?}");
        }
    }
}
