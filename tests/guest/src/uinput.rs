//! Virtual input devices through `/dev/uinput`: a keyboard, a relative mouse with buttons and a
//! wheel, a direct multitouch touchscreen (protocol B). Each is created with raw ioctls, waits
//! until udev has it in its database (so that libinput, which takes devices from udev, sees it),
//! emits evdev events followed by SYN_REPORT, and is destroyed on [`VirtualDevice::destroy`] or
//! when dropped.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, IoContext, Result};
use crate::ioctl::{ioctl, ior, iow};

/// uinput's ioctl base, `'U'`.
const UINPUT: u8 = b'U';
/// `_IO('U', 1)` and `_IO('U', 2)`: no argument, so no size and no direction bits.
const UI_DEV_CREATE: libc::c_ulong = ((UINPUT as libc::c_ulong) << 8) | 1;
const UI_DEV_DESTROY: libc::c_ulong = ((UINPUT as libc::c_ulong) << 8) | 2;
const UI_DEV_SETUP: libc::c_ulong = iow::<libc::uinput_setup>(UINPUT, 3);
const UI_ABS_SETUP: libc::c_ulong = iow::<libc::uinput_abs_setup>(UINPUT, 4);
const UI_SET_EVBIT: libc::c_ulong = iow::<libc::c_int>(UINPUT, 100);
const UI_SET_KEYBIT: libc::c_ulong = iow::<libc::c_int>(UINPUT, 101);
const UI_SET_RELBIT: libc::c_ulong = iow::<libc::c_int>(UINPUT, 102);
const UI_SET_ABSBIT: libc::c_ulong = iow::<libc::c_int>(UINPUT, 103);
const UI_SET_PROPBIT: libc::c_ulong = iow::<libc::c_int>(UINPUT, 110);
/// `UI_GET_SYSNAME(len)`: the device's name under /sys/class/input (`inputN`).
const UI_GET_SYSNAME: libc::c_ulong = ior::<[u8; 64]>(UINPUT, 44);

/// Event types, codes and properties from linux/input-event-codes.h.
pub mod codes {
    pub const EV_SYN: u16 = 0x00;
    pub const EV_KEY: u16 = 0x01;
    pub const EV_REL: u16 = 0x02;
    pub const EV_ABS: u16 = 0x03;
    pub const SYN_REPORT: u16 = 0;

    pub const KEY_ESC: u16 = 1;
    pub const KEY_A: u16 = 30;
    pub const KEY_B: u16 = 48;
    /// KEY_ESC..=KEY_KPDOT (1..=83): the classic PC keyboard's keys.
    pub const KEY_KPDOT: u16 = 83;

    pub const BTN_LEFT: u16 = 0x110;
    pub const BTN_RIGHT: u16 = 0x111;
    pub const BTN_MIDDLE: u16 = 0x112;
    pub const BTN_TOUCH: u16 = 0x14a;

    pub const REL_X: u16 = 0x00;
    pub const REL_Y: u16 = 0x01;
    pub const REL_HWHEEL: u16 = 0x06;
    pub const REL_WHEEL: u16 = 0x08;

    pub const ABS_X: u16 = 0x00;
    pub const ABS_Y: u16 = 0x01;
    pub const ABS_MT_SLOT: u16 = 0x2f;
    pub const ABS_MT_POSITION_X: u16 = 0x35;
    pub const ABS_MT_POSITION_Y: u16 = 0x36;
    pub const ABS_MT_TRACKING_ID: u16 = 0x39;

    pub const INPUT_PROP_DIRECT: u16 = 0x01;
    pub const BUS_VIRTUAL: u16 = 0x06;
}

use codes::*;

/// How many touch points the touchscreen tracks at once (ABS_MT_SLOT's range).
pub const TOUCH_SLOTS: i32 = 10;

/// A uinput device, destroyed when dropped.
#[derive(Debug)]
pub struct VirtualDevice {
    fd: OwnedFd,
    name: String,
    sysname: String,
    node: PathBuf,
    /// Touchscreen: how many points are down (BTN_TOUCH is down while any is).
    touching: u32,
    /// Touchscreen: the next tracking id.
    next_tracking_id: i32,
    destroyed: bool,
}

