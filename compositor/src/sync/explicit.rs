//! wp_linux_drm_syncobj_v1: explicit sync with DRM timeline syncobjs (shared/SPECS.md §2).
//!
//! weft's own implementation rather than smithay's: every protocol error the spec defines is raised
//! as it says (`no_buffer` for a release point alone, `no_acquire_point`/`no_release_point` for a
//! buffer without them), each commit's release point belongs to that commit and is signalled only
//! once weft's reads of its buffer are over (also when the same buffer is committed again), and
//! the acquire wait is one of weft's fence waits ([`super::hold`]): held per surface, reported in
//! `weft msg surfaces`, dropped with the surface.
//!
//! The global exists only where the registry has a DRM device with timeline syncobjs and
//! `SYNCOBJ_EVENTFD` ([`SyncobjState::new`]); timelines are imported on it.

use std::cell::RefCell;
use std::sync::Arc;

use smithay::reexports::wayland_protocols::wp::linux_drm_syncobj::v1::server::{
    wp_linux_drm_syncobj_manager_v1::{self, WpLinuxDrmSyncobjManagerV1},
    wp_linux_drm_syncobj_surface_v1::{self, WpLinuxDrmSyncobjSurfaceV1},
    wp_linux_drm_syncobj_timeline_v1::{self, WpLinuxDrmSyncobjTimelineV1},
};
use smithay::reexports::wayland_server::backend::GlobalId;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, Weak,
};
use smithay::wayland::compositor::{with_states, BufferAssignment, SurfaceAttributes};
use smithay::wayland::dmabuf::get_dmabuf;
use tracing::{debug, info};

use super::timeline::{Point, ReleasePoint, SyncobjDevice, Timeline};
use super::{PendingSync, SyncMode, WaitOn};
use crate::devices::Registry;
use crate::state::Weft;

/// The global and the device timelines are imported on.
pub struct SyncobjState {
    pub device: Arc<SyncobjDevice>,
    pub global: GlobalId,
}

impl SyncobjState {
    /// Advertises the global when a device in `devices` has timeline syncobjs and
    /// `SYNCOBJ_EVENTFD`; `None` (logged) otherwise.
    pub fn new(dh: &DisplayHandle, devices: &Registry) -> Option<Self> {
        if devices.is_simulated() {
            return None;
        }
        for record in devices.devices() {
            if record.caps.syncobj_timeline != Some(true) {
                continue;
            }
            let Some(node) = record.preferred_node() else {
                continue;
            };
            match SyncobjDevice::open(std::path::Path::new(&node.path), record.id.0.clone()) {
                Ok(device) => {
                    info!(device = %record.id, node = %node.path, "wp_linux_drm_syncobj_manager_v1 advertised");
                    let global = dh.create_global::<Weft, WpLinuxDrmSyncobjManagerV1, _>(1, ());
                    return Some(Self {
                        device: Arc::new(device),
                        global,
                    });
                }
                Err(e) => {
                    info!(device = %record.id, error = %e, "no explicit sync on this device")
                }
            }
        }
        info!(
            "no DRM device with timeline syncobjs and SYNCOBJ_EVENTFD: explicit sync not offered"
        );
        None
    }
}

/// The surface's syncobj object, in its data map (`None` after it was destroyed).
struct SyncobjSlot(RefCell<Option<WpLinuxDrmSyncobjSurfaceV1>>);

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

fn key(p: &Point) -> PointKey {
    (Arc::as_ptr(&p.timeline) as usize, p.value)
}

/// The pre-commit hook of a surface with a syncobj object: the rules, then the acquire wait.
pub(super) fn pre_commit(state: &mut Weft, surface: &WlSurface) {
    let (attached, acquire, release, syncobj) = with_states(surface, |states| {
        let attached = match states
            .cached_state
            .get::<SurfaceAttributes>()
            .pending()
            .buffer
            .as_ref()
        {
            Some(BufferAssignment::NewBuffer(b)) if get_dmabuf(b).is_ok() => Attached::Dmabuf,
            Some(BufferAssignment::NewBuffer(_)) => Attached::Other,
            _ => Attached::Nothing,
        };
        let mut cached = states.cached_state.get::<PendingSync>();
        let p = cached.pending();
        let syncobj = states
            .data_map
            .get::<SyncobjSlot>()
            .and_then(|s| s.0.borrow().clone());
        (
            attached,
            p.acquire.clone(),
            p.release.as_ref().map(|r| key(&r.0)),
            syncobj,
        )
    });
    if let Err((error, message)) = check_commit(attached, acquire.as_ref().map(key), release) {
        if let Some(syncobj) = syncobj {
            syncobj.post_error(error, message);
        }
        // The client is gone with the error; nothing of this commit is waited for.
        with_states(surface, |states| {
            let mut cached = states.cached_state.get::<PendingSync>();
            let p = cached.pending();
            p.acquire = None;
            p.release = None;
        });
        return;
    }
    let Some(acquire) = acquire else {
        return;
    };
    with_states(surface, |states| {
        let mut cached = states.cached_state.get::<PendingSync>();
        let p = cached.pending();
        p.attached = true;
        p.mode = SyncMode::Explicit;
    });
    if acquire.signalled() {
        return;
    }
    match acquire.timeline.eventfd(acquire.value) {
        Ok(fd) => super::hold(state, surface, WaitOn::Fd(Arc::new(fd)), "acquire point"),
        // The device went away: nothing can signal the point any more; the commit goes ahead.
        Err(e) => info!(error = %e, "cannot wait for an acquire point; commit applied now"),
    }
}

