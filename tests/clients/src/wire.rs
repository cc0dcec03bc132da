//! A raw Wayland wire-protocol connection, for the wire fuzzer: it writes requests byte by byte
//! (any opcode, any argument, any object id, fds passed with SCM_RIGHTS) and parses events with the
//! interface tables wayland-scanner generated, without wayland-client's type checks in the way.
//!
//! Wire format (wayland core, "Wire Format"): a message is a 32-bit object id, then a 32-bit word
//! holding the message size in bytes (upper 16 bits, header included) and the opcode (lower 16),
//! then the arguments, each padded to 32 bits, in host byte order. Strings and arrays carry their
//! length first (a string's includes its NUL; a null string has length 0); fds travel out of band.
//!
//! Events are read without a control buffer, so fds the compositor sends (keymaps, format tables)
//! are closed by the kernel on receipt: the fuzzer never needs them.

use std::collections::HashMap;
use std::io::{IoSlice, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use wayland_backend::protocol::{ArgumentType, Interface};

/// One request argument as it goes on the wire.
#[derive(Debug)]
pub enum Arg {
    Int(i32),
    Uint(u32),
    Fixed(i32),
    /// `None` is a null string; the bytes get a NUL appended.
    Str(Option<Vec<u8>>),
    Object(u32),
    NewId(u32),
    Array(Vec<u8>),
    Fd(OwnedFd),
}

/// A request: its bytes and the fds that go with them.
#[derive(Debug, Default)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub fds: Vec<OwnedFd>,
}

/// Encodes `sender.opcode(args)`.
pub fn encode(sender: u32, opcode: u16, args: Vec<Arg>) -> Encoded {
    let mut body = Vec::new();
    let mut fds = Vec::new();
    let push_bytes = |body: &mut Vec<u8>, bytes: &[u8]| {
        body.extend_from_slice(&(bytes.len() as u32).to_ne_bytes());
        body.extend_from_slice(bytes);
        body.resize(body.len().next_multiple_of(4), 0);
    };
    for arg in args {
        match arg {
            Arg::Int(v) | Arg::Fixed(v) => body.extend_from_slice(&v.to_ne_bytes()),
            Arg::Uint(v) | Arg::Object(v) | Arg::NewId(v) => {
                body.extend_from_slice(&v.to_ne_bytes())
            }
            Arg::Str(None) => body.extend_from_slice(&0u32.to_ne_bytes()),
            Arg::Str(Some(mut s)) => {
                s.push(0);
                push_bytes(&mut body, &s);
            }
            Arg::Array(a) => push_bytes(&mut body, &a),
            Arg::Fd(fd) => fds.push(fd),
        }
    }
    let size = (8 + body.len()) as u32;
    let mut bytes = Vec::with_capacity(size as usize);
    bytes.extend_from_slice(&sender.to_ne_bytes());
    bytes.extend_from_slice(&((size << 16) | u32::from(opcode)).to_ne_bytes());
    bytes.extend_from_slice(&body);
    Encoded { bytes, fds }
}

/// A `wl_display.error` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    pub object: u32,
    /// The interface of `object` as this connection knows it (`?` for an unknown id).
    pub interface: String,
    pub code: u32,
    pub message: String,
}

/// A global from wl_registry.
#[derive(Debug, Clone)]
pub struct Global {
    pub name: u32,
    pub interface: String,
    pub version: u32,
}

/// A decoded event argument (fds are not received: see the module docs).
#[derive(Debug, Clone)]
pub enum EventArg {
    Int(i32),
    Uint(u32),
    Str(Option<String>),
    Object(u32),
    NewId(u32),
    Array(Vec<u8>),
    Fd,
}

/// How reading events ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEnd {
    /// The awaited condition holds.
    Done,
    /// The compositor closed the connection (after a `wl_display.error`, if `error` is set).
    Closed,
    TimedOut,
}

