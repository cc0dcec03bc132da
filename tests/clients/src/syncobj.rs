//! A wp_linux_drm_syncobj_v1 client: binds the manager, imports timelines (DRM syncobj fds the
//! test makes on a device of its own) and sets acquire and release points per commit, the way a
//! Vulkan WSI or EGL implementation does.

use std::os::fd::BorrowedFd;

use wayland_client::protocol::wl_surface;
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::linux_drm_syncobj::v1::client::{
    wp_linux_drm_syncobj_manager_v1::{self, WpLinuxDrmSyncobjManagerV1},
    wp_linux_drm_syncobj_surface_v1::{self, WpLinuxDrmSyncobjSurfaceV1},
    wp_linux_drm_syncobj_timeline_v1::{self, WpLinuxDrmSyncobjTimelineV1},
};

use crate::client::{Client, ClientError, State};

/// The interface name, as the registry advertises it.
pub const INTERFACE: &str = "wp_linux_drm_syncobj_manager_v1";

/// The bound manager.
pub struct Syncobj {
    pub manager: WpLinuxDrmSyncobjManagerV1,
}

impl Syncobj {
    pub fn bind(c: &mut Client) -> Result<Self, ClientError> {
        let manager = c.globals.bind(&c.qh, 1..=1, ())?;
        Ok(Self { manager })
    }

    /// Whether weft advertises the global to `c`.
    pub fn advertised(c: &Client) -> bool {
        c.globals
            .contents()
            .clone_list()
            .iter()
            .any(|g| g.interface == INTERFACE)
    }

    pub fn surface(
        &self,
        c: &Client,
        surface: &wl_surface::WlSurface,
    ) -> WpLinuxDrmSyncobjSurfaceV1 {
        self.manager.get_surface(surface, &c.qh, ())
    }

    /// Imports a syncobj fd (`SYNCOBJ_HANDLE_TO_FD` without flags).
    pub fn import(&self, c: &Client, fd: BorrowedFd<'_>) -> WpLinuxDrmSyncobjTimelineV1 {
        self.manager.import_timeline(fd, &c.qh, ())
    }
}

/// Sets a point as the protocol splits it (high and low 32 bits).
pub fn split(point: u64) -> (u32, u32) {
    ((point >> 32) as u32, point as u32)
}

/// Sets `surface`'s acquire and release points for its next commit.
pub fn set_points(
    s: &WpLinuxDrmSyncobjSurfaceV1,
    acquire: (&WpLinuxDrmSyncobjTimelineV1, u64),
    release: (&WpLinuxDrmSyncobjTimelineV1, u64),
) {
    let (hi, lo) = split(acquire.1);
    s.set_acquire_point(acquire.0, hi, lo);
    let (hi, lo) = split(release.1);
    s.set_release_point(release.0, hi, lo);
}

impl Dispatch<WpLinuxDrmSyncobjManagerV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &WpLinuxDrmSyncobjManagerV1,
        _: wp_linux_drm_syncobj_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<WpLinuxDrmSyncobjSurfaceV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &WpLinuxDrmSyncobjSurfaceV1,
        _: wp_linux_drm_syncobj_surface_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<WpLinuxDrmSyncobjTimelineV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &WpLinuxDrmSyncobjTimelineV1,
        _: wp_linux_drm_syncobj_timeline_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}
