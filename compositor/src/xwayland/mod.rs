//! XWayland: X11 applications on weft.
//!
//! Lazily started. weft reserves an X11 display at start-up ([`display::Reservation`]: the lock
//! file and the sockets, so `DISPLAY` can be exported to every command weft starts) and runs no X
//! server. The first X11 client to connect starts Xwayland through smithay; the connections that
//! arrived meanwhile are relayed to it ([`proxy`]), later ones reach it directly. smithay's X11
//! window manager ([`wm`]) maps X11 windows into weft's space as windows of their own kind, gives
//! them the keyboard, and bridges the clipboard and the primary selection both ways. When
//! Xwayland exits or dies, weft keeps running, reserves the same display again and starts a new
//! Xwayland at the next connection.
//!
//! Phases: `Off` (disabled: `--no-xwayland`, or no display could be reserved) → `Listening` →
//! (a client connects) `Starting` → (Xwayland ready, window manager connected) `Running` →
//! (Xwayland gone) `Listening`.

pub mod display;
pub mod proxy;
mod wm;

use std::os::unix::net::UnixStream;

use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, Mode, PostAction, RegistrationToken};
use smithay::reexports::wayland_server::{Client, DisplayHandle};
use smithay::wayland::selection::SelectionTarget;
use smithay::wayland::xwayland_shell::XWaylandShellState;
use smithay::xwayland::{X11Surface, X11Wm, XWayland, XWaylandClientData, XWaylandEvent};
use tracing::{info, warn};

use crate::Weft;

/// Where Xwayland stands.
#[derive(Default)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per weft; the window manager is its whole point"
)]
enum Phase {
    #[default]
    Off,
    /// The display is reserved, no X server runs.
    Listening {
        reservation: display::Reservation,
        sources: Vec<RegistrationToken>,
    },
    /// Xwayland was started for `waiting` (connections accepted meanwhile).
    Starting {
        waiting: Vec<UnixStream>,
        client: Client,
        source: RegistrationToken,
    },
    Running {
        wm: X11Wm,
        client: Client,
        source: RegistrationToken,
    },
}

/// The XWayland owner of [`Weft`].
pub struct Xwayland {
    phase: Phase,
    /// The display number this weft holds (among the wefts of this process: [`display::Claim`]),
    /// kept across restarts: commands started earlier have it as `DISPLAY`.
    claim: Option<display::Claim>,
    /// xwayland_shell_v1 (offered to Xwayland only), which names the surface of each window.
    pub(crate) shell: XWaylandShellState,
    /// X11 windows asked to be mapped whose surface has not been shown yet.
    pub(crate) pending: Vec<X11Surface>,
    /// How many times Xwayland was started, and why it last went.
    starts: u32,
    last_exit: Option<String>,
}

impl Xwayland {
    pub(crate) fn new(dh: &DisplayHandle) -> Self {
        Self {
            phase: Phase::Off,
            claim: None,
            shell: XWaylandShellState::new::<Weft>(dh),
            pending: Vec::new(),
            starts: 0,
            last_exit: None,
        }
    }

    /// The window manager, while Xwayland runs.
    pub(crate) fn wm(&mut self) -> Option<&mut X11Wm> {
        match &mut self.phase {
            Phase::Running { wm, .. } => Some(wm),
            _ => None,
        }
    }

    /// Xwayland's Wayland connection, while it runs.
    pub(crate) fn client(&self) -> Option<&Client> {
        match &self.phase {
            Phase::Starting { client, .. } | Phase::Running { client, .. } => Some(client),
            _ => None,
        }
    }

    /// `DISPLAY`'s number, while X11 clients can connect.
    pub fn display(&self) -> Option<u32> {
        match self.phase {
            Phase::Off => None,
            _ => self.claim.as_ref().map(display::Claim::number),
        }
    }

    /// What `weft msg xwayland` shows.
    pub fn status(&self) -> crate::ipc::model::XwaylandRecord {
        let state = match &self.phase {
            Phase::Off => "off",
            Phase::Listening { .. } => "listening",
            Phase::Starting { .. } => "starting",
            Phase::Running { .. } => "running",
        };
        crate::ipc::model::XwaylandRecord {
            state,
            display: self.display().map(|n| format!(":{n}")),
            starts: self.starts,
            last_exit: self.last_exit.clone(),
        }
    }
}

