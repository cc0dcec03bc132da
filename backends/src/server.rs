//! What every backend shares: the Wayland display and listening socket, the IPC socket, and the
//! child client weft may spawn and wait for.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use calloop::generic::Generic;
use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventLoop, Interest, LoopSignal, Mode, PostAction};
use smithay::reexports::wayland_server::Display;
use smithay::reexports::wayland_server::ListeningSocket;
use tracing::{info, warn};
use weft_compositor::ipc::server::IpcSocket;
use weft_compositor::Weft;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("XDG_RUNTIME_DIR is not set")]
    NoRuntimeDir,
    #[error("creating the Wayland socket: {0}")]
    Socket(String),
    #[error("event loop: {0}")]
    EventLoop(String),
    #[error("IPC socket {0}: {1}")]
    Ipc(PathBuf, std::io::Error),
    #[error("spawning the client {0:?}: {1}")]
    Spawn(OsString, std::io::Error),
    #[error("renderer: {0}")]
    Render(#[from] weft_compositor::render::RenderError),
}

/// How the server presents itself to clients.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Wayland socket name in `$XDG_RUNTIME_DIR`; the first free `wayland-N` when `None`.
    pub socket: Option<String>,
    /// A client to spawn with `WAYLAND_DISPLAY` and `WEFT_SOCKET` set.
    pub command: Vec<OsString>,
    /// Stop when the client exits, with its status.
    pub exit_with_client: bool,
    /// Where the sockets go; `$XDG_RUNTIME_DIR` when `None`.
    pub runtime_dir: Option<PathBuf>,
    /// Accept `weft msg inject-fault` (test hooks that break the render device on purpose).
    pub fault_injection: bool,
    /// Reserve an X11 display and start Xwayland at its first client (`--no-xwayland` clears it;
    /// off by default here so that tests reserve no display unless they test XWayland).
    pub xwayland: bool,
    /// The render-device override and the simulated topology, if any.
    pub devices: weft_compositor::DeviceOptions,
    /// The configuration file (`None`: weft's defaults; the binary passes
    /// `weft_compositor::config::default_path()` unless `--config` names another).
    pub config: Option<PathBuf>,
    /// Readable once a stop signal came ([`crate::signals`]; the binary installs them): weft
    /// stops cleanly then.
    pub stop_signals: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

/// Names of the sockets a running server listens on.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub runtime_dir: PathBuf,
    pub socket_name: String,
    pub ipc_path: PathBuf,
    /// The X11 display number XWayland serves (`DISPLAY=:<n>`), when one is reserved.
    pub x11_display: Option<u32>,
}

impl Endpoints {
    /// What commands weft starts find in their environment: the Wayland display, weft's IPC
    /// socket, the runtime directory, and `DISPLAY` when X11 applications can run.
    pub fn env(&self) -> Vec<(String, String)> {
        let display = self
            .x11_display
            .map(|n| ("DISPLAY".to_string(), format!(":{n}")));
        let mut env = vec![
            ("WAYLAND_DISPLAY".into(), self.socket_name.clone()),
            ("WEFT_SOCKET".into(), self.ipc_path.display().to_string()),
            (
                "XDG_RUNTIME_DIR".into(),
                self.runtime_dir.display().to_string(),
            ),
        ];
        env.extend(display);
        env
    }

    pub fn wayland_path(&self) -> PathBuf {
        self.runtime_dir.join(&self.socket_name)
    }
}

/// What `serve` leaves in place while the loop runs; dropping it removes the IPC socket.
pub struct Served {
    pub endpoints: Endpoints,
    _ipc: IpcSocket,
    /// Exit status of the client, once it exited (with `exit_with_client`).
    pub client_status: std::rc::Rc<std::cell::Cell<Option<i32>>>,
    /// The Wayland socket's source: removed (the socket file and its lock deleted) at the stop.
    listening: calloop::RegistrationToken,
}

