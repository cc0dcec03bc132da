//! The session protocols with real clients over weft's socket: sandboxed clients
//! (wp_security_context_v1), focus passed on by activation tokens (xdg_activation_v1), the window
//! list task bars read (ext_foreign_toplevel_list_v1), shortcut inhibitors, text typed through an
//! input method (text-input v3 + input-method v2, candidate popup drawn), virtual keyboards,
//! fractional scale and cursor shapes. Every protocol error these specs define is provoked, each
//! with a bystander still served.

mod common;

use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{assert_ended_with, solid_shm, Harness};
use wayland_client::protocol::{wl_pointer, wl_seat};
use wayland_client::Proxy;
use wayland_protocols::ext::foreign_toplevel_list::v1::client::ext_foreign_toplevel_list_v1::ExtForeignToplevelListV1;
use wayland_protocols::wp::cursor_shape::v1::client::wp_cursor_shape_device_v1::Shape;
use wayland_protocols::wp::cursor_shape::v1::client::wp_cursor_shape_manager_v1::WpCursorShapeManagerV1;
use wayland_protocols::wp::fractional_scale::v1::client::wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1;
use wayland_protocols::wp::keyboard_shortcuts_inhibit::zv1::client::zwp_keyboard_shortcuts_inhibit_manager_v1::ZwpKeyboardShortcutsInhibitManagerV1;
use wayland_protocols::wp::security_context::v1::client::wp_security_context_manager_v1::WpSecurityContextManagerV1;
use wayland_protocols::wp::security_context::v1::client::wp_security_context_v1::WpSecurityContextV1;
use wayland_protocols::wp::text_input::zv3::client::zwp_text_input_manager_v3::ZwpTextInputManagerV3;
use wayland_protocols::xdg::activation::v1::client::xdg_activation_token_v1::XdgActivationTokenV1;
use wayland_protocols::xdg::activation::v1::client::xdg_activation_v1::XdgActivationV1;
use wayland_protocols_misc::zwp_input_method_v2::client::zwp_input_method_manager_v2::ZwpInputMethodManagerV2;
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1;
use weft::{InjectedInput, Request};
use weft_clients::seat_events::{Recorder, Seen};
use weft_clients::session::Log;
use weft_clients::{Client, Toplevel};

/// The globals that read or drive other clients: not for sandboxed clients.
const PRIVILEGED: [&str; 12] = [
    "zwlr_screencopy_manager_v1",
    "zwlr_output_manager_v1",
    "ext_image_copy_capture_manager_v1",
    "ext_output_image_capture_source_manager_v1",
    "ext_foreign_toplevel_image_capture_source_manager_v1",
    "zwlr_data_control_manager_v1",
    "ext_data_control_manager_v1",
    "ext_session_lock_manager_v1",
    "zwp_virtual_keyboard_manager_v1",
    "zwp_input_method_manager_v2",
    "ext_foreign_toplevel_list_v1",
    "wp_security_context_manager_v1",
];

fn global_names(c: &Client) -> Vec<String> {
    c.globals
        .contents()
        .clone_list()
        .into_iter()
        .map(|g| g.interface)
        .collect()
}

