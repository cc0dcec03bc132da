//! zwlr_output_manager_v1: heads describe the outputs; configurations are tested and applied
//! whole (scale, position, a headless output's mode); what weft cannot do fails and changes
//! nothing; an old serial is cancelled; every protocol error of the configuration interfaces is
//! raised with a bystander still served; Debian's wlr-randr lists and configures the outputs.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{assert_ended_with, Harness};
use wayland_backend::client::ObjectId;
use wayland_backend::protocol::Argument;
use wayland_client::Proxy;
use weft::Request;
use weft_clients::output_management::{
    zwlr_output_configuration_head_v1::ZwlrOutputConfigurationHeadV1,
    zwlr_output_configuration_v1::ZwlrOutputConfigurationV1, zwlr_output_head_v1,
    zwlr_output_manager_v1::ZwlrOutputManagerV1, Told,
};
use weft_clients::Client;
use weft_compositor::OutputSpec;

fn two_outputs() -> Harness {
    Harness::with(
        vec![
            OutputSpec {
                width: 640,
                height: 480,
                refresh_mhz: 60_000,
            },
            OutputSpec {
                width: 320,
                height: 240,
                refresh_mhz: 60_000,
            },
        ],
        false,
    )
}

struct Manager {
    c: Client,
    manager: ZwlrOutputManagerV1,
    told: Told,
}

impl Manager {
    fn new(h: &Harness) -> Self {
        let c = h.client();
        let told = Told::default();
        let manager: ZwlrOutputManagerV1 = c
            .globals
            .bind(&c.qh, 1..=4, told.clone())
            .expect("zwlr_output_manager_v1");
        let mut m = Self { c, manager, told };
        m.until("the first done", |t| t.has("Done"));
        m
    }

    fn until(&mut self, what: &str, done: impl Fn(&Told) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done(&self.told) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                self.told.lines()
            );
            self.c.roundtrip().expect("roundtrip");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The serial of the last `done`.
    fn serial(&self) -> u32 {
        self.told
            .lines()
            .iter()
            .rev()
            .find_map(|l| {
                l.strip_prefix("Done { serial: ")
                    .and_then(|r| r.trim_end_matches(" }").parse().ok())
            })
            .unwrap_or_default()
    }

    fn head(&self, name: &str) -> (zwlr_output_head_v1::ZwlrOutputHeadV1, Told) {
        self.told
            .head(name)
            .unwrap_or_else(|| panic!("no head {name}: {:?}", self.told.lines()))
    }

    fn configuration(&mut self) -> (ZwlrOutputConfigurationV1, Told) {
        let told = Told::default();
        let config = self
            .manager
            .create_configuration(self.serial(), &self.c.qh, told.clone());
        (config, told)
    }

    /// Both heads enabled; returns their configuration heads.
    fn enable_both(
        &mut self,
        config: &ZwlrOutputConfigurationV1,
    ) -> (ZwlrOutputConfigurationHeadV1, ZwlrOutputConfigurationHeadV1) {
        let (one, _) = self.head("HEADLESS-1");
        let (two, _) = self.head("HEADLESS-2");
        (
            config.enable_head(&one, &self.c.qh, Told::default()),
            config.enable_head(&two, &self.c.qh, Told::default()),
        )
    }

    fn outcome(&mut self, told: &Told) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            for l in told.lines() {
                if ["Succeeded", "Failed", "Cancelled"].contains(&l.as_str()) {
                    return l;
                }
            }
            assert!(Instant::now() < deadline, "no outcome");
            self.c.roundtrip().expect("roundtrip");
        }
    }
}

#[test]
fn heads_describe_every_output() {
    let h = two_outputs();
    let m = Manager::new(&h);
    let (_, one) = m.head("HEADLESS-1");
    assert!(one.has("Enabled { enabled: 1 }"), "{:?}", one.lines());
    assert!(one.has("Position { x: 0, y: 0 }"), "{:?}", one.lines());
    assert!(one.has("Scale { scale: 1.0 }"), "{:?}", one.lines());
    assert!(
        one.has("CurrentMode Size { width: 640, height: 480 }"),
        "{:?}",
        one.lines()
    );
    let modes = one.modes();
    assert!(
        modes
            .iter()
            .any(|(_, t)| t.has("Refresh { refresh: 60000 }")),
        "{:?}",
        modes.iter().map(|(_, t)| t.lines()).collect::<Vec<_>>()
    );
    let (_, two) = m.head("HEADLESS-2");
    assert!(two.has("Position { x: 640, y: 0 }"), "{:?}", two.lines());
}

