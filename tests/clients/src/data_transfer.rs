//! The client side of data transfer, recorded for tests: wl_data_device (clipboard and
//! drag-and-drop), zwp_primary_selection_v1, zwlr_data_control_v1 and ext_data_control_v1. Every
//! object is made with [`Transfer`] as its user data; the client's [`Log`] (`State::transfer`)
//! keeps what arrived in order, and the file descriptors of `send` events to be written by the
//! test.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use wayland_client::protocol::{
    wl_data_device, wl_data_device_manager, wl_data_offer, wl_data_source, wl_pointer,
};
use wayland_client::{event_created_child, Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols::ext::data_control::v1::client::{
    ext_data_control_device_v1, ext_data_control_manager_v1, ext_data_control_offer_v1,
    ext_data_control_source_v1,
};
use wayland_protocols::wp::primary_selection::zv1::client::{
    zwp_primary_selection_device_manager_v1, zwp_primary_selection_device_v1,
    zwp_primary_selection_offer_v1, zwp_primary_selection_source_v1,
};
use wayland_protocols_wlr::data_control::v1::client::{
    zwlr_data_control_device_v1, zwlr_data_control_manager_v1, zwlr_data_control_offer_v1,
    zwlr_data_control_source_v1,
};

use crate::client::State;

/// The user data of every data-transfer object: what they receive goes to the client's
/// [`State::transfer`] log.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transfer;

/// An offer of any of the four protocols, to read from.
#[derive(Debug, Clone, PartialEq)]
pub enum Offer {
    Data(wl_data_offer::WlDataOffer),
    Primary(zwp_primary_selection_offer_v1::ZwpPrimarySelectionOfferV1),
    Wlr(zwlr_data_control_offer_v1::ZwlrDataControlOfferV1),
    Ext(ext_data_control_offer_v1::ExtDataControlOfferV1),
}

impl Offer {
    /// Asks the source for `mime` into a pipe; returns the pipe's read end.
    pub fn receive(&self, mime: &str) -> std::fs::File {
        let (read, write) = rustix::pipe::pipe().expect("pipe");
        use std::os::fd::AsFd;
        match self {
            Offer::Data(o) => o.receive(mime.into(), write.as_fd()),
            Offer::Primary(o) => o.receive(mime.into(), write.as_fd()),
            Offer::Wlr(o) => o.receive(mime.into(), write.as_fd()),
            Offer::Ext(o) => o.receive(mime.into(), write.as_fd()),
        }
        std::fs::File::from(read)
    }
}

/// Which selection an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// wl_data_device.selection.
    Clipboard,
    /// zwp_primary_selection_device_v1.selection.
    Primary,
    /// A data-control device's selection.
    ControlClipboard,
    /// A data-control device's primary_selection.
    ControlPrimary,
}

/// One event, with what tests look at.
#[derive(Debug, Clone, PartialEq)]
pub enum Ev {
    /// An offer announced a mime type.
    Mime {
        offer: Offer,
        mime: String,
    },
    /// A selection was announced (`None`: it is empty).
    Selection {
        which: Which,
        offer: Option<Offer>,
    },
    /// wl_data_device.enter, at surface-local coordinates.
    Enter {
        offer: Option<wl_data_offer::WlDataOffer>,
        x: f64,
        y: f64,
    },
    Leave,
    Motion {
        x: f64,
        y: f64,
    },
    Drop,
    /// wl_data_offer.source_actions / .action.
    OfferSourceActions(u32),
    OfferAction(u32),
    /// wl_data_source.target / .action / dnd_drop_performed / dnd_finished.
    Target(Option<String>),
    SourceAction(u32),
    DropPerformed,
    DndFinished,
    /// A source of any kind was asked for `mime` (its fd waits in [`Log::take_send`]).
    Send {
        mime: String,
    },
    /// A source of any kind was cancelled (replaced, or its drag failed).
    Cancelled,
    /// A wl_pointer.button press, with its serial (for start_drag).
    Press {
        serial: u32,
    },
    /// A data-control device is no longer valid.
    Finished,
}

#[derive(Default)]
struct Inner {
    events: Vec<Ev>,
    sends: Vec<(String, OwnedFd)>,
}

