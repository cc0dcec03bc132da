// Runs only inside the tests/vm guest (real kernel dma-bufs, fences, DRM/KMS): Cargo.toml makes it
// require the `vm-guest` feature, which tests/vm/check turns on.

//! Fact (d): a timeline syncobj on virtio-gpu carries a sync_file at a point, and a calloop 0.14
//! event loop learns of it through `DRM_IOCTL_SYNCOBJ_EVENTFD` — first that the point has
//! materialized (`WAIT_AVAILABLE`), then, only after the producer signals, that it has signalled.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use calloop::generic::Generic;
use calloop::{EventLoop, Interest, Mode, PostAction};
use weft_guest::dmabuf::SYNC_READ;
use weft_guest::drm_node::DrmNode;
use weft_guest::syncobj::{eventfd_take, Timeline};
use weft_guest::vgem::{Access, Vgem};

#[derive(Default)]
struct Seen {
    available: bool,
    signalled: bool,
}

fn watch(
    event_loop: &EventLoop<'_, Seen>,
    fd: OwnedFd,
    mark: fn(&mut Seen),
) -> Result<(), Box<dyn std::error::Error>> {
    event_loop
        .handle()
        .insert_source(
            Generic::new(fd, Interest::READ, Mode::Level),
            move |_, fd, seen| {
                if eventfd_take(fd.as_fd()).map_err(std::io::Error::other)? {
                    mark(seen);
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| e.error)?;
    Ok(())
}

#[test]
fn eventfd_fires_when_the_imported_point_signals() -> Result<(), Box<dyn std::error::Error>> {
    const POINT: u64 = 5;
    let virtio = DrmNode::by_driver("virtio_gpu")?;
    let vgem = Vgem::open()?;
    let buf = vgem.alloc(64, 64)?;
    let fence = vgem.attach_fence(&buf, Access::Write)?;
    let acquire = buf.dmabuf.export_sync_file(SYNC_READ)?;
    assert!(!acquire.is_signalled()?);

    let timeline = Timeline::new(&virtio)?;
    let path = timeline.import_sync_file(POINT, &acquire)?;
    println!("(d) sync_file imported at point {POINT} via {path:?}");

    let mut event_loop: EventLoop<'_, Seen> = EventLoop::try_new()?;
    watch(&event_loop, timeline.eventfd(POINT, true)?, |s| {
        s.available = true
    })?;
    watch(&event_loop, timeline.eventfd(POINT, false)?, |s| {
        s.signalled = true
    })?;
    let mut seen = Seen::default();

    event_loop.dispatch(Some(Duration::from_millis(200)), &mut seen)?;
    assert!(
        seen.available,
        "WAIT_AVAILABLE eventfd: the point has a fence, so it fires at once"
    );
    assert!(
        !seen.signalled,
        "the point must not signal before the vgem fence does"
    );
    assert_eq!(timeline.signalled_point()?, 0);

    vgem.signal(fence)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !seen.signalled && Instant::now() < deadline {
        event_loop.dispatch(Some(Duration::from_millis(100)), &mut seen)?;
    }
    assert!(
        seen.signalled,
        "the eventfd must fire once the imported fence signals"
    );
    assert_eq!(timeline.signalled_point()?, POINT);
    println!("(d) SYNCOBJ_EVENTFD: WAIT_AVAILABLE fired at once; signal eventfd fired only after VGEM_FENCE_SIGNAL, in a calloop loop");
    Ok(())
}
