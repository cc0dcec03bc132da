//! weft bugs the WLCS conformance suite found (`scripts/wlcs`, docs/wlcs.md), each reproduced here
//! with weft's own test clients so it stays fixed without WLCS.

mod common;

use common::Harness;
use wayland_client::protocol::wl_shm;
use weft_clients::{argb, ShmBuffer};

/// A buffer attached and committed with no damage request must still be shown: smithay's commit
/// counter only advances with damage, and weft used it alone to tell commits apart, so a window
/// whose first buffer came undamaged (as all of WLCS's do) never mapped and never got a frame
/// callback.
#[test]
fn a_buffer_committed_without_damage_maps_the_window() {
    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    let top = c
        .toplevel("undamaged", "weft.wlcs-findings")
        .expect("toplevel");
    let buffer = ShmBuffer::new(&c.shm, &c.qh, 64, 48, wl_shm::Format::Xrgb8888, |_, _| {
        argb(30, 160, 220, 255)
    })
    .expect("shm buffer");
    c.frame(&top.surface, 7);
    top.surface.attach(Some(&buffer.buffer), 0, 0);
    top.surface.commit();
    // Frames tick at 60 Hz: two seconds are plenty, and a missing callback fails in bounded time.
    let called = (0..100).any(|_| {
        c.roundtrip().expect("roundtrip");
        std::thread::sleep(std::time::Duration::from_millis(20));
        c.state.frames_done.iter().any(|(tag, _)| *tag == 7)
    });
    assert!(called, "no frame callback for the undamaged commit");
    let record = h.surface("undamaged");
    assert_eq!(record["buffer"]["width"], 64);
    let (x, y) = (record["x"].as_u64().unwrap(), record["y"].as_u64().unwrap());
    h.screenshot("HEADLESS-1")
        .assert_pixel(x as u32 + 32, y as u32 + 24, [30, 160, 220, 255], 2);
}

/// The pointer rests on a popup; the client destroys the popup and its wl_surface in one batch.
/// The pointer must leave the popup's surface before entering the parent: weft re-evaluated the
/// pointer focus only after the whole batch, when the surface was gone and no wl_pointer.leave
/// could name it any more (WLCS: popup_gives_up_pointer_focus_when_gone).
#[test]
fn a_destroyed_popup_is_left_before_its_parent_is_entered() {
    use std::sync::{Arc, Mutex};
    use wayland_client::protocol::{wl_pointer, wl_seat};
    use wayland_client::{Connection, Dispatch, Proxy, QueueHandle};
    use wayland_protocols::xdg::shell::client::xdg_positioner;
    use weft::InjectedInput;
    use weft_clients::client::State;

    #[derive(Clone, Default)]
    struct Crossings(Arc<Mutex<Vec<(&'static str, u32)>>>);
    impl Dispatch<wl_seat::WlSeat, Crossings> for State {
        fn event(
            _: &mut Self,
            _: &wl_seat::WlSeat,
            _: wl_seat::Event,
            _: &Crossings,
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
        }
    }
    impl Dispatch<wl_pointer::WlPointer, Crossings> for State {
        fn event(
            _: &mut Self,
            _: &wl_pointer::WlPointer,
            event: wl_pointer::Event,
            seen: &Crossings,
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
            let mut seen = seen.0.lock().unwrap_or_else(|p| p.into_inner());
            match event {
                wl_pointer::Event::Enter { surface, .. } => {
                    seen.push(("enter", surface.id().protocol_id()))
                }
                wl_pointer::Event::Leave { surface, .. } => {
                    seen.push(("leave", surface.id().protocol_id()))
                }
                _ => {}
            }
        }
    }

    let h = Harness::new(320, 240, 60);
    let mut c = h.client();
    let crossings = Crossings::default();
    let seat: wl_seat::WlSeat = c
        .globals
        .bind(&c.qh, 5..=7, crossings.clone())
        .expect("wl_seat");
    seat.get_pointer(&c.qh, crossings.clone());
    let top = c
        .toplevel("popup parent", "weft.wlcs-findings")
        .expect("toplevel");
    let parent_buffer = ShmBuffer::new(&c.shm, &c.qh, 100, 80, wl_shm::Format::Xrgb8888, |_, _| {
        argb(90, 90, 90, 255)
    })
    .expect("shm buffer");
    c.show(&top.surface, &parent_buffer.buffer);
    h.settle(&mut c);

    let positioner = c.positioner();
    positioner.set_size(30, 30);
    positioner.set_anchor_rect(0, 0, 1, 1);
    positioner.set_anchor(xdg_positioner::Anchor::TopLeft);
    positioner.set_gravity(xdg_positioner::Gravity::BottomRight);
    let (popup_surface, popup_xdg, popup) = c.popup(&top.xdg_surface, &positioner);
    popup_surface.commit();
    c.roundtrip().expect("roundtrip");
    let serial = c
        .state
        .surface_configures
        .get_mut(&popup_xdg.id())
        .and_then(|v| v.pop())
        .expect("the popup's configure");
    popup_xdg.ack_configure(serial);
    let popup_buffer = ShmBuffer::new(&c.shm, &c.qh, 30, 30, wl_shm::Format::Xrgb8888, |_, _| {
        argb(220, 220, 40, 255)
    })
    .expect("shm buffer");
    c.show(&popup_surface, &popup_buffer.buffer);
    h.settle(&mut c);

    let record = h.surface("popup parent");
    let (x, y) = (
        record["x"].as_f64().expect("x"),
        record["y"].as_f64().expect("y"),
    );
    h.weft
        .inject(InjectedInput::PointerMotion {
            x: x + 2.0,
            y: y + 2.0,
        })
        .expect("inject");
    c.roundtrip().expect("roundtrip");
    let popup_id = popup_surface.id().protocol_id();
    let parent_id = top.surface.id().protocol_id();
    assert_eq!(
        std::mem::take(&mut *crossings.0.lock().unwrap()),
        [("enter", popup_id)]
    );

    popup.destroy();
    popup_xdg.destroy();
    popup_surface.destroy();
    c.roundtrip().expect("roundtrip");
    assert_eq!(
        std::mem::take(&mut *crossings.0.lock().unwrap()),
        [("leave", popup_id), ("enter", parent_id)]
    );
}
