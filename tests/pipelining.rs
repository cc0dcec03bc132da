//! Pipelined frames, made deterministic with a GPU that does not finish (`inject-fault
//! gpu-stall`): while frames are in flight the CPU does not wait for them (frame callbacks keep
//! coming, no blocked waits counted), and a client buffer a frame in flight reads is released only
//! once that frame completed.

mod common;

use common::{solid_shm, Harness};
use wayland_client::Proxy;
use weft::Request;

const OUTPUT: &str = "HEADLESS-1";

fn output(h: &Harness) -> serde_json::Value {
    h.msg(Request::Outputs)[0].clone()
}

#[test]
fn frames_in_flight_cost_no_cpu_wait_and_hold_what_they_read() {
    let h = Harness::with_fault_injection(320, 240, 60);
    let mut c = h.client();
    let top = c.toplevel("pipelined", "weft.test").unwrap();
    let a = solid_shm(&c, 100, 80, [255, 0, 0]);
    let b = solid_shm(&c, 100, 80, [0, 255, 0]);
    c.show(&top.surface, &a.buffer);
    h.settle(&mut c);
    assert_eq!(h.surface("pipelined")["rung"], "ShmInPlace");
    let waits_before = output(&h)["gpu_waits"].as_u64().expect("gpu_waits");

    // The next frame reads A in place, and the GPU does not finish it.
    h.inject_fault("gpu-stall");
    h.msg(Request::Redraw {
        output: Some(OUTPUT.into()),
    });
    let mut in_flight = 0;
    for _ in 0..100 {
        in_flight = output(&h)["frames_in_flight"].as_u64().unwrap_or(0);
        if in_flight >= 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        in_flight >= 1,
        "the stalled frame is in flight: {}",
        output(&h)
    );

    // B replaces A. smithay lets go of A, but the stalled frame still reads it: no release.
    c.frame(&top.surface, 1);
    c.show(&top.surface, &b.buffer);
    // The CPU does not wait for the GPU: frame callbacks keep coming at the output's rate.
    for tag in 1..=4 {
        if tag > 1 {
            c.frame(&top.surface, tag);
            top.surface.commit();
        }
        c.wait_until("a frame callback while the GPU is stalled", 200, |s| {
            s.frames_done.iter().any(|(t, _)| *t == tag)
        })
        .unwrap();
    }
    let out = output(&h);
    assert!(out["frames_in_flight"].as_u64() >= Some(1), "{out}");
    assert_eq!(
        out["gpu_waits"].as_u64(),
        Some(waits_before),
        "the CPU waited: {out}"
    );
    c.roundtrip().unwrap();
    assert!(
        !c.state.released.contains(&a.buffer.id()),
        "A was released while a frame in flight reads it"
    );

    // The GPU finishes: the frames retire at the next tick and A is released.
    h.inject_fault("gpu-resume");
    let id = a.buffer.id();
    c.wait_until("A released once the frame reading it completed", 200, |s| {
        s.released.contains(&id)
    })
    .unwrap();
    assert!(
        !c.state.released.contains(&b.buffer.id()),
        "B is still shown"
    );
    h.screenshot(OUTPUT)
        .assert_pixel(160, 120, [0, 255, 0, 255], 0);
}
