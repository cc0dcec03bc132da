//! `zwlr_output_manager_v1` v4: output configuration tools (wlr-randr, kanshi, wdisplays) read
//! every output as a head — name, description, modes, position, scale — and change them with a
//! configuration that is tested or applied whole.
//!
//! What weft can change: the scale ([`crate::outputs::scale`]), the position, and the mode of an
//! output weft sizes itself (headless; any custom mode too). A configuration that asks for more —
//! turning an output off, a transform other than normal, another mode of an output whose size its
//! window or display sets, adaptive sync — fails whole, and nothing of it is applied. A
//! configuration made before the last change (its serial is old) is cancelled. Every protocol
//! error of the two configuration interfaces is raised (tests/output_management.rs).
//!
//! Privileged: not offered to sandboxed clients ([`crate::runtime::security`]).

use std::sync::{Arc, Mutex};

use smithay::reexports::wayland_protocols_wlr::output_management::v1::server::{
    zwlr_output_configuration_head_v1::{self, ZwlrOutputConfigurationHeadV1},
    zwlr_output_configuration_v1::{self, ZwlrOutputConfigurationV1},
    zwlr_output_head_v1::{self, ZwlrOutputHeadV1},
    zwlr_output_manager_v1::{self, ZwlrOutputManagerV1},
    zwlr_output_mode_v1::{self, ZwlrOutputModeV1},
};
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};
use smithay::utils::Transform;
use tracing::{debug, info};

use crate::outputs::display_control::DisplayChange;
use crate::outputs::output::{OutputSlot, OutputSpec};
use crate::Weft;

const VERSION: u32 = 4;

/// A mode: width, height (pixels), refresh (mHz).
type ModeSpec = (i32, i32, i32);

/// What a head shows of one output.
#[derive(Debug, Clone, PartialEq)]
struct HeadState {
    name: String,
    description: String,
    modes: Vec<ModeSpec>,
    current: ModeSpec,
    position: (i32, i32),
    scale: f64,
    transform: Transform,
    enabled: bool,
}

/// One client's head of one output, and its mode objects.
struct Head {
    manager: ZwlrOutputManagerV1,
    resource: ZwlrOutputHeadV1,
    modes: Vec<(ZwlrOutputModeV1, ModeSpec)>,
    sent: HeadState,
}

/// The managers bound, their heads, the configuration serial.
pub struct OutputManagement {
    managers: Vec<ZwlrOutputManagerV1>,
    heads: Vec<Head>,
    serial: u32,
}

impl Default for OutputManagement {
    fn default() -> Self {
        Self {
            managers: Vec::new(),
            heads: Vec::new(),
            // Never 0: tools such as wlr-randr wait for a `done` whose serial is not 0.
            serial: 1,
        }
    }
}

/// What a configuration head asks of `slot`'s display: another mode, on or off (`request`
/// `None`: off).
fn display_change(slot: &OutputSlot, request: Option<&HeadRequest>) -> DisplayChange {
    let current = (
        slot.spec.width as i32,
        slot.spec.height as i32,
        slot.spec.refresh_mhz as i32,
    );
    let mode = request
        .and_then(|r| r.mode)
        .filter(|m| *m != current)
        .map(|(w, h, refresh)| OutputSpec {
            width: w.max(0) as u32,
            height: h.max(0) as u32,
            refresh_mhz: refresh.max(0) as u32,
        });
    DisplayChange {
        mode,
        enabled: (request.is_some() != slot.enabled).then_some(request.is_some()),
    }
}

/// A head's user data: the output it describes.
#[derive(Debug)]
pub struct HeadData(String);

/// A mode's user data: its output and the mode.
#[derive(Debug)]
pub struct ModeData(String, ModeSpec);

/// What one head of a configuration asks for.
#[derive(Debug, Default, Clone)]
struct HeadRequest {
    mode: Option<ModeSpec>,
    /// A custom mode (any size weft can make).
    custom: bool,
    position: Option<(i32, i32)>,
    transform: Option<Transform>,
    scale: Option<f64>,
    adaptive_sync: Option<bool>,
}

/// A configuration under construction.
#[derive(Debug, Default)]
struct Pending {
    serial: u32,
    used: bool,
    /// Each head configured so far: its output, and `None` when it is to be disabled.
    heads: Vec<(String, Option<HeadRequest>)>,
}

/// A configuration's user data.
#[derive(Debug, Clone, Default)]
pub struct ConfigurationData(Arc<Mutex<Pending>>);

