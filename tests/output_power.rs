//! Turning an output off and on (`weft msg output NAME --off` / `--on`): while off it is no
//! wl_output global, presents no frames and is in no layout (the outputs right of it move left);
//! turned on it comes back, drawn whole, where it was.

mod common;

use common::Harness;
use weft::Request;
use weft_compositor::OutputSpec;

fn power(h: &Harness, output: &str, on: bool) -> serde_json::Value {
    h.weft
        .msg(&Request::Output {
            output: output.into(),
            scale: None,
            transform: None,
            position: None,
            mode: None,
            enabled: Some(on),
        })
        .expect("IPC")
}

fn wl_outputs(h: &Harness) -> usize {
    h.client()
        .globals
        .contents()
        .clone_list()
        .into_iter()
        .filter(|g| g.interface == "wl_output")
        .count()
}

fn frames(h: &Harness, index: usize) -> u64 {
    h.msg(Request::Outputs)[index]["frames"]
        .as_u64()
        .expect("frames")
}

#[test]
fn an_output_turned_off_presents_nothing_and_comes_back_when_turned_on() {
    let spec = |width, height| OutputSpec {
        width,
        height,
        refresh_mhz: 60_000,
    };
    let h = Harness::with(vec![spec(320, 240), spec(640, 480)], false);
    assert_eq!(wl_outputs(&h), 2);

    let outputs = power(&h, "HEADLESS-1", false);
    assert_eq!(outputs[0]["enabled"], false, "{}", outputs[0]);
    assert_eq!(
        outputs[1]["x"], 0,
        "HEADLESS-2 moves left into the place HEADLESS-1 left: {}",
        outputs[1]
    );
    assert_eq!(wl_outputs(&h), 1, "an output that is off is no global");
    let before = frames(&h, 0);
    let other = frames(&h, 1);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(frames(&h, 0), before, "no frames while off");
    assert!(frames(&h, 1) > other, "the other output goes on presenting");

    let outputs = power(&h, "HEADLESS-1", true);
    assert_eq!(outputs[0]["enabled"], true, "{}", outputs[0]);
    assert_eq!(outputs[1]["x"], 320, "{}", outputs[1]);
    assert_eq!(wl_outputs(&h), 2);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while frames(&h, 0) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "HEADLESS-1 presents again"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let shot = h.screenshot("HEADLESS-1");
    shot.assert_pixel(10, 10, common::BACKGROUND, 2);

    let unknown = h.weft.msg(&Request::Output {
        output: "NOPE-1".into(),
        scale: None,
        transform: None,
        position: None,
        mode: None,
        enabled: Some(false),
    });
    assert!(unknown.is_err(), "{unknown:?}");
}