/// A raw connection and what it knows about its objects.
pub struct WireConn {
    sock: UnixStream,
    incoming: Vec<u8>,
    /// Live objects (client and server created): id → (interface, version).
    pub objects: HashMap<u32, (&'static Interface, u32)>,
    next_id: u32,
    pub globals: Vec<Global>,
    pub error: Option<ProtocolError>,
    /// wl_callback ids that got `done`.
    pub callbacks_done: Vec<u32>,
    /// Unacknowledged configure serials per xdg_surface id.
    pub configures: HashMap<u32, Vec<u32>>,
    /// Every event received.
    pub events: u64,
    /// The compositor closed the connection and every byte it sent was read.
    pub closed: bool,
    /// A write failed because the compositor closed the connection: stop sending, but what it
    /// sent before closing (a protocol error) may still be unread.
    pub write_closed: bool,
    /// The interface of every id this connection ever used, for naming an error's object.
    pub names: HashMap<u32, &'static str>,
}

/// `wl_display`'s interface, from the generated tables.
pub fn display_interface() -> &'static Interface {
    use wayland_client::Proxy;
    wayland_client::protocol::wl_display::WlDisplay::interface()
}

impl WireConn {
    pub fn connect(path: &Path) -> std::io::Result<Self> {
        let sock = UnixStream::connect(path)?;
        let mut objects = HashMap::new();
        objects.insert(1, (display_interface(), 1));
        Ok(Self {
            sock,
            incoming: Vec::new(),
            objects,
            next_id: 2,
            globals: Vec::new(),
            error: None,
            callbacks_done: Vec::new(),
            configures: HashMap::new(),
            events: 0,
            closed: false,
            write_closed: false,
            names: HashMap::from([(1, "wl_display")]),
        })
    }

    /// The next unused client-side object id (ids are never reused by this connection).
    pub fn new_id(&mut self, interface: &'static Interface, version: u32) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.objects.insert(id, (interface, version));
        self.names.insert(id, interface.name);
        id
    }

    /// Takes back ids from [`Self::new_id`] that were never sent, the most recent ones: ids must be
    /// used in order, a gap is `wl_display.error` (invalid new_id).
    pub fn unallocate(&mut self, ids: &[u32]) {
        for id in ids {
            self.objects.remove(id);
            self.names.remove(id);
        }
        if let Some(&first) = ids.iter().min() {
            self.next_id = self.next_id.min(first);
        }
    }

    /// An id past every id this connection allocated (never live).
    pub fn unused_id(&self) -> u32 {
        self.next_id + 1000
    }