/// Whether `client` is Xwayland (the only client offered xwayland_shell_v1).
pub fn is_xwayland(client: &Client) -> bool {
    client.get_data::<XWaylandClientData>().is_some()
}

impl Weft {
    /// Reserves an X11 display and waits for its first client (`--no-xwayland` skips this).
    /// Returns the display number for `DISPLAY`, or `None` when none could be reserved (X11
    /// applications then cannot run; everything else does).
    pub fn listen_xwayland(&mut self) -> Option<u32> {
        let _handover = display::handover();
        self.xwayland.claim = None;
        match display::Reservation::reserve_new() {
            Ok((reservation, claim)) => {
                self.xwayland.claim = Some(claim);
                Some(self.listen_on(reservation))
            }
            Err(e) => {
                warn!(error = %e, "no X11 display could be reserved: X11 applications cannot run");
                self.xwayland.phase = Phase::Off;
                None
            }
        }
    }

    /// After Xwayland went: the same display again (the commands started earlier have it as
    /// `DISPLAY`), retried while the old server's sockets are still closing; another one only
    /// after 2 s.
    fn listen_again(&mut self, tries_left: u32) {
        let Some(number) = self.xwayland.claim.as_ref().map(display::Claim::number) else {
            self.listen_xwayland();
            return;
        };
        let handover = display::handover();
        let reserved = match &self.xwayland.claim {
            Some(claim) => display::Reservation::reserve_again(claim),
            None => Err(std::io::Error::other("no display claimed")),
        };
        drop(handover);
        match reserved {
            Ok(reservation) => {
                self.listen_on(reservation);
            }
            Err(e) if tries_left > 0 => {
                tracing::debug!(error = %e, display = number, "the X11 display is not free yet");
                let timer = smithay::reexports::calloop::timer::Timer::from_duration(
                    std::time::Duration::from_millis(100),
                );
                let inserted =
                    self.runtime
                        .loop_handle()
                        .insert_source(timer, move |_, _, weft| {
                            weft.listen_again(tries_left - 1);
                            smithay::reexports::calloop::timer::TimeoutAction::Drop
                        });
                if inserted.is_err() {
                    self.listen_xwayland();
                }
            }
            Err(e) => {
                warn!(error = %e, display = number, "the X11 display stays taken: X11 clients get another one");
                self.listen_xwayland();
            }
        }
    }

    fn listen_on(&mut self, reservation: display::Reservation) -> u32 {
        let number = reservation.number();
        let mut sources = Vec::new();
        for listener in reservation.listeners() {
            let Ok(watched) = listener.try_clone() else {
                continue;
            };
            let inserted = self.runtime.loop_handle().insert_source(
                Generic::new(watched, Interest::READ, Mode::Level),
                |_, _, weft| {
                    weft.x11_client_waiting();
                    // Removed by start_xwayland, which runs before the loop polls again.
                    Ok(PostAction::Continue)
                },
            );
            match inserted {
                Ok(token) => sources.push(token),
                Err(e) => warn!(error = %e.error, "an X11 socket is not watched"),
            }
        }
        info!(display = %format!(":{number}"), "X11 display reserved: Xwayland starts at the first X11 client");
        self.xwayland.phase = Phase::Listening {
            reservation,
            sources,
        };
        number
    }

    /// An X11 client is connecting: Xwayland starts once this loop iteration's callbacks are done
    /// (the sockets' sources cannot be removed from inside their own callbacks).
    fn x11_client_waiting(&mut self) {
        if matches!(self.xwayland.phase, Phase::Listening { .. }) {
            self.runtime
                .loop_handle()
                .insert_idle(|weft| weft.start_xwayland());
        }
    }