impl GlobalDispatch<WpLinuxDrmSyncobjManagerV1, ()> for Weft {
    fn bind(
        _state: &mut Self,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<WpLinuxDrmSyncobjManagerV1>,
        _data: &(),
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<WpLinuxDrmSyncobjManagerV1, ()> for Weft {
    fn request(
        state: &mut Self,
        _client: &Client,
        manager: &WpLinuxDrmSyncobjManagerV1,
        request: wp_linux_drm_syncobj_manager_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        use wp_linux_drm_syncobj_manager_v1::{Error, Request};
        match request {
            Request::GetSurface { id, surface } => {
                if has_syncobj_surface(&surface) {
                    manager.post_error(
                        Error::SurfaceExists,
                        "the surface already has a syncobj surface object",
                    );
                    return;
                }
                let obj = data_init.init(id, surface.downgrade());
                with_states(&surface, |states| {
                    let slot = states
                        .data_map
                        .get_or_insert(|| SyncobjSlot(RefCell::new(None)));
                    *slot.0.borrow_mut() = Some(obj);
                });
            }
            Request::ImportTimeline { id, fd } => {
                let Some(sync) = &state.syncobj else {
                    manager.post_error(Error::InvalidTimeline, "explicit sync is gone");
                    return;
                };
                match Timeline::import(&sync.device, std::os::fd::AsFd::as_fd(&fd)) {
                    Ok(timeline) => {
                        data_init.init(id, Arc::new(timeline));
                    }
                    Err(e) => manager.post_error(
                        Error::InvalidTimeline,
                        format!("cannot import the timeline: {e}"),
                    ),
                }
            }
            Request::Destroy => {}
            _ => {}
        }
    }
}

impl Dispatch<WpLinuxDrmSyncobjTimelineV1, Arc<Timeline>> for Weft {
    fn request(
        _state: &mut Self,
        _client: &Client,
        _resource: &WpLinuxDrmSyncobjTimelineV1,
        _request: wp_linux_drm_syncobj_timeline_v1::Request,
        _data: &Arc<Timeline>,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, Self>,
    ) {
        // Destroy: points already set keep the timeline (an `Arc`).
    }
}

impl Dispatch<WpLinuxDrmSyncobjSurfaceV1, Weak<WlSurface>> for Weft {
    fn request(
        _state: &mut Self,
        _client: &Client,
        resource: &WpLinuxDrmSyncobjSurfaceV1,
        request: wp_linux_drm_syncobj_surface_v1::Request,
        surface: &Weak<WlSurface>,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, Self>,
    ) {
        use wp_linux_drm_syncobj_surface_v1::{Error, Request};
        let set = |timeline: WpLinuxDrmSyncobjTimelineV1, hi: u32, lo: u32, acquire: bool| {
            let Ok(surface) = surface.upgrade() else {
                resource.post_error(Error::NoSurface, "the wl_surface was destroyed");
                return;
            };
            let Some(timeline) = timeline.data::<Arc<Timeline>>().cloned() else {
                return;
            };
            let point = Point {
                timeline,
                value: (u64::from(hi) << 32) | u64::from(lo),
            };
            with_states(&surface, |states| {
                let mut cached = states.cached_state.get::<PendingSync>();
                let p = cached.pending();
                if acquire {
                    p.acquire = Some(point);
                } else {
                    // A point replaced before any commit was never used: signalling it is allowed.
                    p.release = Some(ReleasePoint(point));
                }
            });
        };
        match request {
            Request::SetAcquirePoint {
                timeline,
                point_hi,
                point_lo,
            } => set(timeline, point_hi, point_lo, true),
            Request::SetReleasePoint {
                timeline,
                point_hi,
                point_lo,
            } => set(timeline, point_hi, point_lo, false),
            Request::Destroy => {
                if let Ok(surface) = surface.upgrade() {
                    with_states(&surface, |states| {
                        if let Some(slot) = states.data_map.get::<SyncobjSlot>() {
                            *slot.0.borrow_mut() = None;
                        }
                        // Points set since the last commit are dropped; committed ones stay.
                        let mut cached = states.cached_state.get::<PendingSync>();
                        let p = cached.pending();
                        p.acquire = None;
                        p.release = None;
                    });
                    debug!("syncobj surface destroyed");
                }
            }
            _ => {}
        }
    }
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
