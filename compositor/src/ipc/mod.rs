//! Introspection over a Unix socket (`$XDG_RUNTIME_DIR/weft-NAME.sock`): one JSON request per
//! connection, one JSON reply. `weft msg` is the client; tests and benchmarks read the same data.
//!
//! Request: `{"command": "outputs" | "surfaces" | "devices" | "screenshot", ...}`.
//! Reply: `{"ok": true, "data": ...}` or `{"ok": false, "error": "..."}`.

pub mod client;
pub mod model;
pub mod server;

pub use model::{OutputRecord, Request, SurfaceRecord};
