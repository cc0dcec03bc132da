// Runs only inside the tests/vm guest (real kernel dma-bufs, fences, DRM/KMS): Cargo.toml makes it
// require the `vm-guest` feature, which tests/vm/check turns on.

//! Fact (b): which importer takes a dma-buf from which source.
//!
//! Sources: vgem, the system dma-buf heap, udmabuf, a vivid (V4L2) capture buffer, and dumb
//! buffers of virtio-gpu and bochs. Importers: every DRM device through PRIME (`FD_TO_HANDLE`), and
//! lavapipe through `VkImportMemoryFdInfoKHR(DMA_BUF)` into a `VkBuffer` (contents compared with a
//! CPU mapping) and into a `VkImage` with the explicit modifier LINEAR.
//!
//! Prints the matrix as Markdown; asserts only what weft relies on (see the end).

use std::collections::BTreeMap;

use weft_guest::dmabuf::DmaBuf;
use weft_guest::drm_node::DrmNode;
use weft_guest::v4l2::{self, Capture, PIX_FMT_YUYV};
use weft_guest::vgem::Vgem;
use weft_guest::vulkan::{ImageLayout, Lavapipe};
use weft_guest::{heap, udmabuf};

const W: u32 = 256;
const H: u32 = 256;
const SIZE: u64 = (W * H * 4) as u64;
const COMPARE: usize = 4096;

struct Source {
    name: String,
    buf: DmaBuf,
    layout: ImageLayout,
    /// What the CPU sees through mmap of the dma-buf, or why it could not map.
    cpu: Result<Vec<u8>, String>,
}

/// Writes a pattern through a CPU mapping (unless `keep` is set: the device filled it) and reads
/// the first bytes back.
fn cpu_view(buf: &DmaBuf, keep: bool) -> Result<Vec<u8>, String> {
    let mut map = buf.map().map_err(|e| format!("mmap: {}", e.short()))?;
    let bytes = map.as_mut_slice();
    if !keep {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
    }
    Ok(bytes[..COMPARE.min(bytes.len())].to_vec())
}

fn source(
    name: &str,
    made: weft_guest::Result<DmaBuf>,
    layout: ImageLayout,
    keep: bool,
    out: &mut Vec<Source>,
    failed: &mut BTreeMap<String, String>,
) {
    match made {
        Ok(buf) => {
            let cpu = cpu_view(&buf, keep);
            out.push(Source {
                name: name.into(),
                buf,
                layout,
                cpu,
            });
        }
        Err(e) => {
            failed.insert(name.into(), e.to_string());
        }
    }
}

