//! Screen capture: clients (screenshot tools, screen recorders, remote desktops, portals) ask for
//! an output's pixels (whole or a region), a window's, or the cursor's, in a wl_shm buffer or a
//! dma-buf of their own.
//!
//! - [`screencopy`]: `zwlr_screencopy_manager_v1` v3 (grim, wf-recorder, OBS's wlrobs, …);
//! - [`image_copy`]: `ext_image_copy_capture_manager_v1` sessions on the sources of [`sources`]
//!   (`ext_output_image_capture_source_manager_v1`,
//!   `ext_foreign_toplevel_image_capture_source_manager_v1`) and the pointer's cursor
//!   ([`cursor_session`]);
//! - [`copy`]: one capture done: a dma-buf is written by the render device (a GPU copy into the
//!   client's buffer, no CPU readback); a wl_shm buffer is read back into the client's pool;
//! - [`window`]: a window or the cursor drawn alone, for their sources.
//!
//! An output is captured from its composed frame at its next frame tick (every surface composed in:
//! an output that scans a surface out composes it while a capture waits); a window or the cursor
//! at the next loop iteration. A capture "with damage" waits until something changed since that
//! watcher's last capture (a screencopy client's of that output, or an ext session's) and says
//! what (a first capture is all damage). Capturing reads what other clients show: sandboxed
//! clients are not offered it ([`crate::runtime::security`]).

pub mod copy;
pub mod cursor_session;
pub mod image_copy;
pub mod screencopy;
pub mod sources;
pub mod window;

use std::collections::HashMap;
use std::time::Duration;

use smithay::reexports::wayland_protocols::ext::image_copy_capture::v1::server::{
    ext_image_copy_capture_frame_v1::ExtImageCopyCaptureFrameV1,
    ext_image_copy_capture_session_v1::ExtImageCopyCaptureSessionV1,
};
use smithay::reexports::wayland_protocols_wlr::screencopy::v1::server::zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1;
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::{DisplayHandle, Resource};
use smithay::utils::{Physical, Rectangle};

use crate::Weft;

/// Where a finished capture is reported.
#[derive(Debug, Clone)]
pub enum Reply {
    Screencopy(ZwlrScreencopyFrameV1),
    ImageCopy(ExtImageCopyCaptureFrameV1),
}

impl Reply {
    fn alive(&self) -> bool {
        match self {
            Reply::Screencopy(f) => f.is_alive(),
            Reply::ImageCopy(f) => f.is_alive(),
        }
    }
}

/// Whose damage a capture reports: a screencopy client's (per output), or an ext session's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Watch {
    Client(ClientId),
    Session(smithay::reexports::wayland_server::backend::ObjectId),
}

/// What is captured.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Output `name`'s composed frame, `region` of it (in its pixels).
    Output {
        name: String,
        region: Rectangle<i32, Physical>,
    },
    /// A window alone, by its foreign-toplevel identifier.
    Window(String),
    /// The pointer's cursor image.
    Cursor,
}

impl Target {
    /// The key damage is kept under.
    fn key(&self) -> String {
        match self {
            Target::Output { name, .. } => name.clone(),
            Target::Window(id) => format!("window:{id}"),
            Target::Cursor => "cursor".into(),
        }
    }

