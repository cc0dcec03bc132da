//! The import cache: one entry per (wl_buffer, render device) — imported once, reused by every
//! commit, dropped when the wl_buffer is destroyed or the device goes — plus the failures remembered
//! per class (rung, source, sink, format, modifier) so a failing path is tried once, not once per
//! frame. A failure is typed ([`FailureClass`]): an unsupported buffer is remembered with its
//! reason, a temporary one (out of memory, a dup that failed) is tried again at the next commit, a
//! lost device makes weft rebuild its renderer.
//!
//! Surfaces hold an `Arc` of the import they show, so dropping an entry never pulls memory from
//! under a frame: the import dies when the last holder (cache or surface) lets go.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use smithay::reexports::wayland_server::backend::ObjectId;

use super::cpu::CpuStage;
use super::gpu::GpuStage;
use super::planner::Rung;
use crate::budget::Charge;
use crate::buffer::BufferInfo;
use crate::devices::DeviceId;
use crate::render::{PlanarSource, Texture};

/// What a successful import draws with.
#[derive(Clone)]
pub enum Drawable {
    /// `Sample`: the dma-buf as an image, drawn by the quad pipeline.
    Texture(Arc<Texture>),
    /// `SampleLinear` / `StageOnCpu`: planes read by the planar shader.
    Planar(Arc<PlanarSource>),
}

/// One imported buffer.
pub struct Imported {
    pub rung: Rung,
    pub reason: String,
    /// Why it is not on a better rung, as a stable code (`weft msg surfaces`: `reason_code`).
    pub reason_code: String,
    pub info: BufferInfo,
    pub draw: Drawable,
    pub y_invert: bool,
    /// Staging rungs only: the copy done at each commit.
    pub stage: Option<Stage>,
    /// Which device produced the buffer, and the evidence.
    pub source: crate::devices::attribution::Attribution,
}

impl Imported {
    /// What frames draw now: for `StageOnCpu`, its front copy ([`super::cpu`]).
    pub fn drawable(&self) -> Drawable {
        if let Some(Stage::Cpu(stage)) = &self.stage {
            let stage = stage.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(front) = stage.front() {
                return Drawable::Planar(front.clone());
            }
        }
        self.draw.clone()
    }
}

/// The per-commit copy of a staging rung.
pub enum Stage {
    /// `StageOnCpu`: mappings and a host-visible copy.
    Cpu(Mutex<CpuStage>),
    /// `StageOnSink` / `StageOnSource`: imported transfer sources and a copy on a device's queue.
    Gpu(GpuStage),
}

/// What kind of failure an import ended in, by what weft does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// No rung can take this buffer on this device: remembered, never retried.
    Unsupported,
    /// Resources ran out for a moment: the next commit tries again.
    Temporary,
    /// The device's memory ran out: the next commit tries again.
    OutOfMemory,
    /// The render device is gone: weft rebuilds its renderer and imports everything again.
    DeviceLost,
}

impl FailureClass {
    /// A stable identifier (snake_case).
    pub fn code(self) -> &'static str {
        match self {
            Self::Unsupported => "unsupported",
            Self::Temporary => "temporary",
            Self::OutOfMemory => "out_of_memory",
            Self::DeviceLost => "device_lost",
        }
    }
}

/// A failed import: its class and the reasons of every rung.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: FailureClass,
    pub reason: String,
}

impl Failure {
    /// Whether the next commit should try again rather than show the remembered failure.
    pub fn retry(&self) -> bool {
        !matches!(self.class, FailureClass::Unsupported)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// A cache entry: the import, or why it failed.
#[derive(Clone)]
pub enum Entry {
    Ready(Arc<Imported>),
    Failed(Failure),
}

/// A class of buffers for failure memory: (rung, source, sink, format, modifier).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClassKey {
    pub rung: Rung,
    /// The source device ("unknown" when nothing says, the exporter for system memory).
    pub source: String,
    /// The render device.
    pub sink: crate::devices::DeviceId,
    pub fourcc: u32,
    pub modifier: u64,
}

/// Counters shown over IPC (`weft msg imports`).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CacheStats {
    /// Commits that found their buffer's import (or its remembered failure) in the cache.
    pub hits: u64,
    /// Lookups that had to import: each wl_buffer's first import, and re-imports after an
    /// invalidation.
    pub misses: u64,
    /// Imports attempted that failed on every rung.
    pub failures: u64,
    /// Live entries (one per wl_buffer).
    pub entries: usize,
    /// Remembered per-class failures.
    pub failed_classes: usize,
}