/// Roundtrips until `done` holds (at most 5 s: a loaded machine is slow).
fn until(c: &mut Client, what: &str, done: impl Fn(&Client) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done(c) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// A mapped window whose seat objects record what they see.
struct App {
    c: Client,
    t: Toplevel,
    seat: wl_seat::WlSeat,
    pointer: wl_pointer::WlPointer,
    seen: Recorder,
}

impl App {
    fn new(h: &Harness, title: &str, rgb: [u8; 3]) -> Self {
        let mut c = h.client();
        let seen = Recorder::default();
        let seat: wl_seat::WlSeat = c.globals.bind(&c.qh, 5..=9, ()).expect("wl_seat");
        let pointer = seat.get_pointer(&c.qh, seen.clone());
        seat.get_keyboard(&c.qh, seen.clone());
        let t = c.toplevel(title, "weft.session").expect("toplevel");
        let px = solid_shm(&c, 100, 80, rgb);
        c.show(&t.surface, &px.buffer);
        h.settle(&mut c);
        Self {
            c,
            t,
            seat,
            pointer,
            seen,
        }
    }
}

fn seat(h: &Harness) -> serde_json::Value {
    h.msg(Request::Seat)
}

fn focused_title(h: &Harness) -> Option<String> {
    let id = seat(h)["keyboard_focus"].as_u64()?;
    h.surfaces()
        .into_iter()
        .find(|s| s["id"].as_u64() == Some(id))
        .and_then(|s| s["title"].as_str().map(String::from))
}

/// A sandbox engine's socket on `c`'s security-context manager: the socket path and the write end
/// of its close pipe (dropping it closes the sandbox).
fn sandbox(h: &Harness, c: &mut Client, engine: &str) -> (PathBuf, std::io::PipeWriter, Log) {
    let log = Log::default();
    let manager: WpSecurityContextManagerV1 = c
        .globals
        .bind(&c.qh, 1..=1, log.clone())
        .expect("wp_security_context_manager_v1");
    let path = h.runtime_dir.join(format!("sandbox-{engine}.sock"));
    let listener = UnixListener::bind(&path).expect("bind the sandbox socket");
    let (close_r, close_w) = std::io::pipe().expect("pipe");
    let context = manager.create_listener(listener.as_fd(), close_r.as_fd(), &c.qh, log.clone());
    context.set_sandbox_engine(engine.into());
    context.set_app_id("org.weft.Sandboxed".into());
    context.set_instance_id("1".into());
    context.commit();
    c.roundtrip().expect("roundtrip");
    // weft holds its own copies of the socket and the pipe's read end from here on.
    (path, close_w, log)
}

#[test]
fn sandboxed_clients_are_not_offered_what_reads_or_drives_other_clients() {
    let h = Harness::new(320, 240, 60);
    let mut engine = h.client();
    let plain = global_names(&engine);
    for name in PRIVILEGED {
        assert!(
            plain.contains(&name.to_string()),
            "{name} offered to a plain client"
        );
    }
    let (path, close, _log) = sandbox(&h, &mut engine, "org.weft.test");
    let mut boxed =
        Client::from_stream(UnixStream::connect(&path).expect("connect to the sandbox"))
            .expect("a sandboxed client gets the everyday globals");
    let offered = global_names(&boxed);
    for name in PRIVILEGED {
        assert!(
            !offered.contains(&name.to_string()),
            "{name} offered inside a sandbox"
        );
    }
    for everyday in [
        "wl_compositor",
        "xdg_wm_base",
        "wl_seat",
        "wl_data_device_manager",
    ] {
        assert!(
            offered.contains(&everyday.to_string()),
            "{everyday} missing inside a sandbox"
        );
    }
    // It is an everyday client otherwise: its window is shown.
    let t = boxed
        .toplevel("sandboxed", "org.weft.Sandboxed")
        .expect("toplevel");
    let px = solid_shm(&boxed, 64, 64, [200, 30, 30]);
    boxed.show(&t.surface, &px.buffer);
    h.settle(&mut boxed);
    assert_eq!(h.surface("sandboxed")["mapped"], true);
    let clients = h.msg(Request::Clients);
    let sandboxed: Vec<_> = clients
        .as_array()
        .expect("clients")
        .iter()
        .filter(|c| !c["sandbox"].is_null())
        .collect();
    assert_eq!(sandboxed.len(), 1, "{clients}");
    assert_eq!(sandboxed[0]["sandbox"]["engine"], "org.weft.test");
    assert_eq!(sandboxed[0]["sandbox"]["app_id"], "org.weft.Sandboxed");

    // A sandboxed client that binds a privileged global by its name is ended.
    let name = engine
        .globals
        .contents()
        .clone_list()
        .into_iter()
        .find(|g| g.interface == "wp_security_context_manager_v1")
        .expect("the manager's name")
        .name;
    let _nested: WpSecurityContextManagerV1 =
        boxed
            .globals
            .registry()
            .bind(name, 1, &boxed.qh, Log::default());
    assert!(
        boxed.roundtrip().and_then(|_| boxed.roundtrip()).is_err(),
        "a sandboxed client bound the security-context manager (nested contexts)"
    );

    // Closing the engine's pipe closes the sandbox: no new client is served on its socket.
    drop(close);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        engine.roundtrip().expect("roundtrip");
        if UnixStream::connect(&path).is_err() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sandbox socket still accepts after its close fd"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `f` on a fresh context of a fresh client, which must be ended with `code` of `interface`.
fn context_error(
    h: &Harness,
    interface: &str,
    code: u32,
    f: impl FnOnce(&mut Client, &WpSecurityContextV1),
) {
    h.with_bystander(|| {
        let mut c = h.client();
        let log = Log::default();
        let manager: WpSecurityContextManagerV1 =
            c.globals.bind(&c.qh, 1..=1, log.clone()).expect("manager");
        let path = h.runtime_dir.join(format!("ctx-{interface}-{code}.sock"));
        let listener = UnixListener::bind(&path).expect("bind");
        let (close_r, _close_w) = std::io::pipe().expect("pipe");
        let context = manager.create_listener(listener.as_fd(), close_r.as_fd(), &c.qh, log);
        f(&mut c, &context);
        assert_ended_with(&mut c, interface, code);
    });
}

#[test]
fn every_security_context_error_is_raised() {
    let h = Harness::new(320, 240, 60);
    // invalid_listen_fd: a socket that does not listen.
    h.with_bystander(|| {
        let mut c = h.client();
        let manager: WpSecurityContextManagerV1 = c
            .globals
            .bind(&c.qh, 1..=1, Log::default())
            .expect("manager");
        let (a, _b) = UnixStream::pair().expect("pair");
        let (close_r, _close_w) = std::io::pipe().expect("pipe");
        let _ = manager.create_listener(a.as_fd(), close_r.as_fd(), &c.qh, Log::default());
        assert_ended_with(&mut c, "wp_security_context_manager_v1", 1);
    });
    // already_used: metadata after commit.
    context_error(&h, "wp_security_context_v1", 1, |_, ctx| {
        ctx.set_sandbox_engine("org.weft.test".into());
        ctx.commit();
        ctx.set_app_id("late".into());
    });
    // already_set: the app id twice.
    context_error(&h, "wp_security_context_v1", 2, |_, ctx| {
        ctx.set_app_id("one".into());
        ctx.set_app_id("two".into());
    });
    // invalid_metadata: an empty sandbox engine name.
    context_error(&h, "wp_security_context_v1", 3, |_, ctx| {
        ctx.set_sandbox_engine(String::new());
    });
}

#[test]
fn an_activation_token_from_the_focused_client_moves_the_focus_and_one_from_the_background_does_not(
) {
    let h = Harness::new(640, 480, 60);
    let mut b = App::new(&h, "target", [0, 0, 200]);
    let mut a = App::new(&h, "launcher", [0, 200, 0]);
    until(&mut a.c, "the launcher has the keyboard", |c| {
        c.state.keyboard_enter_serial.is_some()
    });
    assert_eq!(focused_title(&h).as_deref(), Some("launcher"));

    // The launcher (focused) makes a token naming the input that started it and hands it over.
    let log = Log::default();
    let activation: XdgActivationV1 =
        a.c.globals
            .bind(&a.c.qh, 1..=1, log.clone())
            .expect("xdg_activation_v1");
    let token = activation.get_activation_token(&a.c.qh, log.clone());
    token.set_serial(a.c.state.keyboard_enter_serial.expect("serial"), &a.seat);
    token.set_surface(&a.t.surface);
    token.set_app_id("weft.session".into());
    token.commit();
    until(&mut a.c, "the token", |_| {
        log.has("xdg_activation_token_v1 Done")
    });
    let line = log
        .lines()
        .into_iter()
        .find(|l| l.starts_with("xdg_activation_token_v1 Done"))
        .expect("done");
    let value = line.split('"').nth(1).expect("token string").to_string();
    let b_activation: XdgActivationV1 =
        b.c.globals
            .bind(&b.c.qh, 1..=1, Log::default())
            .expect("xdg_activation_v1");
    b_activation.activate(value.clone(), &b.t.surface);
    b.c.roundtrip().expect("roundtrip");
    until(&mut b.c, "the target gets the keyboard", |c| {
        c.state.keyboard_focus.is_some()
    });
    assert_eq!(focused_title(&h).as_deref(), Some("target"));
    assert!(b.seen.snapshot().contains(&Seen::KeyboardEnter));

    // Used once: the same token again does nothing (the launcher stays in the background).
    let a_activation = activation;
    a_activation.activate(value, &a.t.surface);
    a.c.roundtrip().expect("roundtrip");
    h.settle(&mut a.c);
    assert_eq!(focused_title(&h).as_deref(), Some("target"));

    // The launcher, now in the background, cannot take the keyboard back with a token of its own.
    let stale = a_activation.get_activation_token(&a.c.qh, log.clone());
    stale.set_serial(a.c.state.keyboard_enter_serial.expect("serial"), &a.seat);
    stale.set_surface(&a.t.surface);
    stale.commit();
    until(&mut a.c, "the second token", |_| {
        log.count("xdg_activation_token_v1 Done") == 2
    });
    let line = log
        .lines()
        .into_iter()
        .rfind(|l| l.starts_with("xdg_activation_token_v1 Done"))
        .expect("done");
    a_activation.activate(
        line.split('"').nth(1).expect("token").to_string(),
        &a.t.surface,
    );
    a.c.roundtrip().expect("roundtrip");
    h.settle(&mut a.c);
    assert_eq!(
        focused_title(&h).as_deref(),
        Some("target"),
        "a background client stole the keyboard"
    );
    let _ = (&mut b.pointer, &a.pointer);
}

#[test]
fn every_activation_token_error_is_raised() {
    let h = Harness::new(320, 240, 60);
    // already_used (the only error): a request on a committed token.
    type After = fn(&XdgActivationTokenV1, &App);
    let cases: [(&str, After); 4] = [
        ("set_serial", |t, a| t.set_serial(1, &a.seat)),
        ("set_app_id", |t, _| t.set_app_id("x".into())),
        ("set_surface", |t, a| t.set_surface(&a.t.surface)),
        ("commit", |t, _| t.commit()),
    ];
    for (what, after) in cases {
        h.with_bystander(|| {
            let mut a = App::new(&h, &format!("tok-{what}"), [9, 9, 9]);
            let activation: XdgActivationV1 =
                a.c.globals
                    .bind(&a.c.qh, 1..=1, Log::default())
                    .expect("xdg_activation_v1");
            let token = activation.get_activation_token(&a.c.qh, Log::default());
            token.commit();
            after(&token, &a);
            assert_ended_with(&mut a.c, "xdg_activation_token_v1", 0);
        });
    }
}

#[test]
fn task_bars_see_windows_come_be_renamed_and_go() {
    let h = Harness::new(640, 480, 60);
    let mut bar = h.client();
    let log = Log::default();
    let _list: ExtForeignToplevelListV1 = bar
        .globals
        .bind(&bar.qh, 1..=1, log.clone())
        .expect("ext_foreign_toplevel_list_v1");
    bar.roundtrip().expect("roundtrip");
    let mut app = App::new(&h, "first title", [1, 2, 3]);
    until(&mut bar, "the window in the list", |_| {
        log.has("ext_foreign_toplevel_handle_v1 Done")
    });
    let lines = log.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Title") && l.contains("first title")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("AppId") && l.contains("weft.session")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("Identifier")), "{lines:?}");

    app.t.toplevel.set_title("renamed".into());
    app.t.surface.commit();
    app.c.roundtrip().expect("roundtrip");
    until(&mut bar, "the new title", |_| {
        log.lines().iter().any(|l| l.contains("renamed"))
    });
    assert_eq!(
        log.count("ext_foreign_toplevel_handle_v1 Done"),
        2,
        "one done per change"
    );

    app.t.toplevel.destroy();
    app.t.surface.destroy();
    app.c.roundtrip().expect("roundtrip");
    until(&mut bar, "closed", |_| {
        log.has("ext_foreign_toplevel_handle_v1 Closed")
    });
}

#[test]
fn a_shortcut_inhibitor_is_active_while_its_window_has_the_keyboard() {
    let h = Harness::new(640, 480, 60);
    let mut vm = App::new(&h, "vm viewer", [5, 5, 5]);
    let log = Log::default();
    let manager: ZwpKeyboardShortcutsInhibitManagerV1 =
        vm.c.globals
            .bind(&vm.c.qh, 1..=1, log.clone())
            .expect("shortcuts inhibit");
    let _inhibitor = manager.inhibit_shortcuts(&vm.t.surface, &vm.seat, &vm.c.qh, log.clone());
    until(&mut vm.c, "active", |_| {
        log.has("zwp_keyboard_shortcuts_inhibitor_v1 Active")
    });
    assert_eq!(seat(&h)["shortcuts_inhibited"], true);

    let _other = App::new(&h, "other", [6, 6, 6]);
    until(&mut vm.c, "inactive", |_| {
        log.has("zwp_keyboard_shortcuts_inhibitor_v1 Inactive")
    });
    assert_eq!(seat(&h)["shortcuts_inhibited"], false);

    // already_inhibited: a second inhibitor for the same surface and seat.
    h.with_bystander(|| {
        let _again = manager.inhibit_shortcuts(&vm.t.surface, &vm.seat, &vm.c.qh, log.clone());
        assert_ended_with(&mut vm.c, "zwp_keyboard_shortcuts_inhibit_manager_v1", 0);
    });
}

#[test]
fn text_composed_by_an_input_method_reaches_the_focused_text_field_and_its_popup_is_drawn() {
    let h = Harness::new(640, 480, 60);
    // The input method (e.g. for Japanese) on the seat.
    let mut im = h.client();
    let im_log = Log::default();
    let im_seat: wl_seat::WlSeat = im.globals.bind(&im.qh, 5..=9, ()).expect("seat");
    let im_manager: ZwpInputMethodManagerV2 = im
        .globals
        .bind(&im.qh, 1..=1, im_log.clone())
        .expect("zwp_input_method_manager_v2");
    let method = im_manager.get_input_method(&im_seat, &im.qh, im_log.clone());
    im.roundtrip().expect("roundtrip");

    // An editor with a text field, focused.
    let mut editor = App::new(&h, "editor", [240, 240, 240]);
    let ti_log = Log::default();
    let ti_manager: ZwpTextInputManagerV3 = editor
        .c
        .globals
        .bind(&editor.c.qh, 1..=1, ti_log.clone())
        .expect("zwp_text_input_manager_v3");
    let text_input = ti_manager.get_text_input(&editor.seat, &editor.c.qh, ti_log.clone());
    until(&mut editor.c, "text input enter", |_| {
        ti_log.has("zwp_text_input_v3 Enter")
    });
    text_input.enable();
    text_input.set_cursor_rectangle(20, 30, 2, 16);
    text_input.commit();
    editor.c.roundtrip().expect("roundtrip");
    until(&mut im, "the input method activated", |_| {
        im_log.has("zwp_input_method_v2 Activate") && im_log.has("zwp_input_method_v2 Done")
    });

    // A candidate popup, red, beside the text cursor.
    let popup_surface = im.compositor.create_surface(&im.qh, ());
    let _popup = method.get_input_popup_surface(&popup_surface, &im.qh, im_log.clone());
    let red = solid_shm(&im, 40, 20, [255, 0, 0]);
    im.show(&popup_surface, &red.buffer);
    h.settle(&mut im);
    h.settle(&mut editor.c);
    let shot = h.screenshot("HEADLESS-1");
    let mut red_pixels = 0;
    for y in 0..480 {
        for x in 0..640 {
            let p = shot.pixel(x, y);
            if p[0] > 240 && p[1] < 20 && p[2] < 20 {
                red_pixels += 1;
            }
        }
    }
    assert_eq!(
        red_pixels,
        40 * 20,
        "the input method's popup is drawn whole"
    );

    // The composed text is committed to the field.
    method.commit_string("日本語".into());
    method.commit(im_log.count("zwp_input_method_v2 Done") as u32);
    im.roundtrip().expect("roundtrip");
    until(&mut editor.c, "the committed text", |_| {
        ti_log
            .lines()
            .iter()
            .any(|l| l.contains("CommitString") && l.contains("日本語"))
    });

    // role: a surface with another role cannot be a popup.
    h.with_bystander(|| {
        let other = im.compositor.create_surface(&im.qh, ());
        let xdg = im.wm_base.get_xdg_surface(&other, &im.qh, ());
        let _toplevel = xdg.get_toplevel(&im.qh, ());
        let _bad = method.get_input_popup_surface(&other, &im.qh, im_log.clone());
        assert_ended_with(&mut im, "zwp_input_method_v2", 0);
    });
}

/// An xkb keymap (US) in a memfd, as a virtual keyboard hands it over.
fn keymap_fd() -> (std::os::fd::OwnedFd, u32) {
    let text = b"xkb_keymap {\n xkb_keycodes { include \"evdev+aliases(qwerty)\" };\n xkb_types { include \"complete\" };\n xkb_compatibility { include \"complete\" };\n xkb_symbols { include \"pc+us+inet(evdev)\" };\n};\n\0";
    let fd = rustix::fs::memfd_create("keymap", rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
    rustix::io::write(&fd, text).expect("write keymap");
    (fd, text.len() as u32)
}

#[test]
fn a_virtual_keyboard_types_into_the_focused_window() {
    let h = Harness::new(640, 480, 60);
    let mut app = App::new(&h, "typed into", [40, 40, 40]);
    let mut osk = h.client();
    let seat: wl_seat::WlSeat = osk.globals.bind(&osk.qh, 5..=9, ()).expect("seat");
    let manager: ZwpVirtualKeyboardManagerV1 = osk
        .globals
        .bind(&osk.qh, 1..=1, Log::default())
        .expect("zwp_virtual_keyboard_manager_v1");
    let keyboard = manager.create_virtual_keyboard(&seat, &osk.qh, Log::default());
    let (fd, size) = keymap_fd();
    keyboard.keymap(1, fd.as_fd(), size);
    keyboard.key(10, 30, 1);
    keyboard.key(11, 30, 0);
    osk.roundtrip().expect("roundtrip");
    until(&mut app.c, "the key", |_| true);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app.seen.snapshot().contains(&Seen::Key {
        key: 30,
        pressed: true,
    }) {
        assert!(
            Instant::now() < deadline,
            "the virtual key never arrived: {:?}",
            app.seen.snapshot()
        );
        app.c.roundtrip().expect("roundtrip");
        std::thread::sleep(Duration::from_millis(15));
    }

    // no_keymap: a key before any keymap.
    h.with_bystander(|| {
        let mut early = h.client();
        let seat: wl_seat::WlSeat = early.globals.bind(&early.qh, 5..=9, ()).expect("seat");
        let manager: ZwpVirtualKeyboardManagerV1 = early
            .globals
            .bind(&early.qh, 1..=1, Log::default())
            .expect("manager");
        let keyboard = manager.create_virtual_keyboard(&seat, &early.qh, Log::default());
        keyboard.key(1, 30, 1);
        assert_ended_with(&mut early, "zwp_virtual_keyboard_v1", 0);
    });
}

#[test]
fn a_surface_learns_its_outputs_scale_and_a_second_scale_object_is_an_error() {
    let h = Harness::new(320, 240, 60);
    let mut app = App::new(&h, "scaled", [7, 7, 7]);
    let log = Log::default();
    let manager: WpFractionalScaleManagerV1 = app
        .c
        .globals
        .bind(&app.c.qh, 1..=1, log.clone())
        .expect("wp_fractional_scale_manager_v1");
    let _scale = manager.get_fractional_scale(&app.t.surface, &app.c.qh, log.clone());
    until(&mut app.c, "the preferred scale", |_| {
        log.has("wp_fractional_scale_v1 PreferredScale")
    });
    assert!(
        log.has("wp_fractional_scale_v1 PreferredScale { scale: 120 }"),
        "{:?}",
        log.lines()
    );

    // fractional_scale_exists.
    h.with_bystander(|| {
        let _again = manager.get_fractional_scale(&app.t.surface, &app.c.qh, log.clone());
        assert_ended_with(&mut app.c, "wp_fractional_scale_manager_v1", 0);
    });
}

#[test]
fn the_cursor_takes_the_shape_the_client_under_the_pointer_asks_for() {
    let h = Harness::new(640, 480, 60);
    let mut app = App::new(&h, "shaped", [8, 8, 8]);
    assert_eq!(seat(&h)["cursor"], "default");
    let geometry = h.surface("shaped");
    let (x, y) = (
        geometry["x"].as_f64().unwrap_or(0.0) + 10.0,
        geometry["y"].as_f64().unwrap_or(0.0) + 10.0,
    );
    h.weft
        .inject(InjectedInput::PointerMotion { x, y })
        .expect("inject");
    until(&mut app.c, "pointer enter", |c| {
        c.state.pointer_enter_serial.is_some()
    });
    let serial = app.c.state.pointer_enter_serial.expect("serial");
    let manager: WpCursorShapeManagerV1 = app
        .c
        .globals
        .bind(&app.c.qh, 1..=1, Log::default())
        .expect("wp_cursor_shape_manager_v1");
    let device = manager.get_pointer(&app.pointer, &app.c.qh, Log::default());
    device.set_shape(serial, Shape::Text);
    app.c.roundtrip().expect("roundtrip");
    assert_eq!(seat(&h)["cursor"], "text");
    app.pointer.set_cursor(serial, None, 0, 0);
    app.c.roundtrip().expect("roundtrip");
    assert_eq!(seat(&h)["cursor"], "hidden");

    // invalid_shape: a shape outside the enum (the typed API cannot send one: raw request).
    h.with_bystander(|| {
        let msg = wayland_backend::protocol::Message {
            sender_id: device.id(),
            opcode: 1,
            args: wayland_backend::smallvec::smallvec![
                wayland_backend::protocol::Argument::Uint(serial),
                wayland_backend::protocol::Argument::Uint(9999),
            ],
        };
        app.c
            .conn
            .backend()
            .send_request(msg, None, None)
            .expect("send");
        assert_ended_with(&mut app.c, "wp_cursor_shape_device_v1", 1);
    });
}
