//! weft's core: Wayland state on smithay, the Vulkan renderer, outputs, frames and introspection.
//!
//! Dependencies point one way: `weft-protocols` ← this crate ← `weft-backends` ← the `weft` binary.
//! Backends drive frames through [`state::Weft::frame`]; nothing here knows which backend runs.

pub mod budget;
pub mod buffer;
pub mod client;
pub mod clock;
pub mod color_representation;
pub mod damage;
pub mod data_transfer;
pub mod devices;
pub mod disconnect;
pub mod feedback;
pub mod frame;
pub mod grabs;
pub mod handlers;
pub mod hotplug;
pub mod idle;
pub mod import;
pub mod input;
pub mod ipc;
pub mod layers;
pub mod layout;
pub mod output;
pub mod outputs;
pub mod ping;
pub mod pointer_constraints;
pub mod popup_grab;
pub mod recovery;
pub mod render;
pub mod scanout;
pub mod scene;
pub mod screenshot;
pub mod secondary;
pub mod session_lock;
pub mod shm_in_place;
pub mod shm_pixels;
pub mod state;
pub mod surface;
pub mod sync;
pub mod upload_slices;
pub mod uploads;

pub use client::ClientState;
pub use clock::Clock;
pub use output::OutputSpec;
pub use state::{DeviceOptions, Weft};

/// Crates backends and the binary need at smithay's exact versions.
pub mod reexports {
    pub use calloop::ping::Ping;
}