impl VirtualDevice {
    /// A keyboard with the classic key block (KEY_ESC..=KEY_KPDOT, which is enough for udev to
    /// tag it ID_INPUT_KEYBOARD).
    pub fn keyboard(name: &str) -> Result<Self> {
        let fd = open_uinput()?;
        set_bit(&fd, UI_SET_EVBIT, EV_KEY)?;
        for key in KEY_ESC..=KEY_KPDOT {
            set_bit(&fd, UI_SET_KEYBIT, key)?;
        }
        Self::create(fd, name, 0x0001)
    }

    /// A mouse: relative X/Y, a vertical and a horizontal wheel, left/right/middle buttons.
    pub fn mouse(name: &str) -> Result<Self> {
        let fd = open_uinput()?;
        set_bit(&fd, UI_SET_EVBIT, EV_KEY)?;
        set_bit(&fd, UI_SET_EVBIT, EV_REL)?;
        for button in [BTN_LEFT, BTN_RIGHT, BTN_MIDDLE] {
            set_bit(&fd, UI_SET_KEYBIT, button)?;
        }
        for rel in [REL_X, REL_Y, REL_WHEEL, REL_HWHEEL] {
            set_bit(&fd, UI_SET_RELBIT, rel)?;
        }
        Self::create(fd, name, 0x0002)
    }

    /// A direct (screen-mapped) multitouch touchscreen whose axes run over `0..=max_x` and
    /// `0..=max_y` (protocol B: slots and tracking ids, plus the single-touch ABS_X/ABS_Y and
    /// BTN_TOUCH).
    pub fn touchscreen(name: &str, max_x: i32, max_y: i32) -> Result<Self> {
        let fd = open_uinput()?;
        set_bit(&fd, UI_SET_EVBIT, EV_KEY)?;
        set_bit(&fd, UI_SET_EVBIT, EV_ABS)?;
        set_bit(&fd, UI_SET_KEYBIT, BTN_TOUCH)?;
        set_bit(&fd, UI_SET_PROPBIT, INPUT_PROP_DIRECT)?;
        let axes = [
            (ABS_X, max_x),
            (ABS_Y, max_y),
            (ABS_MT_SLOT, TOUCH_SLOTS - 1),
            (ABS_MT_TRACKING_ID, 0xffff),
            (ABS_MT_POSITION_X, max_x),
            (ABS_MT_POSITION_Y, max_y),
        ];
        for (code, maximum) in axes {
            set_bit(&fd, UI_SET_ABSBIT, code)?;
            let positional = !matches!(code, ABS_MT_SLOT | ABS_MT_TRACKING_ID);
            let mut setup = libc::uinput_abs_setup {
                code,
                absinfo: libc::input_absinfo {
                    value: 0,
                    minimum: 0,
                    maximum,
                    fuzz: 0,
                    flat: 0,
                    // Units per millimetre: a plausible screen, so libinput knows its size.
                    resolution: if positional { 10 } else { 0 },
                },
            };
            // SAFETY: UI_ABS_SETUP reads exactly a `struct uinput_abs_setup`, which libc's type
            // mirrors.
            unsafe { ioctl(fd.as_fd(), UI_ABS_SETUP, &mut setup) }.op("UI_ABS_SETUP")?;
        }
        Self::create(fd, name, 0x0003)
    }

