//! weft's core: Wayland state on smithay, the Vulkan renderer, outputs, frames and introspection.
//!
//! Dependencies point one way: `weft-protocols` ← this crate ← `weft-backends` ← the `weft` binary.
//! Backends drive frames through [`Weft::frame`]; nothing here knows which backend runs.

pub mod backend;
pub mod budget;
pub mod buffer;
pub mod buffers;
pub mod capture;
pub mod color_representation;
pub mod config;
pub mod damage;
pub mod devices;
pub mod handlers;
pub mod import;
pub mod ipc;
pub mod outputs;
pub mod render;
pub mod render_devices;
pub mod runtime;
pub mod seat;
pub mod shell;
pub mod state;
pub mod surface;
pub mod sync;
pub mod xwayland;

pub use outputs::clock::Clock;
pub use outputs::output::OutputSpec;
pub use runtime::client::ClientState;
pub use state::DeviceOptions;

/// The compositor: a handful of owners, each with one concern. Its fields are private to this
/// crate (declared here, at the crate root, so every module of the core reaches them and nothing
/// outside does); backends and the binary use `Weft`'s methods ([`state`], [`backend`]).
///
/// Invariants:
/// - every mapped toplevel is a `Window` in the shell's space; popups are tracked by its popup
///   manager;
/// - every surface that ever had a buffer has a [`surface::SurfaceView`] in its data map, holding
///   what the renderer needs and what introspection shows;
/// - outputs are owned by [`outputs::output::Outputs`], each with its own render target ([`output`]).
pub struct Weft {
    /// The display, the event loop, the clients, whether weft runs.
    runtime: runtime::Runtime,
    /// Surfaces with roles and where they are placed.
    shell: shell::Shell,
    /// seat0: keyboard, pointer, touch, selections, idle.
    input: seat::Input,
    /// ext_session_lock_v1: the lock and its surfaces ([`shell::session_lock`]).
    lock: shell::session_lock::SessionLock,
    /// Outputs, presentation and the scene generation.
    outputs: outputs::output::Outputs,
    /// Buffer globals: wl_shm, single-pixel, linux-dmabuf and its feedback.
    buffers: buffers::Buffers,
    /// The render devices and their imports.
    gpu: render_devices::RenderDevices,
    /// Every device weft knows of, and which one renders ([`devices`]).
    devices: devices::Registry,
    /// Explicit sync and fence waits ([`sync`]).
    sync: sync::Fences,
    /// Screen capture: copies waiting for their output's frame ([`capture`]).
    capture: capture::Capture,
    /// The configuration file in force ([`config`]).
    config: config::apply::ConfigState,
    /// X11 applications: the reserved display, Xwayland, its window manager ([`xwayland`]).
    xwayland: xwayland::Xwayland,
}

/// Crates backends and the binary need at smithay's exact versions.
pub mod reexports {
    pub use calloop::ping::Ping;
}
