//! Test hooks: faults injected into the real device paths, so that what follows them (a lost
//! device rebuilt, a failed import answered `failed`) is the code that runs when the hardware or
//! the driver fails for real. Armed only through `weft msg inject-fault`, which weft accepts only
//! when started with `--fault-injection`.
//!
//! A device lost this way stays lost, as a real one does: every later submission fails too, until
//! weft replaces the device.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// The faults armed on one device.
#[derive(Debug, Default)]
pub struct Faults {
    lost: AtomicBool,
    import_allocation_failures: AtomicU32,
    stall: AtomicBool,
}

impl Faults {
    /// Every queue submission from now on reports `VK_ERROR_DEVICE_LOST`.
    pub fn lose_device(&self) {
        self.lost.store(true, Ordering::SeqCst);
    }

    /// The next `count` dma-buf memory imports report `VK_ERROR_OUT_OF_DEVICE_MEMORY`.
    pub fn fail_import_allocations(&self, count: u32) {
        self.import_allocation_failures
            .fetch_add(count, Ordering::SeqCst);
    }

    /// The next submission waits on the device until `Renderer::resume_stalled`.
    pub fn stall_next_submission(&self) {
        self.stall.store(true, Ordering::SeqCst);
    }

    /// Whether this submission stalls (the armed stall is used up).
    pub(crate) fn take_stall(&self) -> bool {
        self.stall.swap(false, Ordering::SeqCst)
    }

    pub fn device_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Whether this import allocation fails (one armed failure is used up).
    pub(crate) fn take_import_allocation_failure(&self) -> bool {
        self.import_allocation_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armed_failures_are_used_up_and_loss_is_sticky() {
        let f = Faults::default();
        assert!(!f.take_import_allocation_failure());
        f.fail_import_allocations(2);
        assert!(f.take_import_allocation_failure());
        assert!(f.take_import_allocation_failure());
        assert!(!f.take_import_allocation_failure());
        assert!(!f.device_lost());
        f.lose_device();
        assert!(f.device_lost());
        assert!(f.device_lost());
    }
}
