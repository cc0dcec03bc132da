//! Data transfer between real clients over weft's socket: the clipboard (wl_data_device), the
//! primary selection, data control (wlr and ext) for clipboard managers and tools, drag-and-drop
//! with an icon drawn at the pointer (read back from the screen), the focus rule (only the focused
//! client sets or is offered the selection), a source that dies while it is the selection, and
//! every protocol error these protocols define, each with a bystander still served.

mod common;

use common::{assert_ended_with, solid_shm, Harness};
use wayland_client::protocol::{
    wl_data_device, wl_data_device_manager, wl_data_device_manager::DndAction, wl_data_source,
    wl_seat,
};
use wayland_client::Proxy;
use wayland_protocols::ext::data_control::v1::client::{
    ext_data_control_device_v1, ext_data_control_manager_v1, ext_data_control_source_v1,
};
use wayland_protocols::wp::primary_selection::zv1::client::{
    zwp_primary_selection_device_manager_v1, zwp_primary_selection_device_v1,
};
use wayland_protocols_wlr::data_control::v1::client::{
    zwlr_data_control_device_v1, zwlr_data_control_manager_v1, zwlr_data_control_source_v1,
};
use weft::InjectedInput;
use weft_clients::client::Toplevel;
use weft_clients::data_transfer::{read_all, Ev, Log, Offer, Transfer, Which};
use weft_clients::{Client, ShmBuffer};
use weft_compositor::seat::input::buttons;

const TEXT: &str = "text/plain;charset=utf-8";
const W: i32 = 160;
const H: i32 = 120;

/// A client with a mapped W×H toplevel, a seat, a wl_data_device and a primary-selection device.
struct Peer {
    c: Client,
    manager: wl_data_device_manager::WlDataDeviceManager,
    device: wl_data_device::WlDataDevice,
    primary_manager: zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1,
    primary: zwp_primary_selection_device_v1::ZwpPrimarySelectionDeviceV1,
    toplevel: Toplevel,
    _buffer: ShmBuffer,
    /// The window's place on the output.
    x: i32,
    y: i32,
}

impl Peer {
    /// Maps the window (which takes the keyboard focus, and with it the selection).
    fn new(h: &Harness, title: &str, rgb: [u8; 3]) -> Self {
        let mut c = h.client();
        let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=7, ()).expect("wl_seat");
        seat.get_pointer(&c.qh, Transfer);
        let manager: wl_data_device_manager::WlDataDeviceManager = c
            .globals
            .bind(&c.qh, 3..=3, ())
            .expect("wl_data_device_manager v3");
        let device = manager.get_data_device(&seat, &c.qh, Transfer);
        let primary_manager: zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1 =
            c.globals.bind(&c.qh, 1..=1, ()).expect("primary selection");
        let primary = primary_manager.get_device(&seat, &c.qh, Transfer);
        let toplevel = c.toplevel(title, "weft.data-transfer").expect("toplevel");
        let buffer = solid_shm(&c, W, H, rgb);
        c.show(&toplevel.surface, &buffer.buffer);
        h.settle(&mut c);
        let record = h.surface(title);
        Self {
            x: record["x"].as_i64().expect("x") as i32,
            y: record["y"].as_i64().expect("y") as i32,
            c,
            manager,
            device,
            primary_manager,
            primary,
            toplevel,
            _buffer: buffer,
        }
    }

    fn log(&self) -> Log {
        self.c.state.transfer.clone()
    }

    fn roundtrip(&mut self) {
        self.c.roundtrip().expect("roundtrip");
    }

    /// A wl_data_source offering `mimes`.
    fn source(&self, mimes: &[&str]) -> wl_data_source::WlDataSource {
        let source = self.manager.create_data_source(&self.c.qh, Transfer);
        for mime in mimes {
            source.offer((*mime).into());
        }
        source
    }

    /// Copies: a new source offering TEXT becomes the clipboard (if weft lets this client).
    fn copy(&mut self) -> wl_data_source::WlDataSource {
        let source = self.source(&[TEXT]);
        self.device.set_selection(Some(&source), 0);
        self.roundtrip();
        source
    }

    /// A point of this window that `other` does not cover.
    fn uncovered_point(&self, other: &Peer) -> (f64, f64) {
        for dy in (4..H).step_by(8) {
            for dx in (4..W).step_by(8) {
                let (px, py) = (self.x + dx, self.y + dy);
                let inside = px >= other.x && px < other.x + W && py >= other.y && py < other.y + H;
                if !inside {
                    return (f64::from(px), f64::from(py));
                }
            }
        }
        panic!("the windows cover each other");
    }
}

