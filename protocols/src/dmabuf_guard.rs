//! linux-dmabuf guard: every `zwp_linux_buffer_params_v1` error of the spec (SPECS.md §1), raised
//! before smithay sees the request.
//!
//! What smithay 0.7's `DmabufState` gets wrong or misses, and this guard therefore does itself:
//! - `invalid_dimensions` is posted but smithay carries on, builds the buffer and calls
//!   `dmabuf_imported` for it anyway;
//! - the plane count is never checked against the format (only "zero planes" is `incomplete`), and a
//!   gap in the indices (plane 0 missing) is accepted;
//! - planes added out of order get the wrong index: smithay numbers them in arrival order, so
//!   `add(plane 1)` then `add(plane 0)` swaps luma and chroma. The guard keeps the planes and replays
//!   them to smithay in index order at `create`;
//! - `offset + stride` is added in `u32` without an overflow check, which panics a debug build;
//!   `stride == 0` is accepted; subsampled chroma planes get no size check at all;
//! - a (format, modifier) pair that was never advertised is accepted (`invalid_format` since v4);
//! - unknown `flags` bits are accepted (wlroots answers them with `invalid_format`; so does weft);
//! - interlaced buffers (`interlaced`/`bottom_first` flags) are accepted, and smithay's `Dmabuf`
//!   does not expose those flags to the compositor. weft does not deinterlace, and linux-dmabuf
//!   advises rejecting what it cannot show well, so the guard answers them like an import failure:
//!   `failed` for `create`, `invalid_wl_buffer` for `create_immed` (smithay's choice for failed
//!   immediate imports, which the spec allows).
//! - a memfd sealed against writing (`F_SEAL_WRITE`/`F_SEAL_FUTURE_WRITE`) cannot be mapped shared
//!   and writable, which is how Vulkan imports a dma-buf fd; lavapipe refuses the import *and closes
//!   the fd it was given*, so weft's own close of that dup after the failed import was a double close
//!   (Rust aborts the process on it: found by the wire fuzzer, `tests/wire_fuzz.rs`). Such a buffer
//!   can never be imported, and a real dma-buf never carries seals, so the guard answers it like an
//!   import failure too, before any import is tried.
//!
//! - every default-feedback object is kept in a list (to resend a changed default feedback), and an
//!   entry leaves it only on the object's `destroy` request: a client that dies holding one (most
//!   do) leaves its entry behind for the compositor's lifetime, some 60 bytes per client (found by
//!   the soak, `tests/soak.rs`: +5 MiB after 4·10⁴ clients). weft's default feedback never changes,
//!   so once it is given ([`DmabufGuardData::set_default_feedback`]) the guard answers
//!   `get_default_feedback` itself with a [`DefaultFeedback`] object that nothing lists.
//!
//! State machine per params object: `add`* (recorded here, nothing forwarded) → `create` or
//! `create_immed` (validated; then the planes are replayed to smithay in index order and the create
//! is forwarded) → used. `destroy` is forwarded at any time.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::reexports::wayland_protocols::wp::linux_dmabuf::zv1::server::zwp_linux_buffer_params_v1::{
    self, Error as ParamsError, ZwpLinuxBufferParamsV1,
};
use smithay::reexports::wayland_server::backend::{ClientId, ObjectId};
use smithay::reexports::wayland_server::protocol::wl_buffer;
use smithay::reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle, Resource, WEnum};
use smithay::wayland::buffer::BufferHandler;
use smithay::reexports::wayland_protocols::wp::linux_dmabuf::zv1::server::{
    zwp_linux_dmabuf_feedback_v1::{self, ZwpLinuxDmabufFeedbackV1},
    zwp_linux_dmabuf_v1::{self, ZwpLinuxDmabufV1},
};
use smithay::wayland::dmabuf::{
    DmabufData, DmabufFeedback, DmabufFeedbackData, DmabufHandler, DmabufParamsData, DmabufState,
};

use crate::drm_format::{self, PlaneLayout, MOD_INVALID, MOD_LINEAR};

/// KMS ADDFB2 and wlroots both cap a buffer at 4 planes; so does smithay.
pub const MAX_PLANES: u32 = 4;
/// The flag bits linux-dmabuf defines: y_invert | interlaced | bottom_first.
const KNOWN_FLAGS: u32 = 0b111;
/// interlaced | bottom_first.
const INTERLACED: u32 = 0b110;

