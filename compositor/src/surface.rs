//! What weft keeps per wl_surface for drawing and introspection, and how a committed buffer becomes
//! it.
//!
//! On commit, a new wl_shm buffer is copied (damaged region only) into the surface's texture through
//! the renderer's staging buffer; the texture keeps the last good frame. smithay's surface state holds
//! the wl_buffer and releases it when a later commit replaces it. A single-pixel buffer becomes a
//! solid colour. A dma-buf goes through the [`crate::import`] cache: the surface holds the buffer's
//! import (so it outlives the cache entry), and `StageOnCpu` copies the damaged rows again. Rung and
//! reason are recorded as data (`Shm` for wl_shm, the import rung for dma-bufs).

use std::cell::RefCell;
use std::sync::Arc;

use smithay::backend::renderer::utils::{CommitCounter, RendererSurfaceStateUserData};
use smithay::reexports::wayland_server::backend::ObjectId;
use smithay::reexports::wayland_server::protocol::{wl_buffer::WlBuffer, wl_surface::WlSurface};
use smithay::reexports::wayland_server::Resource as _;
use smithay::utils::{Buffer as BufferCoord, Rectangle};
use smithay::wayland::compositor::{
    with_states, with_surface_tree_upward, SurfaceData, TraversalAction,
};
use smithay::wayland::dmabuf::{get_dmabuf, SurfaceDmabufFeedbackState};
use smithay::wayland::shm::with_buffer_contents;
use smithay::wayland::single_pixel_buffer::get_single_pixel_buffer;
use tracing::{debug, info, warn};

use crate::budget::{Charge, ClientBudget, Resource};
pub use crate::buffer::BufferInfo;
use crate::buffers::shm_pixels::ShmLayout;
use crate::buffers::uploads::{StagedUpload, UploadQueue};
use crate::damage::log::DamageLog;
use crate::import::cache::{Imported, Stage};
use crate::import::planner::Rung;
use crate::import::shm_rows::ShmRows;
use crate::import::Importer;
use crate::render::{Renderer, Texture, UploadRect};

/// Per-surface content and introspection state (in the surface's data map). Geometry (viewport
/// source and destination, scale, subsurface offset) comes from smithay's `RendererSurfaceState`,
/// which also holds the wl_buffer and releases it when the next buffer replaces it.
#[derive(Default)]
pub struct SurfaceContent {
    pub texture: Option<Arc<Texture>>,
    /// Premultiplied colour of a single-pixel buffer.
    pub solid: Option<[f32; 4]>,
    /// Whether the texture's alpha channel must be ignored (X* formats).
    pub opaque: bool,
    pub buffer: Option<BufferInfo>,
    /// The dma-buf import shown (shared with the import cache; outlives its entry).
    pub import: Option<Arc<Imported>>,
    /// The wl_shm buffer read in place ([`crate::buffers::shm_in_place`]); only ever the surface's current
    /// buffer (cleared by every commit of another).
    pub shm_source: Option<Arc<crate::render::PlanarSource>>,
    /// weft's id of the surface ([`SurfaceId`], for log lines).
    id: u64,
    pub rung: Option<crate::import::planner::Rung>,
    /// Why this rung (text and a stable code), or why nothing is shown.
    pub reason: Option<Reason>,
    /// The last commit of smithay's surface state that was imported.
    last_commit: Option<CommitCounter>,
    /// The wl_buffer that commit had: smithay's commit counter counts damage, so a new buffer
    /// attached with no damage leaves it where it was (found by WLCS, whose buffers come undamaged).
    last_buffer: Option<ObjectId>,
    pub commits: u64,
    /// How often rung or reason changed (each change is one log line).
    pub path_changes: u64,
    /// Commits held until their dma-buf's writers were done (the implicit-sync bridge).
    pub fence_waits: u64,
    pub uploaded_bytes: u64,
    /// Bytes the last commit copied (staging copies, wl_shm uploads): the cost of one frame.
    pub copied_bytes_per_frame: u64,
    /// Commits whose dma-buf import was found in the cache, and those that imported.
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Time commits spent held until their dma-buf's writers were done.
    pub fence_wait_ns: u64,
    /// The steering last sent to the surface's feedback objects (`None`: only the default).
    steering: Option<crate::buffers::feedback::Steering>,
    /// Feedback sent to the surface beyond the default, and how often it was sent again because
    /// the plan changed; after a resend, whether a new buffer then took a zero-copy rung.
    pub feedback_sent: u64,
    pub feedback_resent: u64,
    pub feedback_followed: u64,
    awaiting_follow: bool,
    /// CPU time this thread spent handling the surface's commits (import, cache lookup, copies).
    pub commit_cpu_ns: u64,
    /// Wall time of the same work, including waits for a GPU copy (`StageOnSink`).
    pub commit_wall_ns: u64,
    /// What the surface shows on each render device after the first ([`crate::render_devices::others`]).
    pub others: Vec<(crate::devices::DeviceId, DeviceView)>,
    /// The shown wl_shm texture's share of its client's budget.
    texture_charge: Option<Charge>,
    /// A wl_shm upload too large for one event-loop turn, in progress ([`crate::buffers::uploads`]).
    pub staged: Option<StagedUpload>,
    /// Every change of what the surface shows, with its damage (read by each output's
    /// [`crate::damage::tracker`]).
    pub damage: DamageLog,
    /// The fences of the commit shown: held by every frame that reads its buffer in place; the
    /// last holder gone ends weft's reads (release point signalled) ([`crate::sync`]).
    pub sync: Option<Arc<crate::sync::commit::CommitSync>>,
    pub sync_mode: crate::sync::commit::SyncMode,
    /// The client's color representation (wp_color_representation_v1), as last applied: its
    /// matrix and range decode the surface's Y′CbCr buffers on every rung.
    pub representation: crate::color_representation::Representation,
    /// Frames: commits with a buffer (a new one, or the same one redrawn), those an output
    /// presented, and those replaced before any output presented them (video pacing).
    pub frames: FrameCounts,
    /// The current wl_shm buffer's format and planes ([`crate::buffers::shm_pixels`]), for the copies
    /// made after its commit (slices, further render devices).
    pub shm_layout: Option<ShmLayout>,
    /// The Y′CbCr conversion the shown wl_shm texture was converted with (a change converts the
    /// whole buffer again).
    shm_yuv: Option<crate::render::YuvParams>,
    /// A display scans the surface's buffer out ([`crate::outputs::scanout`]): its path says `Scanout`
    /// until the display says otherwise (commits do not flip it back and forth).
    pub(crate) scanned_out: bool,
    /// Why the display last refused to scan the surface's buffer out (joins the reason).
    pub(crate) scanout_refused: Option<String>,
}