/// A clipboard manager's connection: data control over wlr's and ext's protocol.
struct Manager {
    c: Client,
    wlr: zwlr_data_control_manager_v1::ZwlrDataControlManagerV1,
    wlr_device: zwlr_data_control_device_v1::ZwlrDataControlDeviceV1,
    ext: ext_data_control_manager_v1::ExtDataControlManagerV1,
    ext_device: ext_data_control_device_v1::ExtDataControlDeviceV1,
}

impl Manager {
    fn new(h: &Harness) -> Self {
        let mut c = h.client();
        let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=7, ()).expect("wl_seat");
        let wlr: zwlr_data_control_manager_v1::ZwlrDataControlManagerV1 = c
            .globals
            .bind(&c.qh, 2..=2, ())
            .expect("zwlr_data_control_manager_v1 v2");
        let wlr_device = wlr.get_data_device(&seat, &c.qh, Transfer);
        let ext: ext_data_control_manager_v1::ExtDataControlManagerV1 = c
            .globals
            .bind(&c.qh, 1..=1, ())
            .expect("ext_data_control_manager_v1");
        // Its own log would mix with wlr's: ext gets a second connection's worth of events only
        // through its own device, told apart by the offer's kind.
        let ext_device = ext.get_data_device(&seat, &c.qh, Transfer);
        c.roundtrip().expect("roundtrip");
        Self {
            c,
            wlr,
            wlr_device,
            ext,
            ext_device,
        }
    }

    fn log(&self) -> Log {
        self.c.state.transfer.clone()
    }

    /// The latest announcement of `which` made to the wlr device, or to the ext device.
    fn seen(&mut self, which: Which, ext: bool) -> Option<Option<Offer>> {
        self.c.roundtrip().expect("roundtrip");
        self.log()
            .snapshot()
            .into_iter()
            .rev()
            .find_map(|e| match e {
                Ev::Selection { which: w, offer } if w == which => match (&offer, ext) {
                    (None, _) => Some(offer),
                    (Some(Offer::Ext(_)), true) | (Some(Offer::Wlr(_)), false) => Some(offer),
                    _ => None,
                },
                _ => None,
            })
    }
}

/// Reads `offer` as `mime` from `reader`, answered by `source_client` with `data`.
fn transfer(
    reader: &mut Client,
    offer: &Offer,
    mime: &str,
    source_client: &mut Client,
    data: &[u8],
) -> Vec<u8> {
    let pipe = offer.receive(mime);
    reader.conn.flush().expect("flush");
    source_client.roundtrip().expect("roundtrip");
    assert_eq!(
        source_client.state.transfer.answer_send(data).as_deref(),
        Some(mime),
        "the source was asked for {mime}"
    );
    read_all(pipe)
}

#[test]
fn the_focused_client_copies_and_the_next_focused_client_pastes() {
    let h = Harness::new(640, 480, 60);
    let mut a = Peer::new(&h, "copy-from", [200, 40, 40]);
    let source = a.copy();
    // Its own selection comes back to it as an offer (it has the focus).
    assert!(matches!(a.log().selection(Which::Clipboard), Some(Some(_))));

    // b maps and takes the focus: the clipboard is offered to it.
    let mut b = Peer::new(&h, "paste-into", [40, 40, 200]);
    b.roundtrip();
    let offer = b
        .log()
        .selection(Which::Clipboard)
        .expect("a selection announced")
        .expect("a's clipboard");
    assert_eq!(b.log().mimes(&offer), [TEXT]);
    let data = transfer(&mut b.c, &offer, TEXT, &mut a.c, "copied in a".as_bytes());
    assert_eq!(data, b"copied in a");

    // a lost the focus: a new copy from it is refused, b still has a's first clipboard.
    let refused = a.copy();
    b.roundtrip();
    let latest = b.log().selection(Which::Clipboard).flatten();
    assert_eq!(
        latest,
        Some(offer),
        "the unfocused client set the selection"
    );
    assert!(
        !a.log().take().contains(&Ev::Cancelled),
        "the first source stays"
    );
    drop((source, refused));
}

