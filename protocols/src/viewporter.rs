//! wp_viewporter, implemented here rather than taken from smithay.
//!
//! smithay 0.7 raises `viewport_exists` on the wl_surface instead of the wp_viewporter, and its
//! bookkeeping is private, so no guard can put that right. This implementation writes the same
//! double-buffered state smithay's renderer helpers read ([`ViewportCachedState`]), so surface sizes,
//! crops and damage keep working, and raises every error on the object the spec names:
//!
//! - `wp_viewporter.viewport_exists`: a second wp_viewport for a surface that has a live one;
//! - `wp_viewport.bad_value`: a source with negative x/y or non-positive size, a destination with
//!   non-positive size (all -1 unsets instead);
//! - `wp_viewport.bad_size` (at commit): a non-integer source size with no destination;
//! - `wp_viewport.out_of_buffer` (at commit): a source rectangle outside the buffer;
//! - `wp_viewport.no_surface`: set_source/set_destination after the wl_surface was destroyed.

use std::sync::Mutex;

use smithay::backend::renderer::buffer_dimensions;
use smithay::backend::renderer::utils::RendererSurfaceStateUserData;
use smithay::reexports::wayland_protocols::wp::viewporter::server::{wp_viewport, wp_viewporter};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    backend::ClientId, Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
    Weak,
};
use smithay::utils::{Logical, Rectangle, Size};
use smithay::wayland::compositor::{
    add_pre_commit_hook, with_states, BufferAssignment, SurfaceAttributes, SurfaceData,
};
use smithay::wayland::viewporter::ViewportCachedState;

use crate::Violation;

/// Dispatches the wp_viewporter global and its wp_viewport objects.
pub struct Viewporter;

/// The wp_viewport's user data: the surface it belongs to.
pub struct ViewportData {
    surface: Weak<WlSurface>,
}

/// In the surface's data map: its live viewport, and whether the commit check is installed.
#[derive(Default)]
struct ViewportSlot {
    viewport: Option<Weak<wp_viewport::WpViewport>>,
    hooked: bool,
}

type SlotData = Mutex<ViewportSlot>;

fn with_slot<T>(states: &SurfaceData, f: impl FnOnce(&mut ViewportSlot) -> T) -> T {
    let slot = states.data_map.get_or_insert_threadsafe(SlotData::default);
    let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut slot)
}

impl<D> GlobalDispatch<wp_viewporter::WpViewporter, (), D> for Viewporter
where
    D: GlobalDispatch<wp_viewporter::WpViewporter, ()>
        + Dispatch<wp_viewporter::WpViewporter, ()>
        + Dispatch<wp_viewport::WpViewport, ViewportData>
        + 'static,
{
    fn bind(
        _state: &mut D,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<wp_viewporter::WpViewporter>,
        _data: &(),
        data_init: &mut DataInit<'_, D>,
    ) {
        data_init.init(resource, ());
    }
}

impl<D> Dispatch<wp_viewporter::WpViewporter, (), D> for Viewporter
where
    D: Dispatch<wp_viewporter::WpViewporter, ()>
        + Dispatch<wp_viewport::WpViewport, ViewportData>
        + 'static,
{
    fn request(
        _state: &mut D,
        _client: &Client,
        viewporter: &wp_viewporter::WpViewporter,
        request: wp_viewporter::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let wp_viewporter::Request::GetViewport { id, surface } = request else {
            return;
        };
        let viewport = data_init.init(
            id,
            ViewportData {
                surface: surface.downgrade(),
            },
        );
        let (exists, hooked) = with_states(&surface, |states| {
            with_slot(states, |slot| {
                let exists = slot.viewport.as_ref().is_some_and(|v| v.upgrade().is_ok());
                if !exists {
                    slot.viewport = Some(viewport.downgrade());
                }
                let hooked = std::mem::replace(&mut slot.hooked, true);
                (exists, hooked)
            })
        });
        if exists {
            viewporter.post_error(
                wp_viewporter::Error::ViewportExists,
                "this wl_surface already has a wp_viewport",
            );
            return;
        }
        if !hooked {
            add_pre_commit_hook::<D, _>(&surface, |_, _, surface| check_at_commit(surface));
        }
    }
}

