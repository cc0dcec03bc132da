//! `ext_foreign_toplevel_list_v1`: the list of windows task bars and window switchers show.
//!
//! Every mapped toplevel (and X11 window) has a handle; its title and app_id follow the client's, one `done` per
//! change; a window that unmaps or goes is `closed`. The list is brought up to date once per loop
//! iteration (after every commit of that iteration), so a title set and a map in one batch reach
//! listeners as one state. Privileged: a sandboxed client sees no other client's windows
//! ([`crate::runtime::security`]).

use std::collections::HashMap;

use smithay::reexports::wayland_server::backend::ObjectId;
use smithay::reexports::wayland_server::{DisplayHandle, Resource};
use smithay::wayland::compositor::with_states;
use smithay::wayland::foreign_toplevel_list::{
    ForeignToplevelHandle, ForeignToplevelListHandler, ForeignToplevelListState,
};
use smithay::wayland::shell::xdg::XdgToplevelSurfaceData;

use crate::Weft;

/// The list's global and one handle per mapped toplevel (keyed by its xdg_toplevel).
pub struct ForeignToplevels {
    state: ForeignToplevelListState,
    handles: HashMap<ObjectId, ForeignToplevelHandle>,
}

impl ForeignToplevels {
    pub(crate) fn new(dh: &DisplayHandle) -> Self {
        Self {
            state: ForeignToplevelListState::new_with_filter::<Weft>(
                dh,
                crate::runtime::security::may_see_others,
            ),
            handles: HashMap::new(),
        }
    }
}

impl Weft {
    /// Per iteration: handles for newly mapped toplevels, title/app_id changes, `closed` for the
    /// ones that went.
    pub(crate) fn refresh_foreign_toplevels(&mut self) {
        let mut mapped: Vec<(ObjectId, String, String)> = self
            .shell
            .space
            .elements()
            .chain(self.shell.minimized.windows())
            .filter_map(|w| w.toplevel())
            .filter(|t| t.alive())
            .map(|t| {
                let (app_id, title) = with_states(t.wl_surface(), |states| {
                    states
                        .data_map
                        .get::<XdgToplevelSurfaceData>()
                        .and_then(|d| d.lock().ok().map(|d| (d.app_id.clone(), d.title.clone())))
                        .unwrap_or_default()
                });
                (
                    t.xdg_toplevel().id(),
                    title.unwrap_or_default(),
                    app_id.unwrap_or_default(),
                )
            })
            .collect();
        // X11 windows too (not their menus and tooltips): keyed by their surface.
        mapped.extend(self.shell.space.elements().filter_map(|w| {
            let x11 = w.x11_surface().filter(|x| !x.is_override_redirect())?;
            let surface = self.x11_surface_of(x11)?;
            Some((surface.id(), x11.title(), x11.class()))
        }));
        let list = &mut self.shell.foreign_toplevels;
        let gone: Vec<ObjectId> = list
            .handles
            .keys()
            .filter(|id| !mapped.iter().any(|(m, _, _)| m == *id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(handle) = list.handles.remove(&id) {
                list.state.remove_toplevel(&handle);
            }
        }
        for (id, title, app_id) in mapped {
            match list.handles.get(&id) {
                Some(handle) => {
                    if handle.title() != title || handle.app_id() != app_id {
                        handle.send_title(&title);
                        handle.send_app_id(&app_id);
                        handle.send_done();
                    }
                }
                None => {
                    let handle = list.state.new_toplevel::<Weft>(title, app_id);
                    list.handles.insert(id, handle);
                }
            }
        }
    }
}

impl Weft {
    /// The mapped window whose foreign-toplevel identifier is `id`.
    pub(crate) fn window_by_identifier(&self, id: &str) -> Option<smithay::desktop::Window> {
        let (toplevel, _) = self
            .shell
            .foreign_toplevels
            .handles
            .iter()
            .find(|(_, h)| h.identifier() == id)?;
        self.shell
            .space
            .elements()
            .find(|w| self.list_key(w).as_ref() == Some(toplevel))
            .cloned()
    }

    /// What the list keys `window` by: its xdg_toplevel, or an X11 window's surface.
    fn list_key(&self, window: &smithay::desktop::Window) -> Option<ObjectId> {
        match window.x11_surface() {
            Some(_) => self.window_surface(window).map(|s| s.id()),
            None => window.toplevel().map(|t| t.xdg_toplevel().id()),
        }
    }

    /// The foreign-toplevel identifier of the window whose root surface is `root`, if it is
    /// listed.
    pub(crate) fn foreign_toplevel_identifier(
        &self,
        root: &smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
    ) -> Option<String> {
        let window = self.window_for_surface(root)?;
        let id = self.list_key(&window)?;
        self.shell
            .foreign_toplevels
            .handles
            .get(&id)
            .map(|h| h.identifier())
    }
}

impl ForeignToplevelListHandler for Weft {
    fn foreign_toplevel_list_state(&mut self) -> &mut ForeignToplevelListState {
        &mut self.shell.foreign_toplevels.state
    }
}

smithay::delegate_foreign_toplevel_list!(Weft);