/// A configuration head's user data: its configuration and output.
#[derive(Debug, Clone)]
pub struct ConfigurationHeadData(Arc<Mutex<Pending>>, String);

pub(crate) fn create_global(dh: &DisplayHandle) {
    dh.create_global::<Weft, ZwlrOutputManagerV1, _>(VERSION, ());
}

fn lock(p: &Arc<Mutex<Pending>>) -> std::sync::MutexGuard<'_, Pending> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

impl Weft {
    /// What every output looks like now, for the heads.
    fn head_states(&self) -> Vec<HeadState> {
        self.outputs
            .slots
            .iter()
            .map(|slot| {
                let mode = slot.output.current_mode();
                let current = mode.map(|m| (m.size.w, m.size.h, m.refresh)).unwrap_or((
                    slot.spec.width as i32,
                    slot.spec.height as i32,
                    0,
                ));
                let mut modes: Vec<ModeSpec> = slot
                    .output
                    .modes()
                    .iter()
                    .map(|m| (m.size.w, m.size.h, m.refresh))
                    .collect();
                if !modes.contains(&current) {
                    modes.push(current);
                }
                let position = self
                    .shell
                    .space
                    .output_geometry(&slot.output)
                    .map_or((0, 0), |g| (g.loc.x, g.loc.y));
                let props = slot.output.physical_properties();
                HeadState {
                    name: slot.output.name(),
                    description: format!("{} {} ({})", props.make, props.model, slot.output.name()),
                    modes,
                    current,
                    position,
                    scale: slot.scale,
                    transform: slot.transform,
                    enabled: slot.enabled,
                }
            })
            .collect()
    }

    /// Tells every manager what changed in the outputs (heads added, changed, gone), then `done`.
    pub(crate) fn announce_output_configuration(&mut self) {
        let states = self.head_states();
        let dh = self.runtime.display_handle().clone();
        let management = &mut self.outputs.management;
        let mut changed = false;
        // Heads of outputs that went.
        management.heads.retain(|head| {
            let keep = states.iter().any(|s| s.name == head.sent.name);
            if !keep {
                for (mode, _) in &head.modes {
                    mode.finished();
                }
                head.resource.finished();
                changed = true;
            }
            keep
        });
        for manager in management.managers.clone() {
            for state in &states {
                let existing = management
                    .heads
                    .iter_mut()
                    .find(|h| h.manager == manager && h.sent.name == state.name);
                match existing {
                    Some(head) => {
                        if head.sent != *state {
                            update_head(&dh, head, state);
                            changed = true;
                        }
                    }
                    None => {
                        if let Some(head) = new_head(&dh, &manager, state) {
                            management.heads.push(head);
                            changed = true;
                        }
                    }
                }
            }
        }
        if changed {
            management.serial = management.serial.wrapping_add(1).max(1);
            for manager in &management.managers {
                manager.done(management.serial);
            }
        }
    }

    /// Whether `request` can be put in force: `Err` says why not.
    fn check_configuration(&mut self, pending: &Pending) -> Result<(), String> {
        for (name, request) in &pending.heads {
            let slot = self
                .output_index(name)
                .and_then(|i| self.outputs.slots.get(i))
                .ok_or_else(|| format!("{name}: gone"))?;
            if slot.display_device.is_some() {
                // The display device answers for its mode and power (a TEST_ONLY commit).
                let change = display_change(slot, request.as_ref());
                if change != DisplayChange::default() {
                    self.configure_display(name, &change, true)?;
                }
            }
            let Some(slot) = self
                .output_index(name)
                .and_then(|i| self.outputs.slots.get(i))
            else {
                return Err(format!("{name}: gone"));
            };
            let Some(request) = request else { continue };
            if request.adaptive_sync == Some(true) {
                return Err(format!("{name}: adaptive sync is not supported"));
            }
            if let Some(scale) = request.scale {
                crate::outputs::scale::check(scale).map_err(|e| format!("{name}: {e}"))?;
            }
            if let Some((w, h, _)) = request.mode.filter(|_| slot.display_device.is_none()) {
                let same = (w, h) == (slot.spec.width as i32, slot.spec.height as i32);
                let sized_by_weft = !slot.draws_cursor;
                if !same && !sized_by_weft {
                    return Err(format!(
                        "{name}: its size is set by its window or display, not by weft"
                    ));
                }
                if request.custom && (w > 16384 || h > 16384) {
                    return Err(format!("{name}: {w}x{h} is larger than weft renders"));
                }
            }
        }
        Ok(())
    }