impl SurfaceContent {
    /// The reason a dma-buf import records: the import's own, with the display's refusal.
    pub(crate) fn import_reason(&self, import: &Imported) -> String {
        match &self.scanout_refused {
            Some(why) => format!("{}; not scanned out: {why}", import.reason),
            None => import.reason.clone(),
        }
    }
}

/// A surface's frames, as `weft msg surfaces` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FrameCounts {
    pub received: u64,
    pub shown: u64,
    pub skipped: u64,
    /// `received` when an output last presented the surface.
    #[serde(skip)]
    presented_upto: u64,
}

impl FrameCounts {
    /// An output presents the surface: its newest frame is shown (once, however many outputs show
    /// it), the frames received since the last one shown were never shown.
    pub fn presented(&mut self) {
        if self.received > self.presented_upto {
            self.shown += 1;
            self.skipped += self.received - self.presented_upto - 1;
            self.presented_upto = self.received;
        }
    }
}

impl SurfaceContent {
    /// The Y′CbCr conversion of this surface's buffers: the client's, else `default`.
    pub fn yuv(&self, default: crate::render::YuvParams) -> crate::render::YuvParams {
        self.representation.yuv().unwrap_or(default)
    }

    /// Records the path the surface's buffer takes. Logged once per change (not per commit): a
    /// decision is data, and a change of rung or reason is the event worth a line.
    pub(crate) fn set_path(&mut self, rung: Option<Rung>, reason: Option<Reason>) {
        if self.rung != rung || self.reason != reason {
            self.path_changes += 1;
            match (rung, &reason) {
                (Some(r), Some(why)) => info!(
                    surface = self.id,
                    rung = r.name(),
                    reason = %why.text,
                    code = %why.code,
                    was = self.rung.map_or("none", Rung::name),
                    "buffer path changed"
                ),
                (None, Some(why)) => info!(
                    surface = self.id,
                    reason = %why.text,
                    code = %why.code,
                    "buffer path changed"
                ),
                (_, None) if self.rung.is_some() => {
                    debug!(surface = self.id, "surface has no buffer any more")
                }
                _ => {}
            }
        }
        self.rung = rung;
        self.reason = reason;
    }

    /// Keeps the rung and changes the reason (a failure that leaves the last good frame shown).
    fn set_reason(&mut self, reason: Reason) {
        self.set_path(self.rung, Some(reason));
    }

