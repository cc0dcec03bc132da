//! The IPC socket serves `weft msg` without ever holding the event loop: half requests, idle
//! connections, garbage, huge and half-closed requests each get a clear outcome for that caller,
//! while Wayland clients and other `weft msg` callers keep being served.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::Harness;
use weft::Request;

fn connect(h: &Harness) -> UnixStream {
    UnixStream::connect(&h.weft.endpoints.ipc_path).expect("the IPC socket accepts")
}

/// Sends `bytes` and reads the whole reply (weft closes after it).
fn exchange(h: &Harness, bytes: &[u8], shutdown_write: bool) -> serde_json::Value {
    let mut s = connect(h);
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(bytes).unwrap();
    if shutdown_write {
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut reply = String::new();
    s.read_to_string(&mut reply)
        .expect("a reply, then end of stream");
    serde_json::from_str(reply.trim()).unwrap_or_else(|e| panic!("reply {reply:?}: {e}"))
}

/// A Wayland roundtrip and a `weft msg outputs`, with how long both took.
fn served(h: &Harness) -> Duration {
    let started = Instant::now();
    let mut c = h.client();
    c.roundtrip().expect("Wayland clients are served");
    let outputs = h.msg(Request::Outputs);
    assert_eq!(outputs.as_array().map(|a| a.len()), Some(1));
    started.elapsed()
}

#[test]
fn half_requests_hold_nobody() {
    let h = Harness::new(320, 240, 60);
    // Each of these used to hold the whole event loop for 2 s.
    let half: Vec<UnixStream> = (0..10)
        .map(|_| {
            let mut s = connect(&h);
            s.write_all(br#"{"command":"#).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let took = served(&h);
    assert!(
        took < Duration::from_secs(5),
        "a roundtrip and a weft msg took {took:?} while 10 half requests were open"
    );
    drop(half);
}

#[test]
fn idle_connections_never_lock_out_weft_msg() {
    let h = Harness::new(320, 240, 60);
    let idle: Vec<UnixStream> = (0..200).map(|_| connect(&h)).collect();
    let took = served(&h);
    assert!(took < Duration::from_secs(5), "served in {took:?}");
    // The oldest idle connections were closed to make room (limit 64): they read end of stream.
    let mut first = idle.into_iter().next().unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        first.read(&mut buf).expect("closed, not timed out"),
        0,
        "the oldest idle connection was closed"
    );
}

#[test]
fn garbage_gets_an_error_reply() {
    let h = Harness::new(320, 240, 60);
    let reply = exchange(&h, b"\x00\xffhello there\n", false);
    assert_eq!(reply["ok"], false);
    let error = reply["error"].as_str().unwrap();
    assert!(error.starts_with("bad request"), "{error}");
    let reply = exchange(&h, b"{\"command\":\"no-such-thing\"}\n", false);
    assert_eq!(reply["ok"], false);
    served(&h);
}

#[test]
fn huge_requests_are_refused() {
    let h = Harness::new(320, 240, 60);
    let mut s = connect(&h);
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // 1 MiB without a newline; weft answers once it has seen more than its limit, and closes.
    let writer = {
        let mut w = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let chunk = vec![b'a'; 64 * 1024];
            for _ in 0..16 {
                if w.write_all(&chunk).is_err() {
                    break; // weft closed the connection: expected
                }
            }
        })
    };
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    writer.join().unwrap();
    let reply: serde_json::Value = serde_json::from_str(reply.trim()).expect("one JSON line");
    assert_eq!(reply["ok"], false);
    assert!(
        reply["error"].as_str().unwrap().contains("too large"),
        "{reply}"
    );
    served(&h);
}

#[test]
fn half_closed_connections_are_answered() {
    let h = Harness::new(320, 240, 60);
    // No newline: the end of stream ends the request.
    let reply = exchange(&h, br#"{"command":"outputs"}"#, true);
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["data"].as_array().map(|a| a.len()), Some(1));
    // Closed before saying anything: nothing to answer, weft carries on.
    let s = connect(&h);
    s.shutdown(std::net::Shutdown::Both).unwrap();
    drop(s);
    served(&h);
}

#[test]
fn a_caller_that_never_finishes_is_dropped() {
    let h = Harness::new(320, 240, 60);
    let mut s = connect(&h);
    s.write_all(br#"{"command":"#).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut buf).expect("closed by weft, not timed out"), 0);
    // The lifetime is 10 s; the sweep runs once a second.
    assert!(started.elapsed() >= Duration::from_secs(8));
    served(&h);
}