#[test]
fn cross_device_import_matrix() -> Result<(), Box<dyn std::error::Error>> {
    let linear = ImageLayout {
        width: W,
        height: H,
        stride: u64::from(W) * 4,
    };
    let cards = DrmNode::cards()?;
    let mut sources = Vec::new();
    let mut failed = BTreeMap::new();

    let vgem = Vgem::open()?;
    source(
        "vgem dumb",
        vgem.alloc(W, H).map(|b| b.dmabuf),
        linear,
        false,
        &mut sources,
        &mut failed,
    );
    source(
        "dma-heap system",
        heap::alloc_system(SIZE),
        linear,
        false,
        &mut sources,
        &mut failed,
    );
    source(
        "udmabuf (memfd)",
        udmabuf::alloc(SIZE),
        linear,
        false,
        &mut sources,
        &mut failed,
    );

    let video = v4l2::find_capture("vivid")?;
    let capture = Capture::start(&video, 640, 480, PIX_FMT_YUYV, 4)?;
    let frame = capture.dequeue()?;
    assert!(frame.bytesused > 0, "vivid delivered an empty frame");
    let fmt = capture.format;
    println!(
        "\nvivid {}: {}x{} {} bytesperline {} sizeimage {}, frame seq {} bytesused {}",
        video.display(),
        fmt.width,
        fmt.height,
        weft_guest::fourcc::fourcc_str(fmt.pixelformat),
        fmt.bytesperline,
        fmt.sizeimage,
        frame.sequence,
        frame.bytesused
    );
    // Import the dequeued frame's buffer, viewed as 32-bpp pixels for the image import.
    let vivid_layout = ImageLayout {
        width: fmt.bytesperline / 4,
        height: fmt.height,
        stride: u64::from(fmt.bytesperline),
    };
    let vivid_buf = DmaBuf::new(capture.buffers[frame.index].try_clone_fd()?, "vivid");
    source(
        "vivid capture (V4L2)",
        vivid_buf,
        vivid_layout,
        true,
        &mut sources,
        &mut failed,
    );

    for node in cards.iter().filter(|n| n.driver != "vgem") {
        let name = format!("{} dumb ({})", node.driver, node.path.display());
        source(
            &name,
            node.export_dumb(W, H, "dumb"),
            linear,
            false,
            &mut sources,
            &mut failed,
        );
    }

    let vk = Lavapipe::new();
    if let Ok(vk) = &vk {
        for ext in [
            "VK_EXT_external_memory_dma_buf",
            "VK_EXT_image_drm_format_modifier",
            "VK_KHR_external_semaphore_fd",
            "VK_KHR_external_fence_fd",
        ] {
            println!(
                "lavapipe in the guest: {ext} {}",
                if vk.has_extension(ext) { "yes" } else { "NO" }
            );
        }
    }

    let mut header = String::from("| source (size) | CPU mmap |");
    let mut rule = String::from("|---|---|");
    for node in &cards {
        header += &format!(" PRIME → {} ({}) |", node.path.display(), node.driver);
        rule += "---|";
    }
    header += " lavapipe VkBuffer | lavapipe VkImage LINEAR |";
    rule += "---|---|";
    println!("\n{header}\n{rule}");

    let mut cells: BTreeMap<(String, String), String> = BTreeMap::new();
    for src in &sources {
        let mut row = format!(
            "| {} ({} KiB) | {} |",
            src.name,
            src.buf.size() / 1024,
            match &src.cpu {
                Ok(_) => "ok".to_string(),
                Err(e) => e.clone(),
            }
        );
        for node in &cards {
            let cell = match node.import_prime(&src.buf) {
                Ok(handle) => {
                    node.close_gem(handle)?;
                    "ok".to_string()
                }
                Err(e) => e.short(),
            };
            cells.insert((src.name.clone(), node.driver.clone()), cell.clone());
            row += &format!(" {cell} |");
        }
        let (buffer_cell, image_cell) = match &vk {
            Ok(vk) => {
                let buffer = match (vk.import_buffer(&src.buf, COMPARE), &src.cpu) {
                    (Ok(seen), Ok(cpu)) if &seen == cpu => "ok, contents match".to_string(),
                    (Ok(_), Ok(_)) => "ok, CONTENTS DIFFER".to_string(),
                    (Ok(_), Err(_)) => "ok (no CPU view to compare)".to_string(),
                    (Err(e), _) => e.short(),
                };
                let image = match vk.import_linear_image(&src.buf, src.layout) {
                    Ok(()) => "ok".to_string(),
                    Err(e) => e.short(),
                };
                (buffer, image)
            }
            Err(e) => (format!("no lavapipe: {e}"), "—".to_string()),
        };
        cells.insert((src.name.clone(), "vk-buffer".into()), buffer_cell.clone());
        cells.insert((src.name.clone(), "vk-image".into()), image_cell.clone());
        row += &format!(" {buffer_cell} | {image_cell} |");
        println!("{row}");
    }
    for (name, why) in &failed {
        println!("| {name} | allocation/export failed: {why} |");
    }
    capture.requeue(frame)?;

    // What the rig's users rely on (docs/vm-facts.md):
    // - every user-space source allocates;
    // - vgem, the render-only "decoder", imports all of them, and lavapipe imports every source into
    //   a VkBuffer and sees the producer's bytes;
    // - virtio-gpu (qemu without blob resources) refuses *foreign* dma-bufs with ENODEV and takes
    //   only its own: the display device cannot scan out a decoder's buffer directly, so tests of
    //   the copy/fallback paths have a real refusal to hit.
    let cell = |src: &str, dst: &str| {
        cells
            .get(&(src.to_string(), dst.to_string()))
            .map(String::as_str)
    };
    for src in [
        "vgem dumb",
        "dma-heap system",
        "udmabuf (memfd)",
        "vivid capture (V4L2)",
    ] {
        assert!(
            !failed.contains_key(src),
            "{src} could not be allocated: {:?}",
            failed.get(src)
        );
        assert_eq!(cell(src, "vgem"), Some("ok"), "{src} → vgem PRIME import");
        assert_eq!(
            cell(src, "virtio_gpu"),
            Some("ENODEV"),
            "{src} → virtio-gpu PRIME import"
        );
    }
    for src in &sources {
        assert_eq!(
            cell(&src.name, "vk-buffer"),
            Some("ok, contents match"),
            "{} → lavapipe VkBuffer",
            src.name
        );
    }
    let own = sources
        .iter()
        .find(|s| s.name.starts_with("virtio_gpu dumb"))
        .ok_or("no virtio-gpu dumb buffer")?;
    assert_eq!(
        cell(&own.name, "virtio_gpu"),
        Some("ok"),
        "virtio-gpu re-imports its own buffer"
    );
    Ok(())
}
