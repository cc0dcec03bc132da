//! zwp_text_input_v3 requests smithay would panic on, made harmless before it sees them.
//!
//! text-input-v3 defines no errors, and smithay unwraps what it is sent: an enum value outside the
//! protocol's (`set_text_change_cause`, `set_content_type`) or a cursor rectangle of negative size
//! panics the compositor's dispatch. The guard drops such an enum request (the state it would set
//! stays as it was: the client's bug costs it only that hint) and clamps a negative rectangle to an
//! empty one; everything else goes to smithay unchanged.

use smithay::input::SeatHandler;
use smithay::reexports::wayland_protocols::wp::text_input::zv3::server::zwp_text_input_v3::{
    self, ZwpTextInputV3,
};
use smithay::reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle, WEnum};
use smithay::wayland::text_input::{TextInputManagerState, TextInputUserData};

/// The guard: sees the requests first, then hands them to smithay.
pub struct TextInputGuard;

/// What the guard does with a request: pass it on (possibly rewritten) or drop it, and why.
pub fn check(request: zwp_text_input_v3::Request) -> Result<zwp_text_input_v3::Request, String> {
    use zwp_text_input_v3::Request;
    match request {
        Request::SetTextChangeCause {
            cause: WEnum::Unknown(raw),
        } => Err(format!("set_text_change_cause {raw}: not a change_cause")),
        Request::SetContentType { hint, purpose }
            if matches!(hint, WEnum::Unknown(_)) || matches!(purpose, WEnum::Unknown(_)) =>
        {
            Err(format!(
                "set_content_type {hint:?} {purpose:?}: not a content hint and purpose"
            ))
        }
        Request::SetCursorRectangle {
            x,
            y,
            width,
            height,
        } => Ok(Request::SetCursorRectangle {
            x,
            y,
            width: width.max(0),
            height: height.max(0),
        }),
        other => Ok(other),
    }
}

impl<D> Dispatch<ZwpTextInputV3, TextInputUserData, D> for TextInputGuard
where
    D: Dispatch<ZwpTextInputV3, TextInputUserData> + SeatHandler + 'static,
    TextInputManagerState: Dispatch<ZwpTextInputV3, TextInputUserData, D>,
{
    fn request(
        state: &mut D,
        client: &Client,
        text_input: &ZwpTextInputV3,
        request: zwp_text_input_v3::Request,
        data: &TextInputUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        match check(request) {
            Ok(request) => {
                <TextInputManagerState as Dispatch<ZwpTextInputV3, TextInputUserData, D>>::request(
                    state, client, text_input, request, data, dh, data_init,
                )
            }
            Err(why) => tracing::debug!(%why, "text-input request dropped"),
        }
    }
}

/// Delegates text-input v3 to smithay, the text inputs' requests through [`TextInputGuard`].
#[macro_export]
macro_rules! delegate_text_input_guarded {
    ($ty: ty) => {
        smithay::reexports::wayland_server::delegate_global_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::text_input::zv3::server::zwp_text_input_manager_v3::ZwpTextInputManagerV3: ()
        ] => smithay::wayland::text_input::TextInputManagerState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::text_input::zv3::server::zwp_text_input_manager_v3::ZwpTextInputManagerV3: ()
        ] => smithay::wayland::text_input::TextInputManagerState);
        smithay::reexports::wayland_server::delegate_dispatch!($ty: [
            smithay::reexports::wayland_protocols::wp::text_input::zv3::server::zwp_text_input_v3::ZwpTextInputV3: smithay::wayland::text_input::TextInputUserData
        ] => $crate::text_input_guard::TextInputGuard);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use zwp_text_input_v3::Request;

    #[test]
    fn bad_values_are_dropped_or_clamped() {
        assert!(check(Request::SetTextChangeCause {
            cause: WEnum::Unknown(9)
        })
        .is_err());
        assert!(matches!(
            check(Request::SetCursorRectangle {
                x: 1,
                y: 2,
                width: -5,
                height: i32::MIN
            }),
            Ok(Request::SetCursorRectangle {
                width: 0,
                height: 0,
                ..
            })
        ));
    }
}
