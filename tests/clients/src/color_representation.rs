//! A wp_color_representation_v1 client: binds the manager, records what weft says it supports,
//! and makes per-surface objects (what a video player does to get its colours right).

use std::sync::{Arc, Mutex};

use wayland_client::protocol::wl_surface;
use wayland_client::{Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols::wp::color_representation::v1::client::{
    wp_color_representation_manager_v1::{self, WpColorRepresentationManagerV1},
    wp_color_representation_surface_v1::{
        self, AlphaMode, Coefficients, Range, WpColorRepresentationSurfaceV1,
    },
};

use crate::client::{Client, ClientError, State};

/// What the manager announced.
#[derive(Debug, Default, Clone)]
pub struct Supported {
    pub alpha_modes: Vec<AlphaMode>,
    pub coefficients: Vec<(Coefficients, Range)>,
    pub done: bool,
}

pub type SupportedHandle = Arc<Mutex<Supported>>;

pub struct ColorRepresentation {
    pub manager: WpColorRepresentationManagerV1,
    pub supported: SupportedHandle,
}

impl ColorRepresentation {
    /// Binds the manager and waits for its `done`.
    pub fn bind(c: &mut Client) -> Result<Self, ClientError> {
        let supported = SupportedHandle::default();
        let manager = c.globals.bind(&c.qh, 1..=1, supported.clone())?;
        for _ in 0..100 {
            if supported.lock().map(|s| s.done).unwrap_or(false) {
                break;
            }
            c.roundtrip()?;
        }
        Ok(Self { manager, supported })
    }

    pub fn surface(
        &self,
        c: &Client,
        surface: &wl_surface::WlSurface,
    ) -> WpColorRepresentationSurfaceV1 {
        self.manager.get_surface(surface, &c.qh, ())
    }
}

impl Dispatch<WpColorRepresentationManagerV1, SupportedHandle> for State {
    fn event(
        _: &mut Self,
        _: &WpColorRepresentationManagerV1,
        event: wp_color_representation_manager_v1::Event,
        supported: &SupportedHandle,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use wp_color_representation_manager_v1::Event;
        let Ok(mut s) = supported.lock() else {
            return;
        };
        match event {
            Event::SupportedAlphaMode {
                alpha_mode: WEnum::Value(m),
            } => s.alpha_modes.push(m),
            Event::SupportedCoefficientsAndRanges {
                coefficients: WEnum::Value(c),
                range: WEnum::Value(r),
            } => s.coefficients.push((c, r)),
            Event::Done => s.done = true,
            _ => {}
        }
    }
}

impl Dispatch<WpColorRepresentationSurfaceV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &WpColorRepresentationSurfaceV1,
        _: wp_color_representation_surface_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}