fn interlaced(flags: &WEnum<zwp_linux_buffer_params_v1::Flags>) -> bool {
    let bits = match flags {
        WEnum::Value(f) => f.bits(),
        WEnum::Unknown(u) => *u,
    };
    bits & INTERLACED != 0
}

/// One params object's state: the planes added so far (each with its payload: the fd in the
/// compositor, nothing in the fuzz targets) and whether `create`/`create_immed` was issued. Pure:
/// the Dispatch impl below and `fuzz/fuzz_targets/dmabuf_params.rs` drive the same code.
#[derive(Debug)]
pub struct ParamsShadow<F> {
    used: bool,
    planes: Vec<(PlaneParams, F)>,
}

impl<F> Default for ParamsShadow<F> {
    fn default() -> Self {
        Self {
            used: false,
            planes: Vec::new(),
        }
    }
}

impl<F> ParamsShadow<F> {
    /// `add`: checks the request against the planes so far ([`check_add`]) and records the plane.
    pub fn add(&mut self, plane: PlaneParams, payload: F, version: u32) -> Result<(), Violation> {
        check_add(
            self.used,
            self.planes.iter().map(|(p, _)| p),
            plane.idx,
            plane.modifier,
            version,
        )?;
        self.planes.push((plane, payload));
        Ok(())
    }

    /// `create`/`create_immed`: marks the object used (even when the request is refused, as the
    /// spec's `already_used` wants) and validates it ([`validate_create`]); on success returns
    /// the planes sorted by index, to be replayed to smithay in that order.
    pub fn create(
        &mut self,
        req: &CreateRequest,
        advertised: &HashMap<(u32, u64), usize>,
    ) -> Result<Vec<(PlaneParams, F)>, Violation> {
        if self.used {
            return Err(violation(
                ParamsError::AlreadyUsed,
                "the params object was already used to create a buffer",
            ));
        }
        self.used = true;
        let mut planes = std::mem::take(&mut self.planes);
        planes.sort_by_key(|(p, _)| p.idx);
        let seen: Vec<PlaneParams> = planes.iter().map(|(p, _)| *p).collect();
        validate_create(req, &seen, advertised)?;
        Ok(planes)
    }
}

/// Checks an `add` of plane `plane_idx` with `modifier` against the planes already `added` (in
/// arrival order) to a params object that was `used` or not, in the order: already used, plane
/// index, plane set, mixed modifiers (v5).
pub fn check_add<'a>(
    used: bool,
    added: impl IntoIterator<Item = &'a PlaneParams>,
    plane_idx: u32,
    modifier: u64,
    version: u32,
) -> Result<(), Violation> {
    if used {
        return Err(violation(ParamsError::AlreadyUsed, "add after create"));
    }
    if plane_idx >= MAX_PLANES {
        return Err(violation(
            ParamsError::PlaneIdx,
            format!("plane index {plane_idx} is not below {MAX_PLANES}"),
        ));
    }
    let added: Vec<&PlaneParams> = added.into_iter().collect();
    if added.iter().any(|p| p.idx == plane_idx) {
        return Err(violation(
            ParamsError::PlaneSet,
            format!("plane {plane_idx} was already added"),
        ));
    }
    if let Some(first) = added.first() {
        // v5: every plane carries the same modifier.
        if version >= 5 && first.modifier != modifier {
            return Err(violation(
                ParamsError::InvalidFormat,
                format!(
                    "plane {plane_idx} has modifier {}, plane {} has {}",
                    drm_format::modifier_str(modifier),
                    first.idx,
                    drm_format::modifier_str(first.modifier)
                ),
            ));
        }
    }
    Ok(())
}

/// What the guard knows: the advertised (format, modifier) pairs with their plane counts, and the
/// planes of every params object not yet used.
#[derive(Debug, Default)]
pub struct DmabufGuardData {
    advertised: HashMap<(u32, u64), usize>,
    params: HashMap<ObjectId, ParamsShadow<OwnedFd>>,
    /// The default feedback, when it never changes: the guard then serves default-feedback objects.
    default_feedback: Option<DmabufFeedback>,
}

impl DmabufGuardData {
    /// `advertised`: every (fourcc, modifier) pair in the feedback, with the plane count a buffer of
    /// that pair has (for explicit modifiers, the driver's `drmFormatModifierPlaneCount`).
    pub fn new(advertised: impl IntoIterator<Item = ((u32, u64), usize)>) -> Self {
        Self {
            advertised: advertised.into_iter().collect(),
            params: HashMap::new(),
            default_feedback: None,
        }
    }