    /// Sends one message with its fds. A closed connection is not an error here: the caller reads
    /// the reason (a protocol error) next.
    pub fn send(&mut self, msg: Encoded) -> std::io::Result<()> {
        use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
        if self.write_closed {
            return Ok(());
        }
        let fds: Vec<BorrowedFd<'_>> = msg.fds.iter().map(|f| f.as_fd()).collect();
        let mut space =
            vec![MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
        let mut ancillary = SendAncillaryBuffer::new(&mut space);
        if !fds.is_empty() {
            ancillary.push(SendAncillaryMessage::ScmRights(&fds));
        }
        let mut sent = 0;
        while sent < msg.bytes.len() {
            let result = sendmsg(
                &self.sock,
                &[IoSlice::new(&msg.bytes[sent..])],
                &mut ancillary,
                SendFlags::NOSIGNAL,
            );
            match result {
                Ok(n) => {
                    sent += n;
                    // The fds went with the first chunk.
                    ancillary.clear();
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::PIPE) | Err(rustix::io::Errno::CONNRESET) => {
                    self.write_closed = true;
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Sends a request whose new_id arguments (if any) were already allocated with [`Self::new_id`].
    pub fn request(&mut self, sender: u32, opcode: u16, args: Vec<Arg>) -> std::io::Result<()> {
        self.send(encode(sender, opcode, args))
    }

    /// `wl_display.sync` with a new callback; returns the callback id.
    pub fn sync(&mut self) -> std::io::Result<u32> {
        use wayland_client::Proxy;
        let cb = self.new_id(
            wayland_client::protocol::wl_callback::WlCallback::interface(),
            1,
        );
        self.request(1, 0, vec![Arg::NewId(cb)])?;
        Ok(cb)
    }

    /// `wl_display.get_registry`, then a roundtrip: fills [`Self::globals`]. Returns the registry id.
    pub fn get_registry(&mut self, timeout: Duration) -> std::io::Result<(u32, ReadEnd)> {
        use wayland_client::Proxy;
        let reg = self.new_id(
            wayland_client::protocol::wl_registry::WlRegistry::interface(),
            1,
        );
        self.request(1, 1, vec![Arg::NewId(reg)])?;
        let end = self.roundtrip(timeout)?;
        Ok((reg, end))
    }

    /// Sends `wl_display.sync` and reads events until its `done`, the connection's end, or the
    /// timeout.
    pub fn roundtrip(&mut self, timeout: Duration) -> std::io::Result<ReadEnd> {
        let cb = self.sync()?;
        self.read_until(timeout, |c| c.callbacks_done.contains(&cb))
    }

    /// Reads and handles events until `done(self)` holds, the connection ends, or `timeout`.
    pub fn read_until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&Self) -> bool,
    ) -> std::io::Result<ReadEnd> {
        let deadline = Instant::now() + timeout;
        loop {
            self.parse_events()?;
            if done(self) {
                return Ok(ReadEnd::Done);
            }
            if self.closed {
                return Ok(ReadEnd::Closed);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(ReadEnd::TimedOut);
            }
            self.sock
                .set_read_timeout(Some(left.min(Duration::from_millis(100))))?;
            let mut buf = [0u8; 4096];
            match self.sock.read(&mut buf) {
                Ok(0) => {
                    self.closed = true;
                    self.write_closed = true;
                }
                Ok(n) => self.incoming.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    self.closed = true;
                    self.write_closed = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Handles every complete event in the buffer.
    fn parse_events(&mut self) -> std::io::Result<()> {
        loop {
            if self.incoming.len() < 8 {
                return Ok(());
            }
            let word =
                |b: &[u8], at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
            let sender = word(&self.incoming, 0);
            let size_op = word(&self.incoming, 4);
            let size = (size_op >> 16) as usize;
            let opcode = (size_op & 0xffff) as usize;
            if size < 8 {
                return Err(std::io::Error::other(format!(
                    "the compositor sent a {size}-byte message"
                )));
            }
            if self.incoming.len() < size {
                return Ok(());
            }
            let msg: Vec<u8> = self.incoming.drain(..size).collect();
            self.events += 1;
            let Some(&(interface, _)) = self.objects.get(&sender) else {
                // An object this connection already forgot (destroyed, delete_id pending).
                continue;
            };
            if interface.name == wayland_backend::protocol::ANONYMOUS_INTERFACE.name {
                // A global bound without knowing its interface: its events cannot be decoded.
                continue;
            }
            let Some(desc) = interface.events.get(opcode) else {
                return Err(std::io::Error::other(format!(
                    "event opcode {opcode} does not exist on {}",
                    interface.name
                )));
            };
            let args = decode(desc.signature, &msg[8..]).ok_or_else(|| {
                std::io::Error::other(format!("malformed {}.{} event", interface.name, desc.name))
            })?;
            self.handle_event(sender, interface, desc.name, desc.child_interface, args)?;
            if desc.is_destructor {
                self.objects.remove(&sender);
            }
        }
    }

    fn handle_event(
        &mut self,
        sender: u32,
        interface: &'static Interface,
        event: &str,
        child: Option<&'static Interface>,
        args: Vec<EventArg>,
    ) -> std::io::Result<()> {
        // Objects the compositor creates (say zwp_linux_buffer_params_v1.created's wl_buffer).
        if let Some(child) = child {
            for a in &args {
                if let EventArg::NewId(id) = a {
                    let version = self.objects.get(&sender).map_or(1, |o| o.1);
                    self.objects.insert(*id, (child, version));
                    self.names.insert(*id, child.name);
                }
            }
        }
        match (interface.name, event, args.as_slice()) {
            (
                "wl_display",
                "error",
                [EventArg::Object(object), EventArg::Uint(code), EventArg::Str(message)],
            ) => {
                let iface = self.names.get(object).copied().unwrap_or("?").to_string();
                self.error = Some(ProtocolError {
                    object: *object,
                    interface: iface,
                    code: *code,
                    message: message.clone().unwrap_or_default(),
                });
            }
            ("wl_display", "delete_id", [EventArg::Uint(id)]) => {
                self.objects.remove(id);
                self.configures.remove(id);
            }
            (
                "wl_registry",
                "global",
                [EventArg::Uint(name), EventArg::Str(Some(iface)), EventArg::Uint(version)],
            ) => {
                self.globals.push(Global {
                    name: *name,
                    interface: iface.clone(),
                    version: *version,
                });
            }
            ("wl_registry", "global_remove", [EventArg::Uint(name)]) => {
                self.globals.retain(|g| g.name != *name);
            }
            ("wl_callback", "done", _) => self.callbacks_done.push(sender),
            ("xdg_wm_base", "ping", [EventArg::Uint(serial)]) => {
                // pong (opcode 3): a fuzzed client must not look hung.
                self.request(sender, 3, vec![Arg::Uint(*serial)])?;
            }
            ("xdg_surface", "configure", [EventArg::Uint(serial)]) => {
                self.configures.entry(sender).or_default().push(*serial);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Decodes an event's arguments with its signature; `None` when the bytes do not fit it.
pub fn decode(signature: &[ArgumentType], mut body: &[u8]) -> Option<Vec<EventArg>> {
    fn take<'a>(body: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if body.len() < n {
            return None;
        }
        let (head, rest) = body.split_at(n);
        *body = rest;
        Some(head)
    }
    fn word(body: &mut &[u8]) -> Option<u32> {
        let b = take(body, 4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }
    let mut args = Vec::with_capacity(signature.len());
    for t in signature {
        let arg = match t {
            ArgumentType::Int | ArgumentType::Fixed => EventArg::Int(word(&mut body)? as i32),
            ArgumentType::Uint => EventArg::Uint(word(&mut body)?),
            ArgumentType::Object(_) => EventArg::Object(word(&mut body)?),
            ArgumentType::NewId => EventArg::NewId(word(&mut body)?),
            ArgumentType::Str(_) => {
                let len = word(&mut body)? as usize;
                if len == 0 {
                    EventArg::Str(None)
                } else {
                    let bytes = take(&mut body, len.next_multiple_of(4))?;
                    let text = &bytes[..len - 1];
                    EventArg::Str(Some(String::from_utf8_lossy(text).into_owned()))
                }
            }
            ArgumentType::Array => {
                let len = word(&mut body)? as usize;
                let bytes = take(&mut body, len.next_multiple_of(4))?;
                EventArg::Array(bytes[..len].to_vec())
            }
            ArgumentType::Fd => EventArg::Fd,
        };
        args.push(arg);
    }
    body.is_empty().then_some(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_encode_as_the_wire_format_says() {
        let msg = encode(
            3,
            2,
            vec![
                Arg::Int(-1),
                Arg::Str(Some(b"abc".to_vec())),
                Arg::Str(None),
                Arg::Array(vec![1, 2, 3, 4, 5]),
                Arg::NewId(9),
            ],
        );
        let mut want = Vec::new();
        for w in [3u32, (40 << 16) | 2, u32::MAX, 4] {
            want.extend_from_slice(&w.to_ne_bytes());
        }
        want.extend_from_slice(b"abc\0");
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(&5u32.to_ne_bytes());
        want.extend_from_slice(&[1, 2, 3, 4, 5, 0, 0, 0]);
        want.extend_from_slice(&9u32.to_ne_bytes());
        assert_eq!(msg.bytes, want);
        assert!(msg.fds.is_empty());
    }

    #[test]
    fn events_decode_with_their_signature() {
        use wayland_backend::protocol::AllowNull;
        let sig = [
            ArgumentType::Uint,
            ArgumentType::Str(AllowNull::No),
            ArgumentType::Uint,
        ];
        let mut body = Vec::new();
        body.extend_from_slice(&7u32.to_ne_bytes());
        body.extend_from_slice(&7u32.to_ne_bytes()); // "wl_shm" and its NUL
        body.extend_from_slice(b"wl_shm\0\0");
        body.extend_from_slice(&2u32.to_ne_bytes());
        let args = decode(&sig, &body).expect("decodes");
        assert!(matches!(args[1], EventArg::Str(Some(ref s)) if s == "wl_shm"));
        assert!(matches!(args[2], EventArg::Uint(2)));
        assert!(decode(&sig, &body[..body.len() - 1]).is_none());
    }
}