#[test]
fn the_primary_selection_follows_the_focus_too() {
    let h = Harness::new(640, 480, 60);
    let mut a = Peer::new(&h, "primary-from", [200, 40, 40]);
    let source = a.primary_manager.create_source(&a.c.qh, Transfer);
    source.offer(TEXT.into());
    a.primary.set_selection(Some(&source), 0);
    a.roundtrip();

    let mut b = Peer::new(&h, "primary-into", [40, 40, 200]);
    b.roundtrip();
    let offer = b
        .log()
        .selection(Which::Primary)
        .flatten()
        .expect("a's primary selection offered to the focused client");
    assert!(
        b.log()
            .selection(Which::Clipboard)
            .is_some_and(|o| o.is_none()),
        "the clipboard is a separate selection"
    );
    let data = transfer(&mut b.c, &offer, TEXT, &mut a.c, b"selected in a");
    assert_eq!(data, b"selected in a");

    // Unfocused now, a cannot change it.
    let other = a.primary_manager.create_source(&a.c.qh, Transfer);
    other.offer("text/plain".into());
    a.primary.set_selection(Some(&other), 0);
    a.roundtrip();
    b.roundtrip();
    assert_eq!(b.log().selection(Which::Primary).flatten(), Some(offer));
}

#[test]
fn a_clipboard_manager_sees_and_sets_the_selection_without_focus() {
    let h = Harness::new(640, 480, 60);
    let mut m = Manager::new(&h);
    assert_eq!(
        m.seen(Which::ControlClipboard, false),
        Some(None),
        "empty at first"
    );
    let mut a = Peer::new(&h, "managed", [200, 40, 40]);
    let _source = a.copy();

    // wlr and ext devices both see a's clipboard and read it.
    for ext in [false, true] {
        let offer = m
            .seen(Which::ControlClipboard, ext)
            .flatten()
            .unwrap_or_else(|| panic!("the data-control device (ext: {ext}) sees the clipboard"));
        let data = transfer(&mut m.c, &offer, TEXT, &mut a.c, b"managed text");
        assert_eq!(data, b"managed text");
    }

    // The manager sets the clipboard (wlr, then ext): the focused client is offered it.
    let wlr_source = m.wlr.create_data_source(&m.c.qh, Transfer);
    wlr_source.offer("text/plain".into());
    m.wlr_device.set_selection(Some(&wlr_source));
    m.c.roundtrip().expect("roundtrip");
    a.roundtrip();
    let offer = a
        .log()
        .selection(Which::Clipboard)
        .flatten()
        .expect("offered");
    assert_eq!(a.log().mimes(&offer), ["text/plain"]);
    let data = transfer(&mut a.c, &offer, "text/plain", &mut m.c, b"from wlr");
    assert_eq!(data, b"from wlr");

    let ext_source = m.ext.create_data_source(&m.c.qh, Transfer);
    ext_source.offer("text/html".into());
    m.ext_device.set_primary_selection(Some(&ext_source));
    m.c.roundtrip().expect("roundtrip");
    a.roundtrip();
    let offer = a
        .log()
        .selection(Which::Primary)
        .flatten()
        .expect("offered");
    assert_eq!(a.log().mimes(&offer), ["text/html"]);
    let data = transfer(&mut a.c, &offer, "text/html", &mut m.c, b"<b>from ext</b>");
    assert_eq!(data, b"<b>from ext</b>");
}

