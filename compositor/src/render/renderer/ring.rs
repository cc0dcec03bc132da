//! Frames in flight: a ring of command buffers and fences, each slot keeping alive what its
//! submission reads (textures, planar sources, the client buffers behind them, staged uploads)
//! until its fence has signalled. The CPU records the next frame while the GPU runs the last; it
//! waits only when the GPU is [`FRAMES_IN_FLIGHT`] submissions behind, before a readback, and
//! before the CPU rewrites memory a frame in flight still reads ([`Renderer::wait_reads`]).

use std::sync::Arc;

use ash::vk;

use super::upload::PendingUpload;
use super::Renderer;
use crate::render::draw::{DrawItem, Fill};
use crate::render::memory::{HostBuffer, Image};
use crate::render::sync_fd::SubmissionSemaphores;
use crate::render::RenderError;

/// Submissions that may run at once. Three: one executing, one queued behind it, one recording.
pub(super) const FRAMES_IN_FLIGHT: usize = 3;

/// One submission's command buffer, fence and everything it uses.
pub(super) struct FrameSlot {
    pub(super) cmd: vk::CommandBuffer,
    pub(super) fence: vk::Fence,
    /// Submitted, and its fence not yet seen signalled.
    in_flight: bool,
    /// The draws of the submission (their `Arc`s keep textures, sources and client buffers).
    keep: Vec<DrawItem>,
    /// The target it draws into or reads back.
    target: Option<Arc<Image>>,
    /// Uploads recorded into the submission (they name textures and this slot's staging).
    pub(super) uploads: Vec<PendingUpload>,
    /// Host memory uploads are staged in while this slot records.
    pub(super) staging: Option<HostBuffer>,
    pub(super) staging_used: u64,
    /// Acquire fences the submission waits on, and the semaphore it signals (its read fence).
    pub(super) sems: SubmissionSemaphores,
    /// Read fences made for the submission where the device exports none: signalled when dropped.
    soft_fences: Vec<Box<dyn std::any::Any>>,
}

impl FrameSlot {
    pub(super) fn new(
        cmd: vk::CommandBuffer,
        fence: vk::Fence,
        sems: SubmissionSemaphores,
    ) -> Self {
        Self {
            sems,
            soft_fences: Vec::new(),
            cmd,
            fence,
            in_flight: false,
            keep: Vec::new(),
            target: None,
            uploads: Vec::new(),
            staging: None,
            staging_used: 0,
        }
    }

    /// Drops what the completed submission kept.
    fn let_go(&mut self, device: &crate::render::device::Device) {
        self.in_flight = false;
        self.sems.completed(device);
        self.soft_fences.clear();
        self.keep.clear();
        self.target = None;
        self.uploads.clear();
    }

    /// Whether the submission reads `source` (a texture's or planar source's address).
    fn reads(&self, source: *const ()) -> bool {
        self.keep
            .iter()
            .any(|item| fill_source(&item.fill) == Some(source))
    }
}

/// The address of what a fill samples (to find the frames that read it).
pub(crate) fn fill_source(fill: &Fill) -> Option<*const ()> {
    match fill {
        Fill::Texture { texture, .. } => Some(Arc::as_ptr(texture).cast()),
        Fill::Planar { source, .. } => Some(Arc::as_ptr(source).cast()),
        Fill::Solid(_) => None,
    }
}

impl Renderer {
    /// The slot being recorded (never in flight).
    pub(super) fn slot(&mut self) -> &mut FrameSlot {
        let i = self.current;
        // `current` is always an index of `ring` (advanced modulo its length).
        self.ring
            .get_mut(i)
            .unwrap_or_else(|| unreachable!("ring slot {i}"))
    }

