// Runs only inside the tests/vm guest (real kernel dma-bufs, fences, DRM/KMS): Cargo.toml makes it
// require the `vm-guest` feature, which tests/vm/check turns on.

//! Fact (c): the implicit-sync bridge on a real dma-buf (vgem).
//!
//! 1. `EXPORT_SYNC_FILE(READ)` on a buffer with an unsignalled vgem *write* fence returns a
//!    sync_file that is not ready until that fence is signalled.
//! 2. `IMPORT_SYNC_FILE(READ)` of an unsignalled fence makes later *writers* wait for it
//!    (`EXPORT_SYNC_FILE(WRITE)` not ready) while readers do not (`EXPORT_SYNC_FILE(READ)` ready).
//!
//! vgem fences time out by themselves after 10 s, so every "not ready" check happens right away.

use std::time::Duration;

use weft_guest::dmabuf::{SYNC_READ, SYNC_WRITE};
use weft_guest::vgem::{Access, Vgem};

const SIGNAL_WAIT: Duration = Duration::from_secs(2);

#[test]
fn export_read_waits_for_the_writer() -> weft_guest::Result<()> {
    let vgem = Vgem::open()?;
    let buf = vgem.alloc(64, 64)?;
    let idle = buf.dmabuf.export_sync_file(SYNC_READ)?;
    assert!(
        idle.is_signalled()?,
        "a buffer without fences exports a signalled stub"
    );

    let fence = vgem.attach_fence(&buf, Access::Write)?;
    let read = buf.dmabuf.export_sync_file(SYNC_READ)?;
    let write = buf.dmabuf.export_sync_file(SYNC_WRITE)?;
    assert!(
        !read.is_signalled()?,
        "EXPORT_SYNC_FILE(READ) must wait for the unsignalled writer"
    );
    assert!(
        !write.is_signalled()?,
        "EXPORT_SYNC_FILE(WRITE) must wait for the unsignalled writer"
    );

    vgem.signal(fence)?;
    assert!(
        read.wait(SIGNAL_WAIT)?,
        "READ sync_file ready once the write fence signals"
    );
    assert!(
        write.wait(SIGNAL_WAIT)?,
        "WRITE sync_file ready once the write fence signals"
    );
    println!("(c1) EXPORT_SYNC_FILE(READ/WRITE) with an unsignalled vgem write fence: not ready; ready after VGEM_FENCE_SIGNAL");
    Ok(())
}

#[test]
fn import_read_makes_writers_wait() -> weft_guest::Result<()> {
    let vgem = Vgem::open()?;
    let client = vgem.alloc(64, 64)?;
    // An unsignalled fence to import: "our GPU is still reading the client's buffer".
    let ours = vgem.alloc(64, 64)?;
    let reading = vgem.attach_fence(&ours, Access::Write)?;
    let read_done = ours.dmabuf.export_sync_file(SYNC_READ)?;
    assert!(!read_done.is_signalled()?);

    client.dmabuf.import_sync_file(SYNC_READ, &read_done)?;
    let next_reader = client.dmabuf.export_sync_file(SYNC_READ)?;
    let next_writer = client.dmabuf.export_sync_file(SYNC_WRITE)?;
    assert!(
        next_reader.is_signalled()?,
        "a fence imported as READ must not hold back other readers"
    );
    assert!(
        !next_writer.is_signalled()?,
        "a fence imported as READ must hold back the next writer"
    );

    vgem.signal(reading)?;
    assert!(
        next_writer.wait(SIGNAL_WAIT)?,
        "the writer may go once the imported fence signals"
    );
    println!("(c2) IMPORT_SYNC_FILE(READ): later EXPORT_SYNC_FILE(READ) ready, EXPORT_SYNC_FILE(WRITE) not ready until the imported fence signals");
    Ok(())
}
