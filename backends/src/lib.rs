//! weft's backends. Each one owns an event loop around a [`weft_compositor::Weft`] and drives its
//! outputs' frames; what they share (the Wayland socket, the IPC socket, the child client) lives in
//! [`server`].

pub mod dispatch;
pub mod drm;
pub mod headless;
pub mod server;
pub mod signals;
pub mod winit;