    /// weft's id of the surface (0 before its first commit).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Shows a staged upload's texture, now complete ([`crate::buffers::uploads`]).
    pub fn finish_staged(&mut self, job: StagedUpload) {
        self.damage.changed(None);
        self.shm_yuv = self
            .shm_layout
            .as_ref()
            .is_some_and(ShmLayout::is_ycbcr)
            .then_some(job.yuv);
        self.texture = Some(job.texture);
        self.texture_charge = job.charge;
        self.solid = None;
        self.import = None;
        self.opaque = job.opaque;
        self.buffer = Some(job.info);
        self.set_path(
            Some(Rung::Shm),
            Some(Reason::new(
                "shm.sliced_upload",
                format!(
                    "wl_shm: larger than {} MiB, copied into a sampled texture in slices across event-loop turns",
                    crate::buffers::uploads::SLICE_BYTES >> 20
                ),
            )),
        );
    }

    /// Shows nothing: the client's buffer was refused (over its budget).
    fn refuse(&mut self, why: Reason) {
        self.damage.changed(None);
        self.texture = None;
        self.texture_charge = None;
        self.staged = None;
        self.solid = None;
        self.import = None;
        self.buffer = None;
        self.sync = None;
        self.set_path(None, Some(why));
    }

    /// Where the shown dma-buf came from, as (device id or "unknown", evidence); `None` for other
    /// buffers. The buffer's own evidence first ([`crate::devices::attribution`]); where it leaves
    /// several candidates, the tranche this surface's feedback steered it to decides among them.
    pub fn source(&self, devices: &crate::devices::Registry) -> Option<(String, String)> {
        let import = self.import.as_ref()?;
        let steered = self
            .steering
            .as_ref()
            .and_then(|s| s.source.as_ref())
            .and_then(|(dev, _)| {
                let dev = crate::devices::DevT::from_raw(*dev);
                devices.devices().iter().find(|d| d.has_dev(dev))
            });
        Some(crate::devices::attribution::with_steering(
            &import.source,
            steered,
            devices.devices(),
        ))
    }

    /// Drops what the surface shows: texture, import, in-place buffer, upload in progress, its
    /// views on further devices.
    fn drop_shown(&mut self) {
        self.texture = None;
        self.texture_charge = None;
        self.import = None;
        self.shm_source = None;
        self.staged = None;
        self.others.clear();
        self.sync = None;
    }

    /// Whether the surface has content to draw.
    pub fn has_content(&self) -> bool {
        self.buffer.is_some()
            && (self.texture.is_some()
                || self.solid.is_some()
                || self.import.is_some()
                || self.shm_source.is_some())
    }
}

/// Why a surface's buffer takes its path: the text people read and a stable code for tools
/// (`weft msg surfaces`: `reason`, `reason_code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: String,
    pub text: String,
}

impl Reason {
    pub fn new(code: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            text: text.into(),
        }
    }
}

/// What one surface shows on one render device after the first ([`crate::render_devices::others`]
/// keeps it up to date).
#[derive(Default)]
pub struct DeviceView {
    pub texture: Option<Arc<Texture>>,
    pub import: Option<Arc<Imported>>,
    /// The rung its buffer took there ("Shm" for wl_shm), and the bytes its last commit copied.
    pub rung: Option<crate::import::planner::Rung>,
    pub copied_bytes_per_frame: u64,
    /// The (commit, wl_buffer) brought to this device last.
    pub(crate) last: Option<(CommitCounter, Option<ObjectId>)>,
}

/// Runs `f` on the surface's content record, creating it if missing.
pub fn with_content<T>(states: &SurfaceData, f: impl FnOnce(&mut SurfaceContent) -> T) -> T {
    // The RefCell is only borrowed here, never across a call that could re-enter.
    let cell = states
        .data_map
        .get_or_insert(|| RefCell::new(SurfaceContent::default()));
    let mut content = cell.borrow_mut();
    f(&mut content)
}

/// What importing a commit works with.
pub struct ImportCtx<'a> {
    pub renderer: &'a mut Renderer,
    pub importer: &'a mut Importer,
    /// Where wl_shm uploads too large for this turn go.
    pub uploads: &'a mut UploadQueue,
    /// Feedback variants for steering ([`steer`]).
    pub feedback: &'a mut crate::buffers::feedback::FeedbackBook,
    /// Which device each dma-buf came from, and how the render device reaches it.
    pub devices: &'a crate::devices::Registry,
    /// The Vulkan devices weft drives (a source among them can stage its buffers).
    pub driven: &'a crate::import::Driven,
}

/// Brings every surface of a committed tree up to date with smithay's surface state (call after
/// `on_commit_buffer_handler`). Returns whether anything changed.
pub fn import_tree(ctx: &mut ImportCtx<'_>, surface: &WlSurface) -> bool {
    let mut changed = false;
    with_surface_tree_upward(
        surface,
        (),
        |_, _, _| TraversalAction::DoChildren(()),
        |surface, states, _| changed |= import_surface(ctx, surface, states),
        |_, _, _| true,
    );
    changed
}

