//! Per-client budgets: what weft allocates or holds on one client's behalf is bounded, so that one
//! client can neither exhaust the compositor nor, through it, every other client.
//!
//! Each client has a [`ClientBudget`] (in its `ClientState`) with a limit per [`Resource`]. Taking
//! something on a client's behalf takes a [`Charge`] first; the charge is given back when it is
//! dropped, so it lives exactly as long as what it pays for (a texture, an import, a surface, a pool,
//! a held commit). What happens over a limit depends on the resource and is documented there:
//! memory is refused softly (the buffer is not shown, or linux-dmabuf answers `failed`), object
//! counts end the client with `wl_display.error(no_memory)` — libwayland's word for "the server
//! cannot hold any more for you".

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;
use smithay::reexports::wayland_server::{Client, DisplayHandle};
use tracing::warn;

use crate::runtime::disconnect::DisplayError;

const MIB: u64 = 1024 * 1024;

/// What a budget bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Bytes of textures weft allocates for a client's wl_shm buffers (4 bytes a texel). Over it:
    /// the buffer is not shown (the surface shows nothing), with the reason in `weft msg surfaces`.
    ShmTextureBytes,
    /// Bytes of client dma-bufs imported (stride × height of every plane). Over it: `failed`.
    ImportBytes,
    /// Live wl_surfaces. Over it: `no_memory`.
    Surfaces,
    /// Live wl_shm_pools. Over it: `no_memory`.
    ShmPools,
    /// Commits held by weft (waiting for their buffer's fences). Over it: `no_memory`.
    PendingCommits,
    /// wl_shm buffers read in place, each a device memory import (GPUs allow a few thousand
    /// allocations in all: one client must not take them from the others). Over it: the buffer
    /// is copied instead, with the reason in `weft msg surfaces`.
    ShmInPlace,
}

const RESOURCES: usize = 6;

impl Resource {
    fn index(self) -> usize {
        self as usize
    }

    /// Whether amounts are bytes (for messages).
    fn is_bytes(self) -> bool {
        matches!(self, Self::ShmTextureBytes | Self::ImportBytes)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::ShmTextureBytes => "wl_shm texture memory",
            Self::ImportBytes => "imported dma-buf memory",
            Self::Surfaces => "surfaces",
            Self::ShmPools => "wl_shm pools",
            Self::PendingCommits => "held commits",
            Self::ShmInPlace => "wl_shm buffers read in place",
        }
    }
}

/// The limit of every resource, for one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub shm_texture_bytes: u64,
    pub import_bytes: u64,
    pub surfaces: u64,
    pub shm_pools: u64,
    pub pending_commits: u64,
    pub shm_in_place: u64,
}

impl Default for Limits {
    /// Room for several 4K windows and a 4K video per client (a 3840×2160 XRGB8888 frame is
    /// 32 MiB), while a handful of greedy clients stay far from this machine's memory.
    fn default() -> Self {
        Self {
            shm_texture_bytes: 256 * MIB,
            import_bytes: 1024 * MIB,
            surfaces: 4096,
            shm_pools: 1024,
            pending_commits: 64,
            shm_in_place: 256,
        }
    }
}

impl Limits {
    fn of(&self, r: Resource) -> u64 {
        match r {
            Resource::ShmTextureBytes => self.shm_texture_bytes,
            Resource::ImportBytes => self.import_bytes,
            Resource::Surfaces => self.surfaces,
            Resource::ShmPools => self.shm_pools,
            Resource::PendingCommits => self.pending_commits,
            Resource::ShmInPlace => self.shm_in_place,
        }
    }
}

/// One client's limits and what it uses now.
#[derive(Debug)]
pub struct ClientBudget {
    limits: Limits,
    used: [AtomicU64; RESOURCES],
}

impl Default for ClientBudget {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

/// A charge that would pass a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverBudget {
    pub resource: Resource,
    pub asked: u64,
    pub used: u64,
    pub limit: u64,
}

impl fmt::Display for OverBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.resource;
        if r.is_bytes() {
            write!(
                f,
                "over the per-client budget for {}: {} MiB asked, {} MiB in use, limit {} MiB",
                r.describe(),
                self.asked.div_ceil(MIB),
                self.used.div_ceil(MIB),
                self.limit / MIB
            )
        } else {
            write!(
                f,
                "over the per-client budget for {}: {} in use, limit {}",
                r.describe(),
                self.used,
                self.limit
            )
        }
    }
}

impl std::error::Error for OverBudget {}

