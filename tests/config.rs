//! The configuration file with a headless weft: the keymap and key repeat reach clients, bindings
//! spawn, close, cycle focus, toggle fullscreen and quit (and step aside while a window inhibits
//! shortcuts), output modes and positions apply, start commands run, a changed file is read
//! again, and a bad one is refused with file, line and key while the previous one stays.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{solid_shm, Harness};
use wayland_client::protocol::wl_seat;
use wayland_client::Proxy;
use wayland_protocols::wp::keyboard_shortcuts_inhibit::zv1::client::zwp_keyboard_shortcuts_inhibit_manager_v1::ZwpKeyboardShortcutsInhibitManagerV1;
use weft::{HeadlessOptions, InjectedInput, Request, ServerOptions};
use weft_clients::seat_events::{Recorder, Seen};
use weft_clients::session::Log;
use weft_clients::{Client, Toplevel};
use weft_compositor::OutputSpec;

/// Linux input event codes.
const KEY_LEFTMETA: u32 = 125;
const KEY_LEFTSHIFT: u32 = 42;
const KEY_ENTER: u32 = 28;
const KEY_Q: u32 = 16;
const KEY_TAB: u32 = 15;
const KEY_F: u32 = 33;
const KEY_E: u32 = 18;

/// A config file in its own directory (removed with the harness's runtime dir by the OS's tmp
/// cleaning; each test writes its own).
fn config_file(text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "weft-config-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("config dir");
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn harness(config: &Path, outputs: Vec<OutputSpec>) -> Harness {
    Harness::with_headless(HeadlessOptions {
        outputs,
        server: ServerOptions {
            config: Some(config.to_path_buf()),
            ..Default::default()
        },
        ..Default::default()
    })
    .expect("weft starts")
}

fn one_output() -> Vec<OutputSpec> {
    vec![OutputSpec {
        width: 640,
        height: 480,
        refresh_mhz: 60_000,
    }]
}

fn key(h: &Harness, code: u32, pressed: bool) {
    h.weft
        .inject(InjectedInput::Key { code, pressed })
        .expect("inject");
}

/// Presses `mods` and `code`, releases them in reverse.
fn chord(h: &Harness, mods: &[u32], code: u32) {
    for m in mods {
        key(h, *m, true);
    }
    key(h, code, true);
    key(h, code, false);
    for m in mods.iter().rev() {
        key(h, *m, false);
    }
}

/// A mapped window whose keyboard events are recorded.
fn window(h: &Harness, title: &str) -> (Client, Toplevel, Recorder, wl_seat::WlSeat) {
    let mut c = h.client();
    let seen = Recorder::default();
    let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=9, ()).expect("seat");
    seat.get_keyboard(&c.qh, seen.clone());
    let t = c.toplevel(title, "weft.config").expect("toplevel");
    let px = solid_shm(&c, 100, 80, [30, 30, 30]);
    c.show(&t.surface, &px.buffer);
    h.settle(&mut c);
    std::mem::forget(px);
    (c, t, seen, seat)
}