/// Inserts the display, the listening socket, the IPC socket and the child client into the loop;
/// with `options.xwayland`, reserves the X11 display X11 clients start Xwayland through.
pub fn serve(
    event_loop: &mut EventLoop<'static, Weft>,
    state: &mut Weft,
    display: Display<Weft>,
    options: &ServerOptions,
) -> Result<Served, ServerError> {
    let x11_display = if options.xwayland {
        state.listen_xwayland()
    } else {
        None
    };
    let runtime_dir = match &options.runtime_dir {
        Some(dir) => dir.clone(),
        None => std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .ok_or(ServerError::NoRuntimeDir)?,
    };
    let (socket, socket_name) = bind_wayland_socket(&runtime_dir, options.socket.as_deref())?;
    let handle = event_loop.handle();
    // Removed from the loop when weft stops, so the socket and its lock file go with it.
    if let Some(signals) = &options.stop_signals {
        handle
            .insert_source(
                Generic::new(signals.clone(), Interest::READ, Mode::Level),
                |_, signals, state| {
                    crate::signals::drain(signals);
                    info!("stop signal: stopping");
                    state.stop();
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|e| ServerError::EventLoop(e.to_string()))?;
    }
    let listening = handle
        .insert_source(
            Generic::new(socket, Interest::READ, Mode::Level),
            |_, socket, state| {
                loop {
                    match socket.accept() {
                        Ok(Some(stream)) => match state.insert_client(stream) {
                            Ok(_) => {}
                            Err(e) => warn!(error = %e, "could not add a client"),
                        },
                        Ok(None) => break,
                        Err(e) => {
                            warn!(error = %e, "accepting a client failed");
                            break;
                        }
                    }
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| ServerError::EventLoop(e.to_string()))?;
    handle
        .insert_source(
            Generic::new(display, Interest::READ, Mode::Level),
            |_, display, state| {
                // SAFETY: the display is not dropped while the loop runs (it is owned by this source);
                // it is only dispatched here, never replaced.
                let display = unsafe { display.get_mut() };
                crate::dispatch::dispatch(display, state);
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| ServerError::EventLoop(e.to_string()))?;

    let ipc_path = weft_compositor::ipc::client::socket_path(&runtime_dir, &socket_name);
    let ipc = weft_compositor::ipc::server::listen(&handle, &ipc_path)
        .map_err(|e| ServerError::Ipc(ipc_path.clone(), e))?;
    let endpoints = Endpoints {
        runtime_dir,
        socket_name,
        ipc_path,
        x11_display,
    };
    info!(socket = %endpoints.socket_name, ipc = %endpoints.ipc_path.display(), "listening");

    let client_status = std::rc::Rc::new(std::cell::Cell::new(None));
    if let Some((program, args)) = options.command.split_first() {
        let child = Command::new(program)
            .args(args)
            .envs(endpoints.env())
            .spawn()
            .map_err(|e| ServerError::Spawn(program.clone(), e))?;
        info!(pid = child.id(), command = ?options.command, "client spawned");
        watch_child(
            event_loop,
            child,
            options.exit_with_client,
            client_status.clone(),
        )?;
    }
    Ok(Served {
        endpoints,
        _ipc: ipc,
        client_status,
        listening,
    })
}

/// Binds `name` (or the first free `wayland-N`) in `runtime_dir`, with a lock file as libwayland
/// does, so two compositors never share a name.
fn bind_wayland_socket(
    runtime_dir: &std::path::Path,
    name: Option<&str>,
) -> Result<(ListeningSocket, String), ServerError> {
    let try_bind = |name: &str| ListeningSocket::bind_absolute(runtime_dir.join(name));
    let (socket, name) = match name {
        Some(name) => (
            try_bind(name).map_err(|e| ServerError::Socket(format!("{name}: {e}")))?,
            name.to_string(),
        ),
        None => (1..33)
            .find_map(|n| {
                let name = format!("wayland-{n}");
                try_bind(&name).ok().map(|s| (s, name))
            })
            .ok_or_else(|| ServerError::Socket("no free wayland-N name in 1..32".into()))?,
    };
    Ok((socket, name))
}

/// Polls the child every 50 ms (a pidfd would need Linux 5.3 and more code for no real gain here).
fn watch_child(
    event_loop: &mut EventLoop<'static, Weft>,
    mut child: Child,
    exit_with_client: bool,
    status: std::rc::Rc<std::cell::Cell<Option<i32>>>,
) -> Result<(), ServerError> {
    let signal: LoopSignal = event_loop.get_signal();
    event_loop
        .handle()
        .insert_source(
            Timer::from_duration(Duration::from_millis(50)),
            move |_, _, state| match child.try_wait() {
                Ok(Some(exit)) => {
                    let code = exit.code().unwrap_or_else(|| 128 + signal_of(&exit));
                    info!(code, "client exited");
                    if exit_with_client {
                        status.set(Some(code));
                        state.stop();
                        signal.stop();
                    }
                    TimeoutAction::Drop
                }
                Ok(None) => TimeoutAction::ToDuration(Duration::from_millis(50)),
                Err(e) => {
                    warn!(error = %e, "cannot wait for the client");
                    TimeoutAction::Drop
                }
            },
        )
        .map_err(|e| ServerError::EventLoop(e.to_string()))?;
    Ok(())
}

fn signal_of(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.signal().unwrap_or(0)
}

impl Served {
    /// Dispatches `event_loop` until weft stops or the client it waits for exits; returns that
    /// client's exit status (0 without one). `backend` names the backend for the log.
    pub fn run(
        &self,
        event_loop: &mut calloop::EventLoop<'static, weft_compositor::Weft>,
        state: &mut weft_compositor::Weft,
        backend: &str,
    ) -> i32 {
        while state.is_running() {
            if let Err(e) = event_loop.dispatch(Some(std::time::Duration::from_millis(100)), state)
            {
                tracing::warn!(error = %e, "event loop dispatch failed");
                break;
            }
            state.refresh();
            if self.client_status.get().is_some() {
                break;
            }
        }
        tracing::info!("{backend} backend stopped");
        self.close(&event_loop.handle());
        self.client_status.get().unwrap_or(0)
    }

    /// No new clients: the Wayland socket and its lock file go now (the loop's sources may
    /// outlive the loop, held by handles in the state).
    pub fn close(&self, handle: &calloop::LoopHandle<'static, weft_compositor::Weft>) {
        handle.remove(self.listening);
    }
}