impl ClientBudget {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            used: Default::default(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "Resource discriminants are 0..RESOURCES, the array's length"
    )]
    fn slot(&self, r: Resource) -> &AtomicU64 {
        &self.used[r.index()]
    }

    /// What the client uses of `r` now.
    pub fn used(&self, r: Resource) -> u64 {
        self.slot(r).load(Ordering::Relaxed)
    }

    /// Takes `amount` of `r`, or says why not. The charge is given back when dropped.
    pub fn charge(self: &Arc<Self>, r: Resource, amount: u64) -> Result<Charge, OverBudget> {
        self.take(r, amount)?;
        Ok(Charge {
            budget: self.clone(),
            resource: r,
            amount,
        })
    }

    /// Gives back `amount` of `r` taken with [`ClientBudget::take`] (for what a protocol object's
    /// destructor ends, where no [`Charge`] can travel with the object).
    pub fn give_back(&self, r: Resource, amount: u64) {
        let slot = self.slot(r);
        let _ = slot.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
            Some(u.saturating_sub(amount))
        });
    }

    /// Takes `amount` of `r` without a [`Charge`]; pair it with [`ClientBudget::give_back`].
    pub fn take(&self, r: Resource, amount: u64) -> Result<(), OverBudget> {
        let limit = self.limits.of(r);
        let slot = self.slot(r);
        let mut used = slot.load(Ordering::Relaxed);
        loop {
            let next = used.checked_add(amount).filter(|n| *n <= limit);
            let Some(next) = next else {
                return Err(OverBudget {
                    resource: r,
                    asked: amount,
                    used,
                    limit,
                });
            };
            match slot.compare_exchange_weak(used, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(now) => used = now,
            }
        }
    }
}

/// An amount of one resource taken from a client's budget; given back on drop.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<ClientBudget>,
    resource: Resource,
    amount: u64,
}

impl Charge {
    pub fn amount(&self) -> u64 {
        self.amount
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.give_back(self.resource, self.amount);
    }
}

/// Ends `client` with `wl_display.error(no_memory)`: what libwayland sends a client the server
/// cannot hold any more for. Used for object counts, where nothing softer exists in the protocol.
pub fn end_client(dh: &DisplayHandle, client: &Client, over: &OverBudget) {
    warn!(client = ?client.id(), %over, "client ended: per-client budget exceeded");
    crate::runtime::disconnect::display_error(
        dh,
        client,
        DisplayError::NoMemory,
        &format!("weft: {over}"),
    );
}

/// What `weft msg clients` shows of one budget.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub resource: Resource,
    pub used: u64,
    pub limit: u64,
}

impl ClientBudget {
    pub fn usage(&self) -> Vec<Usage> {
        [
            Resource::ShmTextureBytes,
            Resource::ImportBytes,
            Resource::Surfaces,
            Resource::ShmPools,
            Resource::PendingCommits,
            Resource::ShmInPlace,
        ]
        .into_iter()
        .map(|r| Usage {
            resource: r,
            used: self.used(r),
            limit: self.limits.of(r),
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Arc<ClientBudget> {
        Arc::new(ClientBudget::new(Limits {
            shm_texture_bytes: 100,
            import_bytes: 10,
            surfaces: 2,
            shm_pools: 1,
            pending_commits: 1,
            shm_in_place: 1,
        }))
    }

    #[test]
    fn charges_are_bounded_and_given_back() {
        let b = tiny();
        let a = b.charge(Resource::ShmTextureBytes, 60).unwrap();
        let over = b.charge(Resource::ShmTextureBytes, 41).unwrap_err();
        assert_eq!((over.used, over.limit, over.asked), (60, 100, 41));
        let c = b.charge(Resource::ShmTextureBytes, 40).unwrap();
        assert_eq!(b.used(Resource::ShmTextureBytes), 100);
        drop(a);
        assert_eq!(b.used(Resource::ShmTextureBytes), 40);
        drop(c);
        assert_eq!(b.used(Resource::ShmTextureBytes), 0);
    }

    #[test]
    fn resources_are_independent() {
        let b = tiny();
        let _s1 = b.charge(Resource::Surfaces, 1).unwrap();
        let _s2 = b.charge(Resource::Surfaces, 1).unwrap();
        assert!(b.charge(Resource::Surfaces, 1).is_err());
        assert!(b.charge(Resource::ShmPools, 1).is_ok());
        assert_eq!(b.used(Resource::ShmPools), 0, "dropped at once");
    }

    #[test]
    fn overflowing_amounts_are_refused() {
        let b = tiny();
        let _one = b.charge(Resource::ImportBytes, 1).unwrap();
        assert!(b.charge(Resource::ImportBytes, u64::MAX).is_err());
        assert_eq!(b.used(Resource::ImportBytes), 1);
    }

    #[test]
    fn messages_say_what_and_how_much() {
        let b = tiny();
        let e = b.charge(Resource::Surfaces, 3).unwrap_err();
        assert_eq!(
            e.to_string(),
            "over the per-client budget for surfaces: 0 in use, limit 2"
        );
        let big = Arc::new(ClientBudget::default());
        let e = big
            .charge(Resource::ShmTextureBytes, 1024 * MIB)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "over the per-client budget for wl_shm texture memory: 1024 MiB asked, 0 MiB in use, limit 256 MiB"
        );
    }
}