    /// Puts a checked configuration in force.
    fn apply_configuration(&mut self, pending: &Pending) -> Result<(), String> {
        for (name, request) in &pending.heads {
            self.set_output_enabled(name, request.is_some())
                .map_err(|e| format!("{name}: {e}"))?;
            let Some(request) = request else { continue };
            let Some(index) = self.output_index(name) else {
                continue;
            };
            let display = self.outputs.slots.get(index).map(|slot| {
                (
                    slot.display_device.is_some(),
                    display_change(slot, Some(request)),
                )
            });
            match (request.mode, display) {
                (_, Some((true, change))) if change.mode.is_some() => {
                    let mode = DisplayChange {
                        mode: change.mode,
                        enabled: None,
                    };
                    self.configure_display(name, &mode, false)?;
                }
                (Some((w, h, _)), Some((false, _))) => {
                    self.resize_output(index, w as u32, h as u32)
                        .map_err(|e| format!("{name}: {e}"))?;
                }
                _ => {}
            }
            if let Some(scale) = request.scale {
                self.set_output_scale(name, scale)
                    .map_err(|e| format!("{name}: {e}"))?;
            }
            if let Some(transform) = request.transform {
                self.set_output_transform(name, transform)
                    .map_err(|e| format!("{name}: {e}"))?;
            }
            if let Some(position) = request.position {
                if let Some(slot) = self.outputs.slots.get_mut(index) {
                    slot.position = Some(position);
                }
            }
        }
        self.relayout_outputs();
        self.damage();
        Ok(())
    }

    fn finish_configuration(&mut self, config: &ZwlrOutputConfigurationV1, apply: bool) {
        let Some(data) = config.data::<ConfigurationData>().cloned() else {
            return;
        };
        let pending = {
            let mut p = lock(&data.0);
            if p.used {
                config.post_error(
                    zwlr_output_configuration_v1::Error::AlreadyUsed,
                    "the configuration was already applied or tested",
                );
                return;
            }
            p.used = true;
            Pending {
                serial: p.serial,
                used: true,
                heads: std::mem::take(&mut p.heads),
            }
        };
        let names: Vec<String> = self.outputs.slots.iter().map(|s| s.output.name()).collect();
        if let Some(missing) = names
            .iter()
            .find(|n| !pending.heads.iter().any(|(h, _)| h == *n))
        {
            config.post_error(
                zwlr_output_configuration_v1::Error::UnconfiguredHead,
                format!("head {missing} is neither enabled nor disabled"),
            );
            return;
        }
        if pending.serial != self.outputs.management.serial {
            debug!("output configuration made before the last change: cancelled");
            config.cancelled();
            return;
        }
        let result = self.check_configuration(&pending).and_then(|()| {
            if apply {
                self.apply_configuration(&pending)
            } else {
                Ok(())
            }
        });
        match result {
            Ok(()) => {
                if apply {
                    info!(heads = pending.heads.len(), "output configuration applied");
                }
                config.succeeded();
            }
            Err(why) => {
                info!(%why, apply, "output configuration refused");
                config.failed();
            }
        }
        self.announce_output_configuration();
    }
}

/// A new head for `state` on `manager`'s client, with its modes and properties.
fn new_head(dh: &DisplayHandle, manager: &ZwlrOutputManagerV1, state: &HeadState) -> Option<Head> {
    let client = manager.client()?;
    let resource = client
        .create_resource::<ZwlrOutputHeadV1, _, Weft>(
            dh,
            manager.version(),
            HeadData(state.name.clone()),
        )
        .ok()?;
    manager.head(&resource);
    resource.name(state.name.clone());
    resource.description(state.description.clone());
    resource.physical_size(0, 0);
    if resource.version() >= 2 {
        resource.make("weft".into());
        resource.model(state.name.clone());
        resource.serial_number(String::new());
    }
    let mut head = Head {
        manager: manager.clone(),
        resource,
        modes: Vec::new(),
        sent: state.clone(),
    };
    send_modes(dh, &mut head, state);
    head.resource.enabled(i32::from(state.enabled));
    send_current(&head, state);
    if head.resource.version() >= 4 {
        head.resource
            .adaptive_sync(zwlr_output_head_v1::AdaptiveSyncState::Disabled);
    }
    Some(head)
}