    /// The compositor's default feedback, which it promises never to change (no
    /// `DmabufState::update_default_feedback`): from now on `get_default_feedback` is answered by
    /// the guard, with objects smithay does not keep a list of.
    pub fn set_default_feedback(&mut self, feedback: DmabufFeedback) {
        self.default_feedback = Some(feedback);
    }

    /// The advertised (fourcc, modifier) pairs with their plane counts.
    pub fn advertised(&self) -> &HashMap<(u32, u64), usize> {
        &self.advertised
    }

    fn shadow(&mut self, id: ObjectId) -> &mut ParamsShadow<OwnedFd> {
        self.params.entry(id).or_default()
    }
}

/// Access to the guard's data in the compositor state.
pub trait DmabufGuardState {
    fn dmabuf_guard(&mut self) -> &mut DmabufGuardData;
}

/// A params error with its message.
pub type Violation = crate::Violation<ParamsError>;

fn violation(error: ParamsError, message: impl Into<String>) -> Violation {
    Violation::new(error, message)
}

/// What `create`/`create_immed` is asked to build, for [`validate_create`].
#[derive(Debug, Clone, Copy)]
pub struct CreateRequest {
    pub width: i32,
    pub height: i32,
    pub format: u32,
    pub flags: u32,
    pub version: u32,
}

/// A plane as [`validate_create`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct PlaneParams {
    pub idx: u32,
    pub offset: u32,
    pub stride: u32,
    pub modifier: u64,
    pub size: Option<u64>,
}

/// Checks a create request against the added planes, in the order: dimensions, flags, format,
/// plane set, modifier, plane count, bounds. Pure, so the table-driven unit tests below cover it.
pub fn validate_create(
    req: &CreateRequest,
    planes: &[PlaneParams],
    advertised: &HashMap<(u32, u64), usize>,
) -> Result<(), Violation> {
    if req.width < 1 || req.height < 1 {
        return Err(violation(
            ParamsError::InvalidDimensions,
            format!("{}x{} is not a valid buffer size", req.width, req.height),
        ));
    }
    if req.flags & !KNOWN_FLAGS != 0 {
        return Err(violation(
            ParamsError::InvalidFormat,
            format!("unknown flags {:#x}", req.flags),
        ));
    }
    let name = drm_format::fourcc_str(req.format);
    if !advertised.keys().any(|(f, _)| *f == req.format) {
        return Err(violation(
            ParamsError::InvalidFormat,
            format!("format {name} is not supported"),
        ));
    }
    let Some(first) = planes.first() else {
        return Err(violation(ParamsError::Incomplete, "no planes were added"));
    };
    let mut indices: Vec<u32> = planes.iter().map(|p| p.idx).collect();
    indices.sort_unstable();
    if indices.iter().enumerate().any(|(i, idx)| *idx != i as u32) {
        return Err(violation(
            ParamsError::Incomplete,
            format!("plane indices {indices:?} leave a gap"),
        ));
    }
    let modifier = first.modifier;
    let Some(&count) = advertised.get(&(req.format, modifier)) else {
        // v4 made a pair that was never advertised a protocol error; older clients never saw the
        // pairs, so for them it is only an import that cannot work (answered with `failed`).
        if req.version >= 4 {
            return Err(violation(
                ParamsError::InvalidFormat,
                format!(
                    "{name} with modifier {} was not advertised",
                    drm_format::modifier_str(modifier)
                ),
            ));
        }
        return Ok(());
    };
    if planes.len() != count {
        return Err(violation(
            ParamsError::Incomplete,
            format!(
                "{name} with this modifier has {count} planes, {} were added",
                planes.len()
            ),
        ));
    }
    let (w, h) = (req.width as u32, req.height as u32);
    // The format table describes the layout only for linear and implicit buffers; an explicit
    // modifier may tile, compress or add metadata planes, so only the generic checks apply.
    let layouts = drm_format::info(req.format)
        .filter(|_| modifier == MOD_LINEAR || modifier == MOD_INVALID)
        .map(|f| f.planes);
    for p in planes {
        let layout = layouts.and_then(|l| l.get(p.idx as usize));
        check_plane_bounds(p, layout, w, h)?;
    }
    Ok(())
}