/// Drops everything drawn from the surfaces of a tree (their device is gone) and forgets which
/// commit was imported, so the next [`import_tree`] imports the current buffers again, whole.
/// Drops what one surface shows (its texture, import, in-place buffer, upload), as when it is
/// destroyed.
pub fn forget_content(surface: &WlSurface) {
    smithay::wayland::compositor::with_states(surface, |states| {
        with_content(states, SurfaceContent::drop_shown)
    });
}

pub fn forget_tree_content(surface: &WlSurface) {
    with_surface_tree_upward(
        surface,
        (),
        |_, _, _| TraversalAction::DoChildren(()),
        |_, states, _| {
            with_content(states, |c| {
                c.drop_shown();
                c.last_commit = None;
            })
        },
        |_, _, _| true,
    );
}

/// CPU time of the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn import_surface(ctx: &mut ImportCtx<'_>, surface: &WlSurface, states: &SurfaceData) -> bool {
    let Some(rs) = states.data_map.get::<RendererSurfaceStateUserData>() else {
        return false;
    };
    let rs = rs.lock().unwrap_or_else(|p| p.into_inner());
    let commit = rs.current_commit();
    let buffer_id = rs.buffer().map(|b| b.id());
    with_content(states, |content| {
        if content.last_commit == Some(commit) && content.last_buffer == buffer_id {
            return false;
        }
        // weft's id (what `weft msg surfaces` shows): protocol ids repeat across clients.
        content.id = states.data_map.get::<SurfaceId>().map_or(0, |id| id.0);
        content.commits += 1;
        let started = thread_cpu_ns();
        let wall = std::time::Instant::now();
        let uploaded_before = content.uploaded_bytes;
        // A newer commit supersedes any upload still in slices; the texture shown then lacks that
        // commit's damage too, so this one is copied whole.
        let superseded = content.staged.take().is_some();
        let mut shown_damage = None;
        match rs.buffer() {
            None => {
                content.buffer = None;
                content.shm_source = None;
                content.shm_layout = None;
                content.texture = None;
                content.texture_charge = None;
                content.solid = None;
                content.import = None;
                content.sync = None;
                content.sync_mode = crate::sync::commit::SyncMode::None;
                content.set_path(None, None);
            }
            Some(buffer) => {
                content.frames.received += 1;
                let damage: Vec<Rectangle<i32, BufferCoord>> = if superseded {
                    vec![Rectangle::new((0, 0).into(), (i32::MAX, i32::MAX).into())]
                } else {
                    rs.damage_since(content.last_commit)
                        .iter()
                        .copied()
                        .collect()
                };
                let new_buffer = content.last_buffer != buffer_id;
                // A new buffer with no damage (WLCS attaches such) is redrawn whole.
                if !(superseded || new_buffer && damage.is_empty()) {
                    shown_damage = Some(damage.clone());
                }
                let shm = ShmCommit {
                    surface,
                    states,
                    commit,
                    damage: &damage,
                    new_buffer,
                };
                attach_buffer(ctx, content, buffer, &shm);
            }
        }
        content.commit_cpu_ns += thread_cpu_ns().saturating_sub(started);
        content.commit_wall_ns += wall.elapsed().as_nanos() as u64;
        content.copied_bytes_per_frame = content.uploaded_bytes - uploaded_before;
        content.damage.changed(shown_damage);
        content.last_commit = Some(commit);
        content.last_buffer = buffer_id;
        true
    })
}

/// The commit a buffer is attached by.
struct ShmCommit<'a> {
    surface: &'a WlSurface,
    states: &'a SurfaceData,
    commit: CommitCounter,
    damage: &'a [Rectangle<i32, BufferCoord>],
    /// Another wl_buffer than the surface's last.
    new_buffer: bool,
}

/// The steering a surface's buffer calls for: a tranche for its source device while the render
/// device reads that device's memory in place (see [`crate::buffers::feedback::Steering`]).
fn steering_for(
    devices: &crate::devices::Registry,
    imported: &Imported,
) -> crate::buffers::feedback::Steering {
    let none = crate::buffers::feedback::Steering::default();
    let Some(src) = &imported.source.device else {
        return none;
    };
    let render = devices.render_id();
    if *src == render || !devices.access(&imported.source, &render).samples() {
        return none;
    }
    let Some(record) = devices.get(src) else {
        return none;
    };
    let Some(dev) = record.preferred_node().and_then(|n| n.dev) else {
        return none;
    };
    let fourccs: Vec<u32> = if record.caps.formats.is_empty() {
        // A GPU's memory: every format weft reads.
        weft_protocols::drm_format::FORMATS
            .iter()
            .map(|f| f.fourcc)
            .collect()
    } else {
        record
            .caps
            .formats
            .iter()
            .filter_map(|f| weft_protocols::drm_format::parse_fourcc(f))
            .collect()
    };
    crate::buffers::feedback::Steering {
        source: Some((dev.raw(), fourccs)),
    }
}

