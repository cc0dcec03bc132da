//! The client side of the IPC socket, used by `weft msg` and the tests.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Request;

#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    #[error("cannot reach weft at {0}: {1}")]
    Connect(PathBuf, std::io::Error),
    #[error("IPC I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("weft sent an unreadable reply: {0}")]
    Reply(#[from] serde_json::Error),
    #[error("weft: {0}")]
    Remote(String),
}

/// The IPC socket path for Wayland socket `name` in `runtime_dir`.
pub fn socket_path(runtime_dir: &Path, name: &str) -> PathBuf {
    runtime_dir.join(format!("weft-{name}.sock"))
}

/// Sends one request and returns the reply's `data`.
pub fn request(path: &Path, req: &Request) -> Result<serde_json::Value, IpcError> {
    let mut stream =
        UnixStream::connect(path).map_err(|e| IpcError::Connect(path.to_path_buf(), e))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut line = serde_json::to_string(req)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    let value: serde_json::Value = serde_json::from_str(&reply)?;
    if value.get("ok").and_then(|v| v.as_bool()) == Some(true) {
        Ok(value
            .get("data")
            .cloned()
            .unwrap_or(serde_json::Value::Null))
    } else {
        let msg = value
            .get("error")
            .and_then(|e| e.as_str())
            .unwrap_or("unknown error");
        Err(IpcError::Remote(msg.to_string()))
    }
}

/// The render device's entry in a `devices` reply.
pub fn render_device(devices: &serde_json::Value) -> Option<&serde_json::Value> {
    devices
        .as_array()?
        .iter()
        .find(|d| d["render"].as_bool() == Some(true))
}