/// `out_of_bounds` checks of one plane, overflow-safe: all arithmetic is done in u64 and a result
/// past `u32::MAX` is itself out of bounds (the spec's "32-bit overflow of offset+stride*height").
pub fn check_plane_bounds(
    p: &PlaneParams,
    layout: Option<&PlaneLayout>,
    width: u32,
    height: u32,
) -> Result<(), Violation> {
    let oob = |m: String| {
        Err(violation(
            ParamsError::OutOfBounds,
            format!("plane {}: {m}", p.idx),
        ))
    };
    if p.stride == 0 {
        return oob("stride is 0".into());
    }
    let (offset, stride) = (u64::from(p.offset), u64::from(p.stride));
    // Rows of this plane: subsampled for chroma planes when the layout is known; plane 0 always has
    // `height` rows; an unknown later plane gets the generic single-row checks only.
    let rows = match layout {
        Some(l) => {
            let (samples, rows) = l.extent(width, height);
            let row_bytes = u64::from(samples) * u64::from(l.bytes_per_sample);
            if stride < row_bytes {
                return oob(format!(
                    "stride {stride} is shorter than a row ({row_bytes} bytes)"
                ));
            }
            u64::from(rows)
        }
        None if p.idx == 0 => u64::from(height),
        None => 1,
    };
    let end_first_row = offset + stride;
    let end = offset + stride * rows;
    if end_first_row > u64::from(u32::MAX) || end > u64::from(u32::MAX) {
        return oob(format!(
            "offset {offset} + stride {stride} × {rows} rows overflows 32 bits"
        ));
    }
    if let Some(size) = p.size {
        if offset >= size {
            return oob(format!(
                "offset {offset} is past the end of the {size}-byte dma-buf"
            ));
        }
        if end > size {
            return oob(format!(
                "offset {offset} + stride {stride} × {rows} rows = {end} is past the end of the {size}-byte dma-buf"
            ));
        }
    }
    Ok(())
}

/// Why a plane's fd can never be imported, if it cannot: a memfd sealed against writing (a dma-buf
/// import maps the fd shared and writable, which such a seal forbids).
pub fn unimportable(fd: BorrowedFd<'_>) -> Option<&'static str> {
    use smithay::reexports::rustix::fs::{fcntl_get_seals, SealFlags};
    let seals = fcntl_get_seals(fd).ok()?;
    seals
        .intersects(SealFlags::WRITE | SealFlags::FUTURE_WRITE)
        .then_some("a memfd sealed against writing cannot be imported as a dma-buf")
}

/// `lseek(fd, 0, SEEK_END)`, restoring the position; `None` when the fd cannot seek.
fn dmabuf_size(fd: &OwnedFd) -> Option<u64> {
    use smithay::reexports::rustix::fs::{seek, SeekFrom};
    let size = seek(fd, SeekFrom::End(0)).ok()?;
    let _ = seek(fd, SeekFrom::Start(0));
    Some(size)
}

/// Dispatches params requests: validates, then delegates to [`DmabufState`]; and serves
/// `get_default_feedback` once the default feedback is known to be fixed.
pub struct DmabufGuard;

/// A default-feedback object served by the guard (see the module docs): it only has `destroy`.
#[derive(Debug)]
pub struct DefaultFeedback;

impl<D> Dispatch<ZwpLinuxDmabufV1, DmabufData, D> for DmabufGuard
where
    D: Dispatch<ZwpLinuxDmabufV1, DmabufData>
        + Dispatch<ZwpLinuxBufferParamsV1, DmabufParamsData>
        + Dispatch<ZwpLinuxDmabufFeedbackV1, DmabufFeedbackData>
        + Dispatch<ZwpLinuxDmabufFeedbackV1, DefaultFeedback>
        + DmabufHandler
        + DmabufGuardState
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        resource: &ZwpLinuxDmabufV1,
        request: zwp_linux_dmabuf_v1::Request,
        data: &DmabufData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        match (request, state.dmabuf_guard().default_feedback.clone()) {
            (zwp_linux_dmabuf_v1::Request::GetDefaultFeedback { id }, Some(feedback)) => {
                feedback.send(&data_init.init(id, DefaultFeedback));
            }
            (request, _) => <DmabufState as Dispatch<ZwpLinuxDmabufV1, DmabufData, D>>::request(
                state, client, resource, request, data, dh, data_init,
            ),
        }
    }
}