/// The mode objects of `state` (the old ones finished first).
fn send_modes(dh: &DisplayHandle, head: &mut Head, state: &HeadState) {
    for (mode, _) in head.modes.drain(..) {
        mode.finished();
    }
    let Some(client) = head.resource.client() else {
        return;
    };
    for spec in &state.modes {
        let Ok(mode) = client.create_resource::<ZwlrOutputModeV1, _, Weft>(
            dh,
            head.resource.version(),
            ModeData(state.name.clone(), *spec),
        ) else {
            continue;
        };
        head.resource.mode(&mode);
        mode.size(spec.0, spec.1);
        if spec.2 > 0 {
            mode.refresh(spec.2);
        }
        if *spec == state.current {
            mode.preferred();
        }
        head.modes.push((mode, *spec));
    }
}

/// What an enabled head is showing (a head that is off has no current mode, place or scale).
fn send_current(head: &Head, state: &HeadState) {
    if !state.enabled {
        return;
    }
    if let Some((mode, _)) = head.modes.iter().find(|(_, s)| *s == state.current) {
        head.resource.current_mode(mode);
    }
    head.resource.position(state.position.0, state.position.1);
    head.resource.transform(state.transform.into());
    head.resource.scale(state.scale);
}

fn update_head(dh: &DisplayHandle, head: &mut Head, state: &HeadState) {
    if head.sent.modes != state.modes {
        send_modes(dh, head, state);
    }
    if head.sent.enabled != state.enabled {
        head.resource.enabled(i32::from(state.enabled));
    }
    send_current(head, state);
    head.sent = state.clone();
}

impl GlobalDispatch<ZwlrOutputManagerV1, ()> for Weft {
    fn bind(
        state: &mut Self,
        _: &DisplayHandle,
        _: &Client,
        resource: New<ZwlrOutputManagerV1>,
        _: &(),
        data_init: &mut DataInit<'_, Self>,
    ) {
        let manager = data_init.init(resource, ());
        state.outputs.management.managers.push(manager.clone());
        let dh = state.runtime.display_handle().clone();
        for head_state in state.head_states() {
            if let Some(head) = new_head(&dh, &manager, &head_state) {
                state.outputs.management.heads.push(head);
            }
        }
        manager.done(state.outputs.management.serial);
    }

    fn can_view(client: Client, _: &()) -> bool {
        crate::runtime::security::may_see_others(&client)
    }
}

impl Dispatch<ZwlrOutputManagerV1, ()> for Weft {
    fn request(
        state: &mut Self,
        _: &Client,
        manager: &ZwlrOutputManagerV1,
        request: zwlr_output_manager_v1::Request,
        _: &(),
        _: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        match request {
            zwlr_output_manager_v1::Request::CreateConfiguration { id, serial } => {
                let data = ConfigurationData::default();
                lock(&data.0).serial = serial;
                data_init.init(id, data);
            }
            zwlr_output_manager_v1::Request::Stop => {
                forget_manager(state, manager);
                manager.finished();
            }
            _ => {}
        }
    }

    fn destroyed(
        state: &mut Self,
        _: smithay::reexports::wayland_server::backend::ClientId,
        manager: &ZwlrOutputManagerV1,
        _: &(),
    ) {
        forget_manager(state, manager);
    }
}

fn forget_manager(state: &mut Weft, manager: &ZwlrOutputManagerV1) {
    let m = &mut state.outputs.management;
    m.managers.retain(|x| x != manager);
    m.heads.retain(|h| &h.manager != manager);
}

impl Dispatch<ZwlrOutputHeadV1, HeadData> for Weft {
    fn request(
        _: &mut Self,
        _: &Client,
        _: &ZwlrOutputHeadV1,
        _: zwlr_output_head_v1::Request,
        _: &HeadData,
        _: &DisplayHandle,
        _: &mut DataInit<'_, Self>,
    ) {
        // `release` (v3) is the destructor: nothing else to do.
    }
}

impl Dispatch<ZwlrOutputModeV1, ModeData> for Weft {
    fn request(
        _: &mut Self,
        _: &Client,
        _: &ZwlrOutputModeV1,
        _: zwlr_output_mode_v1::Request,
        _: &ModeData,
        _: &DisplayHandle,
        _: &mut DataInit<'_, Self>,
    ) {
    }
}

impl Dispatch<ZwlrOutputConfigurationV1, ConfigurationData> for Weft {
    fn request(
        state: &mut Self,
        _: &Client,
        config: &ZwlrOutputConfigurationV1,
        request: zwlr_output_configuration_v1::Request,
        data: &ConfigurationData,
        _: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        use zwlr_output_configuration_v1::Request;
        let head_of = |head: &ZwlrOutputHeadV1| head.data::<HeadData>().map(|d| d.0.clone());
        match request {
            Request::EnableHead { id, head } => {
                let name = head_of(&head).unwrap_or_default();
                add_head(config, data, &name, Some(HeadRequest::default()));
                // The object is made even after an error (the client is being disconnected).
                data_init.init(id, ConfigurationHeadData(data.0.clone(), name));
            }
            Request::DisableHead { head } => {
                let name = head_of(&head).unwrap_or_default();
                add_head(config, data, &name, None);
            }
            Request::Apply => state.finish_configuration(config, true),
            Request::Test => state.finish_configuration(config, false),
            Request::Destroy => {}
            _ => {}
        }
    }
}

