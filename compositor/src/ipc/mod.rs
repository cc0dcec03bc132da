//! Introspection over a Unix socket (`$XDG_RUNTIME_DIR/weft-NAME.sock`): one JSON request per
//! connection, one JSON reply, served without blocking the event loop (bounded request size,
//! lifetime and connection count: [`conn::Limits`]). `weft msg` is the client; tests and benchmarks read the same data.
//!
//! Request: `{"command": "outputs" | "surfaces" | "devices" | "screenshot", ...}`.
//! Reply: `{"ok": true, "data": ...}` or `{"ok": false, "error": "..."}`.

pub mod client;
pub mod conn;
pub mod model;
pub mod server;

pub use model::{ClientRecord, Fault, OutputRecord, Request, SurfaceRecord};
