//! The process-wide Vulkan gate: creating or destroying a Vulkan instance or device never overlaps
//! another thread's Vulkan calls.
//!
//! The Vulkan loader and the Khronos validation layer keep process-wide tables of instances and
//! devices. Both change those tables without a lock when an instance or device is created or
//! destroyed, while every other call reads them (Vulkan-ValidationLayers#4391: `GetLayerDataPtr`;
//! Vulkan-Loader#2018: the logical-device list). One weft per process never notices, but where
//! several run on threads of one process (the test harness, the WLCS shim, `weft demo` beside
//! a probe) a device created for one crashed a fence reset of another inside the validation layer.
//!
//! So a thread that does Vulkan work holds the gate *shared* for as long as it works ([`Shared`],
//! taken by the backends around their event loops and let go while the loop sleeps, see
//! [`SleepGate`]), and creation and destruction hold it *alone* ([`exclusive`]). A thread that
//! holds it shared and creates a device lets go of its share first and takes it back after, so
//! re-plans and rebuilds inside the event loop need nothing special. This is the one piece of
//! process-wide state in weft; it exists because the libraries below us have some.

use std::cell::RefCell;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static GATE: RwLock<()> = RwLock::new(());

/// What this thread holds of the gate.
enum Held {
    Nothing,
    /// Shared, by this many nested [`Shared`] guards; `guard` is `None` while the loop sleeps.
    Shared {
        depth: usize,
        guard: Option<RwLockReadGuard<'static, ()>>,
    },
    /// Alone, inside [`exclusive`] (nested calls just run).
    Alone,
}

thread_local! {
    static HELD: RefCell<Held> = const { RefCell::new(Held::Nothing) };
}

fn read() -> RwLockReadGuard<'static, ()> {
    // The gate guards no data, so a thread that panicked while holding it poisoned nothing.
    GATE.read().unwrap_or_else(|e| e.into_inner())
}

fn write() -> RwLockWriteGuard<'static, ()> {
    GATE.write().unwrap_or_else(|e| e.into_inner())
}

/// This thread does Vulkan work until the guard drops (nested guards are counted).
#[must_use = "the gate is held only while the guard lives"]
pub struct Shared(());

impl Shared {
    pub fn enter() -> Self {
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            match &mut *h {
                Held::Nothing => {
                    *h = Held::Shared {
                        depth: 1,
                        guard: Some(read()),
                    }
                }
                Held::Shared { depth, .. } => *depth += 1,
                Held::Alone => {}
            }
        });
        Shared(())
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if let Held::Shared { depth, .. } = &mut *h {
                *depth -= 1;
                if *depth == 0 {
                    *h = Held::Nothing;
                }
            }
        });
    }
}

/// Lets go of this thread's share while it sleeps (it does no Vulkan work then).
pub fn suspend() {
    HELD.with(|h| {
        if let Held::Shared { guard, .. } = &mut *h.borrow_mut() {
            *guard = None;
        }
    });
}

/// Takes this thread's share back after [`suspend`].
pub fn resume() {
    HELD.with(|h| {
        if let Held::Shared { guard, .. } = &mut *h.borrow_mut() {
            if guard.is_none() {
                *guard = Some(read());
            }
        }
    });
}

/// Runs `f` (a creation or destruction) while no other thread does Vulkan work.
pub fn exclusive<R>(f: impl FnOnce() -> R) -> R {
    let before = HELD.with(|h| {
        let mut h = h.borrow_mut();
        match &mut *h {
            Held::Alone => None,
            Held::Nothing => Some(None),
            Held::Shared { depth, guard } => {
                let was = (*depth, guard.is_some());
                *h = Held::Nothing;
                Some(Some(was))
            }
        }
    });
    let Some(before) = before else {
        return f();
    };
    let alone = write();
    HELD.with(|h| *h.borrow_mut() = Held::Alone);
    // Put this thread's share back even if `f` panics.
    struct Restore(Option<(usize, bool)>, Option<RwLockWriteGuard<'static, ()>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            drop(self.1.take());
            HELD.with(|h| {
                *h.borrow_mut() = match self.0 {
                    None => Held::Nothing,
                    Some((depth, awake)) => Held::Shared {
                        depth,
                        guard: awake.then(read),
                    },
                }
            });
        }
    }
    let _restore = Restore(before, Some(alone));
    f()
}

/// A calloop source that does nothing but let go of the gate while its loop sleeps and take it
/// back when the loop wakes: insert one into every event loop whose thread holds [`Shared`].
pub struct SleepGate;

impl calloop::EventSource for SleepGate {
    type Event = ();
    type Metadata = ();
    type Ret = ();
    type Error = std::io::Error;

    const NEEDS_EXTRA_LIFECYCLE_EVENTS: bool = true;

    fn process_events<F>(
        &mut self,
        _: calloop::Readiness,
        _: calloop::Token,
        _: F,
    ) -> Result<calloop::PostAction, Self::Error>
    where
        F: FnMut(Self::Event, &mut Self::Metadata) -> Self::Ret,
    {
        Ok(calloop::PostAction::Continue)
    }

    fn register(
        &mut self,
        _: &mut calloop::Poll,
        _: &mut calloop::TokenFactory,
    ) -> calloop::Result<()> {
        Ok(())
    }

    fn reregister(
        &mut self,
        _: &mut calloop::Poll,
        _: &mut calloop::TokenFactory,
    ) -> calloop::Result<()> {
        Ok(())
    }

    fn unregister(&mut self, _: &mut calloop::Poll) -> calloop::Result<()> {
        Ok(())
    }

    fn before_sleep(&mut self) -> calloop::Result<Option<(calloop::Readiness, calloop::Token)>> {
        suspend();
        Ok(None)
    }

    fn before_handle_events(&mut self, _: calloop::EventIterator<'_>) {
        resume();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn exclusive_waits_for_workers_and_a_sleeper_does_not_block_it() {
        let working = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let w = working.clone();
        let worker = std::thread::spawn(move || {
            let _s = Shared::enter();
            w.store(true, Ordering::SeqCst);
            started_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            w.store(false, Ordering::SeqCst);
            // Asleep: an exclusive section elsewhere may run now.
            suspend();
            std::thread::sleep(Duration::from_millis(200));
            resume();
        });
        started_rx.recv().unwrap();
        let saw_work = exclusive(|| working.load(Ordering::SeqCst));
        assert!(
            !saw_work,
            "an exclusive section ran while another thread worked"
        );
        worker.join().unwrap();
    }

    #[test]
    fn a_worker_may_create_inside_its_own_share_and_nest() {
        let _outer = Shared::enter();
        let _inner = Shared::enter();
        let v = exclusive(|| exclusive(|| 7));
        assert_eq!(v, 7);
        HELD.with(|h| match &*h.borrow() {
            Held::Shared { depth, guard } => {
                assert_eq!(*depth, 2);
                assert!(guard.is_some());
            }
            _ => panic!("the share was not given back"),
        });
    }
}