/// What the data-transfer objects of one client received, shared by all of them.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Inner>>);

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.snapshot()).finish()
    }
}

impl Log {
    fn push(&self, ev: Ev) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .events
            .push(ev);
    }

    /// Everything seen so far, emptying the record.
    pub fn take(&self) -> Vec<Ev> {
        std::mem::take(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()).events)
    }

    /// Everything seen so far, kept.
    pub fn snapshot(&self) -> Vec<Ev> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .events
            .clone()
    }

    /// The latest announcement of `which`: `Some(None)` an empty selection, `None` nothing yet.
    pub fn selection(&self, which: Which) -> Option<Option<Offer>> {
        self.snapshot().into_iter().rev().find_map(|e| match e {
            Ev::Selection { which: w, offer } if w == which => Some(offer),
            _ => None,
        })
    }

    /// The mime types `offer` announced.
    pub fn mimes(&self, offer: &Offer) -> Vec<String> {
        self.snapshot()
            .into_iter()
            .filter_map(|e| match e {
                Ev::Mime { offer: o, mime } if &o == offer => Some(mime),
                _ => None,
            })
            .collect()
    }

    /// The oldest `send` request not answered yet.
    pub fn take_send(&self) -> Option<(String, OwnedFd)> {
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        (!inner.sends.is_empty()).then(|| inner.sends.remove(0))
    }

    /// Answers the oldest `send` with `data` (written, then the fd closed). Returns its mime type.
    pub fn answer_send(&self, data: &[u8]) -> Option<String> {
        let (mime, fd) = self.take_send()?;
        let mut file = std::fs::File::from(fd);
        file.write_all(data).expect("writing the selection");
        Some(mime)
    }

    /// The latest button press's serial.
    pub fn press_serial(&self) -> Option<u32> {
        self.snapshot().into_iter().rev().find_map(|e| match e {
            Ev::Press { serial } => Some(serial),
            _ => None,
        })
    }

    fn sent(&self, mime: String, fd: OwnedFd) {
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        inner.events.push(Ev::Send { mime: mime.clone() });
        inner.sends.push((mime, fd));
    }
}

/// Reads a pipe to its end (the source closed it, or died).
pub fn read_all(mut file: std::fs::File) -> Vec<u8> {
    let mut data = Vec::new();
    file.read_to_end(&mut data).expect("reading the selection");
    data
}

fn actions(a: WEnum<wl_data_device_manager::DndAction>) -> u32 {
    match a {
        WEnum::Value(v) => v.bits(),
        WEnum::Unknown(u) => u,
    }
}