    /// UI_DEV_SETUP and UI_DEV_CREATE, then waits for the event node and for udev.
    fn create(fd: OwnedFd, name: &str, product: u16) -> Result<Self> {
        let mut setup = libc::uinput_setup {
            id: libc::input_id {
                bustype: BUS_VIRTUAL,
                vendor: 0x5746, // "WF"
                product,
                version: 1,
            },
            name: [0; libc::UINPUT_MAX_NAME_SIZE],
            ff_effects_max: 0,
        };
        for (dst, src) in setup
            .name
            .iter_mut()
            .zip(name.bytes().take(libc::UINPUT_MAX_NAME_SIZE - 1))
        {
            *dst = src as libc::c_char;
        }
        // SAFETY: UI_DEV_SETUP reads exactly a `struct uinput_setup`, which libc's type mirrors.
        unsafe { ioctl(fd.as_fd(), UI_DEV_SETUP, &mut setup) }.op("UI_DEV_SETUP")?;
        // SAFETY: UI_DEV_CREATE takes no argument; `fd` is an open uinput fd.
        check(unsafe { libc::ioctl(fd.as_raw_fd(), UI_DEV_CREATE, 0) }).op("UI_DEV_CREATE")?;
        let mut device = Self {
            fd,
            name: name.to_owned(),
            sysname: String::new(),
            node: PathBuf::new(),
            touching: 0,
            next_tracking_id: 0,
            destroyed: false,
        };
        let mut buf = [0u8; 64];
        // SAFETY: UI_GET_SYSNAME(64) writes at most 64 bytes (a NUL-terminated name) into `buf`.
        unsafe { ioctl(device.fd.as_fd(), UI_GET_SYSNAME, &mut buf) }.op("UI_GET_SYSNAME")?;
        let len = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        device.sysname = String::from_utf8_lossy(buf.get(..len).unwrap_or_default()).into_owned();
        device.node = wait_for_udev(&device.sysname)?;
        Ok(device)
    }

    /// The device's evdev node, `/dev/input/eventN`.
    pub fn node(&self) -> &Path {
        &self.node
    }

    /// The name given at creation (what libinput reports as the device's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The input device's name in sysfs, `inputN`.
    pub fn sysname(&self) -> &str {
        &self.sysname
    }

    /// Writes `events` (type, code, value) followed by SYN_REPORT: one evdev frame.
    pub fn emit(&self, events: &[(u16, u16, i32)]) -> Result<()> {
        let mut all: Vec<libc::input_event> = events
            .iter()
            .map(|&(ty, code, value)| event(ty, code, value))
            .collect();
        all.push(event(EV_SYN, SYN_REPORT, 0));
        let bytes = std::mem::size_of_val(all.as_slice());
        // SAFETY: `all` is `bytes` bytes of initialised `input_event`s, the layout uinput reads.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), all.as_ptr().cast(), bytes) };
        if n < 0 {
            return Err(io::Error::last_os_error()).op("write(uinput)");
        }
        if n as usize != bytes {
            return Err(Error::Unsupported(format!(
                "uinput took {n} of {bytes} bytes"
            )));
        }
        Ok(())
    }

    /// A key (an evdev code) pressed or released.
    pub fn key(&self, code: u16, pressed: bool) -> Result<()> {
        self.emit(&[(EV_KEY, code, i32::from(pressed))])
    }

    /// Relative pointer motion by (dx, dy) device units.
    pub fn move_by(&self, dx: i32, dy: i32) -> Result<()> {
        let mut events = Vec::new();
        if dx != 0 {
            events.push((EV_REL, REL_X, dx));
        }
        if dy != 0 {
            events.push((EV_REL, REL_Y, dy));
        }
        self.emit(&events)
    }

    /// A mouse button (BTN_LEFT…) pressed or released.
    pub fn button(&self, code: u16, pressed: bool) -> Result<()> {
        self.key(code, pressed)
    }

    /// The wheel turned by `detents` clicks (positive: away from the user, i.e. scrolling up).
    pub fn wheel(&self, detents: i32) -> Result<()> {
        self.emit(&[(EV_REL, REL_WHEEL, detents)])
    }

    /// Touch point `slot` goes down at (x, y) in device units.
    pub fn touch_down(&mut self, slot: i32, x: i32, y: i32) -> Result<()> {
        let id = self.next_tracking_id;
        self.next_tracking_id = (id + 1) & 0xffff;
        let mut events = vec![
            (EV_ABS, ABS_MT_SLOT, slot),
            (EV_ABS, ABS_MT_TRACKING_ID, id),
            (EV_ABS, ABS_MT_POSITION_X, x),
            (EV_ABS, ABS_MT_POSITION_Y, y),
        ];
        if self.touching == 0 {
            events.push((EV_KEY, BTN_TOUCH, 1));
            events.extend([(EV_ABS, ABS_X, x), (EV_ABS, ABS_Y, y)]);
        }
        self.emit(&events)?;
        self.touching += 1;
        Ok(())
    }