/// `name` enabled (`Some`) or disabled in `config`, or the error that forbids it.
fn add_head(
    config: &ZwlrOutputConfigurationV1,
    data: &ConfigurationData,
    name: &str,
    request: Option<HeadRequest>,
) {
    use zwlr_output_configuration_v1::Error;
    let mut p = lock(&data.0);
    let error = if p.used {
        Some((
            Error::AlreadyUsed,
            "the configuration was already applied or tested".to_string(),
        ))
    } else if p.heads.iter().any(|(n, _)| n == name) {
        Some((
            Error::AlreadyConfiguredHead,
            format!("head {name} configured twice"),
        ))
    } else {
        p.heads.push((name.to_string(), request));
        None
    };
    drop(p);
    if let Some((code, message)) = error {
        config.post_error(code, message);
    }
}

impl Dispatch<ZwlrOutputConfigurationHeadV1, ConfigurationHeadData> for Weft {
    fn request(
        _: &mut Self,
        _: &Client,
        resource: &ZwlrOutputConfigurationHeadV1,
        request: zwlr_output_configuration_head_v1::Request,
        data: &ConfigurationHeadData,
        _: &DisplayHandle,
        _: &mut DataInit<'_, Self>,
    ) {
        use zwlr_output_configuration_head_v1::{Error, Request};
        let mut p = lock(&data.0);
        if p.used {
            // The configuration's own error: requests after apply/test are not this object's.
            return;
        }
        let Some(head) = p
            .heads
            .iter_mut()
            .find(|(n, _)| *n == data.1)
            .and_then(|(_, r)| r.as_mut())
        else {
            return;
        };
        let already = |r: &ZwlrOutputConfigurationHeadV1, what: &str| {
            r.post_error(Error::AlreadySet, format!("{what} was already set"));
        };
        match request {
            Request::SetMode { mode } => {
                if head.mode.is_some() {
                    return already(resource, "the mode");
                }
                match mode.data::<ModeData>() {
                    Some(ModeData(output, spec)) if *output == data.1 => head.mode = Some(*spec),
                    _ => resource
                        .post_error(Error::InvalidMode, "the mode is not one of this head's"),
                }
            }
            Request::SetCustomMode {
                width,
                height,
                refresh,
            } => {
                if head.mode.is_some() {
                    return already(resource, "the mode");
                }
                if width <= 0 || height <= 0 || refresh < 0 {
                    return resource.post_error(
                        Error::InvalidCustomMode,
                        format!("{width}x{height}@{refresh} mHz is not a mode"),
                    );
                }
                head.mode = Some((width, height, refresh));
                head.custom = true;
            }
            Request::SetPosition { x, y } => {
                if head.position.is_some() {
                    return already(resource, "the position");
                }
                head.position = Some((x, y));
            }
            Request::SetTransform { transform } => {
                if head.transform.is_some() {
                    return already(resource, "the transform");
                }
                match transform {
                    WEnum::Value(t) => head.transform = Some(t.into()),
                    WEnum::Unknown(v) => resource.post_error(
                        Error::InvalidTransform,
                        format!("{v} is not a wl_output.transform"),
                    ),
                }
            }
            Request::SetScale { scale } => {
                if head.scale.is_some() {
                    return already(resource, "the scale");
                }
                if scale.is_nan() || scale <= 0.0 {
                    return resource.post_error(Error::InvalidScale, format!("scale {scale}"));
                }
                head.scale = Some(scale);
            }
            Request::SetAdaptiveSync { state } => {
                if head.adaptive_sync.is_some() {
                    return already(resource, "adaptive sync");
                }
                match state {
                    WEnum::Value(zwlr_output_head_v1::AdaptiveSyncState::Enabled) => {
                        head.adaptive_sync = Some(true)
                    }
                    WEnum::Value(_) => head.adaptive_sync = Some(false),
                    WEnum::Unknown(v) => resource.post_error(
                        Error::InvalidAdaptiveSyncState,
                        format!("{v} is not an adaptive sync state"),
                    ),
                }
            }
            _ => {}
        }
    }
}
