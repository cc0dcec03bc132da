//! wp_linux_drm_syncobj_v1's rules (shared/SPECS.md §2); the requests and the commit hook are
//! `handlers/syncobj.rs`.
//!
//! weft's own implementation rather than smithay's: every protocol error the spec defines is raised
//! as it says (`no_buffer` for a release point alone, `no_acquire_point`/`no_release_point` for a
//! buffer without them), each commit's release point belongs to that commit and is signalled only
//! once weft's reads of its buffer are over (also when the same buffer is committed again), and
//! the acquire wait is one of weft's fence waits: held per surface, reported in
//! `weft msg surfaces`, dropped with the surface.
//!
//! The global exists only where the registry has a DRM device with timeline syncobjs and
//! `SYNCOBJ_EVENTFD` ([`super::timeline::SyncobjDevice::find`]); timelines are imported on it.

use std::cell::RefCell;

use smithay::reexports::wayland_protocols::wp::linux_drm_syncobj::v1::server::{
    wp_linux_drm_syncobj_surface_v1::{self, WpLinuxDrmSyncobjSurfaceV1},
};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::compositor::with_states;

/// The surface's syncobj object, in its data map (`None` after it was destroyed).
pub struct SyncobjSlot(pub RefCell<Option<WpLinuxDrmSyncobjSurfaceV1>>);

/// Whether `surface` has a live wp_linux_drm_syncobj_surface_v1.
pub fn has_syncobj_surface(surface: &WlSurface) -> bool {
    with_states(surface, |states| {
        states
            .data_map
            .get::<SyncobjSlot>()
            .is_some_and(|s| s.0.borrow().is_some())
    })
}

/// What a commit attaches, as the spec's rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    /// No new non-null buffer (no attach, or a null one).
    Nothing,
    Dmabuf,
    /// wl_shm or single-pixel: weft does not sync them explicitly.
    Other,
}

/// The pending points as the rules see them: (timeline identity, point).
pub type PointKey = (usize, u64);

/// The spec's commit-time rules, in its order. Pure, table-tested.
pub fn check_commit(
    attached: Attached,
    acquire: Option<PointKey>,
    release: Option<PointKey>,
) -> Result<(), (wp_linux_drm_syncobj_surface_v1::Error, String)> {
    use wp_linux_drm_syncobj_surface_v1::Error as E;
    if attached == Attached::Nothing {
        if acquire.is_some() || release.is_some() {
            return Err((
                E::NoBuffer,
                "an acquire or release point is set but the commit attaches no buffer".into(),
            ));
        }
        return Ok(());
    }
    let Some(acquire) = acquire else {
        return Err((
            E::NoAcquirePoint,
            "a buffer is attached without an acquire point".into(),
        ));
    };
    let Some(release) = release else {
        return Err((
            E::NoReleasePoint,
            "a buffer is attached without a release point".into(),
        ));
    };
    if acquire.0 == release.0 && acquire.1 >= release.1 {
        return Err((
            E::ConflictingPoints,
            format!(
                "acquire point {} is not below release point {} on the same timeline",
                acquire.1, release.1
            ),
        ));
    }
    if attached == Attached::Other {
        return Err((
            E::UnsupportedBuffer,
            "explicit sync is supported for dma-buf buffers only".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wp_linux_drm_syncobj_surface_v1::Error as E;

    #[test]
    fn the_commit_rules_in_the_spec_order() {
        let (a, b) = (1usize, 2usize);
        #[allow(clippy::type_complexity)]
        let table: &[(Attached, Option<PointKey>, Option<PointKey>, Option<E>)] = &[
            (Attached::Nothing, None, None, None),
            (Attached::Nothing, Some((a, 1)), None, Some(E::NoBuffer)),
            (Attached::Nothing, None, Some((a, 2)), Some(E::NoBuffer)),
            (
                Attached::Nothing,
                Some((a, 1)),
                Some((a, 2)),
                Some(E::NoBuffer),
            ),
            (Attached::Dmabuf, None, None, Some(E::NoAcquirePoint)),
            (
                Attached::Dmabuf,
                None,
                Some((a, 2)),
                Some(E::NoAcquirePoint),
            ),
            (
                Attached::Dmabuf,
                Some((a, 1)),
                None,
                Some(E::NoReleasePoint),
            ),
            (
                Attached::Dmabuf,
                Some((a, 2)),
                Some((a, 2)),
                Some(E::ConflictingPoints),
            ),
            (
                Attached::Dmabuf,
                Some((a, 3)),
                Some((a, 2)),
                Some(E::ConflictingPoints),
            ),
            (Attached::Dmabuf, Some((a, 1)), Some((a, 2)), None),
            // Different timelines: any order is fine.
            (Attached::Dmabuf, Some((a, 9)), Some((b, 2)), None),
            (
                Attached::Other,
                Some((a, 1)),
                Some((a, 2)),
                Some(E::UnsupportedBuffer),
            ),
            (Attached::Other, None, None, Some(E::NoAcquirePoint)),
        ];
        for (attached, acquire, release, want) in table {
            let got = check_commit(*attached, *acquire, *release)
                .err()
                .map(|e| e.0);
            assert_eq!(got, *want, "{attached:?} {acquire:?} {release:?}");
        }
    }
}
