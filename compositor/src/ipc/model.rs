//! The JSON contract of the IPC socket. Key names are a contract with `weft msg --json` users:
//! add keys freely, never rename or remove one.

use serde::{Deserialize, Serialize};

use crate::surface::BufferInfo;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    Outputs,
    Surfaces,
    Devices,
    /// Renders `output` now and writes it to `path` (absolute) as an 8-bit RGBA PNG.
    Screenshot {
        output: String,
        path: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputRecord {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub refresh_mhz: u32,
    pub x: i32,
    pub y: i32,
    /// Frames presented (frame clock ticks) and frames actually rendered.
    pub frames: u64,
    pub rendered: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SurfaceRecord {
    pub id: u64,
    pub app_id: Option<String>,
    pub title: Option<String>,
    pub output: Option<String>,
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub buffer: Option<BufferInfo>,
    pub rung: Option<&'static str>,
    pub reason: Option<String>,
    pub source_device: Option<String>,
    pub maximized: bool,
    pub fullscreen: bool,
    pub subsurfaces: usize,
    pub popups: usize,
    pub commits: u64,
    pub uploaded_bytes: u64,
}