#[derive(Default)]
pub struct ImportCache {
    entries: HashMap<(ObjectId, DeviceId), Entry>,
    /// What each live dma-buf wl_buffer costs its client's budget; kept across invalidations,
    /// given back when the wl_buffer is destroyed.
    charges: HashMap<ObjectId, Charge>,
    classes: HashMap<ClassKey, String>,
    stats: CacheStats,
}

impl ImportCache {
    /// The entry of a wl_buffer on `device`, counting a hit when there is one. A failure that may
    /// be retried is no hit: it is dropped, and the caller imports again.
    pub fn lookup(&mut self, buffer: &ObjectId, device: &DeviceId) -> Option<Entry> {
        let key = (buffer.clone(), device.clone());
        match self.entries.get(&key) {
            Some(Entry::Failed(f)) if f.retry() => {
                self.entries.remove(&key);
                None
            }
            Some(e) => {
                self.stats.hits += 1;
                Some(e.clone())
            }
            None => None,
        }
    }

    /// Records the result of an import (a miss) for `buffer` on `device`.
    pub fn insert(&mut self, buffer: ObjectId, device: DeviceId, entry: Entry) {
        self.entries.insert((buffer, device), entry);
    }

    /// Every import that worked, on any device.
    pub fn ready(&self) -> impl Iterator<Item = &Arc<Imported>> {
        self.entries.values().filter_map(|e| match e {
            Entry::Ready(i) => Some(i),
            Entry::Failed(_) => None,
        })
    }

    pub fn count_miss(&mut self) {
        self.stats.misses += 1;
    }

    pub fn count_failure(&mut self) {
        self.stats.failures += 1;
    }

    /// Holds `buffer`'s budget charge until the wl_buffer is destroyed.
    pub fn hold_charge(&mut self, buffer: ObjectId, charge: Charge) {
        self.charges.insert(buffer, charge);
    }

    /// The wl_buffer is gone: its imports die with it, and its charge is given back.
    pub fn remove(&mut self, buffer: &ObjectId) -> bool {
        self.charges.remove(buffer);
        let before = self.entries.len();
        self.entries.retain(|(b, _), _| b != buffer);
        self.entries.len() != before
    }

    /// Drops every entry and class failure of `device` (it went away). Returns how many entries.
    pub fn invalidate_device(&mut self, device: &DeviceId) -> usize {
        let before = self.entries.len();
        self.entries.retain(|(_, d), _| d != device);
        self.classes.retain(|k, _| &k.sink != device);
        before - self.entries.len()
    }

    /// Drops every entry and class failure (the device or its mappings became invalid). Returns how
    /// many buffer entries were dropped.
    pub fn invalidate(&mut self) -> usize {
        let n = self.entries.len();
        self.entries.clear();
        self.classes.clear();
        n
    }

    /// Forgets the per-class failures (the policy they were found under changed).
    pub fn forget_class_failures(&mut self) {
        self.classes.clear();
    }

    pub fn class_failure(&self, key: &ClassKey) -> Option<String> {
        self.classes.get(key).cloned()
    }

    pub fn remember_class_failure(&mut self, key: ClassKey, reason: String) {
        self.classes.insert(key, reason);
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len(),
            failed_classes: self.classes.len(),
            ..self.stats
        }
    }

    /// The remembered class failures, for introspection.
    pub fn class_failures(&self) -> Vec<(ClassKey, String)> {
        let mut v: Vec<_> = self
            .classes
            .iter()
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect();
        v.sort_by(|a, b| {
            (a.0.rung, a.0.fourcc, a.0.modifier).cmp(&(b.0.rung, b.0.fourcc, b.0.modifier))
        });
        v
    }
}