    /// Touch point `slot` moves to (x, y).
    pub fn touch_move(&self, slot: i32, x: i32, y: i32) -> Result<()> {
        self.emit(&[
            (EV_ABS, ABS_MT_SLOT, slot),
            (EV_ABS, ABS_MT_POSITION_X, x),
            (EV_ABS, ABS_MT_POSITION_Y, y),
            (EV_ABS, ABS_X, x),
            (EV_ABS, ABS_Y, y),
        ])
    }

    /// Touch point `slot` lifts.
    pub fn touch_up(&mut self, slot: i32) -> Result<()> {
        let mut events = vec![
            (EV_ABS, ABS_MT_SLOT, slot),
            (EV_ABS, ABS_MT_TRACKING_ID, -1),
        ];
        if self.touching == 1 {
            events.push((EV_KEY, BTN_TOUCH, 0));
        }
        self.emit(&events)?;
        self.touching = self.touching.saturating_sub(1);
        Ok(())
    }

    /// UI_DEV_DESTROY: the device goes away (udev and libinput see it removed).
    pub fn destroy(mut self) -> Result<()> {
        self.destroyed = true;
        // SAFETY: UI_DEV_DESTROY takes no argument; `fd` is the uinput fd that created the device.
        check(unsafe { libc::ioctl(self.fd.as_raw_fd(), UI_DEV_DESTROY, 0) }).op("UI_DEV_DESTROY")
    }
}

impl Drop for VirtualDevice {
    fn drop(&mut self) {
        if !self.destroyed {
            // SAFETY: as in `destroy`; closing the fd would destroy the device too.
            let _ = unsafe { libc::ioctl(self.fd.as_raw_fd(), UI_DEV_DESTROY, 0) };
        }
    }
}

fn open_uinput() -> Result<OwnedFd> {
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/uinput")
        .op("open /dev/uinput")?;
    Ok(file.into())
}

/// One of the UI_SET_*BIT ioctls, whose argument is the bit itself (by value).
fn set_bit(fd: &OwnedFd, request: libc::c_ulong, bit: u16) -> Result<()> {
    // SAFETY: the UI_SET_*BIT requests take an integer by value and touch no user memory.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), request, libc::c_ulong::from(bit)) })
        .op("UI_SET_*BIT")
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn event(ty: u16, code: u16, value: i32) -> libc::input_event {
    libc::input_event {
        time: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        type_: ty,
        code,
        value,
    }
}

/// How long udev may take to process a new device (the tests/vm guest is slow).
const UDEV_TIMEOUT: Duration = Duration::from_secs(60);

/// Waits until input device `sysname` has its event node in /dev/input and its entry in udev's
/// database tagged ID_INPUT (what libinput requires); returns the node.
fn wait_for_udev(sysname: &str) -> Result<PathBuf> {
    let deadline = Instant::now() + UDEV_TIMEOUT;
    let class = Path::new("/sys/class/input").join(sysname);
    let event = loop {
        let found = std::fs::read_dir(&class).ok().and_then(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| n.starts_with("event"))
        });
        if let Some(event) = found {
            break event;
        }
        if Instant::now() > deadline {
            return Err(timed_out("no event node under /sys/class/input/inputN"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let dev = std::fs::read_to_string(Path::new("/sys/class/input").join(&event).join("dev"))
        .op("read /sys/class/input/eventN/dev")?;
    let data = PathBuf::from(format!("/run/udev/data/c{}", dev.trim()));
    let node = Path::new("/dev/input").join(&event);
    // Where udevd runs, let it finish the queue; the database is what tells.
    let _ = std::process::Command::new("udevadm")
        .args(["settle", "--timeout=30"])
        .status();
    loop {
        let tagged = std::fs::read_to_string(&data)
            .map(|d| d.lines().any(|l| l == "E:ID_INPUT=1"))
            .unwrap_or(false);
        if tagged && node.exists() {
            return Ok(node);
        }
        if Instant::now() > deadline {
            return Err(timed_out("udev did not record the device (ID_INPUT=1)"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn timed_out(what: &'static str) -> Error {
    Error::Io {
        op: what,
        source: io::Error::from(io::ErrorKind::TimedOut),
    }
}