impl<D> Dispatch<ZwpLinuxDmabufFeedbackV1, DefaultFeedback, D> for DmabufGuard
where
    D: Dispatch<ZwpLinuxDmabufFeedbackV1, DefaultFeedback> + 'static,
{
    fn request(
        _: &mut D,
        _: &Client,
        _: &ZwpLinuxDmabufFeedbackV1,
        _: zwp_linux_dmabuf_feedback_v1::Request,
        _: &DefaultFeedback,
        _: &DisplayHandle,
        _: &mut DataInit<'_, D>,
    ) {
        // `destroy` is the only request, and wayland-server destroys the object itself.
    }
}

impl<D> Dispatch<ZwpLinuxBufferParamsV1, DmabufParamsData, D> for DmabufGuard
where
    D: Dispatch<ZwpLinuxBufferParamsV1, DmabufParamsData>
        + Dispatch<wl_buffer::WlBuffer, Dmabuf>
        + BufferHandler
        + DmabufHandler
        + DmabufGuardState
        + 'static,
{
    fn request(
        state: &mut D,
        client: &Client,
        params: &ZwpLinuxBufferParamsV1,
        request: zwp_linux_buffer_params_v1::Request,
        data: &DmabufParamsData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        use zwp_linux_buffer_params_v1::Request;
        let forward = |state: &mut D, request: Request, data_init: &mut DataInit<'_, D>| {
            <DmabufState as Dispatch<ZwpLinuxBufferParamsV1, DmabufParamsData, D>>::request(
                state, client, params, request, data, dh, data_init,
            )
        };
        let post = |v: Violation| params.post_error(v.error, v.message);
        match request {
            Request::Destroy => {
                state.dmabuf_guard().params.remove(&params.id());
                forward(state, Request::Destroy, data_init);
            }
            Request::Add {
                fd,
                plane_idx,
                offset,
                stride,
                modifier_hi,
                modifier_lo,
            } => {
                let modifier = (u64::from(modifier_hi) << 32) | u64::from(modifier_lo);
                let plane = PlaneParams {
                    idx: plane_idx,
                    offset,
                    stride,
                    modifier,
                    size: dmabuf_size(&fd),
                };
                let version = params.version();
                if let Err(v) = state
                    .dmabuf_guard()
                    .shadow(params.id())
                    .add(plane, fd, version)
                {
                    post(v);
                }
            }
            Request::Create {
                width,
                height,
                format,
                flags,
            } => {
                let Some(planes) = take_validated(state, params, width, height, format, &flags)
                else {
                    return;
                };
                if interlaced(&flags) || refusal(&planes).is_some() {
                    params.failed();
                    return;
                }
                replay_planes(state, planes, |s, r| forward(s, r, data_init));
                forward(
                    state,
                    Request::Create {
                        width,
                        height,
                        format,
                        flags,
                    },
                    data_init,
                );
            }
            Request::CreateImmed {
                buffer_id,
                width,
                height,
                format,
                flags,
            } => {
                let Some(planes) = take_validated(state, params, width, height, format, &flags)
                else {
                    return;
                };
                let refused = if interlaced(&flags) {
                    Some("interlaced buffers are not supported")
                } else {
                    refusal(&planes)
                };
                if let Some(why) = refused {
                    params.post_error(ParamsError::InvalidWlBuffer, why);
                    return;
                }
                replay_planes(state, planes, |s, r| forward(s, r, data_init));
                forward(
                    state,
                    Request::CreateImmed {
                        buffer_id,
                        width,
                        height,
                        format,
                        flags,
                    },
                    data_init,
                );
            }
            other => forward(state, other, data_init),
        }
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        params: &ZwpLinuxBufferParamsV1,
        data: &DmabufParamsData,
    ) {
        state.dmabuf_guard().params.remove(&params.id());
        <DmabufState as Dispatch<ZwpLinuxBufferParamsV1, DmabufParamsData, D>>::destroyed(
            state, client, params, data,
        )
    }
}

/// Marks the params used and validates the create; on success returns the planes sorted by index.
/// On a violation the error is posted and `None` returned.
fn take_validated<D: DmabufGuardState>(
    state: &mut D,
    params: &ZwpLinuxBufferParamsV1,
    width: i32,
    height: i32,
    format: u32,
    flags: &WEnum<zwp_linux_buffer_params_v1::Flags>,
) -> Option<Vec<(PlaneParams, OwnedFd)>> {
    let flags = match flags {
        WEnum::Value(f) => f.bits(),
        WEnum::Unknown(u) => *u,
    };
    let req = CreateRequest {
        width,
        height,
        format,
        flags,
        version: params.version(),
    };
    let guard = state.dmabuf_guard();
    let shadow = guard.params.entry(params.id()).or_default();
    match shadow.create(&req, &guard.advertised) {
        Ok(planes) => Some(planes),
        Err(v) => {
            params.post_error(v.error, v.message);
            None
        }
    }
}

