//! wp_linux_drm_syncobj_v1 requests and the commit hook of an explicitly synced surface (the rules
//! are [`crate::sync::explicit`]'s): timelines imported on the registry's timeline-syncobj device,
//! points double-buffered with the commit, the acquire point waited through `SYNCOBJ_EVENTFD` as
//! one of weft's fence waits ([`super::fence_wait::hold`]).

use std::cell::RefCell;
use std::sync::Arc;

use smithay::reexports::wayland_protocols::wp::linux_drm_syncobj::v1::server::{
    wp_linux_drm_syncobj_manager_v1::{self, WpLinuxDrmSyncobjManagerV1},
    wp_linux_drm_syncobj_surface_v1::{self, WpLinuxDrmSyncobjSurfaceV1},
    wp_linux_drm_syncobj_timeline_v1::{self, WpLinuxDrmSyncobjTimelineV1},
};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, Weak,
};
use smithay::wayland::compositor::{with_states, BufferAssignment, SurfaceAttributes};
use smithay::wayland::dmabuf::get_dmabuf;
use tracing::{debug, info};

use super::fence_wait::WaitOn;
use crate::sync::commit::{PendingSync, SyncMode};
use crate::sync::explicit::{check_commit, has_syncobj_surface, Attached, PointKey, SyncobjSlot};
use crate::sync::timeline::{Point, ReleasePoint, Timeline};
use crate::Weft;

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
        Ok(fd) => {
            super::fence_wait::hold(state, surface, WaitOn::Fd(Arc::new(fd)), "acquire point")
        }
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
                let Some(sync) = &state.sync.syncobj else {
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
