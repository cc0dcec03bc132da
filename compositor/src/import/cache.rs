//! The import cache: one entry per wl_buffer (imported once, reused by every commit, dropped when
//! the wl_buffer is destroyed), plus the failures remembered per class (rung, format, modifier,
//! device) so a failing path is tried once, not once per frame.
//!
//! Surfaces hold an `Arc` of the import they show, so dropping an entry never pulls memory from
//! under a frame: the import dies when the last holder (cache or surface) lets go.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use smithay::reexports::wayland_server::backend::ObjectId;

use super::cpu::CpuStage;
use super::planner::Rung;
use super::sink::SinkStage;
use crate::budget::Charge;
use crate::render::{PlanarSource, Texture};
use crate::surface::BufferInfo;

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
    pub info: BufferInfo,
    pub draw: Drawable,
    pub y_invert: bool,
    /// Staging rungs only: the copy done at each commit.
    pub stage: Option<Stage>,
    /// Which device produced the buffer, and the evidence.
    pub source: crate::devices::attribution::Attribution,
}

/// The per-commit copy of a staging rung.
pub enum Stage {
    /// `StageOnCpu`: mappings and a host-visible copy.
    Cpu(Mutex<CpuStage>),
    /// `StageOnSink`: imported transfer sources and a device-local copy.
    Sink(SinkStage),
}

/// A cache entry: the import, or the reason it failed (remembered, not retried).
#[derive(Clone)]
pub enum Entry {
    Ready(Arc<Imported>),
    Failed(String),
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
    entries: HashMap<ObjectId, Entry>,
    /// What each live dma-buf wl_buffer costs its client's budget; kept across invalidations,
    /// given back when the wl_buffer is destroyed.
    charges: HashMap<ObjectId, Charge>,
    classes: HashMap<ClassKey, String>,
    stats: CacheStats,
}

impl ImportCache {
    /// The entry of a wl_buffer, counting a hit when there is one.
    pub fn lookup(&mut self, buffer: &ObjectId) -> Option<Entry> {
        let e = self.entries.get(buffer).cloned();
        if e.is_some() {
            self.stats.hits += 1;
        }
        e
    }

    /// Records the result of an import (a miss) for `buffer`.
    pub fn insert(&mut self, buffer: ObjectId, entry: Entry) {
        self.entries.insert(buffer, entry);
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
        self.entries.remove(buffer).is_some()
    }

    /// Drops every entry and class failure (the device or its mappings became invalid). Returns how
    /// many buffer entries were dropped.
    pub fn invalidate(&mut self) -> usize {
        let n = self.entries.len();
        self.entries.clear();
        self.classes.clear();
        n
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