#[test]
fn a_client_that_dies_while_offering_leaves_the_selection_empty() {
    let h = Harness::new(640, 480, 60);
    let mut m = Manager::new(&h);
    let mut b = Peer::new(&h, "survivor", [40, 40, 200]);
    let mut a = Peer::new(&h, "dies", [200, 40, 40]);
    let _clip = a.copy();
    let primary = a.primary_manager.create_source(&a.c.qh, Transfer);
    primary.offer(TEXT.into());
    a.primary.set_selection(Some(&primary), 0);
    a.roundtrip();
    for ext in [false, true] {
        assert!(matches!(
            m.seen(Which::ControlClipboard, ext),
            Some(Some(_))
        ));
        assert!(matches!(m.seen(Which::ControlPrimary, ext), Some(Some(_))));
    }

    drop(a);
    // The manager hears at once that both selections are empty: no one asks a dead client.
    let mut cleared = false;
    for _ in 0..50 {
        if m.seen(Which::ControlClipboard, false) == Some(None)
            && m.seen(Which::ControlPrimary, false) == Some(None)
        {
            cleared = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        cleared,
        "the selections of a dead client were kept: {:?}",
        m.log()
    );

    // The survivor, focused again by a click, is offered an empty clipboard.
    h.weft
        .inject(InjectedInput::PointerMotion {
            x: f64::from(b.x + 5),
            y: f64::from(b.y + 5),
        })
        .expect("inject");
    click(&h);
    b.roundtrip();
    assert_eq!(b.log().selection(Which::Clipboard), Some(None));
    assert_eq!(b.log().selection(Which::Primary), Some(None));
}

fn button(h: &Harness, pressed: bool) {
    h.weft
        .inject(InjectedInput::PointerButton {
            button: buttons::LEFT,
            pressed,
        })
        .expect("inject");
}

fn click(h: &Harness) {
    button(h, true);
    button(h, false);
}

fn move_to(h: &Harness, (x, y): (f64, f64)) {
    h.weft
        .inject(InjectedInput::PointerMotion { x, y })
        .expect("inject");
}

/// a presses the button on its window and starts a drag of TEXT (copy or move) with a 12×12 red
/// icon; returns the source and the icon's buffer.
fn start_drag(
    h: &Harness,
    a: &mut Peer,
    at: (f64, f64),
) -> (wl_data_source::WlDataSource, ShmBuffer) {
    move_to(h, at);
    button(h, true);
    a.roundtrip();
    let serial = a.log().press_serial().expect("a saw the press");
    let source = a.source(&[TEXT]);
    source.set_actions(DndAction::Copy | DndAction::Move);
    let icon = a.c.compositor.create_surface(&a.c.qh, ());
    let pixels = solid_shm(&a.c, 12, 12, [255, 0, 0]);
    a.c.show(&icon, &pixels.buffer);
    a.device
        .start_drag(Some(&source), &a.toplevel.surface, Some(&icon), serial);
    a.roundtrip();
    (source, pixels)
}

#[test]
fn drag_and_drop_between_clients_with_an_icon_at_the_pointer() {
    let h = Harness::new(640, 480, 60);
    let mut a = Peer::new(&h, "drag-from", [200, 40, 40]);
    let mut b = Peer::new(&h, "drop-onto", [40, 40, 200]);
    let from = a.uncovered_point(&b);
    let onto = (f64::from(b.x + W - 20), f64::from(b.y + H - 20));
    let (_source, _icon) = start_drag(&h, &mut a, from);

    move_to(&h, onto);
    b.roundtrip();
    let events = b.log().take();
    let offer = events
        .iter()
        .find_map(|e| match e {
            Ev::Enter { offer, x, y } => {
                assert_eq!(
                    (*x, *y),
                    (f64::from(W - 20), f64::from(H - 20)),
                    "surface-local"
                );
                offer.clone()
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no enter with an offer on b: {events:?}"));
    assert!(events.contains(&Ev::OfferSourceActions(
        (DndAction::Copy | DndAction::Move).bits()
    )));
    offer.accept(0, Some(TEXT.into()));
    offer.set_actions(DndAction::Copy | DndAction::Move, DndAction::Move);
    b.roundtrip();
    a.roundtrip();
    // The source hears the action chosen (smithay sends no wl_data_source.target: see
    // weft_protocols::selection_guard).
    let seen = a.log().take();
    assert!(
        seen.contains(&Ev::SourceAction(DndAction::Move.bits())),
        "{seen:?}"
    );

    // The icon is drawn with its top-left corner at the pointer, over b's window.
    h.settle(&mut b.c);
    let shot = h.screenshot("HEADLESS-1");
    shot.assert_pixel(onto.0 as u32 + 5, onto.1 as u32 + 5, [255, 0, 0, 255], 2);
    shot.assert_pixel(onto.0 as u32 - 3, onto.1 as u32 - 3, [40, 40, 200, 255], 2);

    // Drop: b reads the data and finishes; a hears each step.
    button(&h, false);
    b.roundtrip();
    assert!(b.log().take().contains(&Ev::Drop));
    let data = transfer(
        &mut b.c,
        &Offer::Data(offer.clone()),
        TEXT,
        &mut a.c,
        b"dragged",
    );
    assert_eq!(data, b"dragged");
    offer.finish();
    b.roundtrip();
    a.roundtrip();
    let seen = a.log().take();
    assert!(seen.contains(&Ev::DropPerformed), "{seen:?}");
    assert!(seen.contains(&Ev::DndFinished), "{seen:?}");

    // The icon is gone with the drag.
    h.settle(&mut b.c);
    let shot = h.screenshot("HEADLESS-1");
    shot.assert_pixel(onto.0 as u32 + 5, onto.1 as u32 + 5, [40, 40, 200, 255], 2);
}

#[test]
fn a_drag_without_a_press_is_refused_and_a_drop_on_nothing_cancels() {
    let h = Harness::new(640, 480, 60);
    let mut a = Peer::new(&h, "no-grab", [200, 40, 40]);
    // No button held: start_drag with a made-up serial is ignored; no icon is drawn.
    let source = a.source(&[TEXT]);
    a.device
        .start_drag(Some(&source), &a.toplevel.surface, None, 12345);
    a.roundtrip();
    assert!(a
        .log()
        .take()
        .iter()
        .all(|e| !matches!(e, Ev::Enter { .. })));

    // A drag dropped over the background is cancelled.
    let at = (f64::from(a.x + 10), f64::from(a.y + 10));
    let (_source, _icon) = start_drag(&h, &mut a, at);
    move_to(&h, (630.0, 470.0));
    button(&h, false);
    a.roundtrip();
    assert!(a.log().take().contains(&Ev::Cancelled));
}

// Protocol errors: each ends only its client; a bystander keeps being served. Of wl_data_offer's
// errors, smithay raises invalid_finish and invalid_action on drag-and-drop offers; it does not
// raise invalid_action_mask or invalid_offer, and its offers are private objects no guard can
// stand in front of (see weft_protocols::selection_guard: weft's own drag grab is needed).

#[test]
fn set_actions_outside_the_enum_is_invalid_action_mask() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        let mut a = Peer::new(&h, "bad-mask", [200, 40, 40]);
        let source = a.source(&[TEXT]);
        // wayland-client checks nothing: the raw bits go out.
        source.set_actions(DndAction::from_bits_retain(0x10));
        assert_ended_with(
            &mut a.c,
            "wl_data_source",
            wl_data_source::Error::InvalidActionMask as u32,
        );
    });
}

#[test]
fn set_actions_twice_or_after_use_is_invalid_source() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        let mut a = Peer::new(&h, "twice", [200, 40, 40]);
        let source = a.source(&[TEXT]);
        source.set_actions(DndAction::Copy);
        source.set_actions(DndAction::Move);
        assert_ended_with(
            &mut a.c,
            "wl_data_source",
            wl_data_source::Error::InvalidSource as u32,
        );

        let mut a = Peer::new(&h, "after-use", [200, 40, 40]);
        let source = a.copy();
        source.set_actions(DndAction::Copy);
        assert_ended_with(
            &mut a.c,
            "wl_data_source",
            wl_data_source::Error::InvalidSource as u32,
        );
    });
}

