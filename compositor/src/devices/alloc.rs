//! Allocators of system memory as dma-bufs: dma-buf heaps (`/dev/dma_heap/<name>`) and udmabuf
//! (`/dev/udmabuf`, memfd pages as a dma-buf). Their buffers are plain pages every importer can
//! reach, so a render device samples them in place.

use std::path::Path;

use super::{Caps, DevT, DeviceId, DeviceKind, DeviceRecord, Node};

/// Every heap and udmabuf under `dev`.
pub fn probe_all(dev: &Path) -> Vec<DeviceRecord> {
    let mut out = Vec::new();
    let mut heaps: Vec<String> = std::fs::read_dir(dev.join("dma_heap"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    heaps.sort();
    for heap in heaps {
        let path = dev.join("dma_heap").join(&heap);
        out.push(record(format!("heap:{heap}"), "dma-heap", &path));
    }
    let udmabuf = dev.join("udmabuf");
    if udmabuf.exists() {
        out.push(record("udmabuf".into(), "udmabuf", &udmabuf));
    }
    out
}

fn record(id: String, driver: &str, path: &Path) -> DeviceRecord {
    DeviceRecord {
        id: DeviceId::new(id),
        kind: DeviceKind::Allocator,
        driver: driver.into(),
        nodes: vec![Node {
            path: path.display().to_string(),
            dev: DevT::of_node(path),
        }],
        caps: Caps::default(),
        syspath: None,
        logical_of: None,
    }
}
