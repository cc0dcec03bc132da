//! wp_color_representation_manager_v1 / wp_color_representation_surface_v1 requests, and the
//! commit-time check (the state and rules are [`crate::color_representation`]'s). At apply, the
//! surface's matrix and range become the Y′CbCr conversion of its buffers on every rung
//! (`SurfaceContent::yuv`); a surface without one takes the global default
//! (`import-policy --yuv-*`).

use std::cell::RefCell;

use smithay::reexports::wayland_protocols::wp::color_representation::v1::server::{
    wp_color_representation_manager_v1::{self, WpColorRepresentationManagerV1},
    wp_color_representation_surface_v1::{self, WpColorRepresentationSurfaceV1},
};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, Weak,
};
use smithay::wayland::compositor::{
    add_pre_commit_hook, with_states, BufferAssignment, SurfaceAttributes,
};

use crate::color_representation::{
    check_alpha_mode, check_chroma_location, check_coefficients, check_commit, Contents,
    Representation, ALPHA_MODES, SUPPORTED,
};
use crate::Weft;

/// The surface's color representation object, in its data map (`None` once destroyed).
struct Slot(RefCell<Option<WpColorRepresentationSurfaceV1>>);

impl GlobalDispatch<WpColorRepresentationManagerV1, ()> for Weft {
    fn bind(
        _state: &mut Self,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<WpColorRepresentationManagerV1>,
        _data: &(),
        data_init: &mut DataInit<'_, Self>,
    ) {
        let manager = data_init.init(resource, ());
        for mode in ALPHA_MODES {
            manager.supported_alpha_mode(mode);
        }
        for (coefficients, range) in SUPPORTED {
            manager.supported_coefficients_and_ranges(coefficients, range);
        }
        manager.done();
    }
}

impl Dispatch<WpColorRepresentationManagerV1, ()> for Weft {
    fn request(
        _state: &mut Self,
        _client: &Client,
        manager: &WpColorRepresentationManagerV1,
        request: wp_color_representation_manager_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        use wp_color_representation_manager_v1::{Error, Request};
        if let Request::GetSurface { id, surface } = request {
            let exists = with_states(&surface, |states| {
                states
                    .data_map
                    .get::<Slot>()
                    .is_some_and(|s| s.0.borrow().is_some())
            });
            if exists {
                manager.post_error(
                    Error::SurfaceExists,
                    "the surface already has a color representation object",
                );
                return;
            }
            let obj = data_init.init(id, surface.downgrade());
            let first = with_states(&surface, |states| {
                let first = states.data_map.get::<Slot>().is_none();
                let slot = states.data_map.get_or_insert(|| Slot(RefCell::new(None)));
                *slot.0.borrow_mut() = Some(obj);
                first
            });
            if first {
                add_pre_commit_hook::<Weft, _>(&surface, |_, _, surface| pre_commit(surface));
            }
        }
    }
}

/// The kind of contents the surface will have after this commit.
fn contents(surface: &WlSurface) -> Contents {
    let kind = |b: &smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer| {
        if let Ok(d) = smithay::wayland::dmabuf::get_dmabuf(b) {
            use smithay::backend::allocator::Buffer as _;
            let yuv = weft_protocols::drm_format::info(d.format().code as u32).is_some_and(|f| {
                matches!(f.kind, weft_protocols::drm_format::FormatKind::Yuv { .. })
            });
            return if yuv { Contents::Yuv } else { Contents::Rgb };
        }
        // wl_shm (RGB formats only) and single-pixel buffers.
        Contents::Rgb
    };
    with_states(surface, |states| {
        let mut attrs = states.cached_state.get::<SurfaceAttributes>();
        match attrs.pending().buffer.as_ref() {
            Some(BufferAssignment::NewBuffer(b)) => kind(b),
            Some(BufferAssignment::Removed) => Contents::None,
            None => match attrs.current().buffer.as_ref() {
                Some(BufferAssignment::NewBuffer(b)) => kind(b),
                _ => states
                    .data_map
                    .get::<smithay::backend::renderer::utils::RendererSurfaceStateUserData>()
                    .and_then(|rs| rs.lock().ok().and_then(|rs| rs.buffer().map(|b| kind(b))))
                    .unwrap_or(Contents::None),
            },
        }
    })
}

/// wl_surface.commit: the contents and the representation must fit (`pixel_format`).
fn pre_commit(surface: &WlSurface) {
    let (object, representation) = with_states(surface, |states| {
        let object = states
            .data_map
            .get::<Slot>()
            .and_then(|s| s.0.borrow().clone());
        let r = *states.cached_state.get::<Representation>().pending();
        (object, r)
    });
    let Some(object) = object else {
        return;
    };
    if let Err((error, message)) = check_commit(contents(surface), &representation) {
        object.post_error(error, message);
    }
}

/// At apply (the commit handler): the committed matrix and range become the surface's.
pub(super) fn applied(surface: &WlSurface) {
    with_states(surface, |states| {
        let r = *states.cached_state.get::<Representation>().current();
        crate::surface::with_content(states, |c| c.representation = r);
    });
}

impl Dispatch<WpColorRepresentationSurfaceV1, Weak<WlSurface>> for Weft {
    fn request(
        _state: &mut Self,
        _client: &Client,
        resource: &WpColorRepresentationSurfaceV1,
        request: wp_color_representation_surface_v1::Request,
        surface: &Weak<WlSurface>,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, Self>,
    ) {
        use wp_color_representation_surface_v1::{Error, Request};
        let Ok(surface) = surface.upgrade() else {
            if !matches!(request, Request::Destroy) {
                resource.post_error(Error::Inert, "the wl_surface was destroyed");
            }
            return;
        };
        let set = |f: &dyn Fn(&mut Representation)| {
            with_states(&surface, |states| {
                f(states.cached_state.get::<Representation>().pending())
            })
        };
        let checked = match request {
            Request::SetAlphaMode { alpha_mode } => {
                check_alpha_mode(alpha_mode).map(|m| set(&|r| r.alpha_mode = Some(m)))
            }
            Request::SetCoefficientsAndRange {
                coefficients,
                range,
            } => {
                check_coefficients(coefficients, range).map(|c| set(&|r| r.coefficients = Some(c)))
            }
            Request::SetChromaLocation { chroma_location } => {
                check_chroma_location(chroma_location)
                    .map(|l| set(&|r| r.chroma_location = Some(l)))
            }
            Request::Destroy => {
                // Unsets the metadata at the next commit.
                set(&|r| *r = Representation::default());
                with_states(&surface, |states| {
                    if let Some(slot) = states.data_map.get::<Slot>() {
                        *slot.0.borrow_mut() = None;
                    }
                });
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err((error, message)) = checked {
            resource.post_error(error, message);
        }
    }
}
