//! smithay handler impls for [`Weft`]: one file per protocol family that has logic, the plain
//! delegations here.

mod color_representation;
mod compositor;
mod dmabuf;
mod fence_wait;
mod layer_shell;
mod selection;
mod session_lock;
mod sync;
mod syncobj;
mod xdg;

use smithay::input::{Seat, SeatHandler, SeatState};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::output::OutputHandler;
use smithay::wayland::shm::{ShmHandler, ShmState};
use smithay::{
    delegate_output, delegate_presentation, delegate_seat, delegate_single_pixel_buffer,
};

use crate::Weft;

impl BufferHandler for Weft {
    fn buffer_destroyed(&mut self, buffer: &WlBuffer) {
        use smithay::reexports::wayland_server::Resource;
        self.gpu.first_mut().importer.buffer_destroyed(&buffer.id());
        for other in self.gpu.others_mut() {
            other.importer.buffer_destroyed(&buffer.id());
        }
    }
}

impl ShmHandler for Weft {
    fn shm_state(&self) -> &ShmState {
        &self.buffers.shm_state
    }
}

impl weft_protocols::shm_guard::ShmFormats for Weft {
    fn shm_formats(&self) -> &[smithay::reexports::wayland_server::protocol::wl_shm::Format] {
        &self.buffers.shm_formats
    }
}

impl weft_protocols::shm_guard::ShmYcbcr for Weft {
    fn shm_ycbcr_buffer(
        &mut self,
        buffer: smithay::reexports::wayland_server::backend::ObjectId,
        format: smithay::reexports::wayland_server::protocol::wl_shm::Format,
        planes: Vec<weft_protocols::shm_layout::ShmPlane>,
    ) {
        self.gpu
            .first_mut()
            .importer
            .shm_note_ycbcr(buffer, crate::buffers::shm_pixels::Ycbcr { format, planes });
    }
}

impl weft_protocols::shm_guard::ShmPoolBudget for Weft {
    fn shm_pool_wanted(&mut self, client: &smithay::reexports::wayland_server::Client) -> bool {
        let Some(budget) = crate::runtime::client::budget_of(client) else {
            return true;
        };
        match budget.take(crate::budget::Resource::ShmPools, 1) {
            Ok(()) => true,
            Err(over) => {
                crate::budget::end_client(self.runtime.display_handle(), client, &over);
                false
            }
        }
    }

    fn shm_pool_gone(&mut self, client: smithay::reexports::wayland_server::backend::ClientId) {
        if let Some(budget) =
            crate::runtime::client::budget_of_id(self.runtime.display_handle(), client)
        {
            budget.give_back(crate::budget::Resource::ShmPools, 1);
        }
    }
}

impl SeatHandler for Weft {
    type KeyboardFocus = crate::seat::focus::KeyboardFocus;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<Self> {
        &mut self.input.seat_state
    }

    fn focus_changed(
        &mut self,
        _seat: &Seat<Self>,
        focused: Option<&crate::seat::focus::KeyboardFocus>,
    ) {
        use smithay::reexports::wayland_server::Resource;
        let focused = focused.map(crate::seat::focus::KeyboardFocus::surface);
        self.selection_focus(focused.and_then(Resource::client));
        self.constraints_follow_focus(focused);
        self.shortcuts_follow_focus(focused);
    }

    fn cursor_image(
        &mut self,
        _seat: &Seat<Self>,
        image: smithay::input::pointer::CursorImageStatus,
    ) {
        self.input.cursor.set(image);
        self.capture.note_damage("cursor", None);
        self.damage();
    }
}

impl OutputHandler for Weft {}

// wl_shm goes through weft-protocols' guard, which raises the spec's errors where smithay would
// panic or accept, then hands the request to smithay.
weft_protocols::delegate_shm_guarded!(Weft);
// wl_subsurface restacking goes through weft-protocols' guard (a self-reference panics smithay).
weft_protocols::delegate_compositor_guarded!(Weft);
weft_protocols::delegate_xdg_shell_guarded!(Weft);
// linux-dmabuf params go through weft-protocols' guard (every params error of the spec), then smithay.
weft_protocols::delegate_dmabuf_guarded!(Weft);
delegate_seat!(Weft);
delegate_output!(Weft);
weft_protocols::delegate_viewporter!(Weft);
delegate_presentation!(Weft);
delegate_single_pixel_buffer!(Weft);

/// Keeps the seat type nameable for backends that add input devices later.
pub type WeftSeat = Seat<Weft>;
