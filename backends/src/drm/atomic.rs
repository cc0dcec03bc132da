//! weft's own atomic commits on an output's planes: the primary plane, and an overlay or cursor
//! plane where the CRTC has one, each a framebuffer with its source and destination rectangles (a
//! viewport's crop and scale, where the plane can do them) and the producer's acquire fence as
//! its IN_FENCE_FD; and the CRTC's OUT_FENCE_PTR, whose fence signals once the flip has happened,
//! i.e. once the buffers it replaces are no longer read.
//!
//! smithay's `DrmSurface` lights the output (the modeset with its mode blob and connectors) and
//! takes it back after a VT switch; every frame after that is flipped here, because smithay's
//! page flip has no out-fence and no way to give a plane a source rectangle other than its own.
//! The flip's completion event still comes through smithay's `DrmDeviceNotifier` (same fd).

use std::os::fd::{AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd};

use smithay::backend::drm::DrmDeviceFd;
use smithay::reexports::drm::control::atomic::AtomicModeReq;
use smithay::reexports::drm::control::{
    crtc, framebuffer, plane, property, AtomicCommitFlags, Device as ControlDevice, ResourceHandle,
};
use smithay::utils::{Physical, Rectangle};

use super::error::DrmError;

/// Where a framebuffer goes on the plane: `src` in buffer pixels (fractions allowed, as KMS's
/// 16.16 fixed point), `dst` in the CRTC's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub src: Rectangle<f64, smithay::utils::Buffer>,
    pub dst: Rectangle<i32, Physical>,
}

impl Placement {
    /// The whole of a `w`×`h` buffer on a `w`×`h` CRTC.
    pub fn full(w: u32, h: u32) -> Self {
        Self {
            src: Rectangle::from_size((f64::from(w), f64::from(h)).into()),
            dst: Rectangle::from_size((w as i32, h as i32).into()),
        }
    }

    /// Whether the plane has to scale (source and destination sizes differ).
    pub fn scales(&self) -> bool {
        (self.src.size.w, self.src.size.h)
            != (f64::from(self.dst.size.w), f64::from(self.dst.size.h))
    }
}

/// The properties one flip sets on a plane.
#[derive(Debug, Clone)]
struct PlaneProps {
    fb_id: property::Handle,
    crtc_id: property::Handle,
    src: [property::Handle; 4],
    dst: [property::Handle; 4],
    in_fence_fd: Option<property::Handle>,
    /// HOTSPOT_X and HOTSPOT_Y: a cursor plane's, on drivers that ask for the pointer's place in
    /// the image (virtio-gpu, vmwgfx, qxl: the host draws the cursor).
    hotspot: Option<[property::Handle; 2]>,
}

/// What one plane shows in a commit.
pub struct Layer<'a> {
    pub fb: framebuffer::Handle,
    pub at: Placement,
    /// The producer's acquire fence, where one is left (the plane's IN_FENCE_FD).
    pub in_fence: Option<BorrowedFd<'a>>,
    /// Where the pointer is in the image (a cursor's; set where the plane takes it).
    pub hotspot: Option<(i32, i32)>,
}

