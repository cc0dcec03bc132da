//! Fences per category: the kernel's `dma_resv` usages (shared/SPECS.md §4) kept per imported
//! buffer, and the rules that say who waits for what. Pure and generic over the fence type, so the
//! rules are table-tested without a kernel.
//!
//! - `Kernel`: memory management (migration, clears); everyone waits for it.
//! - `Write`: the producer's work (the acquire point, or the implicit writers) and our own writes
//!   into buffers we own.
//! - `Read`: our consumers (GPU sampling, a staging copy reading the buffer, later scanout).
//! - `Bookkeep`: lifetime only, never a sync dependency.
//!
//! Usages are ordered `Kernel < Write < Read < Bookkeep`; asking for the fences of usage `U`
//! yields every fence of usage ≤ `U` (`dma_resv_usage_rw`): a reader waits for `Write` (kernel
//! and writers), a writer waits for `Read` (everything but bookkeeping), freeing waits for
//! `Bookkeep` (everything).

/// A `dma_resv` usage category, in the kernel's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    Kernel,
    Write,
    Read,
    Bookkeep,
}

impl Usage {
    pub const ALL: [Usage; 4] = [Usage::Kernel, Usage::Write, Usage::Read, Usage::Bookkeep];
}

/// What someone is about to do with a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Sample it, copy from it, scan it out.
    Read,
    /// Write into it (the client reusing it after release, or weft into its own buffer).
    Write,
    /// Free or move its memory.
    Free,
}

impl Access {
    /// The usage whose fences (and every lower usage's) this access must wait for.
    pub fn waits_for(self) -> Usage {
        match self {
            Access::Read => Usage::Write,
            Access::Write => Usage::Read,
            Access::Free => Usage::Bookkeep,
        }
    }

    /// Whether this access must wait for a fence of `usage`.
    pub fn must_wait(self, usage: Usage) -> bool {
        usage <= self.waits_for()
    }
}

/// The fences one imported buffer carries, by usage. A fence is anything the caller can wait on
/// (a sync_file, a timeline point, a Vulkan fence); `signalled` tells which are done.
#[derive(Debug)]
pub struct FenceSet<F> {
    fences: Vec<(Usage, F)>,
}

impl<F> Default for FenceSet<F> {
    fn default() -> Self {
        Self { fences: Vec::new() }
    }
}

impl<F> FenceSet<F> {
    /// Adds `fence` with `usage`.
    pub fn add(&mut self, usage: Usage, fence: F) {
        self.fences.push((usage, fence));
    }

    /// The fences `access` must wait for, with their usage.
    pub fn to_wait(&self, access: Access) -> impl Iterator<Item = (Usage, &F)> {
        self.fences
            .iter()
            .filter(move |(u, _)| access.must_wait(*u))
            .map(|(u, f)| (*u, f))
    }

    /// Forgets the fences `signalled` says are done (they never need waiting again).
    pub fn prune(&mut self, mut signalled: impl FnMut(&F) -> bool) {
        self.fences.retain(|(_, f)| !signalled(f));
    }

    /// Whether `access` may go now: every fence it must wait for has signalled.
    pub fn ready(&self, access: Access, mut signalled: impl FnMut(&F) -> bool) -> bool {
        self.to_wait(access).all(|(_, f)| signalled(f))
    }

    /// Whether the buffer may be released to its producer: every read of ours has finished (the
    /// producer's next write waits for nothing of weft's). Kernel fences are the kernel's to
    /// enforce and bookkeeping is never a dependency, so only `Read` counts here.
    pub fn reads_done(&self, mut signalled: impl FnMut(&F) -> bool) -> bool {
        self.fences
            .iter()
            .filter(|(u, _)| *u == Usage::Read)
            .all(|(_, f)| signalled(f))
    }

    /// How many fences of `usage` are held.
    pub fn count(&self, usage: Usage) -> usize {
        self.fences.iter().filter(|(u, _)| *u == usage).count()
    }

    pub fn is_empty(&self) -> bool {
        self.fences.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wait rules, as the kernel's `dma_resv_usage_rw` and the uapi docs state them.
    #[test]
    fn who_waits_for_what() {
        // Each access: must it wait for [kernel, write, read, bookkeep]?
        let table: [(Access, [bool; 4]); 3] = [
            (Access::Read, [true, true, false, false]),
            (Access::Write, [true, true, true, false]),
            (Access::Free, [true, true, true, true]),
        ];
        for (access, expect) in table {
            for (usage, want) in Usage::ALL.into_iter().zip(expect) {
                assert_eq!(
                    access.must_wait(usage),
                    want,
                    "{access:?} waits for {usage:?}"
                );
            }
        }
    }

    #[test]
    fn usages_are_ordered_as_the_kernel_orders_them() {
        let mut sorted = Usage::ALL;
        sorted.sort();
        assert_eq!(sorted, Usage::ALL);
    }

    /// A set with one fence of each usage: (usage, fence id); `done` lists the signalled ids.
    fn set() -> FenceSet<u32> {
        let mut s = FenceSet::default();
        for (i, u) in Usage::ALL.into_iter().enumerate() {
            s.add(u, i as u32);
        }
        s
    }

    #[test]
    fn readiness_follows_the_rules() {
        // (signalled fence ids, read ready, write ready, free ready, reads done)
        let table: [(&[u32], bool, bool, bool, bool); 6] = [
            (&[], false, false, false, false),
            (&[0], false, false, false, false),
            (&[0, 1], true, false, false, false),
            (&[0, 1, 2], true, true, false, true),
            (&[2], false, false, false, true),
            (&[0, 1, 2, 3], true, true, true, true),
        ];
        let s = set();
        for (done, read, write, free, reads_done) in table {
            let sig = |f: &u32| done.contains(f);
            assert_eq!(s.ready(Access::Read, sig), read, "read with {done:?}");
            assert_eq!(s.ready(Access::Write, sig), write, "write with {done:?}");
            assert_eq!(s.ready(Access::Free, sig), free, "free with {done:?}");
            assert_eq!(s.reads_done(sig), reads_done, "reads done with {done:?}");
        }
    }

    #[test]
    fn a_reader_never_waits_for_other_readers_or_bookkeeping() {
        let mut s = FenceSet::default();
        s.add(Usage::Read, "our sampling");
        s.add(Usage::Read, "a staging copy");
        s.add(Usage::Bookkeep, "an explicit submission");
        assert_eq!(s.to_wait(Access::Read).count(), 0);
        assert_eq!(s.to_wait(Access::Write).count(), 2);
        assert_eq!(s.to_wait(Access::Free).count(), 3);
    }

    #[test]
    fn pruning_forgets_signalled_fences() {
        let mut s = set();
        s.prune(|f| *f < 2);
        assert_eq!(s.count(Usage::Kernel), 0);
        assert_eq!(s.count(Usage::Write), 0);
        assert_eq!(s.count(Usage::Read), 1);
        assert!(s.ready(Access::Read, |_| false));
        s.prune(|_| true);
        assert!(s.is_empty());
    }
}
