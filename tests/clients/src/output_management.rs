//! A zwlr_output_manager_v1 client that records what it is told: every head with its events and
//! its modes, and each configuration's outcome (tests/output_management.rs).

use std::sync::{Arc, Mutex};

use wayland_client::{Connection, Dispatch, Proxy, QueueHandle};
pub use wayland_protocols_wlr::output_management::v1::client::{
    zwlr_output_configuration_head_v1, zwlr_output_configuration_v1, zwlr_output_head_v1,
    zwlr_output_manager_v1, zwlr_output_mode_v1,
};

use crate::client::State;

/// What one object (a manager, head, mode or configuration) was told, and the objects it
/// announced.
#[derive(Debug, Clone, Default)]
pub struct Told {
    lines: Arc<Mutex<Vec<String>>>,
    heads: Arc<Mutex<Vec<(zwlr_output_head_v1::ZwlrOutputHeadV1, Told)>>>,
    modes: Arc<Mutex<Vec<(zwlr_output_mode_v1::ZwlrOutputModeV1, Told)>>>,
}

impl Told {
    fn push(&self, line: String) {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether any line contains `what`.
    pub fn has(&self, what: &str) -> bool {
        self.lines().iter().any(|l| l.contains(what))
    }

    /// The heads announced, with what each was told.
    pub fn heads(&self) -> Vec<(zwlr_output_head_v1::ZwlrOutputHeadV1, Told)> {
        self.heads.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The modes announced (of a head), with what each was told.
    pub fn modes(&self) -> Vec<(zwlr_output_mode_v1::ZwlrOutputModeV1, Told)> {
        self.modes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The head named `name`.
    pub fn head(&self, name: &str) -> Option<(zwlr_output_head_v1::ZwlrOutputHeadV1, Told)> {
        self.heads()
            .into_iter()
            .find(|(_, t)| t.has(&format!("Name {{ name: \"{name}\" }}")))
    }
}

impl Dispatch<zwlr_output_manager_v1::ZwlrOutputManagerV1, Told> for State {
    fn event(
        _: &mut Self,
        _: &zwlr_output_manager_v1::ZwlrOutputManagerV1,
        event: zwlr_output_manager_v1::Event,
        told: &Told,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zwlr_output_manager_v1::Event::Head { head } = &event {
            if let Some(child) = head.data::<Told>() {
                told.heads
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((head.clone(), child.clone()));
            }
        }
        told.push(format!("{event:?}"));
    }

    wayland_client::event_created_child!(State, zwlr_output_manager_v1::ZwlrOutputManagerV1, [
        zwlr_output_manager_v1::EVT_HEAD_OPCODE => (zwlr_output_head_v1::ZwlrOutputHeadV1, Told::default()),
    ]);
}

impl Dispatch<zwlr_output_head_v1::ZwlrOutputHeadV1, Told> for State {
    fn event(
        _: &mut Self,
        _: &zwlr_output_head_v1::ZwlrOutputHeadV1,
        event: zwlr_output_head_v1::Event,
        told: &Told,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match &event {
            zwlr_output_head_v1::Event::Mode { mode } => {
                if let Some(child) = mode.data::<Told>() {
                    told.modes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((mode.clone(), child.clone()));
                }
            }
            zwlr_output_head_v1::Event::CurrentMode { mode } => {
                // Which of the modes: its size, as the mode was told.
                let size = mode
                    .data::<Told>()
                    .and_then(|t| t.lines().into_iter().find(|l| l.starts_with("Size")))
                    .unwrap_or_default();
                told.push(format!("CurrentMode {size}"));
                return;
            }
            _ => {}
        }
        told.push(format!("{event:?}"));
    }

    wayland_client::event_created_child!(State, zwlr_output_head_v1::ZwlrOutputHeadV1, [
        zwlr_output_head_v1::EVT_MODE_OPCODE => (zwlr_output_mode_v1::ZwlrOutputModeV1, Told::default()),
    ]);
}

macro_rules! told {
    ($($module:ident :: $iface:ident),* $(,)?) => {$(
        impl Dispatch<$module::$iface, Told> for State {
            fn event(
                _: &mut Self,
                proxy: &$module::$iface,
                event: $module::Event,
                told: &Told,
                _: &Connection,
                _: &QueueHandle<Self>,
            ) {
                let _ = proxy.id();
                told.push(format!("{event:?}"));
            }
        }
    )*};
}

told!(
    zwlr_output_mode_v1::ZwlrOutputModeV1,
    zwlr_output_configuration_v1::ZwlrOutputConfigurationV1,
    zwlr_output_configuration_head_v1::ZwlrOutputConfigurationHeadV1,
);