/// The planes weft commits on one output's CRTC: its primary plane, the overlay or cursor
/// plane it claimed for a client's surface, if any, and a cursor plane of its own for the
/// cursor where the CRTC has one besides (where the upper plane is the cursor plane, the cursor
/// goes there).
#[derive(Debug, Clone)]
pub struct Planes {
    crtc: crtc::Handle,
    primary: (plane::Handle, PlaneProps),
    upper: Option<(plane::Handle, PlaneProps, &'static str)>,
    cursor: Option<(plane::Handle, PlaneProps)>,
    out_fence_ptr: Option<property::Handle>,
}

/// What one commit shows: the primary plane, the upper plane (`None`: off) and the cursor plane
/// of its own (`None`: off).
pub struct Frame<'a, 'b> {
    pub primary: &'b Layer<'a>,
    pub upper: Option<&'b Layer<'a>>,
    pub cursor: Option<&'b Layer<'a>>,
}

fn prop(
    fd: &DrmDeviceFd,
    handle: impl ResourceHandle,
    name: &str,
) -> Result<Option<property::Handle>, DrmError> {
    let props = fd.get_properties(handle).map_err(DrmError::Properties)?;
    let (ids, _) = props.as_props_and_values();
    for id in ids {
        let info = fd.get_property(*id).map_err(|source| DrmError::Property {
            id: u32::from(*id),
            source,
        })?;
        if info.name().to_bytes() == name.as_bytes() {
            return Ok(Some(*id));
        }
    }
    Ok(None)
}

fn need(
    fd: &DrmDeviceFd,
    handle: impl ResourceHandle,
    name: &'static str,
) -> Result<property::Handle, DrmError> {
    prop(fd, handle, name)?.ok_or(DrmError::MissingProperty(name))
}

/// 16.16 fixed point, as KMS takes source coordinates.
fn fixed(v: f64) -> u64 {
    (v.max(0.0) * 65536.0).round() as u64
}

impl PlaneProps {
    fn of(fd: &DrmDeviceFd, plane: plane::Handle) -> Result<Self, DrmError> {
        Ok(Self {
            fb_id: need(fd, plane, "FB_ID")?,
            crtc_id: need(fd, plane, "CRTC_ID")?,
            src: [
                need(fd, plane, "SRC_X")?,
                need(fd, plane, "SRC_Y")?,
                need(fd, plane, "SRC_W")?,
                need(fd, plane, "SRC_H")?,
            ],
            dst: [
                need(fd, plane, "CRTC_X")?,
                need(fd, plane, "CRTC_Y")?,
                need(fd, plane, "CRTC_W")?,
                need(fd, plane, "CRTC_H")?,
            ],
            in_fence_fd: prop(fd, plane, "IN_FENCE_FD")?,
            hotspot: match (prop(fd, plane, "HOTSPOT_X")?, prop(fd, plane, "HOTSPOT_Y")?) {
                (Some(x), Some(y)) => Some([x, y]),
                _ => None,
            },
        })
    }

