//! Capture sources (`ext_image_capture_source_v1`): an output (`ext_output_image_capture_source_
//! manager_v1`) or a window from the foreign-toplevel list
//! (`ext_foreign_toplevel_image_capture_source_manager_v1`). A source is opaque to its client; it
//! names what an `ext_image_copy_capture` session captures. Both managers read other clients'
//! pixels: sandboxed clients are not offered them ([`crate::runtime::security`]).

use smithay::output::Output;
use smithay::reexports::wayland_protocols::ext::image_capture_source::v1::server::{
    ext_foreign_toplevel_image_capture_source_manager_v1::{
        self, ExtForeignToplevelImageCaptureSourceManagerV1,
    },
    ext_image_capture_source_v1::{self, ExtImageCaptureSourceV1},
    ext_output_image_capture_source_manager_v1::{self, ExtOutputImageCaptureSourceManagerV1},
};
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New,
};
use smithay::utils::{Physical, Size};
use smithay::wayland::foreign_toplevel_list::ForeignToplevelHandle;

use crate::Weft;

/// What a source names.
#[derive(Debug, Clone)]
pub enum Source {
    Output(Output),
    /// A window, by its foreign-toplevel identifier.
    Window(String),
    /// The cursor over `Source` (a cursor session's capture session).
    Cursor(Box<Source>),
    /// A toplevel handle that was already closed: nothing to capture.
    Gone,
}

/// The globals' data: who may see them.
pub struct SourceGlobal;

pub(crate) fn create_globals(dh: &DisplayHandle) {
    dh.create_global::<Weft, ExtOutputImageCaptureSourceManagerV1, _>(1, SourceGlobal);
    dh.create_global::<Weft, ExtForeignToplevelImageCaptureSourceManagerV1, _>(1, SourceGlobal);
}

impl GlobalDispatch<ExtOutputImageCaptureSourceManagerV1, SourceGlobal> for Weft {
    fn bind(
        _: &mut Self,
        _: &DisplayHandle,
        _: &Client,
        resource: New<ExtOutputImageCaptureSourceManagerV1>,
        _: &SourceGlobal,
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, _: &SourceGlobal) -> bool {
        crate::runtime::security::may_see_others(&client)
    }
}

impl GlobalDispatch<ExtForeignToplevelImageCaptureSourceManagerV1, SourceGlobal> for Weft {
    fn bind(
        _: &mut Self,
        _: &DisplayHandle,
        _: &Client,
        resource: New<ExtForeignToplevelImageCaptureSourceManagerV1>,
        _: &SourceGlobal,
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, _: &SourceGlobal) -> bool {
        crate::runtime::security::may_see_others(&client)
    }
}

impl Dispatch<ExtOutputImageCaptureSourceManagerV1, ()> for Weft {
    fn request(
        _: &mut Self,
        _: &Client,
        _: &ExtOutputImageCaptureSourceManagerV1,
        request: ext_output_image_capture_source_manager_v1::Request,
        _: &(),
        _: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let ext_output_image_capture_source_manager_v1::Request::CreateSource {
            source,
            output,
        } = request
        {
            let named = Output::from_resource(&output).map_or(Source::Gone, Source::Output);
            data_init.init(source, named);
        }
    }
}

impl Dispatch<ExtForeignToplevelImageCaptureSourceManagerV1, ()> for Weft {
    fn request(
        _: &mut Self,
        _: &Client,
        _: &ExtForeignToplevelImageCaptureSourceManagerV1,
        request: ext_foreign_toplevel_image_capture_source_manager_v1::Request,
        _: &(),
        _: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let ext_foreign_toplevel_image_capture_source_manager_v1::Request::CreateSource {
            source,
            toplevel_handle,
        } = request
        {
            let named = ForeignToplevelHandle::from_resource(&toplevel_handle)
                .filter(|h| !h.is_closed())
                .map_or(Source::Gone, |h| Source::Window(h.identifier()));
            data_init.init(source, named);
        }
    }
}

impl Dispatch<ExtImageCaptureSourceV1, Source> for Weft {
    fn request(
        _: &mut Self,
        _: &Client,
        _: &ExtImageCaptureSourceV1,
        _: ext_image_capture_source_v1::Request,
        _: &Source,
        _: &DisplayHandle,
        _: &mut DataInit<'_, Self>,
    ) {
        // destroy only: a session made from it keeps its own copy.
    }
}

impl Weft {
    /// What `source` captures now, and its size in buffer pixels; `None` when it is gone (an
    /// output unplugged, a window closed).
    pub(crate) fn resolve_source(
        &self,
        source: &Source,
    ) -> Option<(super::Target, Size<i32, Physical>)> {
        match source {
            Source::Output(output) => {
                let slot = self.outputs.slots.iter().find(|s| &s.output == output)?;
                let size = Size::from((slot.spec.width as i32, slot.spec.height as i32));
                Some((
                    super::Target::Output {
                        name: slot.name(),
                        region: smithay::utils::Rectangle::from_size(size),
                    },
                    size,
                ))
            }
            Source::Window(id) => {
                let window = self.window_by_identifier(id)?;
                let size = window.geometry().size;
                (size.w > 0 && size.h > 0).then(|| {
                    (
                        super::Target::Window(id.clone()),
                        Size::from((size.w, size.h)),
                    )
                })
            }
            Source::Cursor(over) => {
                self.resolve_source(over)?;
                let size = self.cursor_size()?;
                Some((super::Target::Cursor, size))
            }
            Source::Gone => None,
        }
    }
}