#[test]
fn a_drag_and_drop_source_as_selection_is_invalid_source() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        let mut a = Peer::new(&h, "dnd-as-selection", [200, 40, 40]);
        let source = a.source(&[TEXT]);
        source.set_actions(DndAction::Copy);
        a.device.set_selection(Some(&source), 0);
        assert_ended_with(
            &mut a.c,
            "wl_data_source",
            wl_data_source::Error::InvalidSource as u32,
        );
    });
}

#[test]
fn a_source_used_twice_is_used_source() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        // The current selection's source set again is allowed (GTK 3 does it at every copy):
        // the focused client hears of the type offered in between.
        let mut a = Peer::new(&h, "reset", [200, 40, 40]);
        let source = a.copy();
        source.offer("SAVE_TARGETS".into());
        a.device.set_selection(Some(&source), 0);
        a.roundtrip();
        let offer = a
            .log()
            .selection(Which::Clipboard)
            .flatten()
            .expect("offered");
        assert_eq!(a.log().mimes(&offer), [TEXT, "SAVE_TARGETS"]);
        assert!(a.c.protocol_error().is_none());

        // A source that was replaced may not come back.
        let mut a = Peer::new(&h, "reuse", [200, 40, 40]);
        let first = a.copy();
        let _second = a.copy();
        a.device.set_selection(Some(&first), 0);
        assert_ended_with(
            &mut a.c,
            "wl_data_device",
            wl_data_device::Error::UsedSource as u32,
        );
    });
}

#[test]
fn a_drag_icon_with_another_role_is_role() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        let mut a = Peer::new(&h, "icon-role", [200, 40, 40]);
        move_to(&h, (f64::from(a.x + 10), f64::from(a.y + 10)));
        button(&h, true);
        a.roundtrip();
        let serial = a.log().press_serial().expect("press");
        let source = a.source(&[TEXT]);
        // The toplevel's own surface already has the xdg_toplevel role.
        a.device.start_drag(
            Some(&source),
            &a.toplevel.surface,
            Some(&a.toplevel.surface),
            serial,
        );
        assert_ended_with(
            &mut a.c,
            "wl_data_device",
            wl_data_device::Error::Role as u32,
        );
        button(&h, false);
    });
}