impl Dispatch<wl_data_device_manager::WlDataDeviceManager, ()> for State {
    fn event(
        _: &mut Self,
        _: &wl_data_device_manager::WlDataDeviceManager,
        _: wl_data_device_manager::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<wl_data_device::WlDataDevice, Transfer> for State {
    fn event(
        state: &mut Self,
        _: &wl_data_device::WlDataDevice,
        event: wl_data_device::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        match event {
            wl_data_device::Event::Selection { id } => log.push(Ev::Selection {
                which: Which::Clipboard,
                offer: id.map(Offer::Data),
            }),
            wl_data_device::Event::Enter { x, y, id, .. } => {
                log.push(Ev::Enter { offer: id, x, y })
            }
            wl_data_device::Event::Leave => log.push(Ev::Leave),
            wl_data_device::Event::Motion { x, y, .. } => log.push(Ev::Motion { x, y }),
            wl_data_device::Event::Drop => log.push(Ev::Drop),
            _ => {}
        }
    }

    event_created_child!(State, wl_data_device::WlDataDevice, [
        wl_data_device::EVT_DATA_OFFER_OPCODE => (wl_data_offer::WlDataOffer, Transfer),
    ]);
}

impl Dispatch<wl_data_offer::WlDataOffer, Transfer> for State {
    fn event(
        state: &mut Self,
        offer: &wl_data_offer::WlDataOffer,
        event: wl_data_offer::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        match event {
            wl_data_offer::Event::Offer { mime_type } => log.push(Ev::Mime {
                offer: Offer::Data(offer.clone()),
                mime: mime_type,
            }),
            wl_data_offer::Event::SourceActions { source_actions } => {
                log.push(Ev::OfferSourceActions(actions(source_actions)))
            }
            wl_data_offer::Event::Action { dnd_action } => {
                log.push(Ev::OfferAction(actions(dnd_action)))
            }
            _ => {}
        }
    }
}

impl Dispatch<wl_data_source::WlDataSource, Transfer> for State {
    fn event(
        state: &mut Self,
        _: &wl_data_source::WlDataSource,
        event: wl_data_source::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        match event {
            wl_data_source::Event::Target { mime_type } => log.push(Ev::Target(mime_type)),
            wl_data_source::Event::Send { mime_type, fd } => log.sent(mime_type, fd),
            wl_data_source::Event::Cancelled => log.push(Ev::Cancelled),
            wl_data_source::Event::DndDropPerformed => log.push(Ev::DropPerformed),
            wl_data_source::Event::DndFinished => log.push(Ev::DndFinished),
            wl_data_source::Event::Action { dnd_action } => {
                log.push(Ev::SourceAction(actions(dnd_action)))
            }
            _ => {}
        }
    }
}

/// A pointer whose button presses are logged with their serials (bind it beside the test's own).
impl Dispatch<wl_pointer::WlPointer, Transfer> for State {
    fn event(
        state: &mut Self,
        _: &wl_pointer::WlPointer,
        event: wl_pointer::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        if let wl_pointer::Event::Button {
            serial,
            state: WEnum::Value(wl_pointer::ButtonState::Pressed),
            ..
        } = event
        {
            log.push(Ev::Press { serial });
        }
    }
}

impl Dispatch<zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1, ()>
    for State
{
    fn event(
        _: &mut Self,
        _: &zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1,
        _: zwp_primary_selection_device_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<zwp_primary_selection_device_v1::ZwpPrimarySelectionDeviceV1, Transfer> for State {
    fn event(
        state: &mut Self,
        _: &zwp_primary_selection_device_v1::ZwpPrimarySelectionDeviceV1,
        event: zwp_primary_selection_device_v1::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        if let zwp_primary_selection_device_v1::Event::Selection { id } = event {
            log.push(Ev::Selection {
                which: Which::Primary,
                offer: id.map(Offer::Primary),
            });
        }
    }

    event_created_child!(State, zwp_primary_selection_device_v1::ZwpPrimarySelectionDeviceV1, [
        zwp_primary_selection_device_v1::EVT_DATA_OFFER_OPCODE => (zwp_primary_selection_offer_v1::ZwpPrimarySelectionOfferV1, Transfer),
    ]);
}

impl Dispatch<zwp_primary_selection_offer_v1::ZwpPrimarySelectionOfferV1, Transfer> for State {
    fn event(
        state: &mut Self,
        offer: &zwp_primary_selection_offer_v1::ZwpPrimarySelectionOfferV1,
        event: zwp_primary_selection_offer_v1::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        if let zwp_primary_selection_offer_v1::Event::Offer { mime_type } = event {
            log.push(Ev::Mime {
                offer: Offer::Primary(offer.clone()),
                mime: mime_type,
            });
        }
    }
}

impl Dispatch<zwp_primary_selection_source_v1::ZwpPrimarySelectionSourceV1, Transfer> for State {
    fn event(
        state: &mut Self,
        _: &zwp_primary_selection_source_v1::ZwpPrimarySelectionSourceV1,
        event: zwp_primary_selection_source_v1::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        match event {
            zwp_primary_selection_source_v1::Event::Send { mime_type, fd } => {
                log.sent(mime_type, fd)
            }
            zwp_primary_selection_source_v1::Event::Cancelled => log.push(Ev::Cancelled),
            _ => {}
        }
    }
}

impl Dispatch<zwlr_data_control_manager_v1::ZwlrDataControlManagerV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &zwlr_data_control_manager_v1::ZwlrDataControlManagerV1,
        _: zwlr_data_control_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<zwlr_data_control_device_v1::ZwlrDataControlDeviceV1, Transfer> for State {
    fn event(
        state: &mut Self,
        _: &zwlr_data_control_device_v1::ZwlrDataControlDeviceV1,
        event: zwlr_data_control_device_v1::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        match event {
            zwlr_data_control_device_v1::Event::Selection { id } => log.push(Ev::Selection {
                which: Which::ControlClipboard,
                offer: id.map(Offer::Wlr),
            }),
            zwlr_data_control_device_v1::Event::PrimarySelection { id } => {
                log.push(Ev::Selection {
                    which: Which::ControlPrimary,
                    offer: id.map(Offer::Wlr),
                })
            }
            zwlr_data_control_device_v1::Event::Finished => log.push(Ev::Finished),
            _ => {}
        }
    }

    event_created_child!(State, zwlr_data_control_device_v1::ZwlrDataControlDeviceV1, [
        zwlr_data_control_device_v1::EVT_DATA_OFFER_OPCODE => (zwlr_data_control_offer_v1::ZwlrDataControlOfferV1, Transfer),
    ]);
}

impl Dispatch<zwlr_data_control_offer_v1::ZwlrDataControlOfferV1, Transfer> for State {
    fn event(
        state: &mut Self,
        offer: &zwlr_data_control_offer_v1::ZwlrDataControlOfferV1,
        event: zwlr_data_control_offer_v1::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        if let zwlr_data_control_offer_v1::Event::Offer { mime_type } = event {
            log.push(Ev::Mime {
                offer: Offer::Wlr(offer.clone()),
                mime: mime_type,
            });
        }
    }
}

impl Dispatch<zwlr_data_control_source_v1::ZwlrDataControlSourceV1, Transfer> for State {
    fn event(
        state: &mut Self,
        _: &zwlr_data_control_source_v1::ZwlrDataControlSourceV1,
        event: zwlr_data_control_source_v1::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        match event {
            zwlr_data_control_source_v1::Event::Send { mime_type, fd } => log.sent(mime_type, fd),
            zwlr_data_control_source_v1::Event::Cancelled => log.push(Ev::Cancelled),
            _ => {}
        }
    }
}

impl Dispatch<ext_data_control_manager_v1::ExtDataControlManagerV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &ext_data_control_manager_v1::ExtDataControlManagerV1,
        _: ext_data_control_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ext_data_control_device_v1::ExtDataControlDeviceV1, Transfer> for State {
    fn event(
        state: &mut Self,
        _: &ext_data_control_device_v1::ExtDataControlDeviceV1,
        event: ext_data_control_device_v1::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        match event {
            ext_data_control_device_v1::Event::Selection { id } => log.push(Ev::Selection {
                which: Which::ControlClipboard,
                offer: id.map(Offer::Ext),
            }),
            ext_data_control_device_v1::Event::PrimarySelection { id } => log.push(Ev::Selection {
                which: Which::ControlPrimary,
                offer: id.map(Offer::Ext),
            }),
            ext_data_control_device_v1::Event::Finished => log.push(Ev::Finished),
            _ => {}
        }
    }

    event_created_child!(State, ext_data_control_device_v1::ExtDataControlDeviceV1, [
        ext_data_control_device_v1::EVT_DATA_OFFER_OPCODE => (ext_data_control_offer_v1::ExtDataControlOfferV1, Transfer),
    ]);
}

impl Dispatch<ext_data_control_offer_v1::ExtDataControlOfferV1, Transfer> for State {
    fn event(
        state: &mut Self,
        offer: &ext_data_control_offer_v1::ExtDataControlOfferV1,
        event: ext_data_control_offer_v1::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        if let ext_data_control_offer_v1::Event::Offer { mime_type } = event {
            log.push(Ev::Mime {
                offer: Offer::Ext(offer.clone()),
                mime: mime_type,
            });
        }
    }
}

impl Dispatch<ext_data_control_source_v1::ExtDataControlSourceV1, Transfer> for State {
    fn event(
        state: &mut Self,
        _: &ext_data_control_source_v1::ExtDataControlSourceV1,
        event: ext_data_control_source_v1::Event,
        _: &Transfer,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let log = &state.transfer;
        match event {
            ext_data_control_source_v1::Event::Send { mime_type, fd } => log.sent(mime_type, fd),
            ext_data_control_source_v1::Event::Cancelled => log.push(Ev::Cancelled),
            _ => {}
        }
    }
}