/// Feedback steering: sends the surface's feedback objects what its plan calls for, only when that
/// differs from what they were last sent (never the same feedback twice), and counts whether the
/// client follows (a new buffer on a zero-copy rung after a resend).
fn steer(
    ctx: &mut ImportCtx<'_>,
    view: &mut SurfaceContent,
    states: &SurfaceData,
    imported: &Imported,
    new_buffer: bool,
) {
    if view.awaiting_follow && new_buffer && imported.rung.copies() == 0 {
        view.feedback_followed += 1;
        view.awaiting_follow = false;
    }
    let want = steering_for(ctx.devices, imported);
    let sent = view.steering.clone().unwrap_or_default();
    if want == sent {
        return;
    }
    let Some(feedback) = ctx.feedback.for_steering(&want) else {
        return;
    };
    if let Some(objects) = SurfaceDmabufFeedbackState::from_states(states) {
        objects.set_feedback(&feedback);
    }
    if view.steering.is_some() {
        view.feedback_resent += 1;
        view.awaiting_follow = true;
    }
    view.feedback_sent += 1;
    info!(
        surface = view.id,
        source_tranche = want.source.is_some(),
        "surface feedback steered"
    );
    view.steering = Some(want);
}

fn attach_buffer(
    ctx: &mut ImportCtx<'_>,
    view: &mut SurfaceContent,
    buffer: &WlBuffer,
    at: &ShmCommit<'_>,
) {
    // An in-place wl_shm buffer is read only while it is the current one: smithay releases it
    // once another replaces it.
    view.shm_source = None;
    view.shm_layout = None;
    if let Ok(dmabuf) = get_dmabuf(buffer) {
        attach_dmabuf(ctx, view, buffer, dmabuf, at.damage);
        if let Some(imported) = view.import.clone() {
            steer(ctx, view, at.states, &imported, at.new_buffer);
        }
        return;
    }
    view.import = None;
    if let Ok(pixel) = get_single_pixel_buffer(buffer) {
        let c = pixel.rgba32f();
        view.solid = Some(c);
        view.texture = None;
        view.texture_charge = None;
        view.buffer = Some(BufferInfo {
            kind: "single_pixel",
            width: 1,
            height: 1,
            format: "AR24".into(),
            modifier: None,
            planes: 1,
        });
        view.set_path(
            Some(Rung::Shm),
            Some(Reason::new(
                "single_pixel.solid",
                "single-pixel buffer: drawn as a solid colour, no memory to import",
            )),
        );
        return;
    }
    let budget = buffer
        .client()
        .and_then(|c| crate::runtime::client::budget_of(&c));
    let id = buffer.id();
    let ycbcr = ctx.importer.shm_ycbcr(&id).cloned();
    let result = with_buffer_contents(buffer, |ptr, len, data| {
        let layout = ShmLayout::new(&data, ycbcr.as_ref());
        view.shm_layout = Some(layout.clone());
        // A pool truncated under the buffer faults here, under smithay's SIGBUS guard, which
        // answers it with wl_shm.invalid_fd: reading in place must not hide that from the client.
        touch_buffer(ptr, len, &layout);
        // SAFETY: smithay hands us the pool mapping `ptr..ptr+len`, valid for this closure.
        let in_place = unsafe {
            ctx.importer
                .shm_in_place(ctx.renderer, &id, (ptr, len), &layout, budget.as_ref())
        };
        let refused = match in_place {
            Ok(source) => {
                show_in_place(view, source, &layout);
                return Ok(());
            }
            Err(why) => why,
        };
        // SAFETY: as above; the client may write the pool concurrently (wl_shm has no sync),
        // which can only garble pixels, and smithay guards against SIGBUS from a truncated file.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
        upload_shm(ctx, view, bytes, layout, at, budget.as_ref(), &refused)
    });
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(error = %e, "shm upload failed; surface keeps its last frame"),
        Err(e) => {
            // Not shm and not single-pixel: no import path yet for this buffer type.
            view.set_path(
                None,
                Some(Reason::new(
                    "unsupported_buffer_type",
                    format!("unsupported buffer type ({e:?})"),
                )),
            );
            debug!(buffer = ?buffer.id(), "unsupported buffer type");
        }
    }
}

