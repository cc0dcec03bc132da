//! Pointer constraints (`zwp_pointer_constraints_v1`) and relative motion
//! (`zwp_relative_pointer_manager_v1`): what games, 3D viewers and remote desktops need.
//!
//! - Every motion of a relative device (a mouse through libinput, injected relative motion) is
//!   also sent as relative motion (its delta, and the delta before libinput's acceleration) to the
//!   surface under the pointer, locked or not; absolute motion has no relative meaning.
//! - A constraint is activated when its surface has the pointer, its window has the keyboard
//!   focus, and the pointer is inside the constraint's region (the whole surface when it has none);
//!   it is deactivated when the pointer leaves the surface (smithay) or the window loses the focus.
//! - While a **lock** is active the pointer does not move; while a **confinement** is active the
//!   pointer is held at the edge of the area it is confined to.

use smithay::input::pointer::{PointerHandle, RelativeMotionEvent};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point};
use smithay::wayland::pointer_constraints::{
    with_pointer_constraint, PointerConstraint, PointerConstraintsHandler,
};

use crate::Weft;

impl PointerConstraintsHandler for Weft {
    fn new_constraint(&mut self, surface: &WlSurface, pointer: &PointerHandle<Self>) {
        // It may apply at once: the pointer may already be on the surface.
        if let Some((focus, origin)) = self.pointer_focus() {
            if &focus == surface {
                activate_if_inside(self, surface, pointer, pointer.current_location() - origin);
            }
        }
    }

    fn cursor_position_hint(
        &mut self,
        _surface: &WlSurface,
        _pointer: &PointerHandle<Self>,
        _location: Point<f64, Logical>,
    ) {
        // weft draws no cursor of its own yet: the hint has nothing to move.
    }
}

/// Whether `surface` is `focus` or in its surface tree (a subsurface of it).
fn in_tree_of(surface: &WlSurface, focus: Option<&WlSurface>) -> bool {
    let Some(focus) = focus else {
        return false;
    };
    let mut root = surface.clone();
    while let Some(parent) = smithay::wayland::compositor::get_parent(&root) {
        root = parent;
    }
    focus == &root || focus == surface
}

/// Activates `surface`'s constraint on `pointer` when `local` (surface-local) is in its region
/// and the surface's window has the keyboard focus (a constraint follows the user's attention: a
/// window in the background cannot capture the pointer that passes over it).
fn activate_if_inside(
    weft: &Weft,
    surface: &WlSurface,
    pointer: &PointerHandle<Weft>,
    local: Point<f64, Logical>,
) {
    if !weft.has_keyboard_focus(surface) {
        return;
    }
    with_pointer_constraint(surface, pointer, |constraint| {
        let Some(constraint) = constraint else {
            return;
        };
        if constraint.is_active() {
            return;
        }
        let inside = constraint
            .region()
            .is_none_or(|r| r.contains(local.to_i32_round()));
        if inside {
            constraint.activate();
        }
    });
}

/// The size of `surface`'s current content.
fn surface_size(surface: &WlSurface) -> Option<smithay::utils::Size<i32, Logical>> {
    use smithay::backend::renderer::utils::RendererSurfaceStateUserData;
    smithay::wayland::compositor::with_states(surface, |states| {
        states
            .data_map
            .get::<RendererSurfaceStateUserData>()
            .and_then(|rs| rs.lock().ok().and_then(|rs| rs.surface_size()))
    })
}