    /// Sets `layer` on `plane` in `req` (on `crtc`), or switches the plane off (`None`).
    fn set(
        &self,
        req: &mut AtomicModeReq,
        plane: plane::Handle,
        crtc: crtc::Handle,
        layer: Option<&Layer<'_>>,
    ) {
        let Some(layer) = layer else {
            req.add_property(plane, self.fb_id, property::Value::Framebuffer(None));
            req.add_property(plane, self.crtc_id, property::Value::CRTC(None));
            return;
        };
        let at = &layer.at;
        req.add_property(
            plane,
            self.fb_id,
            property::Value::Framebuffer(Some(layer.fb)),
        );
        req.add_property(plane, self.crtc_id, property::Value::CRTC(Some(crtc)));
        let src = [
            fixed(at.src.loc.x),
            fixed(at.src.loc.y),
            fixed(at.src.size.w),
            fixed(at.src.size.h),
        ];
        for (handle, v) in self.src.iter().zip(src) {
            req.add_property(plane, *handle, property::Value::UnsignedRange(v));
        }
        let dst = [
            property::Value::SignedRange(i64::from(at.dst.loc.x)),
            property::Value::SignedRange(i64::from(at.dst.loc.y)),
            property::Value::UnsignedRange(at.dst.size.w.max(0) as u64),
            property::Value::UnsignedRange(at.dst.size.h.max(0) as u64),
        ];
        for (handle, v) in self.dst.iter().zip(dst) {
            req.add_property(plane, *handle, v);
        }
        if let (Some([hx, hy]), Some((x, y))) = (self.hotspot, layer.hotspot) {
            req.add_property(plane, hx, property::Value::SignedRange(i64::from(x)));
            req.add_property(plane, hy, property::Value::SignedRange(i64::from(y)));
        }
        if let (Some(prop), Some(fence)) = (self.in_fence_fd, layer.in_fence) {
            req.add_property(
                plane,
                prop,
                property::Value::SignedRange(i64::from(fence.as_raw_fd())),
            );
        }
    }
}

impl Planes {
    /// `primary` on `crtc`, and `upper` (an overlay or cursor plane this output claimed, with its
    /// kind's name) where there is one.
    pub fn new(
        fd: &DrmDeviceFd,
        crtc: crtc::Handle,
        primary: plane::Handle,
        (upper, cursor): (Option<(plane::Handle, &'static str)>, Option<plane::Handle>),
    ) -> Result<Self, DrmError> {
        let upper = match upper {
            Some((plane, kind)) => Some((plane, PlaneProps::of(fd, plane)?, kind)),
            None => None,
        };
        let cursor = match cursor {
            Some(plane) => Some((plane, PlaneProps::of(fd, plane)?)),
            None => None,
        };
        Ok(Self {
            crtc,
            primary: (primary, PlaneProps::of(fd, primary)?),
            upper,
            cursor,
            out_fence_ptr: prop(fd, crtc, "OUT_FENCE_PTR")?,
        })
    }

    /// Whether the cursor can go on a cursor plane: one of its own, or the upper plane where
    /// that is the CRTC's cursor plane (then no surface is lifted while the cursor is there).
    pub fn cursor_plane(&self) -> Option<CursorPlaneKind> {
        if self.cursor.is_some() {
            Some(CursorPlaneKind::Own)
        } else if self.upper_kind() == Some("cursor") {
            Some(CursorPlaneKind::Upper)
        } else {
            None
        }
    }

    /// Whether flips hand back an out-fence (every atomic driver's CRTC has OUT_FENCE_PTR).
    pub fn has_out_fence(&self) -> bool {
        self.out_fence_ptr.is_some()
    }

    /// The kind of plane ("overlay", "cursor") that can show a surface over the composed frame.
    pub fn upper_kind(&self) -> Option<&'static str> {
        self.upper.as_ref().map(|u| u.2)
    }

    fn request(&self, frame: &Frame<'_, '_>) -> AtomicModeReq {
        let mut req = AtomicModeReq::new();
        let (plane, props) = &self.primary;
        props.set(&mut req, *plane, self.crtc, Some(frame.primary));
        if let Some((plane, props, _)) = &self.upper {
            props.set(&mut req, *plane, self.crtc, frame.upper);
        }
        if let Some((plane, props)) = &self.cursor {
            props.set(&mut req, *plane, self.crtc, frame.cursor);
        }
        req
    }

    /// Asks the driver whether it would show these layers (atomic TEST_ONLY): nothing changes
    /// on screen.
    pub fn test(&self, fd: &DrmDeviceFd, frame: &Frame<'_, '_>) -> Result<(), DrmError> {
        fd.atomic_commit(AtomicCommitFlags::TEST_ONLY, self.request(frame))
            .map_err(DrmError::TestOnly)
    }

    /// Queues a flip to these layers at the next vblank (a plane switched off where its layer is
    /// `None`), latched once their in-fences signal; its completion event comes
    /// through the device's notifier. Returns the flip's out-fence, where the CRTC gives one: it
    /// signals when the flip has happened, so the buffers shown before are no longer read.
    pub fn flip(
        &self,
        fd: &DrmDeviceFd,
        frame: &Frame<'_, '_>,
    ) -> Result<Option<OwnedFd>, DrmError> {
        let mut req = self.request(frame);
        // The kernel writes the out-fence's fd here (an s32) during the ioctl.
        let mut out: i32 = -1;
        if let Some(prop) = self.out_fence_ptr {
            let ptr = std::ptr::addr_of_mut!(out) as u64;
            req.add_property(self.crtc, prop, property::Value::UnsignedRange(ptr));
        }
        fd.atomic_commit(
            AtomicCommitFlags::PAGE_FLIP_EVENT | AtomicCommitFlags::NONBLOCK,
            req,
        )
        .map_err(DrmError::Flip)?;
        if out < 0 {
            return Ok(None);
        }
        // SAFETY: the kernel wrote a new sync_file fd into `out` for this commit (OUT_FENCE_PTR);
        // nothing else owns it, and it is closed exactly once, by the OwnedFd.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(out) }))
    }
}

/// Where a CRTC shows the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorPlaneKind {
    /// A cursor plane of its own, beside the upper plane.
    Own,
    /// The upper plane, which is the cursor plane.
    Upper,
}