/// A committed dma-buf: the cached import (or a fresh one), plus this commit's copy for
/// `StageOnCpu`. Failures keep the last good frame and are recorded as the surface's reason; they
/// are never protocol errors (the wl_buffer exists).
fn attach_dmabuf(
    ctx: &mut ImportCtx<'_>,
    view: &mut SurfaceContent,
    buffer: &WlBuffer,
    dmabuf: &smithay::backend::allocator::dmabuf::Dmabuf,
    damage: &[Rectangle<i32, BufferCoord>],
) {
    let (result, hit) = ctx.importer.lookup_or_import(
        ctx.renderer,
        ctx.devices,
        &ctx.devices.render_id(),
        ctx.driven,
        &buffer.id(),
        dmabuf,
    );
    if hit {
        view.cache_hits += 1;
    } else {
        view.cache_misses += 1;
    }
    let imported = match result {
        Ok(i) => i,
        Err(why) => {
            debug!(buffer = ?buffer.id(), %why, "dma-buf cannot be shown; the surface keeps its last frame");
            view.set_reason(Reason::new(
                format!("import_failed.{}", why.class.code()),
                format!("import failed, showing the last good frame: {why}"),
            ));
            return;
        }
    };
    match stage_commit(ctx.renderer, &imported, damage, view.representation.yuv()) {
        Ok(bytes) => view.uploaded_bytes += bytes,
        Err(e) => {
            debug!(buffer = ?buffer.id(), error = %e, rung = imported.rung.name(), "staging copy failed");
            view.set_reason(Reason::new(
                format!("{}.copy_failed", imported.rung.code()),
                format!(
                    "{} copy failed, showing the last good frame: {e}",
                    imported.rung.name()
                ),
            ));
            return;
        }
    }
    let fourcc = smithay::backend::allocator::Buffer::format(dmabuf).code as u32;
    view.opaque = matches!(
        weft_protocols::drm_format::info(fourcc).map(|f| f.kind),
        Some(weft_protocols::drm_format::FormatKind::Rgb { alpha: false })
    );
    view.texture = None;
    view.solid = None;
    view.buffer = Some(imported.info.clone());
    if !view.scanned_out {
        let reason = view.import_reason(&imported);
        view.set_path(
            Some(imported.rung),
            Some(Reason::new(imported.reason_code.clone(), reason)),
        );
    }
    view.import = Some(imported);
}

/// This commit's copy on a staging rung (the damaged rows; nothing on the zero-copy rungs).
/// `yuv`: the surface's own Y′CbCr conversion (wp_color_representation_v1), which a converting
/// `StageOnCpu` uses instead of the default (a change converts the whole buffer again). Returns
/// the bytes copied.
pub(crate) fn stage_commit(
    renderer: &mut Renderer,
    imported: &Imported,
    damage: &[Rectangle<i32, BufferCoord>],
    yuv: Option<crate::render::YuvParams>,
) -> Result<u64, crate::render::ImportError> {
    match &imported.stage {
        None => Ok(0),
        Some(Stage::Cpu(stage)) => {
            let mut stage = stage.lock().unwrap_or_else(|p| p.into_inner());
            // The CPU rewrites the back copy, which was the front a commit ago: frames in flight
            // still reading it finish first (rarely any: the ring retires them in order).
            if let Some(back) = stage.back() {
                renderer.wait_reads(Arc::as_ptr(back).cast())?;
            }
            let (mut y0, mut y1) = damage_rows(damage, stage.height());
            if stage.use_yuv(yuv) {
                (y0, y1) = (0, stage.height());
            }
            stage.commit_rows(y0, y1)
        }
        Some(Stage::Gpu(stage)) => {
            let (y0, y1) = damage_rows(damage, stage.height());
            // Uploads queued for this device's next frame go first (its queue runs in order).
            renderer.flush_uploads()?;
            stage.copy_rows(y0, y1)
        }
    }
}

/// The rows `y0..y1` a commit's damage touches (all rows when there is no damage information).
fn damage_rows(damage: &[Rectangle<i32, BufferCoord>], height: u32) -> (u32, u32) {
    if damage.is_empty() {
        return (0, height);
    }
    let rows = damage
        .iter()
        .filter(|r| r.size.w > 0 && r.size.h > 0)
        .map(|r| {
            (
                r.loc.y.max(0) as u32,
                r.loc.y.saturating_add(r.size.h).clamp(0, height as i32) as u32,
            )
        })
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    match rows {
        Some((y0, y1)) if y1 > y0 => (y0.min(height), y1),
        _ => (0, 0),
    }
}