impl<D> Dispatch<wp_viewport::WpViewport, ViewportData, D> for Viewporter
where
    D: Dispatch<wp_viewport::WpViewport, ViewportData> + 'static,
{
    fn request(
        _state: &mut D,
        _client: &Client,
        viewport: &wp_viewport::WpViewport,
        request: wp_viewport::Request,
        data: &ViewportData,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
        let Ok(surface) = data.surface.upgrade() else {
            if !matches!(request, wp_viewport::Request::Destroy) {
                viewport.post_error(
                    wp_viewport::Error::NoSurface,
                    "the wl_surface of this viewport is gone",
                );
            }
            return;
        };
        match request {
            wp_viewport::Request::SetSource {
                x,
                y,
                width,
                height,
            } => {
                let src = match check_source(x, y, width, height) {
                    Ok(src) => src,
                    Err(v) => return viewport.post_error(v.error, v.message),
                };
                with_states(&surface, |states| {
                    states
                        .cached_state
                        .get::<ViewportCachedState>()
                        .pending()
                        .src = src;
                });
            }
            wp_viewport::Request::SetDestination { width, height } => {
                let dst = match check_destination(width, height) {
                    Ok(dst) => dst,
                    Err(v) => return viewport.post_error(v.error, v.message),
                };
                with_states(&surface, |states| {
                    states
                        .cached_state
                        .get::<ViewportCachedState>()
                        .pending()
                        .dst = dst;
                });
            }
            wp_viewport::Request::Destroy => {}
            _ => {}
        }
    }

    fn destroyed(
        _state: &mut D,
        _client: ClientId,
        viewport: &wp_viewport::WpViewport,
        data: &ViewportData,
    ) {
        // The spec: destroying the viewport removes its state with the next commit.
        if let Ok(surface) = data.surface.upgrade() {
            with_states(&surface, |states| {
                let mine = with_slot(states, |slot| {
                    let mine = slot
                        .viewport
                        .as_ref()
                        .is_some_and(|v| v.id() == viewport.id());
                    if mine {
                        slot.viewport = None;
                    }
                    mine
                });
                if mine {
                    let mut guard = states.cached_state.get::<ViewportCachedState>();
                    let pending = guard.pending();
                    pending.src = None;
                    pending.dst = None;
                }
            });
        }
    }
}

/// Commit-time checks (bad_size, out_of_buffer) on the state about to become current.
fn check_at_commit(surface: &WlSurface) {
    with_states(surface, |states| {
        let Some(viewport) = with_slot(states, |slot| {
            slot.viewport.as_ref().and_then(|v| v.upgrade().ok())
        }) else {
            return;
        };
        let state = *states.cached_state.get::<ViewportCachedState>().pending();
        if state.src.is_none() {
            return;
        }
        if let Err(v) = check_commit(state.src, state.dst, buffer_size(states)) {
            viewport.post_error(v.error, v.message);
        }
    });
}

/// `set_source`: all -1 unsets (`None`); otherwise x, y must not be negative and the size must be
/// positive (`bad_value`).
pub fn check_source(
    x: f64,
    y: f64,
    width: f64,
    height: f64,
) -> Result<Option<Rectangle<f64, Logical>>, Violation<wp_viewport::Error>> {
    let unset = [x, y, width, height].iter().all(|v| *v == -1.0);
    if unset {
        return Ok(None);
    }
    if x < 0.0 || y < 0.0 || width <= 0.0 || height <= 0.0 {
        return Err(Violation::new(
            wp_viewport::Error::BadValue,
            format!("set_source({x}, {y}, {width}, {height}): negative position or empty size"),
        ));
    }
    Ok(Some(Rectangle::new((x, y).into(), (width, height).into())))
}

/// `set_destination`: -1, -1 unsets (`None`); otherwise the size must be positive (`bad_value`).
pub fn check_destination(
    width: i32,
    height: i32,
) -> Result<Option<Size<i32, Logical>>, Violation<wp_viewport::Error>> {
    if width == -1 && height == -1 {
        return Ok(None);
    }
    if width <= 0 || height <= 0 {
        return Err(Violation::new(
            wp_viewport::Error::BadValue,
            format!("set_destination({width}, {height}): size must be positive"),
        ));
    }
    Ok(Some(Size::from((width, height))))
}