#[test]
fn a_configuration_is_tested_then_applied_and_every_manager_hears_of_it() {
    let h = two_outputs();
    let mut m = Manager::new(&h);
    let mut watcher = Manager::new(&h);

    // Tested: nothing changes.
    let (config, told) = m.configuration();
    let (one, two) = m.enable_both(&config);
    one.set_scale(2.0);
    two.set_position(0, 0);
    config.test();
    assert_eq!(m.outcome(&told), "Succeeded");
    assert_eq!(h.msg(Request::Outputs)[0]["scale"], 1.0);

    // Applied: HEADLESS-1 at scale 2 and a custom mode, HEADLESS-2 to its left.
    let (config, told) = m.configuration();
    let (one, two) = m.enable_both(&config);
    one.set_scale(2.0);
    one.set_custom_mode(800, 600, 60_000);
    one.set_position(320, 0);
    two.set_position(0, 0);
    config.apply();
    assert_eq!(m.outcome(&told), "Succeeded");
    let outputs = h.msg(Request::Outputs);
    let one = &outputs[0];
    assert_eq!(one["scale"], 2.0, "{one}");
    assert_eq!(
        (one["width"].as_u64(), one["x"].as_i64()),
        (Some(800), Some(320)),
        "{one}"
    );
    watcher.until("the new scale", |t| {
        t.head("HEADLESS-1").is_some_and(|(_, h)| {
            h.has("Scale { scale: 2.0 }") && h.has("Position { x: 320, y: 0 }")
        })
    });
    watcher.until("the new mode", |t| {
        t.head("HEADLESS-1")
            .is_some_and(|(_, h)| h.has("CurrentMode Size { width: 800, height: 600 }"))
    });
}

#[test]
fn an_output_is_turned_off_turned_on_and_turned_through_a_configuration() {
    let h = two_outputs();
    let mut m = Manager::new(&h);
    let mut watcher = Manager::new(&h);

    // HEADLESS-1 turned a quarter, HEADLESS-2 off.
    let (config, told) = m.configuration();
    let (one, _) = m.head("HEADLESS-1");
    let (two, _) = m.head("HEADLESS-2");
    let c1 = config.enable_head(&one, &m.c.qh, Told::default());
    c1.set_transform(wayland_client::protocol::wl_output::Transform::_90);
    config.disable_head(&two);
    config.apply();
    assert_eq!(m.outcome(&told), "Succeeded");
    let outputs = h.msg(Request::Outputs);
    assert_eq!(outputs[0]["transform"], "90", "{}", outputs[0]);
    assert_eq!(
        (
            outputs[0]["logical_width"].as_i64(),
            outputs[0]["logical_height"].as_i64()
        ),
        (Some(480), Some(640)),
        "a quarter turn swaps the logical sides: {}",
        outputs[0]
    );
    assert_eq!(outputs[1]["enabled"], false, "{}", outputs[1]);
    watcher.until("HEADLESS-2 off and HEADLESS-1 turned", |t| {
        t.head("HEADLESS-2")
            .is_some_and(|(_, h)| h.has("Enabled { enabled: 0 }"))
            && t.head("HEADLESS-1")
                .is_some_and(|(_, h)| h.has("Transform { transform: Value(_90) }"))
    });
    // The output that is off is no wl_output global any more.
    let c = h.client();
    let names: Vec<String> = c
        .globals
        .contents()
        .clone_list()
        .into_iter()
        .filter(|g| g.interface == "wl_output")
        .map(|g| g.interface)
        .collect();
    assert_eq!(names.len(), 1, "one wl_output global left: {names:?}");

    // Both on again: HEADLESS-2 comes back right of the turned HEADLESS-1 (480 wide now).
    let (config, told) = m.configuration();
    m.enable_both(&config);
    config.apply();
    assert_eq!(m.outcome(&told), "Succeeded");
    let outputs = h.msg(Request::Outputs);
    assert_eq!(outputs[1]["enabled"], true, "{}", outputs[1]);
    assert_eq!(outputs[1]["x"], 480, "{}", outputs[1]);
    watcher.until("HEADLESS-2 on again", |t| {
        t.head("HEADLESS-2").is_some_and(|(_, h)| {
            last(&h, "Enabled") == "Enabled { enabled: 1 }"
                && last(&h, "Position") == "Position { x: 480, y: 0 }"
        })
    });
}

/// The last line of `told` about `event`.
fn last(told: &Told, event: &str) -> String {
    told.lines()
        .into_iter()
        .rev()
        .find(|l| l.starts_with(event))
        .unwrap_or_default()
}

#[test]
fn what_weft_cannot_do_fails_whole_and_an_old_serial_is_cancelled() {
    let h = two_outputs();
    let mut m = Manager::new(&h);

    // Adaptive sync fails, and the scale asked for with it is not applied.
    let (config, told) = m.configuration();
    let (c1, _) = m.enable_both(&config);
    c1.set_scale(2.0);
    c1.set_adaptive_sync(zwlr_output_head_v1::AdaptiveSyncState::Enabled);
    config.apply();
    assert_eq!(m.outcome(&told), "Failed");
    assert_eq!(h.msg(Request::Outputs)[0]["scale"], 1.0);

    // A configuration made before a change is cancelled.
    let old = m.serial();
    h.weft
        .msg(&Request::Output {
            output: "HEADLESS-2".into(),
            scale: Some(2.0),
            transform: None,
            position: None,
            mode: None,
            enabled: None,
        })
        .expect("IPC");
    m.until("the change", |t| {
        t.lines().iter().filter(|l| l.starts_with("Done")).count() >= 2
    });
    let told = Told::default();
    let config = m.manager.create_configuration(old, &m.c.qh, told.clone());
    m.enable_both(&config);
    config.apply();
    assert_eq!(m.outcome(&told), "Cancelled");
}