/// Reads the first and last byte of the buffer in its pool mapping (inside smithay's
/// `with_buffer_contents`, whose SIGBUS guard turns a truncated pool into zeros and a protocol
/// error): the in-place path otherwise never touches the pages at commit.
fn touch_buffer(pool: *const u8, len: usize, layout: &ShmLayout) {
    let (start, end) = (layout.start() as usize, layout.end() as usize);
    for at in [start, end.saturating_sub(1)] {
        if at < len {
            // SAFETY: `at` lies inside smithay's live pool mapping (checked against its length);
            // a fault is caught by smithay's guard around this closure.
            unsafe { std::ptr::read_volatile(pool.add(at)) };
        }
    }
}

/// Shows a wl_shm buffer read in place: no texture, nothing copied.
fn show_in_place(
    view: &mut SurfaceContent,
    source: Arc<crate::render::PlanarSource>,
    layout: &ShmLayout,
) {
    view.opaque = source.layout.opaque;
    view.shm_source = Some(source);
    view.texture = None;
    view.texture_charge = None;
    view.solid = None;
    view.buffer = Some(shm_info(layout));
    view.shm_yuv = None;
    view.set_path(
        Some(Rung::ShmInPlace),
        Some(Reason::new(
            "shm_in_place.best",
            "wl_shm: the pool's pages imported as host memory (VK_EXT_external_memory_host) \
             and read in place, held until the buffer is replaced and the GPU is done: no copy",
        )),
    );
}

/// Introspection record of a wl_shm buffer.
fn shm_info(layout: &ShmLayout) -> BufferInfo {
    BufferInfo {
        kind: "shm",
        width: layout.width as i32,
        height: layout.height as i32,
        format: layout.fourcc_str(),
        modifier: None,
        planes: layout.planes.len() as u32,
    }
}

fn upload_shm(
    ctx: &mut ImportCtx<'_>,
    view: &mut SurfaceContent,
    bytes: &[u8],
    layout: ShmLayout,
    at: &ShmCommit<'_>,
    budget: Option<&Arc<ClientBudget>>,
    refused: &crate::buffers::shm_in_place::NotInPlace,
) -> Result<(), crate::render::RenderError> {
    let Some((vk_format, opaque)) = layout.texture_format() else {
        view.set_reason(Reason::new(
            "shm.format_not_sampled",
            format!("wl_shm format {:?} is not sampled by weft", layout.format),
        ));
        return Ok(());
    };
    let (w, h) = (layout.width, layout.height);
    let info = shm_info(&layout);
    // Y′CbCr is converted with the surface's matrix and range (wp_color_representation_v1).
    let yuv = view.yuv(ctx.importer.policy.yuv);
    let yuv_used = layout.is_ycbcr().then_some(yuv);
    let reuse = view
        .texture
        .as_ref()
        .filter(|t| t.width() == w && t.height() == h && t.format() == vk_format)
        .filter(|_| view.shm_yuv == yuv_used)
        .cloned();
    let rows = ShmRows::new(bytes, &layout, yuv)?;
    let full = UploadRect { x: 0, y: 0, w, h };
    let rects = rows.rects(match &reuse {
        Some(_) => damage_rects(at.damage, w, h),
        None => vec![full],
    });
    let upload_bytes: u64 = rects
        .iter()
        .map(|r| u64::from(r.w) * u64::from(r.h) * 4)
        .sum();
    if upload_bytes > crate::buffers::uploads::SLICE_BYTES {
        // Too large for this turn: a fresh texture, filled in slices ([`crate::buffers::uploads`]); the
        // surface keeps showing what it shows until the last slice is in.
        let Some(charge) = charge_texture(view, budget, w, h, true) else {
            return Ok(());
        };
        let texture = ctx.renderer.create_texture(w, h, vk_format)?;
        view.staged = Some(StagedUpload {
            texture,
            charge,
            commit: at.commit,
            rows_done: 0,
            opaque,
            info,
            yuv,
        });
        ctx.uploads.push(at.surface);
        return Ok(());
    }
    let texture = match reuse {
        Some(t) => t,
        None => {
            let Some(charge) = charge_texture(view, budget, w, h, false) else {
                return Ok(());
            };
            let t = ctx.renderer.create_texture(w, h, vk_format)?;
            view.texture_charge = charge;
            t
        }
    };
    let copied = ctx
        .renderer
        .upload_rows(&texture, &rects, |y, x0, dst| rows.fill(y, x0, dst))?;
    view.uploaded_bytes += copied;
    view.shm_yuv = yuv_used;
    view.texture = Some(texture);
    view.solid = None;
    view.opaque = opaque;
    view.buffer = Some(info);
    view.set_path(
        Some(Rung::Shm),
        Some(Reason::new(
            format!("shm_in_place.{}", refused.code()),
            match layout.is_ycbcr() {
                false => format!(
                    "wl_shm: damaged region copied into a sampled texture at commit (not read in \
                     place: {refused})"
                ),
                true => format!(
                    "wl_shm: damaged rows converted from Y′CbCr into a sampled texture at commit \
                     (not read in place: {refused})"
                ),
            },
        )),
    );
    Ok(())
}

