//! Test hook: a GPU that does not finish. An armed stall (`weft msg inject-fault gpu-stall`, only
//! with `--fault-injection`) makes the next submission wait, on the device, for a host event that
//! `gpu-resume` sets: frames stay in flight as long as a test wants, so it can check that the CPU
//! does not wait for them (frame callbacks keep coming) and that a client buffer they read is not
//! released before they complete.

use ash::vk;

use super::Renderer;
use crate::render::RenderError;

impl Renderer {
    /// At the start of `cmd`: a wait for a fresh host event, when a stall is armed.
    pub(super) fn record_stall(&mut self, cmd: vk::CommandBuffer) -> Result<(), RenderError> {
        if !self.device.faults.take_stall() {
            return Ok(());
        }
        // SAFETY: valid create info on a live device.
        let event = unsafe {
            self.device
                .raw
                .create_event(&vk::EventCreateInfo::default(), None)
        }
        .map_err(RenderError::vk("vkCreateEvent"))?;
        self.stalls.push(event);
        // SAFETY: `cmd` is recording outside a render pass; the event is unsignalled and set only
        // by the host (HOST source stage, VUID-vkCmdWaitEvents-srcStageMask-01158 allows it).
        unsafe {
            self.device.raw.cmd_wait_events(
                cmd,
                &[event],
                vk::PipelineStageFlags::HOST,
                vk::PipelineStageFlags::ALL_COMMANDS,
                &[vk::MemoryBarrier::default()
                    .src_access_mask(vk::AccessFlags::HOST_WRITE)
                    .dst_access_mask(vk::AccessFlags::MEMORY_READ)],
                &[],
                &[],
            )
        };
        Ok(())
    }

    /// Lets every stalled submission run. Returns how many stalls there were.
    pub fn resume_stalled(&mut self) -> usize {
        for &event in &self.stalls {
            // SAFETY: a live event of this device; the host may set it at any time.
            let _ = unsafe { self.device.raw.set_event(event) };
        }
        self.stalls.len()
    }

    /// Destroys the stall events once nothing waits on them (the device is idle).
    pub(super) fn drop_stalls(&mut self) {
        for event in self.stalls.drain(..) {
            // SAFETY: the caller made the device idle: no submission waits on it any more.
            unsafe { self.device.raw.destroy_event(event, None) };
        }
    }
}
