//! weft's integration with WLCS, the Wayland conformance suite: a shared library
//! (`libweft_wlcs.so`) that the WLCS runner loads and calls through `wlcs_server_integration`.
//!
//! For every test WLCS creates a server, starts it, runs the test's clients in its own process and
//! stops the server. Here a server is a real headless weft ([`weft::Running`]: the same backend,
//! renderer and protocol handlers as `weft --backend headless`) on its own thread, with its own
//! private runtime directory. What WLCS asks of the compositor goes through weft's headless
//! [`Controller`], each call returning only once weft has handled it and flushed its clients:
//!
//! - `create_client_socket`: a socket pair; weft serves one end (`insert_client`), WLCS connects
//!   its `wl_display` to the other;
//! - `position_window_absolute`: the toplevel of that client's `wl_surface` is placed at (x, y);
//! - the fake pointer and touch devices: [`InjectedInput`], delivered by `weft_compositor::seat::input`
//!   as a device backend's events are.
//!
//! The extensions WLCS is told about ([`SUPPORTED_EXTENSIONS`]) are exactly the globals weft
//! advertises, at their versions (checked by this crate's test), so WLCS skips the tests of
//! protocols weft does not implement instead of failing them.
//!
//! WLCS 1.5.0 (Debian bookworm) makes its toplevels without acknowledging a configure first; see
//! [`strict_xdg`] for how weft is told to let that pass.
//!
//! Logging: weft's `tracing` events go to stderr at `WEFT_LOG` (default `warn`); an ERROR is a weft
//! bug and `scripts/wlcs` fails on one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use smithay::reexports::wayland_server::backend::ClientId;
use wayland_sys::client::{wl_display, wl_proxy};
use wayland_sys::common::{wl_fixed_t, wl_fixed_to_double};
use weft::{
    private_runtime_dir, Controller, HeadlessOptions, InjectedInput, Running, ServerOptions,
};
use wlcs::ffi_display_server_api::{
    WlcsExtensionDescriptor, WlcsIntegrationDescriptor, WlcsServerIntegration,
};
use wlcs::ffi_wrappers::wlcs_server;
use wlcs::{extension_list, wlcs_server_integration, Wlcs};

wlcs_server_integration!(WeftServer);

/// Every global weft advertises, at the version it advertises (`weft_compositor::state`, smithay
/// 0.7's versions where weft takes smithay's global as is).
pub static SUPPORTED_EXTENSIONS: &[WlcsExtensionDescriptor] = extension_list!(
    ("wl_compositor", 6),
    ("wl_subcompositor", 1),
    ("wl_shm", 2),
    ("wl_seat", 9),
    ("wl_data_device_manager", 3),
    ("zwp_primary_selection_device_manager_v1", 1),
    ("zwlr_data_control_manager_v1", 2),
    ("ext_data_control_manager_v1", 1),
    ("wl_output", 4),
    ("zxdg_output_manager_v1", 3),
    ("xdg_wm_base", 6),
    ("zxdg_decoration_manager_v1", 2),
    ("zwlr_layer_shell_v1", 4),
    ("ext_session_lock_manager_v1", 1),
    ("zwp_pointer_constraints_v1", 1),
    ("zwp_relative_pointer_manager_v1", 1),
    ("ext_idle_notifier_v1", 2),
    ("zwp_idle_inhibit_manager_v1", 1),
    ("wp_viewporter", 1),
    ("wp_presentation", 2),
    ("wp_single_pixel_buffer_manager_v1", 1),
    ("zwp_linux_dmabuf_v1", 5),
    ("wp_color_representation_manager_v1", 1),
    ("wp_security_context_manager_v1", 1),
    ("xdg_activation_v1", 1),
    ("ext_foreign_toplevel_list_v1", 1),
    ("zwp_keyboard_shortcuts_inhibit_manager_v1", 1),
    ("zwp_text_input_manager_v3", 1),
    ("zwp_input_method_manager_v2", 1),
    ("zwp_virtual_keyboard_manager_v1", 1),
    ("wp_fractional_scale_manager_v1", 1),
    ("wp_cursor_shape_manager_v1", 2),
    ("zwlr_screencopy_manager_v1", 3),
    ("ext_image_copy_capture_manager_v1", 1),
    ("ext_output_image_capture_source_manager_v1", 1),
    ("ext_foreign_toplevel_image_capture_source_manager_v1", 1),
    ("zwlr_output_manager_v1", 4),
);