/// Charges a new `w`×`h` texture to the client's budget. With `keep_shown`, the texture shown now
/// stays (and stays charged) while the new one fills, unless only dropping it makes room. Over the
/// budget the surface shows nothing and says why; `None` then.
fn charge_texture(
    view: &mut SurfaceContent,
    budget: Option<&Arc<ClientBudget>>,
    w: u32,
    h: u32,
    keep_shown: bool,
) -> Option<Option<Charge>> {
    let Some(budget) = budget else {
        return Some(None);
    };
    let bytes = u64::from(w) * u64::from(h) * 4;
    if !keep_shown {
        // The texture shown now is replaced at once: its share is free for the new one.
        view.texture_charge = None;
    }
    let charged = match budget.charge(Resource::ShmTextureBytes, bytes) {
        Err(_) if view.texture_charge.is_some() => {
            view.texture = None;
            view.texture_charge = None;
            budget.charge(Resource::ShmTextureBytes, bytes)
        }
        other => other,
    };
    match charged {
        Ok(charge) => Some(Some(charge)),
        Err(over) => {
            view.refuse(Reason::new(
                "shm.over_budget",
                format!("wl_shm buffer {w}x{h} not shown: {over}"),
            ));
            None
        }
    }
}

/// The damaged buffer region of a commit, clamped to the buffer (smithay already maps surface damage
/// into buffer coordinates through scale, transform and viewport).
fn damage_rects(damage: &[Rectangle<i32, BufferCoord>], w: u32, h: u32) -> Vec<UploadRect> {
    let mut out = Vec::with_capacity(damage.len());
    for r in damage {
        if r.size.w <= 0 || r.size.h <= 0 {
            continue;
        }
        let x0 = r.loc.x.clamp(0, w as i32) as u32;
        let y0 = r.loc.y.clamp(0, h as i32) as u32;
        let x1 = r.loc.x.saturating_add(r.size.w).clamp(0, w as i32) as u32;
        let y1 = r.loc.y.saturating_add(r.size.h).clamp(0, h as i32) as u32;
        if x1 > x0 && y1 > y0 {
            out.push(UploadRect {
                x: x0,
                y: y0,
                w: x1 - x0,
                h: y1 - y0,
            });
        }
    }
    if out.len() > 16 {
        // Many small rects cost more in copy commands than one bounding upload.
        return vec![UploadRect { x: 0, y: 0, w, h }];
    }
    out
}

/// weft's id for a surface, unique for the compositor's lifetime (protocol ids are per client).
#[derive(Debug, Clone, Copy)]
pub struct SurfaceId(pub u64);

/// The surface's [`SurfaceId`] (0 if it was never given one).
pub fn surface_id(surface: &WlSurface) -> u64 {
    with_states(surface, |states| {
        states.data_map.get::<SurfaceId>().map_or(0, |id| id.0)
    })
}

/// Reads the surface's content record for introspection.
pub fn content_snapshot<T>(surface: &WlSurface, f: impl FnOnce(&SurfaceContent) -> T) -> T {
    with_states(surface, |states| with_content(states, |c| f(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_is_clamped() {
        let d = [
            Rectangle::new((-5, -5).into(), (10, 10).into()),
            Rectangle::new((20, 20).into(), (100, 100).into()),
            Rectangle::new((3, 3).into(), (0, 10).into()),
        ];
        let r = damage_rects(&d, 64, 64);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].x, r[0].y, r[0].w, r[0].h), (0, 0, 5, 5));
        assert_eq!((r[1].x, r[1].y, r[1].w, r[1].h), (20, 20, 44, 44));
    }

    #[test]
    fn damage_rows_are_the_union() {
        let d = [
            Rectangle::new((0, 10).into(), (5, 5).into()),
            Rectangle::new((3, 40).into(), (1, 100).into()),
        ];
        assert_eq!(damage_rows(&d, 64), (10, 64));
        assert_eq!(damage_rows(&[], 64), (0, 64));
        assert_eq!(
            damage_rows(&[Rectangle::new((0, 0).into(), (0, 0).into())], 64),
            (0, 0)
        );
    }

    #[test]
    fn many_rects_become_one() {
        let d: Vec<_> = (0..20)
            .map(|i| Rectangle::new((i, i).into(), (1, 1).into()))
            .collect();
        let r = damage_rects(&d, 32, 32);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].w, r[0].h), (32, 32));
    }
}