impl Weft {
    /// Where a pointer motion to `to` really goes, given the active constraint of the surface
    /// that has the pointer (`focus`, with its origin): `to`, or the current position when a lock
    /// or a confinement holds it.
    pub(crate) fn constrained(
        &self,
        pointer: &PointerHandle<Weft>,
        focus: Option<&(WlSurface, Point<f64, Logical>)>,
        to: Point<f64, Logical>,
    ) -> Point<f64, Logical> {
        let current = pointer.current_location();
        let Some((surface, origin)) = focus else {
            return to;
        };
        // Read before the constraint: both lock the surface's state, which is not reentrant.
        let size = surface_size(surface);
        let on_surface = |local: Point<f64, Logical>| {
            size.is_some_and(|size| {
                smithay::utils::Rectangle::from_size(size)
                    .to_f64()
                    .contains(local)
            })
        };
        with_pointer_constraint(surface, pointer, |constraint| match constraint {
            Some(c) if c.is_active() => match &*c {
                PointerConstraint::Locked(_) => current,
                PointerConstraint::Confined(confined) => {
                    let local = to - *origin;
                    let inside = confined
                        .region()
                        .is_none_or(|r| r.contains(local.to_i32_round()));
                    if inside && on_surface(local) {
                        return to;
                    }
                    // Outside: held at the edge of the area it is confined to (the region's
                    // rectangle the pointer is in, else the surface).
                    let here = (current - *origin).to_i32_round();
                    let area = confined
                        .region()
                        .and_then(|r| {
                            r.rects
                                .iter()
                                .filter(|(kind, _)| {
                                    matches!(kind, smithay::wayland::compositor::RectangleKind::Add)
                                })
                                .map(|(_, rect)| *rect)
                                .find(|rect| rect.contains(here))
                        })
                        .or_else(|| size.map(smithay::utils::Rectangle::from_size));
                    match area {
                        Some(area) if area.size.w > 0 && area.size.h > 0 => {
                            let x = local.x.clamp(
                                f64::from(area.loc.x),
                                f64::from(area.loc.x + area.size.w - 1),
                            );
                            let y = local.y.clamp(
                                f64::from(area.loc.y),
                                f64::from(area.loc.y + area.size.h - 1),
                            );
                            *origin + Point::from((x, y))
                        }
                        _ => current,
                    }
                }
            },
            _ => to,
        })
    }

    /// After a motion: the relative motion event (a relative device's delta and unaccelerated
    /// delta), and the constraint of the surface now
    /// under the pointer activated where it applies.
    pub(crate) fn after_motion(
        &mut self,
        pointer: &PointerHandle<Weft>,
        under: Option<(WlSurface, Point<f64, Logical>)>,
        relative: Option<(Point<f64, Logical>, Point<f64, Logical>)>,
        time_ms: u32,
    ) {
        if let Some((delta, delta_unaccel)) = relative {
            pointer.relative_motion(
                self,
                under.clone(),
                &RelativeMotionEvent {
                    delta,
                    delta_unaccel,
                    utime: u64::from(time_ms) * 1000,
                },
            );
        }
        if let Some((surface, origin)) = under {
            activate_if_inside(self, &surface, pointer, pointer.current_location() - origin);
        }
    }
}

impl Weft {
    /// Whether `surface` belongs to the surface tree that has the keyboard focus.
    fn has_keyboard_focus(&self, surface: &WlSurface) -> bool {
        let focus = self
            .input
            .seat
            .get_keyboard()
            .and_then(|k| k.current_focus())
            .map(crate::seat::focus::KeyboardFocus::into_surface);
        in_tree_of(surface, focus.as_ref())
    }

    /// The keyboard focus moved to `focused` (called from `SeatHandler::focus_changed`, where the
    /// keyboard must not be asked: its state is locked): the constraint of the surface with the
    /// pointer is deactivated if its window lost the focus, activated if it gained it.
    pub(crate) fn constraints_follow_focus(&mut self, focused: Option<&WlSurface>) {
        let Some(pointer) = self.input.seat.get_pointer() else {
            return;
        };
        let Some((surface, origin)) = self.pointer_focus() else {
            return;
        };
        if in_tree_of(&surface, focused) {
            let local = pointer.current_location() - origin;
            with_pointer_constraint(&surface, &pointer, |constraint| {
                if let Some(c) = constraint.filter(|c| !c.is_active()) {
                    if c.region().is_none_or(|r| r.contains(local.to_i32_round())) {
                        c.activate();
                    }
                }
            });
        } else {
            with_pointer_constraint(&surface, &pointer, |constraint| {
                if let Some(c) = constraint.filter(|c| c.is_active()) {
                    c.deactivate();
                }
            });
        }
    }
}

smithay::delegate_pointer_constraints!(Weft);
smithay::delegate_relative_pointer!(Weft);