static DESCRIPTOR: WlcsIntegrationDescriptor = WlcsIntegrationDescriptor {
    version: 1,
    num_extensions: SUPPORTED_EXTENSIONS.len(),
    supported_extensions: SUPPORTED_EXTENSIONS.as_ptr(),
};

/// [`SUPPORTED_EXTENSIONS`] as (name, version) pairs.
pub fn supported_extensions() -> Vec<(String, u32)> {
    SUPPORTED_EXTENSIONS
        .iter()
        .map(|e| {
            // SAFETY: every name comes from `extension_list!`, a `concat!(.., "\0")` string literal:
            // NUL-terminated and 'static.
            let name = unsafe { std::ffi::CStr::from_ptr(e.name) };
            (name.to_string_lossy().into_owned(), e.version)
        })
        .collect()
}

/// Touch slots: one per fake touch device, unique within the process.
static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);

/// One WLCS display server: a headless weft while started.
pub struct WeftServer {
    running: Option<Running>,
    runtime_dir: Option<PathBuf>,
    /// The weft client behind each socket handed to WLCS, by the fd WLCS's `wl_display` uses.
    clients: RefCell<HashMap<RawFd, ClientId>>,
}

impl WeftServer {
    fn controller(&self) -> Option<&Controller> {
        self.running.as_ref().map(|r| &r.controller)
    }
}

impl Wlcs for WeftServer {
    type Pointer = FakePointer;
    type Touch = FakeTouch;

    fn new() -> Self {
        install_log();
        Self {
            running: None,
            runtime_dir: None,
            clients: RefCell::new(HashMap::new()),
        }
    }

    fn start(&mut self) {
        let runtime_dir = match private_runtime_dir("wlcs") {
            Ok(dir) => dir,
            Err(e) => {
                // WLCS has no way to hear of a failed start: its first client fails to connect.
                tracing::error!(error = %e, "no runtime directory for weft");
                return;
            }
        };
        let options = HeadlessOptions {
            server: ServerOptions {
                runtime_dir: Some(runtime_dir.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        match Running::start(options) {
            Ok(running) => {
                if !strict_xdg() {
                    // Before any client exists, so no commit sees the old setting.
                    if let Err(e) = running.controller.accept_unconfigured_buffers() {
                        tracing::error!(error = %e, "weft stopped while starting");
                    }
                }
                self.running = Some(running);
            }
            Err(e) => tracing::error!(error = %e, "weft did not start"),
        }
        self.runtime_dir = Some(runtime_dir);
    }

    fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            if let Err(e) = running.stop() {
                tracing::error!(error = %e, "weft stopped with an error");
            }
        }
        if let Some(dir) = self.runtime_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        self.clients.borrow_mut().clear();
    }

    fn create_client_socket(&self) -> std::io::Result<OwnedFd> {
        let controller = self
            .controller()
            .ok_or_else(|| std::io::Error::other("weft is not running"))?;
        let (client_end, server_end) = UnixStream::pair()?;
        let id = controller
            .insert_client(server_end)
            .map_err(std::io::Error::other)?;
        let fd = OwnedFd::from(client_end);
        self.clients.borrow_mut().insert(fd.as_raw_fd(), id);
        Ok(fd)
    }

    fn position_window_absolute(
        &self,
        display: *mut wl_display,
        surface: *mut wl_proxy,
        x: i32,
        y: i32,
    ) {
        // SAFETY: WLCS passes the live wl_display of one of its clients, which it connected to a
        // socket from `create_client_socket`; libwayland-client is loaded (WLCS links it).
        let fd = unsafe {
            wayland_sys::ffi_dispatch!(
                wayland_sys::client::wayland_client_handle(),
                wl_display_get_fd,
                display
            )
        };
        // SAFETY: `surface` is a live wl_surface proxy of that display, valid for this call.
        let surface_id = unsafe {
            wayland_sys::ffi_dispatch!(
                wayland_sys::client::wayland_client_handle(),
                wl_proxy_get_id,
                surface
            )
        };
        let Some(client) = self.clients.borrow().get(&fd).cloned() else {
            tracing::warn!(
                fd,
                "position_window_absolute: a display weft did not hand out"
            );
            return;
        };
        let Some(controller) = self.controller() else {
            return;
        };
        match controller.place_toplevel(client, surface_id, (x, y).into()) {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                surface_id,
                x,
                y,
                "position_window_absolute: no mapped toplevel with that surface"
            ),
            Err(e) => tracing::warn!(error = %e, "position_window_absolute"),
        }
    }