    fn output(&self) -> Option<&str> {
        match self {
            Target::Output { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// One requested copy, waiting for its target's next frame.
#[derive(Debug, Clone)]
pub struct Job {
    pub reply: Reply,
    pub watch: Watch,
    pub target: Target,
    pub buffer: WlBuffer,
    /// Wait for damage and report it.
    pub with_damage: bool,
    /// Compose the cursor into it (`overlay_cursor`, `paint_cursors`).
    pub with_cursor: bool,
}

/// What changed of a target since a watcher last captured it.
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

/// The capture globals, the copies waiting, each watcher's damage, the ext sessions.
pub struct Capture {
    jobs: Vec<Job>,
    changed: HashMap<(Watch, String), Changed>,
    counts: HashMap<String, CaptureCounts>,
    /// ext sessions (their constraints follow their source; `stopped` when it goes).
    pub(crate) sessions: Vec<ExtImageCopyCaptureSessionV1>,
    /// ext cursor sessions (told where the cursor is over their source).
    pub(crate) cursor_sessions: Vec<smithay::reexports::wayland_protocols::ext::image_copy_capture::v1::server::ext_image_copy_capture_cursor_session_v1::ExtImageCopyCaptureCursorSessionV1>,
}

impl Capture {
    /// Creates the capture globals.
    pub(crate) fn new(dh: &DisplayHandle) -> Self {
        screencopy::create_global(dh);
        image_copy::create_globals(dh);
        Self {
            jobs: Vec::new(),
            changed: HashMap::new(),
            counts: HashMap::new(),
            sessions: Vec::new(),
            cursor_sessions: Vec::new(),
        }
    }

    /// Whether a copy waits on output `name` (its next frame then composes every surface).
    pub fn waiting_on(&self, name: &str) -> bool {
        self.jobs.iter().any(|j| j.target.output() == Some(name))
    }

    /// Whether a capture waiting on output `name` asks for the cursor in it.
    pub fn cursor_wanted(&self, name: &str) -> bool {
        self.jobs
            .iter()
            .any(|j| j.target.output() == Some(name) && j.with_cursor)
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
            .entry((job.watch.clone(), job.target.key()))
            .or_insert(Changed::All);
        self.jobs.push(job);
    }

    /// `target` (a [`Target::key`]) was redrawn: `rects` changed (`None`: all of it), for every
    /// watcher's next capture.
    pub(crate) fn note_damage(&mut self, target: &str, rects: Option<&[Rectangle<i32, Physical>]>) {
        for ((_, key), changed) in self.changed.iter_mut() {
            if key != target {
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

    /// Forgets what gone clients, sessions and frames left behind.
    fn prune(&mut self, client_alive: impl Fn(&ClientId) -> bool) {
        let sessions = &self.sessions;
        let watching = |w: &Watch| match w {
            Watch::Client(c) => client_alive(c),
            Watch::Session(id) => sessions.iter().any(|s| &s.id() == id),
        };
        self.jobs
            .retain(|j| watching(&j.watch) && j.buffer.is_alive() && j.reply.alive());
        self.changed.retain(|(w, _), _| watching(w));
        self.sessions.retain(|s| s.is_alive());
        self.cursor_sessions.retain(|s| s.is_alive());
    }

    /// Takes the jobs `ready` says can be done now, with the damage each reports (relative to
    /// what it captures); the rest wait.
    fn take_ready(
        &mut self,
        ready: impl Fn(&Job) -> bool,
    ) -> Vec<(Job, Vec<Rectangle<i32, Physical>>)> {
        let changed = &self.changed;
        let (now, waiting): (Vec<Job>, Vec<Job>) =
            std::mem::take(&mut self.jobs).into_iter().partition(|j| {
                ready(j)
                    && (!j.with_damage
                        || !matches!(
                            changed.get(&(j.watch.clone(), j.target.key())),
                            Some(Changed::Rects(r)) if r.is_empty()
                        ))
            });
        self.jobs = waiting;
        now.into_iter()
            .map(|job| {
                let was = self
                    .changed
                    .insert(
                        (job.watch.clone(), job.target.key()),
                        Changed::Rects(Vec::new()),
                    )
                    .unwrap_or(Changed::All);
                let damage = match (&job.target, was) {
                    (Target::Output { region, .. }, Changed::All) => {
                        vec![Rectangle::from_size(region.size)]
                    }
                    (Target::Output { region, .. }, Changed::Rects(rects)) => rects
                        .iter()
                        .filter_map(|r| r.intersection(*region))
                        .map(|r| Rectangle::new(r.loc - region.loc, r.size))
                        .collect(),
                    // Windows and cursors: the whole buffer (filled in by the caller).
                    _ => Vec::new(),
                };
                (job, damage)
            })
            .collect()
    }

    fn count(&mut self, output: &str, result: &Result<copy::Kind, copy::CopyError>) {
        let counts = self.counts.entry(output.to_string()).or_default();
        match result {
            Ok(copy::Kind::Dmabuf) => counts.dmabuf += 1,
            Ok(copy::Kind::Shm) => counts.shm += 1,
            Err(_) => counts.failed += 1,
        }
    }
}

/// Tells `job`'s frame its copy is done (`damage` relative to what was captured) or failed.
/// `transform`: how the captured pixels are turned (an output's transform; windows and the
/// cursor are upright).
fn finish(
    job: &Job,
    result: Result<copy::Kind, copy::CopyError>,
    (damage, transform): (&[Rectangle<i32, Physical>], smithay::utils::Transform),
    now: Duration,
) {
    match result {
        Ok(_) => match &job.reply {
            Reply::Screencopy(_) => screencopy::ready(job, damage, now),
            Reply::ImageCopy(frame) => image_copy::ready(frame, (damage, transform), now),
        },
        Err(e) => {
            tracing::debug!(error = %e, target = ?job.target, "capture failed");
            match &job.reply {
                Reply::Screencopy(_) => screencopy::failed(job),
                Reply::ImageCopy(frame) => image_copy::failed(frame, &e),
            }
        }
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
        self.capture
            .prune(|c| dh.backend_handle().get_client_data(c.clone()).is_ok());
        let ready = self
            .capture
            .take_ready(|j| j.target.output() == Some(name.as_str()));
        for (job, damage) in ready {
            let Target::Output { region, .. } = &job.target else {
                continue;
            };
            let result = self.copy_output_region(index, *region, &job.buffer);
            self.capture.count(&name, &result);
            finish(&job, result, (&damage, self.output_transform(index)), now);
        }
    }

    /// Per loop iteration: window and cursor captures that can be done, sessions whose source
    /// changed size or went, cursor sessions told where the cursor is.
    pub(crate) fn refresh_capture(&mut self) {
        self.refresh_capture_sessions();
        self.refresh_cursor_sessions();
        let now = self.outputs.clock.now();
        let ready = self
            .capture
            .take_ready(|j| matches!(j.target, Target::Window(_) | Target::Cursor));
        for (job, _) in ready {
            let (result, size) = match &job.target {
                Target::Window(id) => self.capture_window(id, &job.buffer),
                Target::Cursor => self.capture_cursor(&job.buffer),
                Target::Output { .. } => continue,
            };
            let damage = [Rectangle::from_size(size)];
            let upright = smithay::utils::Transform::Normal;
            finish(&job, result, (&damage, upright), now);
        }
    }

    /// A surface tree committed: the captures of its window (or of the cursor, if it is the
    /// cursor's) have new content.
    pub(crate) fn capture_surface_damaged(
        &mut self,
        root: &smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
    ) {
        if let Some(id) = self.foreign_toplevel_identifier(root) {
            self.capture.note_damage(&format!("window:{id}"), None);
        }
        if matches!(self.cursor_image(), crate::seat::cursor::CursorImage::Surface { surface, .. } if &surface == root)
        {
            self.capture.note_damage("cursor", None);
        }
    }
}