    /// Submits the recorded command buffer of the current slot, which then keeps `keep` and
    /// `uploads` until it completes, and moves on to the next slot. Returns the submitted slot.
    pub(super) fn submit_current(
        &mut self,
        keep: Vec<DrawItem>,
        target: Option<Arc<Image>>,
        uploads: Vec<PendingUpload>,
    ) -> Result<usize, RenderError> {
        let index = self.current;
        let device = self.device.clone();
        let wants = keep
            .iter()
            .filter_map(|item| item.hold.as_ref())
            .any(|held| held.wants_read_fence());
        // weft's read fence: the submission's own where the device exports one, else one the
        // ring signals when it sees the submission complete.
        let exports = self.slot().sems.signal.is_some();
        let soft = (wants && !exports)
            .then(|| self.read_fences.as_ref().and_then(|s| s.make()))
            .flatten();
        let slot = self.slot();
        device
            .submit_with(slot.cmd, slot.fence, &slot.sems.waits, slot.sems.signal)
            .map_err(|(call, e)| RenderError::Vk(call, e))?;
        let done = match soft {
            Some((fd, token)) => {
                slot.soft_fences.push(token);
                Some(fd)
            }
            // The export also unsignals the semaphore for the slot's next submission.
            None if exports => slot.sems.export(),
            None => None,
        };
        if let (Some(done), true) = (done, wants) {
            for held in keep.iter().filter_map(|item| item.hold.as_ref()) {
                if held.wants_read_fence() {
                    held.read_by(std::os::fd::AsFd::as_fd(&done));
                }
            }
        }
        slot.in_flight = true;
        slot.keep = keep;
        slot.target = target;
        slot.uploads = uploads;
        self.current = (index + 1) % self.ring.len();
        // The next slot's last submission must be done before it records again.
        self.wait_slot(self.current)?;
        self.slot().staging_used = 0;
        Ok(index)
    }

    /// Waits for slot `index`'s submission (if any) and lets go of what it kept.
    pub(super) fn wait_slot(&mut self, index: usize) -> Result<(), RenderError> {
        let device = self.device.clone();
        let Some(slot) = self.ring.get_mut(index) else {
            return Ok(());
        };
        if slot.in_flight {
            // SAFETY: a live fence of this device; querying has no other effect.
            if let Ok(false) = unsafe { device.raw.get_fence_status(slot.fence) } {
                self.blocked_waits += 1;
            }
            device
                .wait_and_reset(slot.fence, "frame")
                .map_err(RenderError::vk("vkWaitForFences"))?;
            slot.let_go(&device);
        }
        Ok(())
    }

    /// Lets go of what completed submissions kept (their client buffers may then be released),
    /// without waiting. Called at every output frame.
    pub fn retire(&mut self) {
        let device = self.device.clone();
        for slot in self.ring.iter_mut().filter(|s| s.in_flight) {
            // SAFETY: a live fence of this device; querying has no other effect.
            if let Ok(true) = unsafe { device.raw.get_fence_status(slot.fence) } {
                // SAFETY: signalled, so no pending submission uses it.
                if unsafe { device.raw.reset_fences(&[slot.fence]) }.is_ok() {
                    slot.let_go(&device);
                }
            }
        }
    }

    /// Waits until no submission in flight reads `source` (a texture or planar source about to be
    /// rewritten by the CPU).
    pub fn wait_reads(&mut self, source: *const ()) -> Result<(), RenderError> {
        self.retire();
        for index in 0..self.ring.len() {
            let reads = self
                .ring
                .get(index)
                .is_some_and(|s| s.in_flight && s.reads(source));
            if reads {
                self.wait_slot(index)?;
            }
        }
        Ok(())
    }

    /// Waits for every submission in flight.
    pub fn wait_idle(&mut self) -> Result<(), RenderError> {
        for index in 0..self.ring.len() {
            self.wait_slot(index)?;
        }
        Ok(())
    }

    /// Submissions not yet seen complete (for introspection and tests).
    pub fn in_flight(&self) -> usize {
        self.ring.iter().filter(|s| s.in_flight).count()
    }

    /// How often the CPU waited for a submission that had not completed yet (a readback, memory
    /// about to be rewritten, or the GPU [`FRAMES_IN_FLIGHT`] behind).
    pub fn blocked_waits(&self) -> u64 {
        self.blocked_waits
    }
}
