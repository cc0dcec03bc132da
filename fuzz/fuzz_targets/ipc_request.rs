//! The IPC request parser (`weft_compositor::ipc::model::parse_request`) on arbitrary bytes.
//!
//! Invariants: it never panics; whatever it accepts serialises back to JSON that parses to the same
//! request (the contract `weft msg` relies on); every refusal is a "bad request" reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_compositor::ipc::model::parse_request;

fuzz_target!(|data: &[u8]| {
    match parse_request(data) {
        Ok(req) => {
            let json = serde_json::to_vec(&req).expect("a parsed request serialises");
            let again = parse_request(&json).expect("a serialised request parses");
            assert_eq!(format!("{req:?}"), format!("{again:?}"));
        }
        Err(e) => assert!(e.to_string().starts_with("bad request: "), "{e}"),
    }
});