fn eventually(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn focused_title(h: &Harness) -> Option<String> {
    let id = h.msg(Request::Seat)["keyboard_focus"].as_u64()?;
    h.surfaces()
        .into_iter()
        .find(|s| s["id"].as_u64() == Some(id))
        .and_then(|s| s["title"].as_str().map(String::from))
}

#[test]
fn the_keymap_and_key_repeat_reach_clients() {
    let path = config_file(
        "[keyboard]\nlayout = \"de\"\nvariant = \"nodeadkeys\"\nrepeat_rate = 40\nrepeat_delay = 300\n",
    );
    let h = harness(&path, one_output());
    let (mut c, _t, _seen, _seat) = window(&h, "typing");
    c.wait_until("keymap", 100, |s| {
        s.keymap.is_some() && s.repeat_info.is_some()
    })
    .expect("keymap and repeat info");
    let keymap = c.state.keymap.clone().unwrap_or_default();
    assert!(
        keymap.contains("German"),
        "the keymap is not the German layout"
    );
    assert_eq!(c.state.repeat_info, Some((40, 300)));
}

#[test]
fn bindings_spawn_close_cycle_focus_toggle_fullscreen_and_step_aside_for_an_inhibitor() {
    let marker = std::env::temp_dir().join(format!("weft-spawned-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let path = config_file(&format!(
        "[bindings]\n\"Super+Return\" = \"spawn touch {}\"\n\"Super+Q\" = \"close\"\n\
         \"Super+Tab\" = \"focus-next\"\n\"Super+Shift+Tab\" = \"focus-previous\"\n\
         \"Super+F\" = \"fullscreen\"\n",
        marker.display()
    ));
    let h = harness(&path, one_output());
    let (mut a, ta, seen_a, seat_a) = window(&h, "first");
    let (mut b, tb, seen_b, _) = window(&h, "second");
    assert_eq!(focused_title(&h).as_deref(), Some("second"));

    // spawn: the command runs; the window with the keyboard never sees the bound key.
    chord(&h, &[KEY_LEFTMETA], KEY_ENTER);
    eventually("the spawned command", Duration::from_secs(5), || {
        marker.exists()
    });
    b.roundtrip().expect("roundtrip");
    assert!(
        !seen_b
            .snapshot()
            .iter()
            .any(|e| matches!(e, Seen::Key { key: KEY_ENTER, .. })),
        "the bound key reached the client"
    );
    // An unbound key still does.
    key(&h, KEY_E, true);
    key(&h, KEY_E, false);
    b.wait_until("the unbound key", 100, |_| {
        seen_b.snapshot().contains(&Seen::Key {
            key: KEY_E,
            pressed: true,
        })
    })
    .expect("unbound key delivered");

    // focus-next and focus-previous cycle in the order the windows were made.
    chord(&h, &[KEY_LEFTMETA], KEY_TAB);
    eventually("focus on the first", Duration::from_secs(3), || {
        focused_title(&h).as_deref() == Some("first")
    });
    chord(&h, &[KEY_LEFTMETA, KEY_LEFTSHIFT], KEY_TAB);
    eventually("focus back on the second", Duration::from_secs(3), || {
        focused_title(&h).as_deref() == Some("second")
    });

    // fullscreen toggles the focused window's state.
    chord(&h, &[KEY_LEFTMETA], KEY_F);
    b.wait_until("a fullscreen configure", 200, |s| {
        s.toplevel_configures
            .get(&tb.toplevel.id())
            .is_some_and(|(_, _, states)| states.contains(&2))
    })
    .expect("fullscreen");

    // A window that inhibits shortcuts gets the bound keys instead.
    chord(&h, &[KEY_LEFTMETA], KEY_TAB);
    eventually("focus on the first", Duration::from_secs(3), || {
        focused_title(&h).as_deref() == Some("first")
    });
    let manager: ZwpKeyboardShortcutsInhibitManagerV1 = a
        .globals
        .bind(&a.qh, 1..=1, Log::default())
        .expect("inhibit");
    let log = Log::default();
    let inhibitor = manager.inhibit_shortcuts(&ta.surface, &seat_a, &a.qh, log.clone());
    a.wait_until("active", 100, |_| {
        log.has("zwp_keyboard_shortcuts_inhibitor_v1 Active")
    })
    .expect("inhibitor active");
    chord(&h, &[KEY_LEFTMETA], KEY_TAB);
    a.wait_until("the key reaches the inhibiting window", 100, |_| {
        seen_a.snapshot().contains(&Seen::Key {
            key: KEY_TAB,
            pressed: true,
        })
    })
    .expect("key delivered");
    assert_eq!(
        focused_title(&h).as_deref(),
        Some("first"),
        "a binding fired through an inhibitor"
    );

    // close asks the focused window to close (once the inhibitor is gone).
    inhibitor.destroy();
    a.roundtrip().expect("roundtrip");
    chord(&h, &[KEY_LEFTMETA], KEY_Q);
    a.wait_until("close", 100, |s| s.closed.contains(&ta.toplevel.id()))
        .expect("xdg_toplevel.close");
    let _ = std::fs::remove_file(&marker);
}

#[test]
fn a_bad_file_is_refused_with_file_line_and_key_and_the_previous_one_stays() {
    let marker = std::env::temp_dir().join(format!("weft-kept-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let good = format!(
        "[bindings]\n\"Super+Return\" = \"spawn touch {}\"\n",
        marker.display()
    );
    let path = config_file(&good);
    let h = harness(&path, one_output());
    let (_c, _t, _seen, _) = window(&h, "w");
    std::fs::write(
        &path,
        "[bindings]\n\"Super+Return\" = \"spawn true\"\n\n[keyboard]\nlayot = \"us\"\n",
    )
    .expect("write");
    let reply = h
        .weft
        .msg(&Request::Reload)
        .expect_err("a bad file is refused");
    let message = format!("{reply:#}");
    assert!(
        message.contains(&format!("{}:5: layot:", path.display())),
        "the refusal names file, line and key: {message}"
    );
    // The previous bindings stay in force.
    chord(&h, &[KEY_LEFTMETA], KEY_ENTER);
    eventually("the old binding", Duration::from_secs(5), || {
        marker.exists()
    });
}

#[test]
fn a_changed_file_is_read_again_and_start_commands_run_once() {
    let started = std::env::temp_dir().join(format!("weft-started-{}", std::process::id()));
    let after = std::env::temp_dir().join(format!("weft-after-{}", std::process::id()));
    let _ = std::fs::remove_file(&started);
    let _ = std::fs::remove_file(&after);
    let path = config_file(&format!(
        "start = [\"echo $WAYLAND_DISPLAY >> {}\"]\n",
        started.display()
    ));
    let h = harness(&path, one_output());
    eventually("the start command", Duration::from_secs(5), || {
        started.exists()
    });
    let text = std::fs::read_to_string(&started).expect("read");
    assert!(
        text.trim().starts_with("wayland-"),
        "WAYLAND_DISPLAY set: {text:?}"
    );
    let (_c, _t, _seen, _) = window(&h, "w");
    // Changed on disk: read again within the poll (1 s); start commands do not run again.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(
        &path,
        format!(
            "start = [\"echo again >> {}\"]\n[bindings]\n\"Super+Return\" = \"spawn touch {}\"\n",
            started.display(),
            after.display()
        ),
    )
    .expect("write");
    eventually("the new binding", Duration::from_secs(6), || {
        chord(&h, &[KEY_LEFTMETA], KEY_ENTER);
        std::thread::sleep(Duration::from_millis(200));
        after.exists()
    });
    let text = std::fs::read_to_string(&started).expect("read");
    assert_eq!(
        text.lines().count(),
        1,
        "start commands ran again: {text:?}"
    );
}

#[test]
fn outputs_take_their_configured_mode_and_position_and_quit_stops_weft() {
    let path = config_file(
        "[[output]]\nname = \"HEADLESS-2\"\nposition = [0, 0]\n\n[[output]]\nname = \"HEADLESS-1\"\nmode = \"800x600\"\nposition = [400, 0]\n\n[bindings]\n\"Super+Shift+E\" = \"quit\"\n",
    );
    let h = harness(
        &path,
        vec![
            OutputSpec {
                width: 320,
                height: 240,
                refresh_mhz: 60_000,
            },
            OutputSpec {
                width: 400,
                height: 300,
                refresh_mhz: 60_000,
            },
        ],
    );
    let outputs = h.msg(Request::Outputs);
    let by_name = |n: &str| {
        outputs
            .as_array()
            .and_then(|a| a.iter().find(|o| o["name"] == n).cloned())
            .unwrap_or_else(|| panic!("no {n}: {outputs}"))
    };
    let one = by_name("HEADLESS-1");
    assert_eq!(
        (one["width"].as_u64(), one["height"].as_u64()),
        (Some(800), Some(600)),
        "{one}"
    );
    assert_eq!(
        (one["x"].as_i64(), one["y"].as_i64()),
        (Some(400), Some(0)),
        "{one}"
    );
    let two = by_name("HEADLESS-2");
    assert_eq!(
        (two["x"].as_i64(), two["y"].as_i64()),
        (Some(0), Some(0)),
        "{two}"
    );

    // The quit key's press stops weft; the releases that follow may find it
    // already stopped, which is what this test wants to see.
    for (code, pressed) in [
        (KEY_LEFTMETA, true),
        (KEY_LEFTSHIFT, true),
        (KEY_E, true),
        (KEY_E, false),
        (KEY_LEFTSHIFT, false),
        (KEY_LEFTMETA, false),
    ] {
        if h.weft.inject(InjectedInput::Key { code, pressed }).is_err() {
            assert!(
                !pressed || code == KEY_E,
                "weft stopped before the quit key"
            );
            break;
        }
    }
    eventually("weft stops", Duration::from_secs(5), || {
        h.weft.has_stopped()
    });
}
