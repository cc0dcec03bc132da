// Runs only inside the tests/vm guest (real kernel dma-bufs, fences, DRM/KMS): Cargo.toml makes it
// require the `vm-guest` feature, which tests/vm/check turns on.

//! Fact (a): the guest's DRM devices — render-only or KMS, syncobj support, PRIME caps, and what
//! each plane scans out. Prints Markdown tables for docs/vm-facts.md.

use drm::DriverCapability;
use weft_guest::drm_node::{DrmNode, PRIME_CAP_EXPORT, PRIME_CAP_IMPORT};
use weft_guest::fourcc::{fourcc_str, modifier_str, XRGB8888};
use weft_guest::kms;

fn cap(node: &DrmNode, cap: DriverCapability) -> String {
    match node.cap(cap) {
        Ok(v) => v.to_string(),
        Err(e) => e.short(),
    }
}

#[test]
fn drm_devices() -> weft_guest::Result<()> {
    let cards = DrmNode::cards()?;
    println!("\n| node | render node | driver | KMS | CRTCs/connectors/planes | SYNCOBJ | SYNCOBJ_TIMELINE | PRIME (import/export) | DUMB_BUFFER | ADDFB2_MODIFIERS |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for node in &cards {
        let kms = node.is_kms();
        let counts = if kms {
            use drm::control::Device as _;
            node.enable_universal_planes()?;
            let res = node.resource_handles().map_err(|e| weft_guest::Error::Io {
                op: "GETRESOURCES",
                source: e,
            })?;
            let planes = node.plane_handles().map(|p| p.len()).unwrap_or(0);
            format!(
                "{}/{}/{}",
                res.crtcs().len(),
                res.connectors().len(),
                planes
            )
        } else {
            "—".into()
        };
        let prime = node
            .cap(DriverCapability::Prime)
            .map(|v| {
                format!(
                    "{}/{}",
                    if v & PRIME_CAP_IMPORT != 0 {
                        "yes"
                    } else {
                        "no"
                    },
                    if v & PRIME_CAP_EXPORT != 0 {
                        "yes"
                    } else {
                        "no"
                    }
                )
            })
            .unwrap_or_else(|e| e.short());
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            node.path.display(),
            node.render_node()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none".into()),
            node.driver,
            if kms { "yes" } else { "no (render-only)" },
            counts,
            cap(node, DriverCapability::SyncObj),
            cap(node, DriverCapability::TimelineSyncObj),
            prime,
            cap(node, DriverCapability::DumbBuffer),
            cap(node, DriverCapability::AddFB2Modifiers),
        );
    }

    println!("\n| node | driver | plane | type | formats (IN_FORMATS: modifiers) |");
    println!("|---|---|---|---|---|");
    for node in cards.iter().filter(|n| n.is_kms()) {
        let planes = kms::planes(node)?;
        assert!(
            !planes.is_empty(),
            "{}: a KMS device without planes",
            node.path.display()
        );
        assert!(
            planes
                .iter()
                .any(|p| p.kind == "primary" && p.formats.contains(&XRGB8888)),
            "{} ({}): no primary plane scans out XRGB8888",
            node.path.display(),
            node.driver
        );
        for plane in planes {
            let formats = match &plane.in_formats {
                Some(list) => list
                    .iter()
                    .map(|(f, mods)| {
                        let mods: Vec<String> = mods.iter().map(|&m| modifier_str(m)).collect();
                        format!("{}: {}", fourcc_str(*f), mods.join(","))
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                None => {
                    let names: Vec<String> = plane.formats.iter().map(|&f| fourcc_str(f)).collect();
                    format!("{} (no IN_FORMATS)", names.join(", "))
                }
            };
            println!(
                "| {} | {} | {} | {} | {} |",
                node.path.display(),
                node.driver,
                plane.id,
                plane.kind,
                formats
            );
        }
    }

    // What the rig promises (tests/vm/README.md).
    let vgem = cards
        .iter()
        .find(|n| n.driver == "vgem")
        .expect("vgem is loaded");
    assert!(!vgem.is_kms(), "vgem must be render-only");
    let virtio = cards
        .iter()
        .find(|n| n.driver == "virtio_gpu")
        .expect("virtio-gpu is loaded");
    assert!(virtio.is_kms(), "virtio-gpu must do KMS");
    assert_eq!(
        virtio.cap(DriverCapability::SyncObj)?,
        1,
        "virtio-gpu: DRM_CAP_SYNCOBJ"
    );
    assert_eq!(
        virtio.cap(DriverCapability::TimelineSyncObj)?,
        1,
        "virtio-gpu: DRM_CAP_SYNCOBJ_TIMELINE"
    );
    let bochs = cards.iter().filter(|n| n.driver == "bochs-drm").count();
    assert!(bochs >= 2, "expected two bochs-drm devices, found {bochs}");
    Ok(())
}