/// a drags over b; returns b's offer of the drag (entered, not dropped) and the clients.
fn dragged_over(
    h: &Harness,
) -> (
    Peer,
    Peer,
    wayland_client::protocol::wl_data_offer::WlDataOffer,
    (wl_data_source::WlDataSource, ShmBuffer),
) {
    let mut a = Peer::new(h, "drag-source", [200, 40, 40]);
    let mut b = Peer::new(h, "drag-target", [40, 40, 200]);
    let from = a.uncovered_point(&b);
    let drag = start_drag(h, &mut a, from);
    move_to(h, (f64::from(b.x + W - 20), f64::from(b.y + H - 20)));
    b.roundtrip();
    let offer = b
        .log()
        .take()
        .into_iter()
        .find_map(|e| match e {
            Ev::Enter { offer, .. } => offer,
            _ => None,
        })
        .expect("b entered with an offer");
    (a, b, offer, drag)
}

#[test]
fn finish_before_the_drop_is_invalid_finish() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        let (_a, mut b, offer, _drag) = dragged_over(&h);
        offer.accept(0, Some(TEXT.into()));
        offer.set_actions(DndAction::Copy, DndAction::Copy);
        offer.finish();
        assert_ended_with(&mut b.c, "wl_data_offer", 0);
        button(&h, false);
    });
}

#[test]
fn a_preferred_action_outside_the_mask_is_invalid_action() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        let (_a, mut b, offer, _drag) = dragged_over(&h);
        offer.set_actions(DndAction::Copy, DndAction::Copy | DndAction::Move);
        assert_ended_with(&mut b.c, "wl_data_offer", 2);
        button(&h, false);
    });
}

#[test]
fn data_control_sources_used_twice_or_offered_late_are_errors() {
    let h = Harness::new(640, 480, 60);
    h.with_bystander(|| {
        let mut m = Manager::new(&h);
        let source = m.wlr.create_data_source(&m.c.qh, Transfer);
        source.offer(TEXT.into());
        m.wlr_device.set_selection(Some(&source));
        m.wlr_device.set_primary_selection(Some(&source));
        assert_ended_with(
            &mut m.c,
            "zwlr_data_control_device_v1",
            zwlr_data_control_device_v1::Error::UsedSource as u32,
        );

        let mut m = Manager::new(&h);
        let source = m.wlr.create_data_source(&m.c.qh, Transfer);
        m.wlr_device.set_selection(Some(&source));
        source.offer(TEXT.into());
        assert_ended_with(
            &mut m.c,
            "zwlr_data_control_source_v1",
            zwlr_data_control_source_v1::Error::InvalidOffer as u32,
        );

        let mut m = Manager::new(&h);
        let source = m.ext.create_data_source(&m.c.qh, Transfer);
        source.offer(TEXT.into());
        m.ext_device.set_selection(Some(&source));
        m.ext_device.set_primary_selection(Some(&source));
        assert_ended_with(
            &mut m.c,
            "ext_data_control_device_v1",
            ext_data_control_device_v1::Error::UsedSource as u32,
        );

        let mut m = Manager::new(&h);
        let source = m.ext.create_data_source(&m.c.qh, Transfer);
        m.ext_device.set_primary_selection(Some(&source));
        source.offer(TEXT.into());
        assert_ended_with(
            &mut m.c,
            "ext_data_control_source_v1",
            ext_data_control_source_v1::Error::InvalidOffer as u32,
        );
    });
}

#[test]
fn the_globals_are_advertised_at_their_versions() {
    let h = Harness::new(320, 240, 60);
    let c = h.client();
    let globals = c.globals.contents().clone_list();
    let version = |name: &str| {
        globals
            .iter()
            .find(|g| g.interface == name)
            .map(|g| g.version)
    };
    assert_eq!(version("wl_data_device_manager"), Some(3));
    assert_eq!(version("zwp_primary_selection_device_manager_v1"), Some(1));
    assert_eq!(version("zwlr_data_control_manager_v1"), Some(2));
    assert_eq!(version("ext_data_control_manager_v1"), Some(1));
    let _ = wl_data_device_manager::WlDataDeviceManager::interface();
}