/// Request `opcode` of `head` with one argument, as bytes on the wire.
fn raw(
    m: &Manager,
    head: &ZwlrOutputConfigurationHeadV1,
    opcode: u16,
    arg: Argument<ObjectId, i32>,
) {
    let msg = wayland_backend::protocol::Message {
        sender_id: head.id(),
        opcode,
        args: wayland_backend::smallvec::smallvec![arg],
    };
    m.c.conn
        .backend()
        .send_request(msg, None, None)
        .expect("send");
}

#[test]
fn every_configuration_error_is_raised() {
    let h = two_outputs();
    // zwlr_output_configuration_v1.already_configured_head (1).
    h.with_bystander(|| {
        let mut m = Manager::new(&h);
        let (config, _) = m.configuration();
        let (one, _) = m.head("HEADLESS-1");
        config.enable_head(&one, &m.c.qh, Told::default());
        config.disable_head(&one);
        assert_ended_with(&mut m.c, "zwlr_output_configuration_v1", 1);
    });
    // unconfigured_head (2).
    h.with_bystander(|| {
        let mut m = Manager::new(&h);
        let (config, _) = m.configuration();
        let (one, _) = m.head("HEADLESS-1");
        config.enable_head(&one, &m.c.qh, Told::default());
        config.apply();
        assert_ended_with(&mut m.c, "zwlr_output_configuration_v1", 2);
    });
    // already_used (3).
    h.with_bystander(|| {
        let mut m = Manager::new(&h);
        let (config, told) = m.configuration();
        m.enable_both(&config);
        config.test();
        assert_eq!(m.outcome(&told), "Succeeded");
        config.apply();
        assert_ended_with(&mut m.c, "zwlr_output_configuration_v1", 3);
    });
    // zwlr_output_configuration_head_v1: already_set (1), invalid_mode (2), invalid_custom_mode (3),
    // invalid_transform (4), invalid_scale (5), invalid_adaptive_sync_state (6).
    type Misuse = fn(&ZwlrOutputConfigurationHeadV1, &Manager);
    let cases: [(u32, Misuse); 6] = [
        (1, |c, _| {
            c.set_scale(1.0);
            c.set_scale(2.0);
        }),
        (2, |c, m| {
            // A mode of the other head.
            let (_, two) = m.head("HEADLESS-2");
            let (mode, _) = two.modes().into_iter().next().expect("a mode");
            c.set_mode(&mode);
        }),
        (3, |c, _| c.set_custom_mode(0, 480, 60_000)),
        // Outside their enums: the typed API cannot send these (raw requests, as a buggy client).
        (4, |c, m| raw(m, c, 3, Argument::Int(42))),
        (5, |c, _| c.set_scale(-1.0)),
        (6, |c, m| raw(m, c, 5, Argument::Uint(7))),
    ];
    for (code, misuse) in cases {
        h.with_bystander(|| {
            let mut m = Manager::new(&h);
            let (config, _) = m.configuration();
            let (one, _) = m.enable_both(&config);
            misuse(&one, &m);
            assert_ended_with(&mut m.c, "zwlr_output_configuration_head_v1", code);
        });
    }
}

#[test]
fn wlr_randr_lists_and_configures_the_outputs() {
    assert!(
        std::path::Path::new("/usr/bin/wlr-randr").exists(),
        "wlr-randr is missing: install Debian's wlr-randr (scripts/install-deps --test)"
    );
    let h = two_outputs();
    let run = |args: &[&str]| {
        let out = Command::new("wlr-randr")
            .args(args)
            .env_clear()
            .env("XDG_RUNTIME_DIR", &h.runtime_dir)
            .env("WAYLAND_DISPLAY", h.weft.wayland_path())
            .output()
            .expect("wlr-randr runs");
        assert!(
            out.status.success(),
            "wlr-randr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listed = run(&[]);
    assert!(
        listed.contains("HEADLESS-1") && listed.contains("HEADLESS-2"),
        "{listed}"
    );
    assert!(listed.contains("640x480"), "{listed}");
    run(&["--output", "HEADLESS-2", "--scale", "2", "--pos", "0,0"]);
    run(&["--output", "HEADLESS-1", "--pos", "160,0"]);
    let outputs = h.msg(Request::Outputs);
    assert_eq!(outputs[1]["scale"], 2.0, "{outputs}");
    assert_eq!(outputs[0]["x"], 160, "{outputs}");
    let listed = run(&[]);
    assert!(listed.contains("Scale: 2"), "{listed}");
}