/// The first reason one of `planes` can never be imported ([`unimportable`]).
fn refusal(planes: &[(PlaneParams, OwnedFd)]) -> Option<&'static str> {
    planes.iter().find_map(|(_, fd)| unimportable(fd.as_fd()))
}

/// Hands the validated planes to smithay in index order (smithay numbers planes by arrival).
fn replay_planes<D>(
    state: &mut D,
    planes: Vec<(PlaneParams, OwnedFd)>,
    mut forward: impl FnMut(&mut D, zwp_linux_buffer_params_v1::Request),
) {
    for (p, fd) in planes {
        forward(
            state,
            zwp_linux_buffer_params_v1::Request::Add {
                fd,
                plane_idx: p.idx,
                offset: p.offset,
                stride: p.stride,
                modifier_hi: (p.modifier >> 32) as u32,
                modifier_lo: p.modifier as u32,
            },
        );
    }
}

/// Like smithay's `delegate_dmabuf!`, with the global's requests and the params object routed
/// through [`DmabufGuard`], and the guard's [`DefaultFeedback`] objects.
#[macro_export]
macro_rules! delegate_dmabuf_guarded {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::linux_dmabuf::zv1::server::zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1: smithay::wayland::dmabuf::DmabufGlobalData
        ] => smithay::wayland::dmabuf::DmabufState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::linux_dmabuf::zv1::server::zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1: smithay::wayland::dmabuf::DmabufData
        ] => $crate::dmabuf_guard::DmabufGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::linux_dmabuf::zv1::server::zwp_linux_dmabuf_feedback_v1::ZwpLinuxDmabufFeedbackV1: $crate::dmabuf_guard::DefaultFeedback
        ] => $crate::dmabuf_guard::DmabufGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::linux_dmabuf::zv1::server::zwp_linux_buffer_params_v1::ZwpLinuxBufferParamsV1: smithay::wayland::dmabuf::DmabufParamsData
        ] => $crate::dmabuf_guard::DmabufGuard);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer: smithay::backend::allocator::dmabuf::Dmabuf
        ] => smithay::wayland::dmabuf::DmabufState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::linux_dmabuf::zv1::server::zwp_linux_dmabuf_feedback_v1::ZwpLinuxDmabufFeedbackV1: smithay::wayland::dmabuf::DmabufFeedbackData
        ] => smithay::wayland::dmabuf::DmabufState);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drm_format::{ARGB8888, NV12, YUV420};

    fn advertised() -> HashMap<(u32, u64), usize> {
        [
            ((ARGB8888, MOD_LINEAR), 1),
            ((NV12, MOD_LINEAR), 2),
            ((YUV420, MOD_LINEAR), 3),
            ((NV12, 0x0100_0000_0000_0001), 3),
        ]
        .into_iter()
        .collect()
    }

    fn req(format: u32, w: i32, h: i32) -> CreateRequest {
        CreateRequest {
            width: w,
            height: h,
            format,
            flags: 0,
            version: 5,
        }
    }

    fn plane(idx: u32, offset: u32, stride: u32, size: u64) -> PlaneParams {
        PlaneParams {
            idx,
            offset,
            stride,
            modifier: MOD_LINEAR,
            size: Some(size),
        }
    }

    #[test]
    fn create_violations_table() {
        let a = advertised();
        let nv12_ok = [plane(0, 0, 64, 64 * 48), plane(1, 64 * 32, 64, 64 * 48)];
        let cases: Vec<(&str, CreateRequest, Vec<PlaneParams>, Option<ParamsError>)> = vec![
            (
                "valid argb",
                req(ARGB8888, 16, 16),
                vec![plane(0, 0, 64, 1024)],
                None,
            ),
            ("valid nv12", req(NV12, 64, 32), nv12_ok.to_vec(), None),
            (
                "zero width",
                req(ARGB8888, 0, 16),
                vec![plane(0, 0, 64, 1024)],
                Some(ParamsError::InvalidDimensions),
            ),
            (
                "negative height",
                req(ARGB8888, 16, -1),
                vec![plane(0, 0, 64, 1024)],
                Some(ParamsError::InvalidDimensions),
            ),
            (
                "unknown format",
                req(0x1234_5678, 16, 16),
                vec![plane(0, 0, 64, 1024)],
                Some(ParamsError::InvalidFormat),
            ),
            (
                "unknown flags",
                CreateRequest {
                    flags: 8,
                    ..req(ARGB8888, 16, 16)
                },
                vec![plane(0, 0, 64, 1024)],
                Some(ParamsError::InvalidFormat),
            ),
            (
                "no planes",
                req(ARGB8888, 16, 16),
                vec![],
                Some(ParamsError::Incomplete),
            ),
            (
                "plane 0 missing",
                req(NV12, 64, 32),
                vec![plane(1, 0, 64, 4096)],
                Some(ParamsError::Incomplete),
            ),
            (
                "nv12 one plane",
                req(NV12, 64, 32),
                vec![plane(0, 0, 64, 4096)],
                Some(ParamsError::Incomplete),
            ),
            (
                "argb two planes",
                req(ARGB8888, 16, 16),
                vec![plane(0, 0, 64, 4096), plane(1, 1024, 64, 4096)],
                Some(ParamsError::Incomplete),
            ),
            (
                "not advertised modifier",
                req(ARGB8888, 16, 16),
                vec![PlaneParams {
                    modifier: 7,
                    ..plane(0, 0, 64, 1024)
                }],
                Some(ParamsError::InvalidFormat),
            ),
            (
                "stride 0",
                req(ARGB8888, 16, 16),
                vec![plane(0, 0, 0, 1024)],
                Some(ParamsError::OutOfBounds),
            ),
            (
                "short stride",
                req(ARGB8888, 16, 16),
                vec![plane(0, 0, 32, 1024)],
                Some(ParamsError::OutOfBounds),
            ),
            (
                "too small",
                req(ARGB8888, 16, 16),
                vec![plane(0, 0, 64, 1023)],
                Some(ParamsError::OutOfBounds),
            ),
            (
                "offset past end",
                req(ARGB8888, 1, 1),
                vec![plane(0, 4096, 4, 4096)],
                Some(ParamsError::OutOfBounds),
            ),
            (
                "32-bit overflow",
                req(ARGB8888, 16, 16),
                vec![PlaneParams {
                    size: None,
                    ..plane(0, u32::MAX - 8, 64, 0)
                }],
                Some(ParamsError::OutOfBounds),
            ),
            (
                "stride × height overflow",
                req(ARGB8888, 16, 0x0100_0000),
                vec![PlaneParams {
                    size: None,
                    ..plane(0, 0, 0x1000, 0)
                }],
                Some(ParamsError::OutOfBounds),
            ),
            (
                // The chroma plane has ceil(32/2) = 16 rows: 64 × 16 bytes from offset 2048 need 3072.
                "subsampled chroma past end",
                req(NV12, 64, 32),
                vec![plane(0, 0, 64, 3071), plane(1, 2048, 64, 3071)],
                Some(ParamsError::OutOfBounds),
            ),
            (
                "third plane past end",
                req(YUV420, 64, 32),
                vec![
                    plane(0, 0, 64, 3000),
                    plane(1, 2048, 32, 3000),
                    plane(2, 2600, 32, 3000),
                ],
                Some(ParamsError::OutOfBounds),
            ),
            (
                "unseekable fd skips size checks",
                req(ARGB8888, 16, 16),
                vec![PlaneParams {
                    size: None,
                    ..plane(0, 0, 64, 0)
                }],
                None,
            ),
        ];
        for (name, r, planes, want) in cases {
            let got = validate_create(&r, &planes, &a).err().map(|v| v.error);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn explicit_modifier_plane_count_comes_from_the_table() {
        let a = advertised();
        let m = 0x0100_0000_0000_0001;
        let planes: Vec<PlaneParams> = (0..2)
            .map(|i| PlaneParams {
                modifier: m,
                ..plane(i, i * 4096, 64, 16384)
            })
            .collect();
        let got = validate_create(&req(NV12, 64, 32), &planes, &a)
            .err()
            .map(|v| v.error);
        assert_eq!(got, Some(ParamsError::Incomplete));
        let planes: Vec<PlaneParams> = (0..3)
            .map(|i| PlaneParams {
                modifier: m,
                ..plane(i, i * 4096, 64, 16384)
            })
            .collect();
        assert!(validate_create(&req(NV12, 64, 32), &planes, &a).is_ok());
    }

    #[test]
    fn old_clients_get_no_error_for_unadvertised_modifiers() {
        let a = advertised();
        let r = CreateRequest {
            version: 3,
            ..req(ARGB8888, 16, 16)
        };
        let p = [PlaneParams {
            modifier: 7,
            ..plane(0, 0, 64, 1024)
        }];
        assert!(validate_create(&r, &p, &a).is_ok());
    }

    #[test]
    fn add_violations_table() {
        let p0 = plane(0, 0, 64, 1024);
        /// (name, used, planes added, plane index, modifier, version, expected error)
        type AddCase = (
            &'static str,
            bool,
            Vec<PlaneParams>,
            u32,
            u64,
            u32,
            Option<ParamsError>,
        );
        let cases: Vec<AddCase> = vec![
            ("first plane", false, vec![], 0, MOD_LINEAR, 5, None),
            ("second plane", false, vec![p0], 1, MOD_LINEAR, 5, None),
            (
                "after create",
                true,
                vec![],
                0,
                MOD_LINEAR,
                5,
                Some(ParamsError::AlreadyUsed),
            ),
            (
                "index 4",
                false,
                vec![],
                4,
                MOD_LINEAR,
                5,
                Some(ParamsError::PlaneIdx),
            ),
            (
                "index u32::MAX",
                false,
                vec![],
                u32::MAX,
                0,
                5,
                Some(ParamsError::PlaneIdx),
            ),
            (
                "twice",
                false,
                vec![p0],
                0,
                MOD_LINEAR,
                5,
                Some(ParamsError::PlaneSet),
            ),
            (
                "mixed modifiers v5",
                false,
                vec![p0],
                1,
                7,
                5,
                Some(ParamsError::InvalidFormat),
            ),
            ("mixed modifiers v4", false, vec![p0], 1, 7, 4, None),
        ];
        for (name, used, added, idx, modifier, version, want) in cases {
            let got = check_add(used, &added, idx, modifier, version)
                .err()
                .map(|v| v.error);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn a_params_object_is_single_use_and_replays_in_index_order() {
        let a = advertised();
        let mut shadow = ParamsShadow::default();
        shadow.add(plane(1, 2048, 64, 4096), "chroma", 5).unwrap();
        shadow.add(plane(0, 0, 64, 4096), "luma", 5).unwrap();
        let planes = shadow.create(&req(NV12, 64, 32), &a).unwrap();
        let order: Vec<_> = planes.iter().map(|(p, f)| (p.idx, *f)).collect();
        assert_eq!(order, [(0, "luma"), (1, "chroma")]);
        let again = shadow.create(&req(NV12, 64, 32), &a).unwrap_err();
        assert_eq!(again.error, ParamsError::AlreadyUsed);
        let add = shadow.add(plane(2, 0, 64, 4096), "late", 5).unwrap_err();
        assert_eq!(add.error, ParamsError::AlreadyUsed);
        // A refused create uses the object up too.
        let mut bad = ParamsShadow::<()>::default();
        assert_eq!(
            bad.create(&req(ARGB8888, 0, 1), &a).unwrap_err().error,
            ParamsError::InvalidDimensions
        );
        assert_eq!(
            bad.create(&req(ARGB8888, 1, 1), &a).unwrap_err().error,
            ParamsError::AlreadyUsed
        );
    }

    #[test]
    fn write_sealed_memfds_are_unimportable() {
        use smithay::reexports::rustix::fs::{
            fcntl_add_seals, ftruncate, memfd_create, MemfdFlags, SealFlags,
        };
        let memfd = || {
            let fd =
                memfd_create("weft-test", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING).unwrap();
            ftruncate(&fd, 4096).unwrap();
            fd
        };
        let shrink = memfd();
        fcntl_add_seals(&shrink, SealFlags::SHRINK).unwrap();
        assert_eq!(unimportable(shrink.as_fd()), None);
        let plain = memfd();
        assert_eq!(unimportable(plain.as_fd()), None);
        for seal in [SealFlags::WRITE, SealFlags::FUTURE_WRITE] {
            let sealed = memfd();
            fcntl_add_seals(&sealed, SealFlags::SHRINK | seal).unwrap();
            assert!(unimportable(sealed.as_fd()).is_some(), "{seal:?}");
        }
    }
}