/// The commit-time rules for the state about to become current: a non-integer source size needs
/// a destination (`bad_size`); the source must lie inside the buffer (`out_of_buffer`), when
/// there is one (`buffer`: its surface-local size).
pub fn check_commit(
    src: Option<Rectangle<f64, Logical>>,
    dst: Option<Size<i32, Logical>>,
    buffer: Option<Size<i32, Logical>>,
) -> Result<(), Violation<wp_viewport::Error>> {
    let Some(src) = src else { return Ok(()) };
    if dst.is_none() && (src.size.w.fract() != 0.0 || src.size.h.fract() != 0.0) {
        return Err(Violation::new(
            wp_viewport::Error::BadSize,
            format!(
                "source size {}x{} is not integer and no destination is set",
                src.size.w, src.size.h
            ),
        ));
    }
    if let Some(buffer) = buffer {
        let bounds = Rectangle::<f64, Logical>::from_size(buffer.to_f64());
        if !bounds.contains_rect(src) {
            return Err(Violation::new(
                wp_viewport::Error::OutOfBuffer,
                format!(
                    "source {}x{}+{}+{} lies outside the {}x{} buffer",
                    src.size.w, src.size.h, src.loc.x, src.loc.y, buffer.w, buffer.h
                ),
            ));
        }
    }
    Ok(())
}

/// The surface-local size of the buffer that will be current after this commit, if any.
fn buffer_size(states: &SurfaceData) -> Option<Size<i32, Logical>> {
    let mut guard = states.cached_state.get::<SurfaceAttributes>();
    let pending = guard.pending();
    let scale = pending.buffer_scale.max(1);
    let transform = pending.buffer_transform.into();
    match &pending.buffer {
        Some(BufferAssignment::NewBuffer(buffer)) => {
            buffer_dimensions(buffer).map(|d| d.to_logical(scale, transform))
        }
        Some(BufferAssignment::Removed) => None,
        None => {
            drop(guard);
            states
                .data_map
                .get::<RendererSurfaceStateUserData>()
                .and_then(|rs| rs.lock().ok().and_then(|rs| rs.buffer_size()))
        }
    }
}

/// Delegates wp_viewporter and wp_viewport to [`Viewporter`].
#[macro_export]
macro_rules! delegate_viewporter {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::viewporter::server::wp_viewporter::WpViewporter: ()
        ] => $crate::viewporter::Viewporter);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::viewporter::server::wp_viewporter::WpViewporter: ()
        ] => $crate::viewporter::Viewporter);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::viewporter::server::wp_viewport::WpViewport: $crate::viewporter::ViewportData
        ] => $crate::viewporter::Viewporter);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewport_values_table() {
        let bad = Some(wp_viewport::Error::BadValue);
        for (src, want) in [
            ((-1.0, -1.0, -1.0, -1.0), None),
            ((0.0, 0.0, 1.0, 1.0), None),
            ((-1.0, 0.0, 1.0, 1.0), bad),
            ((0.0, 0.0, 0.0, 1.0), bad),
            ((0.0, 0.0, 1.0, -1.0), bad),
        ] {
            let got = check_source(src.0, src.1, src.2, src.3)
                .err()
                .map(|v| v.error);
            assert_eq!(got, want, "{src:?}");
        }
        assert_eq!(check_source(-1.0, -1.0, -1.0, -1.0), Ok(None));
        assert_eq!(check_destination(-1, -1), Ok(None));
        assert_eq!(check_destination(3, 4), Ok(Some(Size::from((3, 4)))));
        for dst in [(0, 1), (1, 0), (-1, 5), (i32::MIN, i32::MIN)] {
            assert_eq!(
                check_destination(dst.0, dst.1).unwrap_err().error,
                wp_viewport::Error::BadValue
            );
        }
    }

    #[test]
    fn commit_rules_table() {
        let rect = |x, y, w, h| Some(Rectangle::new((x, y).into(), (w, h).into()));
        let buf = Some(Size::from((32, 32)));
        let cases = [
            (None, None, buf, None),
            (rect(0.0, 0.0, 32.0, 32.0), None, buf, None),
            (
                rect(0.0, 0.0, 10.5, 10.0),
                None,
                buf,
                Some(wp_viewport::Error::BadSize),
            ),
            (
                rect(0.0, 0.0, 10.5, 10.0),
                Some(Size::from((5, 5))),
                buf,
                None,
            ),
            (
                rect(16.0, 16.0, 32.0, 32.0),
                Some(Size::from((5, 5))),
                buf,
                Some(wp_viewport::Error::OutOfBuffer),
            ),
            (rect(16.0, 16.0, 32.0, 32.0), None, None, None),
        ];
        for (src, dst, buffer, want) in cases {
            let got = check_commit(src, dst, buffer).err().map(|v| v.error);
            assert_eq!(got, want, "{src:?} {dst:?} {buffer:?}");
        }
    }
}
