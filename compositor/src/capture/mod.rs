//! Screen capture: clients (screenshot tools, screen recorders, remote desktops) ask for an
//! output's pixels, whole or a region, in a wl_shm buffer or a dma-buf of their own.
//!
//! - [`screencopy`]: `zwlr_screencopy_manager_v1` v3 (grim, wf-recorder, OBS's wlrobs, …).
//! - [`copy`]: one capture done: a dma-buf is written by the render device that composes the
//!   output (a GPU copy of its target into the client's buffer, no CPU readback); a wl_shm buffer
//!   is read back into the client's pool.
//!
//! A capture is taken from the output's composed frame at its next frame tick (every surface
//! composed in: an output that scans a surface out composes it while a capture waits). A capture
//! "with damage" waits until something changed since the client's last capture of that output,
//! and says what (the first capture of an output is all damage). Capturing reads what other
//! clients show: sandboxed clients are not offered it ([`crate::runtime::security`]).

pub mod copy;
pub mod screencopy;

use std::collections::HashMap;
use std::time::Duration;

use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::{DisplayHandle, Resource};
use smithay::utils::{Physical, Rectangle};

use crate::Weft;

/// Where a finished capture is reported.
#[derive(Debug, Clone)]
pub enum Reply {
    Screencopy(
        smithay::reexports::wayland_protocols_wlr::screencopy::v1::server::zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1,
    ),
}

/// One requested copy, waiting for its output's next frame tick.
#[derive(Debug, Clone)]
pub struct Job {
    pub reply: Reply,
    pub client: ClientId,
    /// The output's name (`weft msg outputs`).
    pub output: String,
    /// What is copied, in the output's pixels.
    pub region: Rectangle<i32, Physical>,
    pub buffer: WlBuffer,
    /// Wait for damage and report it.
    pub with_damage: bool,
    /// Compose the cursor into it (`overlay_cursor`, `paint_cursors`).
    pub with_cursor: bool,
}

/// What changed on an output since a client last captured it.
#[derive(Debug, Clone)]
enum Changed {
    All,
    Rects(Vec<Rectangle<i32, Physical>>),
}

/// Captures of one output done so far, by buffer kind, and those that failed (`weft msg outputs`).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CaptureCounts {
    pub dmabuf: u64,
    pub shm: u64,
    pub failed: u64,
}

/// The capture globals, the copies waiting and each client's damage per output.
pub struct Capture {
    jobs: Vec<Job>,
    changed: HashMap<(ClientId, String), Changed>,
    counts: HashMap<String, CaptureCounts>,
}

impl Capture {
    /// Creates the capture globals.
    pub(crate) fn new(dh: &DisplayHandle) -> Self {
        screencopy::create_global(dh);
        Self {
            jobs: Vec::new(),
            changed: HashMap::new(),
            counts: HashMap::new(),
        }
    }

    /// Whether a copy waits on output `name` (its next frame then composes every surface).
    pub fn waiting_on(&self, name: &str) -> bool {
        self.jobs.iter().any(|j| j.output == name)
    }

    /// The captures of output `name` so far.
    /// Whether a capture waiting on output `name` asks for the cursor in it.
    pub fn cursor_wanted(&self, name: &str) -> bool {
        self.jobs.iter().any(|j| j.output == name && j.with_cursor)
    }

    /// Whether any waiting capture asks for the cursor.
    pub fn cursor_wanted_anywhere(&self) -> bool {
        self.jobs.iter().any(|j| j.with_cursor)
    }

    /// The captures of output `name` so far.
    pub fn counts(&self, name: &str) -> CaptureCounts {
        self.counts.get(name).copied().unwrap_or_default()
    }

    pub(crate) fn push(&mut self, job: Job) {
        self.changed
            .entry((job.client.clone(), job.output.clone()))
            .or_insert(Changed::All);
        self.jobs.push(job);
    }

    /// `output` was redrawn: `rects` changed (`None`: all of it), for every client's next capture.
    pub(crate) fn note_damage(&mut self, output: &str, rects: Option<&[Rectangle<i32, Physical>]>) {
        for ((_, name), changed) in self.changed.iter_mut() {
            if name != output {
                continue;
            }
            match (rects, &mut *changed) {
                (_, Changed::All) => {}
                (None, _) => *changed = Changed::All,
                (Some(new), Changed::Rects(old)) => {
                    old.extend_from_slice(new);
                    if old.len() > 32 {
                        *changed = Changed::All;
                    }
                }
            }
        }
    }

    /// Forgets what a gone client or output left behind.
    fn prune(&mut self, alive: impl Fn(&ClientId) -> bool, outputs: &[String]) {
        self.jobs
            .retain(|j| alive(&j.client) && j.buffer.is_alive() && reply_alive(&j.reply));
        self.changed
            .retain(|(client, output), _| alive(client) && outputs.contains(output));
    }
}

fn reply_alive(reply: &Reply) -> bool {
    match reply {
        Reply::Screencopy(frame) => frame.is_alive(),
    }
}

impl Weft {
    /// At output `index`'s frame tick (its target holds the frame just composed, `now`): does the
    /// copies waiting on it that can be done.
    pub(crate) fn capture_tick(&mut self, index: usize, now: Duration) {
        let Some(slot) = self.outputs.slots.get(index) else {
            return;
        };
        let name = slot.name();
        if !slot.target.is_drawn() || slot.rendered_lifted.is_some() {
            // Not composed yet, or composed without a surface a plane shows: the next frame is
            // composed whole (see `frame_with_scene`).
            return;
        }
        let dh = self.runtime.display_handle().clone();
        let outputs: Vec<String> = self.outputs.slots.iter().map(|s| s.name()).collect();
        self.capture.prune(
            |c| dh.backend_handle().get_client_data(c.clone()).is_ok(),
            &outputs,
        );
        let (ready, waiting): (Vec<Job>, Vec<Job>) = std::mem::take(&mut self.capture.jobs)
            .into_iter()
            .partition(|j| {
                j.output == name
                    && (!j.with_damage
                        || !matches!(
                            self.capture.changed.get(&(j.client.clone(), j.output.clone())),
                            Some(Changed::Rects(r)) if r.is_empty()
                        ))
            });
        self.capture.jobs = waiting;
        for job in ready {
            let key = (job.client.clone(), job.output.clone());
            let changed = self
                .capture
                .changed
                .insert(key, Changed::Rects(Vec::new()))
                .unwrap_or(Changed::All);
            let damage = match changed {
                Changed::All => vec![job.region],
                Changed::Rects(rects) => rects
                    .iter()
                    .filter_map(|r| r.intersection(job.region))
                    .collect(),
            };
            let result = self.copy_output_region(index, job.region, &job.buffer);
            let counts = self.capture.counts.entry(name.clone()).or_default();
            match result {
                Ok(kind) => {
                    match kind {
                        copy::Kind::Dmabuf => counts.dmabuf += 1,
                        copy::Kind::Shm => counts.shm += 1,
                    }
                    let local: Vec<_> = damage
                        .iter()
                        .map(|r| Rectangle::new(r.loc - job.region.loc, r.size))
                        .collect();
                    screencopy::ready(&job, &local, now);
                }
                Err(e) => {
                    tracing::debug!(error = %e, output = %name, "capture failed");
                    counts.failed += 1;
                    screencopy::failed(&job);
                }
            }
        }
    }
}
