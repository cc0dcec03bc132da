//! Wayland test clients for weft, built on wayland-client: a connection helper that records every
//! event a test may assert on, shm buffers and memfd-backed dma-bufs filled with known patterns, and the animated demo client
//! that `weft demo` runs.
//!
//! Nothing here knows weft's internals: it talks to a Wayland socket like any client.

pub mod bench;
pub mod capture;
pub mod client;
pub mod color_representation;
pub mod constraints;
pub mod data_transfer;
pub mod demo;
pub mod dmabuf;
pub mod layer;
pub mod output_management;
pub mod seat_events;
pub mod session;
pub mod shm;
pub mod soak;
pub mod syncobj;
pub mod v4l2_player;
pub mod video;
pub mod wire;
pub mod wire_fuzz;

pub use client::{Client, ClientError, Presented, Toplevel};
pub use shm::{argb, ShmBuffer};
