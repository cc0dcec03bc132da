//! ext_idle_notifier_v1 and zwp_idle_inhibit_manager_v1 with real clients: the user away is told
//! after the timeout and back at the next input; a video player's inhibitor on a shown surface
//! keeps the session from idling, and stops doing so when destroyed.

mod common;

use std::time::{Duration, Instant};

use common::{solid_shm, Harness};
use wayland_client::protocol::wl_seat;
use wayland_protocols::ext::idle_notify::v1::client::ext_idle_notifier_v1::ExtIdleNotifierV1;
use wayland_protocols::wp::idle_inhibit::zv1::client::zwp_idle_inhibit_manager_v1::ZwpIdleInhibitManagerV1;
use weft::InjectedInput;
use weft_clients::Client;

const TIMEOUT_MS: u32 = 300;

/// A power manager: one idle notification of TIMEOUT_MS on the seat.
fn watcher(h: &Harness) -> Client {
    let mut c = h.client();
    let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=7, ()).expect("seat");
    let notifier: ExtIdleNotifierV1 = c
        .globals
        .bind(&c.qh, 1..=1, ())
        .expect("ext_idle_notifier_v1");
    notifier.get_idle_notification(TIMEOUT_MS, &seat, &c.qh, ());
    c.roundtrip().expect("roundtrip");
    c
}

/// Dispatches for `within`; returns whether `event` arrived.
fn sees(c: &mut Client, event: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        c.roundtrip().expect("roundtrip");
        if c.state.idle_events.contains(&event) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn key(h: &Harness) {
    for pressed in [true, false] {
        h.weft
            .inject(InjectedInput::Key { code: 30, pressed })
            .expect("inject");
    }
}

#[test]
fn the_user_away_is_idle_and_input_resumes() {
    let h = Harness::new(320, 240, 60);
    let mut w = watcher(&h);
    assert!(
        sees(&mut w, "idled", Duration::from_secs(5)),
        "idled after the timeout"
    );
    key(&h);
    assert!(
        sees(&mut w, "resumed", Duration::from_secs(2)),
        "resumed at the next input"
    );
}

#[test]
fn a_shown_video_inhibits_idling_until_its_inhibitor_goes() {
    let h = Harness::new(320, 240, 60);
    let mut player = h.client();
    let t = player.toplevel("player", "weft.idle").expect("toplevel");
    let px = solid_shm(&player, 64, 36, [10, 10, 10]);
    player.show(&t.surface, &px.buffer);
    h.settle(&mut player);
    let manager: ZwpIdleInhibitManagerV1 = player
        .globals
        .bind(&player.qh, 1..=1, ())
        .expect("idle inhibit");
    let inhibitor = manager.create_inhibitor(&t.surface, &player.qh, ());
    player.roundtrip().expect("roundtrip");

    let mut w = watcher(&h);
    assert!(
        !sees(
            &mut w,
            "idled",
            Duration::from_millis(u64::from(TIMEOUT_MS) * 3)
        ),
        "idled while a shown surface inhibits it"
    );
    inhibitor.destroy();
    player.roundtrip().expect("roundtrip");
    assert!(
        sees(&mut w, "idled", Duration::from_secs(5)),
        "idled once the inhibitor went"
    );
}