    fn start_xwayland(&mut self) {
        let Phase::Listening {
            reservation,
            sources,
        } = std::mem::take(&mut self.xwayland.phase)
        else {
            return;
        };
        let handle = self.runtime.loop_handle();
        for token in sources {
            handle.remove(token);
        }
        let waiting = reservation.accept_waiting();
        let number = reservation.number();
        // smithay takes the display over: the lock and socket paths are freed for it, and no
        // other weft of this process reserves it in between.
        let handover = display::handover();
        drop(reservation);
        let dh = self.runtime.display_handle().clone();
        let spawn = || {
            XWayland::spawn(
                &dh,
                Some(number),
                std::iter::empty::<(String, String)>(),
                true,
                std::process::Stdio::null(),
                std::process::Stdio::null(),
                |_| (),
            )
        };
        // smithay finds the display taken while an Xwayland that just exited still holds it:
        // a few short tries (at most 200 ms, rare) keep the clients that are waiting.
        let mut spawned = spawn();
        for _ in 0..10 {
            match &spawned {
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    spawned = spawn();
                }
                _ => break,
            }
        }
        drop(handover);
        let (xwayland, client) = match spawned {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "Xwayland could not be started; waiting for the next X11 client");
                self.xwayland.last_exit = Some(format!("could not start: {e}"));
                self.listen_again(20);
                return;
            }
        };
        let source = handle.insert_source(xwayland, move |event, _, weft| match event {
            XWaylandEvent::Ready {
                x11_socket,
                display_number,
            } => weft.xwayland_ready(x11_socket, display_number),
            XWaylandEvent::Error => {
                weft.xwayland.last_exit = Some("exited while starting".into());
                weft.runtime
                    .loop_handle()
                    .insert_idle(|weft| weft.xwayland_gone());
            }
        });
        let source = match source {
            Ok(t) => t,
            Err(e) => {
                warn!(error = %e.error, "Xwayland's start cannot be watched");
                self.listen_xwayland();
                return;
            }
        };
        self.xwayland.starts += 1;
        info!(display = %format!(":{number}"), waiting = waiting.len(), "starting Xwayland");
        self.xwayland.phase = Phase::Starting {
            waiting,
            client,
            source,
        };
    }

    fn xwayland_ready(&mut self, x11_socket: UnixStream, display_number: u32) {
        let Phase::Starting {
            waiting,
            client,
            source,
        } = std::mem::take(&mut self.xwayland.phase)
        else {
            return;
        };
        let mut wm = match X11Wm::start_wm(
            self.runtime.loop_handle().clone(),
            x11_socket,
            client.clone(),
        ) {
            Ok(wm) => wm,
            Err(e) => {
                warn!(error = %e, "the X11 window manager could not connect; Xwayland is stopped");
                self.xwayland.phase = Phase::Starting {
                    waiting: Vec::new(),
                    client: client.clone(),
                    source,
                };
                self.xwayland.last_exit = Some(format!("window manager failed: {e}"));
                // Xwayland runs on without a window manager: its connection is closed.
                self.runtime.display_handle().backend_handle().kill_client(
                    client.id(),
                    smithay::reexports::wayland_server::backend::DisconnectReason::ConnectionClosed,
                );
                self.xwayland_gone();
                return;
            }
        };
        let path = format!("/tmp/.X11-unix/X{display_number}");
        for stream in waiting {
            let relayed =
                UnixStream::connect(&path).and_then(|server| proxy::relay(stream, server));
            if let Err(e) = relayed {
                warn!(error = %e, "an X11 client that connected before Xwayland ran is dropped");
            }
        }
        // Selections Wayland clients set before Xwayland ran are offered to X11 clients too.
        for (target, kind) in [
            (
                weft_protocols::selection_guard::Target::Clipboard,
                SelectionTarget::Clipboard,
            ),
            (
                weft_protocols::selection_guard::Target::Primary,
                SelectionTarget::Primary,
            ),
        ] {
            let offer = self.input.data_transfer.wayland_offer_mut(target).clone();
            if let Some(mime_types) = offer {
                if let Err(e) = wm.new_selection(kind, Some(mime_types)) {
                    warn!(error = %e, "a Wayland selection could not be offered to X11 clients");
                }
            }
        }
        info!(display = %format!(":{display_number}"), "Xwayland ready");
        self.xwayland.phase = Phase::Running { wm, client, source };
    }

    /// Xwayland exited, died or failed to start: its windows go, the display is reserved again.
    fn xwayland_gone(&mut self) {
        let (client, source) = match std::mem::take(&mut self.xwayland.phase) {
            Phase::Starting { client, source, .. } | Phase::Running { client, source, .. } => {
                (client, source)
            }
            other => {
                self.xwayland.phase = other;
                return;
            }
        };
        if self.xwayland.last_exit.is_none() {
            self.xwayland.last_exit = Some("the X server went away".into());
        }
        info!(reason = ?self.xwayland.last_exit, "Xwayland stopped; it starts again at the next X11 client");
        // Dropping smithay's handle frees the display's lock and sockets. Xwayland's Wayland
        // connection closes with it (smithay reaps the process when it does).
        self.runtime.loop_handle().remove(source);
        drop(client);
        self.forget_x11_windows();
        self.listen_again(20);
    }
}
