//! The server side: a listening socket in the event loop; each connection carries one request,
//! read and answered without blocking the loop (see [`super::conn`]).

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use calloop::generic::Generic;
use calloop::{Interest, LoopHandle, Mode, PostAction};
use smithay::desktop::PopupManager;
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::wayland::compositor::get_children;
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::XdgToplevelSurfaceData;
use tracing::warn;

use super::conn::{Connections, Limits};
use super::model::{
    CacheCounts, ClientRecord, DeviceRecordOfSurface, Fault, IpcError, OutputRecord, Request,
    SteeringCounts, SurfaceRecord,
};
use crate::surface::content_snapshot;
use crate::Weft;
use smithay::backend::renderer::utils::RendererSurfaceStateUserData;
use smithay::wayland::compositor::SubsurfaceCachedState;

/// The bound socket; removes its file when dropped.
pub struct IpcSocket {
    path: PathBuf,
}

impl IpcSocket {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for IpcSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds `path` and serves requests from `handle`'s event loop: each accepted connection becomes
/// an event source of its own ([`super::conn`]), so no client of the socket can hold the loop.
pub fn listen(handle: &LoopHandle<'static, Weft>, path: &Path) -> std::io::Result<IpcSocket> {
    // A stale socket from a crashed weft would make bind fail; nobody can be listening on it if
    // connecting fails.
    if path.exists() && UnixStream::connect(path).is_err() {
        let _ = std::fs::remove_file(path);
    }
    let listener = UnixListener::bind(path)?;
    listener.set_nonblocking(true)?;
    let connections = Connections::new(handle.clone(), Limits::default(), reply);
    connections
        .start_sweeping()
        .map_err(std::io::Error::other)?;
    handle
        .insert_source(
            Generic::new(listener, Interest::READ, Mode::Level),
            move |_, listener, _state| {
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => connections.add(stream),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            warn!(error = %e, "IPC accept failed");
                            break;
                        }
                    }
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(IpcSocket {
        path: path.to_path_buf(),
    })
}

/// The reply to one request line (without its newline).
pub fn reply(state: &mut Weft, line: &[u8]) -> String {
    let reply = match super::model::parse_request(line) {
        Ok(req) => match handle(state, req) {
            Ok(data) => serde_json::json!({ "ok": true, "data": data }),
            Err(e) => serde_json::json!({ "ok": false, "error": e.to_string() }),
        },
        Err(e) => serde_json::json!({ "ok": false, "error": e.to_string() }),
    };
    reply.to_string()
}

/// Answers one request.
pub fn handle(state: &mut Weft, req: Request) -> Result<serde_json::Value, IpcError> {
    let to_json = |v: Result<serde_json::Value, serde_json::Error>| v.map_err(IpcError::Reply);
    match req {
        Request::Outputs => to_json(serde_json::to_value(outputs(state))),
        Request::Surfaces => to_json(serde_json::to_value(surfaces(state))),
        Request::Devices => Ok(devices(state)),
        Request::Redraw { output } => {
            let mut redrawn = Vec::new();
            for slot in &mut state.outputs.slots {
                if output.as_ref().is_none_or(|o| *o == slot.name()) {
                    slot.damage_all();
                    redrawn.push(slot.name());
                }
            }
            if redrawn.is_empty() {
                return Err(IpcError::NoOutput(output.unwrap_or_default()));
            }
            Ok(serde_json::json!({ "redraw": redrawn }))
        }
        Request::Screenshot { output, path } => {
            let index = state
                .output_index(&output)
                .ok_or_else(|| IpcError::NoOutput(output.clone()))?;
            let rendered = match state.render_output(index, true) {
                // The device was lost since the last frame: rebuilt, then rendered on the new one.
                Err(e) if e.class() == crate::render::ErrorClass::DeviceLost => {
                    if !state.rebuild_renderer(&e) {
                        return Err(IpcError::DeviceLost(e));
                    }
                    state.render_output(index, true)
                }
                other => other,
            };
            let (_, pixels) = rendered?;
            let pixels = pixels.ok_or(IpcError::NoPixels)?;
            let slot = state
                .outputs
                .slots
                .get(index)
                .ok_or_else(|| IpcError::OutputGone(output.clone()))?;
            crate::outputs::screenshot::write_png(
                Path::new(&path),
                slot.spec.width,
                slot.spec.height,
                &pixels,
            )
            .map_err(|source| IpcError::WritePng {
                path: path.clone(),
                source,
            })?;
            Ok(
                serde_json::json!({ "path": path, "width": slot.spec.width, "height": slot.spec.height }),
            )
        }
        Request::Imports => Ok(imports(state)),
        Request::ImportPolicy {
            disabled,
            yuv,
            cpu_convert,
        } => {
            if let Some(convert) =
                cpu_convert.filter(|c| *c != state.gpu.first().importer.policy.cpu_convert)
            {
                // Staged imports were made the other way: every buffer re-imports at its next
                // commit.
                state.gpu.first_mut().importer.policy.cpu_convert = convert;
                state.gpu.first_mut().importer.cache.invalidate();
                for other in state.gpu.others_mut() {
                    other.importer.cache.invalidate();
                }
            }
            if let Some(names) = disabled {
                use crate::import::planner::Rung;
                let rungs = names
                    .iter()
                    .map(|n| match Rung::parse(n) {
                        // The copy is what every wl_shm buffer falls back to: never switched off.
                        Some(Rung::Shm) => Err(IpcError::NotDisableable(Rung::Shm.name())),
                        None => Err(IpcError::NoRung(n.clone())),
                        Some(rung) => Ok(rung),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let shm_in_place = !rungs.contains(&Rung::ShmInPlace);
                if shm_in_place != state.gpu.first().importer.policy.shm_in_place {
                    // Buffers re-import (or copy) on their next commit.
                    state.gpu.first_mut().importer.shm.clear();
                }
                state.gpu.first_mut().importer.policy.shm_in_place = shm_in_place;
                state.gpu.first_mut().importer.policy.disabled = rungs
                    .into_iter()
                    .filter(|r| *r != Rung::ShmInPlace)
                    .collect();
            }
            if let Some(yuv) = yuv {
                let first = state.gpu.first_mut();
                first.importer.set_yuv(&mut first.renderer, yuv);
                // The conversion is applied when drawing: re-render what is shown.
                state.damage();
            }
            // One policy for every render device. Per-class decisions were made under the old
            // policy: forgotten (each buffer's import stays until it is re-imported).
            let policy = state.gpu.first().importer.policy.clone();
            state.gpu.first_mut().importer.cache.forget_class_failures();
            for other in state.gpu.others_mut() {
                other.importer.policy = policy.clone();
                other.importer.cache.forget_class_failures();
            }
            to_json(serde_json::to_value(&state.gpu.first().importer.policy))
        }
        Request::InvalidateImports => {
            let dropped = state.gpu.first_mut().importer.cache.invalidate()
                + state.gpu.first_mut().importer.shm.clear();
            for other in state.gpu.others_mut() {
                other.importer.cache.invalidate();
            }
            Ok(serde_json::json!({ "dropped": dropped }))
        }
        Request::Clients => to_json(serde_json::to_value(clients(state))),
        Request::Seat => to_json(serde_json::to_value(seat(state))),
        Request::Xwayland => to_json(serde_json::to_value(state.xwayland.status())),
        Request::Output {
            output,
            scale,
            transform,
            position,
            mode,
            enabled,
        } => {
            let index = state
                .output_index(&output)
                .ok_or_else(|| IpcError::NoOutput(output.clone()))?;
            if let Some(enabled) = enabled {
                state.set_output_enabled(&output, enabled)?;
            }
            if let Some(mode) = mode {
                let spec: crate::outputs::output::OutputSpec =
                    mode.parse().map_err(IpcError::Mode)?;
                state.set_output_mode(index, spec).map_err(IpcError::Mode)?;
            }
            if let Some(scale) = scale {
                state.set_output_scale(&output, scale)?;
            }
            if let Some(transform) = transform {
                let transform = crate::outputs::transform::parse(&transform)?;
                state.set_output_transform(&output, transform)?;
            }
            if let Some(position) = position {
                if let Some(slot) = state.outputs.slots.get_mut(index) {
                    slot.position = Some(position);
                }
                state.relayout_outputs();
                state.damage();
            }
            to_json(serde_json::to_value(outputs(state)))
        }
        Request::Reload => {
            let path = state.reload_config()?;
            Ok(serde_json::json!({
                "path": path.map(|p| p.display().to_string()),
                "bindings": state.config.current().bindings.len(),
            }))
        }
        Request::SimulateRemoval { device } => {
            if !state.runtime.fault_injection() {
                return Err(IpcError::TestHooksOff);
            }
            let id = crate::devices::DeviceId::new(device.clone());
            if !state.devices.is_simulated() {
                return Err(IpcError::NotSimulated);
            }
            if !state.devices.simulate_removal(&id) {
                return Err(IpcError::NoDevice(device));
            }
            let change = crate::devices::registry::Change {
                added: Vec::new(),
                removed: vec![id],
            };
            state.devices_changed(&change);
            Ok(serde_json::json!({ "removed": device }))
        }
        Request::InjectFault { fault, count } => {
            if !state.runtime.fault_injection() {
                return Err(IpcError::FaultInjectionOff);
            }
            let faults = state.gpu.first().renderer.device().faults();
            match fault {
                Fault::DeviceLost => faults.lose_device(),
                Fault::ImportAllocation => faults.fail_import_allocations(count.unwrap_or(1)),
                Fault::GpuStall => faults.stall_next_submission(),
                Fault::GpuResume => {
                    state.gpu.first_mut().renderer.resume_stalled();
                }
            }
            warn!(?fault, count, "fault injected (test hook)");
            Ok(serde_json::json!({ "armed": fault }))
        }
    }
}

/// The `clients` reply.
pub fn clients(state: &Weft) -> Vec<ClientRecord> {
    let dh = state.runtime.display_handle();
    state
        .runtime
        .clients()
        .iter()
        .filter_map(|client| {
            let budget = crate::runtime::client::budget_of(client)?;
            let creds = client.get_credentials(dh).ok();
            Some(ClientRecord {
                id: format!("{:?}", client.id()),
                pid: creds.map(|c| c.pid),
                uid: creds.map(|c| c.uid),
                budget: budget.usage(),
                sandbox: crate::runtime::security::security_context(client).map(|c| {
                    super::model::SandboxRecord {
                        engine: c.sandbox_engine.clone(),
                        app_id: c.app_id.clone(),
                        instance_id: c.instance_id.clone(),
                    }
                }),
            })
        })
        .collect()
}

/// The `seat` reply.
pub fn seat(state: &Weft) -> super::model::SeatRecord {
    let keyboard_focus = state
        .input
        .seat
        .get_keyboard()
        .and_then(|k| k.current_focus())
        .map(crate::seat::focus::KeyboardFocus::into_surface)
        .and_then(|s| crate::surface::content_snapshot(&s, |c| Some(c.id())));
    let pointer = state
        .input
        .seat
        .get_pointer()
        .map(|p| p.current_location())
        .unwrap_or_default();
    super::model::SeatRecord {
        keyboard_focus,
        pointer: (pointer.x, pointer.y),
        cursor: state.cursor_image().describe(),
        shortcuts_inhibited: state.shortcuts_inhibited(),
        idle_inhibited: state.input.idle.inhibited(),
    }
}

/// The `imports` reply.
pub fn imports(state: &Weft) -> serde_json::Value {
    use weft_protocols::drm_format::{fourcc_str, modifier_str};
    let imp = &state.gpu.first().importer;
    let classes: Vec<_> = imp
        .cache
        .class_failures()
        .into_iter()
        .map(|(k, reason)| {
            serde_json::json!({
                "rung": k.rung, "format": fourcc_str(k.fourcc), "modifier": modifier_str(k.modifier),
                "source": k.source, "sink": k.sink, "reason": reason,
            })
        })
        .collect();
    serde_json::json!({
        "main_device": state
            .devices
            .main_device()
            .map_or(crate::buffers::feedback::NO_DRM_NODE, |(_, node)| node.raw()),
        "main_device_id": state.devices.main_device().map(|(d, _)| d.id.clone()),
        "caps": imp.caps,
        "policy": imp.policy,
        "cache": imp.cache.stats(),
        "failed_classes": classes,
        "sync": {
            "sync_fd": state.gpu.first().renderer.sync_fd_support(),
            // Where weft's read fence comes from: the device's own export, vgem fences weft
            // signals, or only the frame's VkFence (release waits for the loop to see it).
            "read_fence": if state.gpu.first().renderer.sync_fd_support().export {
                "sync_fd_export"
            } else if state.gpu.first().renderer.has_read_fences() {
                "vgem"
            } else {
                "vk_fence_polled"
            },
            "explicit_device": state.sync.syncobj.as_ref().map(|s| s.device.id.clone()),
            "fence_waits_active": state
                .sync.active_fence_waits
                .load(std::sync::atomic::Ordering::SeqCst),
        },
    })
}

pub fn outputs(state: &Weft) -> Vec<OutputRecord> {
    state
        .outputs
        .slots
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let loc = o.output.current_location();
            OutputRecord {
                name: o.name(),
                width: o.spec.width,
                height: o.spec.height,
                refresh_mhz: o.spec.refresh_mhz,
                x: loc.x,
                y: loc.y,
                scale: o.scale,
                transform: crate::outputs::transform::name_of(o.transform),
                enabled: o.enabled,
                modes: o
                    .output
                    .modes()
                    .iter()
                    .map(|m| {
                        format!(
                            "{}x{}@{:.3}",
                            m.size.w,
                            m.size.h,
                            f64::from(m.refresh) / 1000.0
                        )
                    })
                    .collect(),
                logical_width: o.logical_size().w,
                logical_height: o.logical_size().h,
                frames: o.seq,
                rendered: o.rendered,
                damaged_pixels: o.damaged_pixels,
                frames_in_flight: state.renderer_of(i).in_flight(),
                gpu_waits: state.renderer_of(i).blocked_waits(),
                render_device: state.output_device(i),
                display_device: o.display_device.clone(),
                kms: o.display_stats.as_ref().map(|s| s.to_json()),
                composed_copies_per_frame: o.frame_path.copies_per_frame,
                composed_copies_why: o.frame_path.why,
                captures: state.capture.counts(&o.name()),
                x11_display: state.xwayland.display().map(|n| format!(":{n}")),
            }
        })
        .collect()
}

/// The name of the first output `window` is on.
fn window_output(state: &Weft, window: &smithay::desktop::Window) -> Option<String> {
    state
        .shell
        .space
        .outputs_for_element(window)
        .first()
        .map(|o| o.name())
}

/// An X11 window's record (role `x11`: title and class from its X properties, the geometry X
/// knows) and its surface tree, once Xwayland has associated its surface.
fn push_x11(
    state: &Weft,
    out: &mut Vec<SurfaceRecord>,
    window: &smithay::desktop::Window,
    x11: &smithay::xwayland::X11Surface,
    is_mapped: bool,
) {
    let geo = x11.geometry();
    let output = window_output(state, window);
    let base = SurfaceRecord {
        role: "x11",
        mapped: is_mapped,
        app_id: Some(x11.class()),
        title: Some(x11.title()),
        output,
        x: geo.loc.x,
        y: geo.loc.y,
        width: geo.size.w,
        height: geo.size.h,
        maximized: x11.is_maximized(),
        fullscreen: x11.is_fullscreen(),
        ..SurfaceRecord::default()
    };
    match state.x11_surface_of(x11) {
        Some(surface) => {
            let base = SurfaceRecord {
                id: crate::surface::surface_id(&surface),
                subsurfaces: get_children(&surface).len(),
                ..base
            };
            push_tree(
                out,
                (&state.devices, state.gpu.first().importer.policy.yuv),
                &surface,
                base,
            );
        }
        None => out.push(base),
    }
}

pub fn surfaces(state: &Weft) -> Vec<SurfaceRecord> {
    use smithay::wayland::shell::wlr_layer::Layer;
    let mut out = Vec::new();
    let mapped = state.shell.space.elements().map(|w| (w, true, false));
    let minimized = state.shell.minimized.windows().map(|w| (w, false, true));
    let waiting = state
        .shell
        .pending_windows
        .iter()
        .map(|w| (w, false, false));
    for (window, is_mapped, minimized) in mapped.chain(minimized).chain(waiting) {
        if let Some(x11) = window.x11_surface() {
            push_x11(state, &mut out, window, x11, true);
            continue;
        }
        let Some(toplevel) = window.toplevel() else {
            continue;
        };
        let surface = toplevel.wl_surface();
        let geo = state
            .shell
            .space
            .element_geometry(window)
            .unwrap_or_default();
        let output = window_output(state, window);
        let (app_id, title) = with_states(surface, |states| {
            states
                .data_map
                .get::<XdgToplevelSurfaceData>()
                .and_then(|d| d.lock().ok().map(|d| (d.app_id.clone(), d.title.clone())))
                .unwrap_or_default()
        });
        let (maximized, fullscreen) = toplevel.with_pending_state(|s| {
            (
                s.states.contains(xdg_toplevel::State::Maximized),
                s.states.contains(xdg_toplevel::State::Fullscreen),
            )
        });
        let id = crate::surface::surface_id(surface);
        let base = SurfaceRecord {
            id,
            role: "xdg_toplevel",
            parent: None,
            mapped: is_mapped,
            app_id,
            title,
            output,
            x: geo.loc.x,
            y: geo.loc.y,
            width: geo.size.w,
            height: geo.size.h,
            maximized,
            fullscreen,
            minimized,
            // Both lock the surface tree: never call them inside `content_snapshot` (with_states).
            subsurfaces: get_children(surface).len(),
            popups: PopupManager::popups_for_surface(surface).count(),
            ..SurfaceRecord::default()
        };
        push_tree(
            &mut out,
            (&state.devices, state.gpu.first().importer.policy.yuv),
            surface,
            base,
        );
    }
    // X11 windows Xwayland has not shown yet.
    for x11 in &state.xwayland.pending {
        let window = smithay::desktop::Window::new_x11_window(x11.clone());
        push_x11(state, &mut out, &window, x11, false);
    }
    for slot in &state.outputs.slots {
        let origin = state
            .shell
            .space
            .output_geometry(&slot.output)
            .map(|g| g.loc)
            .unwrap_or_default();
        let layers = crate::shell::layers::BELOW
            .iter()
            .chain(crate::shell::layers::ABOVE.iter())
            .copied()
            .collect::<Vec<_>>();
        for (layer, at) in state.layers_on(&slot.output, &layers) {
            let surface = layer.wl_surface();
            let size = layer.bbox().size;
            let base = SurfaceRecord {
                id: crate::surface::surface_id(surface),
                role: "layer_surface",
                layer: Some(match layer.layer() {
                    Layer::Background => "background",
                    Layer::Bottom => "bottom",
                    Layer::Top => "top",
                    Layer::Overlay => "overlay",
                }),
                mapped: true,
                app_id: Some(layer.namespace().to_owned()),
                output: Some(slot.output.name()),
                x: origin.x + at.x,
                y: origin.y + at.y,
                width: size.w,
                height: size.h,
                subsurfaces: get_children(surface).len(),
                popups: PopupManager::popups_for_surface(surface).count(),
                ..SurfaceRecord::default()
            };
            push_tree(
                &mut out,
                (&state.devices, state.gpu.first().importer.policy.yuv),
                surface,
                base,
            );
        }
    }
    out
}

/// `record` (geometry and role filled in) with the surface's content, then its subsurfaces, each
/// placed at its parent's position plus its offset.
fn push_tree(
    out: &mut Vec<SurfaceRecord>,
    (devices, default_yuv): (&crate::devices::Registry, crate::render::YuvParams),
    surface: &smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
    record: SurfaceRecord,
) {
    let (x, y, id, mapped, output) = (
        record.x,
        record.y,
        record.id,
        record.mapped,
        record.output.clone(),
    );
    let waiting = smithay::wayland::compositor::with_states(surface, crate::sync::waiting_for);
    let waiting_ms = waiting.map_or(0.0, |d| d.as_secs_f64() * 1e3);
    out.push(content_snapshot(surface, |c| SurfaceRecord {
        frames: c.frames,
        color_representation: c.representation.record(c.yuv(default_yuv)),
        fence_waiting: waiting.is_some(),
        fence_waiting_ms: waiting_ms,
        sync: c.sync_mode.name(),
        release_point: c.sync.as_ref().and_then(|s| s.release_point()),
        read_fences: c.sync.as_ref().map_or(0, |s| {
            s.read_fences.load(std::sync::atomic::Ordering::Relaxed)
        }),
        buffer: c.buffer.clone(),
        rung: c.rung.map(crate::import::planner::Rung::name),
        reason: c.reason.as_ref().map(|r| r.text.clone()),
        reason_code: c.reason.as_ref().map(|r| r.code.clone()),
        source_device: c.source(devices).map(|(d, _)| d),
        source_evidence: c.source(devices).map(|(_, e)| e),
        copied_bytes_per_frame: c.copied_bytes_per_frame,
        import_cache: CacheCounts {
            hits: c.cache_hits,
            misses: c.cache_misses,
        },
        fence_wait_ms: c.fence_wait_ns as f64 / 1e6 + waiting_ms,
        on_devices: c
            .others
            .iter()
            .map(|(id, v)| DeviceRecordOfSurface {
                device: id.clone(),
                rung: v.rung.map(crate::import::planner::Rung::name),
                copied_bytes_per_frame: v.copied_bytes_per_frame,
            })
            .collect(),
        feedback: SteeringCounts {
            sent: c.feedback_sent,
            resent: c.feedback_resent,
            followed: c.feedback_followed,
        },
        commits: c.commits,
        path_changes: c.path_changes,
        fence_waits: c.fence_waits,
        uploaded_bytes: c.uploaded_bytes,
        commit_cpu_ns: c.commit_cpu_ns,
        commit_wall_ns: c.commit_wall_ns,
        ..record
    }));
    for child in get_children(surface) {
        let (offset, size) = with_states(&child, |states| {
            let offset = states
                .cached_state
                .get::<SubsurfaceCachedState>()
                .current()
                .location;
            let size = states
                .data_map
                .get::<RendererSurfaceStateUserData>()
                .and_then(|rs| rs.lock().ok().and_then(|rs| rs.surface_size()))
                .unwrap_or_default();
            (offset, size)
        });
        let record = SurfaceRecord {
            id: crate::surface::surface_id(&child),
            role: "subsurface",
            parent: Some(id),
            mapped,
            output: output.clone(),
            x: x + offset.x,
            y: y + offset.y,
            width: size.w,
            height: size.h,
            subsurfaces: get_children(&child).len(),
            ..SurfaceRecord::default()
        };
        push_tree(out, (devices, default_yuv), &child, record);
    }
}

/// Every registered device; the render device also carries why it was chosen, its Vulkan facts and
/// how often it was rebuilt after a loss (`generation`, [`crate::render_devices::recovery`]).
fn devices(state: &Weft) -> serde_json::Value {
    let render = state.devices.render();
    let list: Vec<serde_json::Value> = state
        .devices
        .devices()
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap_or_default();
            let is_render = render.is_some_and(|r| r.id == d.id);
            if let Some(fields) = v.as_object_mut() {
                fields.insert("render".into(), is_render.into());
                // Outputs this device scans out (a display device the KMS backend drives).
                let scans_out: Vec<String> = state
                    .outputs
                    .slots
                    .iter()
                    .filter(|o| o.display_device.as_ref() == Some(&d.id))
                    .map(|o| o.name())
                    .collect();
                fields.insert("display".into(), state.devices.drives(&d.id).into());
                fields.insert("scans_out".into(), scans_out.into());
                if is_render {
                    if let Some(r) = render {
                        fields.insert("render_reason".into(), r.reason.clone().into());
                    }
                    fields.insert("generation".into(), state.gpu.render_generation.into());
                    fields.insert(
                        "vulkan_device".into(),
                        serde_json::to_value(state.gpu.first().renderer.device().info())
                            .unwrap_or_default(),
                    );
                }
            }
            v
        })
        .collect();
    serde_json::Value::Array(list)
}