    fn create_pointer(&mut self) -> Option<Self::Pointer> {
        Some(FakePointer {
            controller: self.controller()?.clone(),
        })
    }

    fn create_touch(&mut self) -> Option<Self::Touch> {
        Some(FakeTouch {
            controller: self.controller()?.clone(),
            slot: NEXT_SLOT.fetch_add(1, Ordering::Relaxed),
            last: None,
        })
    }

    fn get_descriptor(&self) -> &WlcsIntegrationDescriptor {
        &DESCRIPTOR
    }
}

/// WLCS 1.5.0's helper that makes a visible xdg toplevel commits a buffer before acknowledging
/// any configure (fixed upstream in wlcs 2a5bfbc, after 1.5.0), which weft answers with
/// xdg_surface.unconfigured_buffer as the protocol demands: nearly every test would fail in its
/// set-up. So by default weft is told to accept such commits; `WEFT_WLCS_STRICT_XDG=1` keeps
/// weft's real behaviour (`scripts/wlcs` reports both).
fn strict_xdg() -> bool {
    std::env::var_os("WEFT_WLCS_STRICT_XDG").is_some_and(|v| v == "1")
}

/// Sends one injected event; a stopped weft (the test is tearing down) is not an error of weft's.
fn inject(controller: &Controller, input: InjectedInput) {
    if let Err(e) = controller.inject(input) {
        tracing::warn!(error = %e, ?input, "input after weft stopped");
    }
}

fn fixed(v: wl_fixed_t) -> f64 {
    wl_fixed_to_double(v)
}

/// WLCS's touch hooks are declared with wl_fixed_t coordinates, but WLCS passes plain integer
/// pixels (`Touch::down_at(int x, int y)` hands its ints straight through, in 1.5.0 and upstream
/// alike), unlike its pointer hooks, which convert with wl_fixed_from_int.
fn touch_coordinate(v: wl_fixed_t) -> f64 {
    f64::from(v)
}

/// A WLCS fake pointer: weft's seat pointer, moved and clicked by injection.
pub struct FakePointer {
    controller: Controller,
}

impl wlcs::Pointer for FakePointer {
    fn move_absolute(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        let (x, y) = (fixed(x), fixed(y));
        inject(&self.controller, InjectedInput::PointerMotion { x, y });
    }

    fn move_relative(&mut self, dx: wl_fixed_t, dy: wl_fixed_t) {
        let (dx, dy) = (fixed(dx), fixed(dy));
        inject(
            &self.controller,
            InjectedInput::PointerMotionRelative { dx, dy },
        );
    }

    fn button_up(&mut self, button: i32) {
        self.button(button, false);
    }

    fn button_down(&mut self, button: i32) {
        self.button(button, true);
    }
}

impl FakePointer {
    fn button(&mut self, button: i32, pressed: bool) {
        // WLCS sends Linux event codes (BTN_LEFT = 0x110 …), never negative.
        let Ok(button) = u32::try_from(button) else {
            tracing::warn!(button, "a negative pointer button");
            return;
        };
        inject(
            &self.controller,
            InjectedInput::PointerButton { button, pressed },
        );
    }
}

/// A WLCS fake touch device: one touch point (its own slot) on weft's seat.
pub struct FakeTouch {
    controller: Controller,
    slot: u32,
    /// Where the point is while it is down.
    last: Option<(f64, f64)>,
}

impl wlcs::Touch for FakeTouch {
    fn touch_down(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        let (x, y) = (touch_coordinate(x), touch_coordinate(y));
        self.last = Some((x, y));
        let slot = self.slot;
        inject(&self.controller, InjectedInput::TouchDown { slot, x, y });
    }

    fn touch_move(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        let (x, y) = (touch_coordinate(x), touch_coordinate(y));
        self.last = Some((x, y));
        let slot = self.slot;
        inject(&self.controller, InjectedInput::TouchMotion { slot, x, y });
    }

    fn touch_up(&mut self) {
        self.last = None;
        let slot = self.slot;
        inject(&self.controller, InjectedInput::TouchUp { slot });
    }

    fn destroy(&mut self) {
        // A device unplugged with its point down lifts it.
        if self.last.take().is_some() {
            let slot = self.slot;
            inject(&self.controller, InjectedInput::TouchUp { slot });
        }
    }
}

/// weft's log to stderr, once per process (WLCS creates many servers in one process).
fn install_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    });
}
