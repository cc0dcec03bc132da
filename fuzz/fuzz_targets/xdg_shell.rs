//! xdg-shell request sequences through the xdg guard's decisions
//! (`weft_protocols::xdg_guard`), on a model of a client's xdg_surfaces that updates exactly as the
//! guard's Dispatch impl does.
//!
//! Invariants: nothing panics; a role object is made at most once per xdg_surface; an accepted
//! ack_configure names a serial that was sent and not yet acknowledged, and removes it with every
//! older one; an xdg_surface is never destroyed while its role object lives; accepted window
//! geometry and min/max sizes are in range; a popup is only accepted with a complete positioner;
//! accepted positioner values stay within `POSITIONER_LIMIT` (smithay's placement arithmetic).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smithay::reexports::wayland_protocols::xdg::shell::server::{xdg_positioner, xdg_toplevel};
use smithay::reexports::wayland_server::WEnum;
use weft_protocols::xdg_guard::{
    check_positioner, check_resize_edge, check_toplevel_size, check_xdg_surface, positioner_gives,
    XdgSurfaceFacts, XdgSurfaceOp, POSITIONER_LIMIT,
};

const SURFACES: usize = 4;

#[derive(Debug, Arbitrary)]
enum Op {
    GetToplevel(u8),
    GetPopup(u8),
    Configure(u8),
    Ack(u8, u32),
    AckRecent(u8, u8),
    Geometry(u8, i32, i32),
    DestroyRole(u8),
    DestroySurface(u8),
    PositionerSize(i32, i32),
    PositionerAnchor(i32, i32, i32, i32),
    PositionerOffset(i32, i32),
    PositionerParent(i32, i32),
    NewPositioner,
    MinSize(i32, i32),
    MaxSize(i32, i32),
    Resize(u32),
}

#[derive(Default, Clone, Copy)]
struct Surface {
    alive: bool,
    facts: XdgSurfaceFacts,
}

fuzz_target!(|ops: Vec<Op>| {
    let mut surfaces = [Surface {
        alive: true,
        ..Default::default()
    }; SURFACES];
    let mut serials: Vec<u32> = Vec::new();
    let mut next_serial: u32 = u32::MAX - 8; // wraps during a run
    let (mut has_size, mut has_anchor) = (false, false);
    for op in ops.into_iter().take(128) {
        let pick = |i: u8| usize::from(i) % SURFACES;
        let decide = |s: &Surface, op, serials: &mut Vec<u32>| {
            assert!(s.alive);
            check_xdg_surface(op, s.facts, serials)
        };
        match op {
            Op::GetToplevel(i) | Op::GetPopup(i) => {
                let s = &mut surfaces[pick(i)];
                if !s.alive {
                    continue;
                }
                let popup = matches!(op, Op::GetPopup(_));
                let op = if popup {
                    XdgSurfaceOp::GetPopup {
                        positioner_complete: has_size && has_anchor,
                    }
                } else {
                    XdgSurfaceOp::GetToplevel
                };
                let before = s.facts;
                if decide(s, op, &mut serials).is_ok() {
                    assert!(!before.constructed, "a second role object");
                    assert!(!popup || (has_size && has_anchor), "popup without positioner");
                    s.facts.constructed = true;
                    s.facts.role_alive = true;
                }
            }
            Op::Configure(i) => {
                if surfaces[pick(i)].facts.role_alive {
                    serials.push(next_serial);
                    next_serial = next_serial.wrapping_add(1);
                }
            }
            Op::Ack(i, serial) => ack(&surfaces[pick(i)], serial, &mut serials),
            Op::AckRecent(i, back) => {
                let serial = next_serial.wrapping_sub(u32::from(back % 4) + 1);
                ack(&surfaces[pick(i)], serial, &mut serials);
            }
            Op::Geometry(i, width, height) => {
                let s = &surfaces[pick(i)];
                if s.alive {
                    let op = XdgSurfaceOp::SetWindowGeometry { width, height };
                    if decide(s, op, &mut serials).is_ok() {
                        assert!(width > 0 && height > 0);
                    }
                }
            }
            Op::DestroyRole(i) => surfaces[pick(i)].facts.role_alive = false,
            Op::DestroySurface(i) => {
                let s = &mut surfaces[pick(i)];
                if s.alive && decide(s, XdgSurfaceOp::Destroy, &mut serials).is_ok() {
                    assert!(!s.facts.role_alive, "destroyed under its role object");
                    // The client may make a new xdg_surface in its place.
                    *s = Surface {
                        alive: true,
                        ..Default::default()
                    };
                }
            }
            Op::PositionerSize(width, height) => {
                let req = xdg_positioner::Request::SetSize { width, height };
                if !positioner_accepts(&req, &[width, height]) {
                    continue;
                }
                let (size, _) = positioner_gives(&req);
                assert_eq!(size, width > 0 && height > 0);
                has_size |= size;
            }
            Op::PositionerOffset(x, y) => {
                positioner_accepts(&xdg_positioner::Request::SetOffset { x, y }, &[x, y]);
            }
            Op::PositionerParent(w, h) => {
                let req = xdg_positioner::Request::SetParentSize {
                    parent_width: w,
                    parent_height: h,
                };
                if positioner_accepts(&req, &[w, h]) {
                    assert!(w >= 0 && h >= 0);
                }
            }
            Op::PositionerAnchor(x, y, width, height) => {
                let req = xdg_positioner::Request::SetAnchorRect {
                    x,
                    y,
                    width,
                    height,
                };
                if !positioner_accepts(&req, &[x, y, width, height]) {
                    continue;
                }
                let (_, anchor) = positioner_gives(&req);
                assert_eq!(anchor, width > 0 && height > 0);
                has_anchor |= anchor;
            }
            Op::NewPositioner => (has_size, has_anchor) = (false, false),
            Op::MinSize(w, h) | Op::MaxSize(w, h) => {
                if check_toplevel_size("size", w, h).is_ok() {
                    assert!(w >= 0 && h >= 0);
                }
            }
            Op::Resize(edge) => {
                let edges: WEnum<xdg_toplevel::ResizeEdge> = WEnum::from(edge);
                assert_eq!(check_resize_edge(edges).is_ok(), matches!(edges, WEnum::Value(_)));
            }
        }
    }
});

/// The guard's positioner check; what it accepts is within the limit that keeps smithay's popup
/// placement inside 32 bits.
fn positioner_accepts(req: &xdg_positioner::Request, values: &[i32]) -> bool {
    let ok = check_positioner(req).is_ok();
    if ok {
        assert!(values.iter().all(|v| v.unsigned_abs() <= POSITIONER_LIMIT as u32));
    }
    ok
}

fn ack(s: &Surface, serial: u32, serials: &mut Vec<u32>) {
    if !s.alive {
        return;
    }
    let before = serials.clone();
    let ok = check_xdg_surface(XdgSurfaceOp::AckConfigure { serial }, s.facts, serials).is_ok();
    if !s.facts.constructed {
        // smithay's not_constructed; the guard leaves the serials alone.
        assert!(ok);
        assert_eq!(&before, serials);
        return;
    }
    assert_eq!(ok, before.contains(&serial));
    assert!(!serials.contains(&serial));
    if !ok {
        assert_eq!(&before, serials);
    }
    assert!(serials.iter().all(|s| before.contains(s)));
}
