//! IPC connections, each an event source of its own, so that no process on the IPC socket can hold
//! the event loop that serves every Wayland client.
//!
//! A connection carries one request line and gets one reply line, then weft closes it. Invariants:
//! - sockets are non-blocking and registered edge-triggered for read and write: every wake-up reads
//!   until `WouldBlock` (or a whole line) and writes until `WouldBlock` (or the whole reply);
//! - a request is at most [`Limits::max_request`] bytes: past that the caller gets an error reply
//!   and the connection is closed;
//! - a connection lives at most [`Limits::lifetime`] from accept to the last reply byte: a caller
//!   that says half a request, or never reads its reply, is dropped by a sweep once a second;
//! - at most [`Limits::max_connections`] are open at once: a new one evicts the oldest (which is
//!   told so), so idle connections can never lock `weft msg` out.
//!
//! A half-closed connection (the caller shut down its write side) is answered: the bytes before the
//! end of stream are the request, newline or not.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use calloop::generic::Generic;
use calloop::timer::{TimeoutAction, Timer};
use calloop::{Interest, LoopHandle, Mode, PostAction, RegistrationToken};
use tracing::debug;

use crate::Weft;

/// Bounds on what the IPC socket accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of one request line.
    pub max_request: usize,
    /// Connections open at once.
    pub max_connections: usize,
    /// From accept to the last byte of the reply.
    pub lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // The largest real request (a screenshot path) is a few hundred bytes.
            max_request: 64 * 1024,
            max_connections: 64,
            lifetime: Duration::from_secs(10),
        }
    }
}

struct Open {
    token: Option<RegistrationToken>,
    deadline: Instant,
}

/// Answers one request line (the server's `reply`: given, so this module needs nothing of it).
pub type Answer = fn(&mut Weft, &[u8]) -> String;

/// The open connections of one IPC socket.
#[derive(Clone)]
pub struct Connections {
    handle: LoopHandle<'static, Weft>,
    limits: Limits,
    answer: Answer,
    open: Rc<RefCell<HashMap<u64, Open>>>,
    next_id: Rc<std::cell::Cell<u64>>,
}

impl Connections {
    pub fn new(handle: LoopHandle<'static, Weft>, limits: Limits, answer: Answer) -> Self {
        Self {
            handle,
            limits,
            answer,
            open: Rc::default(),
            next_id: Rc::default(),
        }
    }

    /// Closes, once a second, every connection past its lifetime.
    pub fn start_sweeping(&self) -> Result<RegistrationToken, calloop::Error> {
        let this = self.clone();
        self.handle
            .insert_source(
                Timer::from_duration(Duration::from_secs(1)),
                move |_, _, _| {
                    this.sweep(Instant::now());
                    TimeoutAction::ToDuration(Duration::from_secs(1))
                },
            )
            .map_err(|e| e.error)
    }

    /// Closes the connection opened first, to make room for a new one.
    fn evict_oldest(&self) {
        let oldest = self.open.borrow().keys().min().copied();
        if let Some(id) = oldest {
            debug!(
                connection = id,
                limit = self.limits.max_connections,
                "IPC connection limit reached: the oldest connection is closed"
            );
            self.close(id);
        }
    }

    /// Forgets connection `id` and removes its source, which closes the socket.
    fn close(&self, id: u64) {
        let open = self.open.borrow_mut().remove(&id);
        if let Some(token) = open.and_then(|o| o.token) {
            self.handle.remove(token);
        }
    }

    fn sweep(&self, now: Instant) {
        let expired: Vec<u64> = self
            .open
            .borrow()
            .iter()
            .filter(|(_, o)| o.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            debug!(
                connection = id,
                "IPC connection closed: no whole request and reply within its lifetime"
            );
            self.close(id);
        }
    }

    /// Takes a freshly accepted connection.
    pub fn add(&self, stream: UnixStream) {
        if self.open.borrow().len() >= self.limits.max_connections {
            self.evict_oldest();
        }
        if let Err(e) = stream.set_nonblocking(true) {
            debug!(error = %e, "IPC connection cannot be made non-blocking; closed");
            return;
        }
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.open.borrow_mut().insert(
            id,
            Open {
                token: None,
                deadline: Instant::now() + self.limits.lifetime,
            },
        );
        let mut conn = Conn::new(self.limits.max_request);
        let open = self.open.clone();
        let answer = self.answer;
        let inserted = self.handle.insert_source(
            Generic::new(stream, Interest::BOTH, Mode::Edge),
            move |_, stream, state| {
                // `&UnixStream` reads and writes: no mutable access to the source's fd is needed.
                let stream: &UnixStream = stream;
                if conn.progress(stream, state, answer) {
                    open.borrow_mut().remove(&id);
                    Ok(PostAction::Remove)
                } else {
                    Ok(PostAction::Continue)
                }
            },
        );
        match inserted {
            Ok(token) => {
                if let Some(o) = self.open.borrow_mut().get_mut(&id) {
                    o.token = Some(token);
                }
            }
            Err(e) => {
                debug!(error = %e, "IPC connection could not join the event loop; closed");
                self.open.borrow_mut().remove(&id);
            }
        }
    }

    /// Connections open now.
    pub fn len(&self) -> usize {
        self.open.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn error_line(why: &str) -> String {
    let mut line = serde_json::json!({ "ok": false, "error": why }).to_string();
    line.push('\n');
    line
}

/// One connection's progress: the request read so far, then the reply written so far.
struct Conn {
    max_request: usize,
    input: Vec<u8>,
    reply: Option<Vec<u8>>,
    written: usize,
}

impl Conn {
    fn new(max_request: usize) -> Self {
        Self {
            max_request,
            input: Vec::new(),
            reply: None,
            written: 0,
        }
    }

    /// Reads and writes what the socket allows now. Returns whether the connection is finished.
    fn progress(&mut self, stream: &UnixStream, state: &mut Weft, answer: Answer) -> bool {
        if self.reply.is_none() {
            match self.read_request(stream) {
                ReadOutcome::More => return false,
                ReadOutcome::Gone => return true,
                ReadOutcome::Line(end) => {
                    let line = self.input.get(..end).unwrap_or_default().to_vec();
                    let mut reply = answer(state, &line);
                    reply.push('\n');
                    self.reply = Some(reply.into_bytes());
                }
                ReadOutcome::TooLarge => {
                    self.reply = Some(
                        error_line(&format!(
                            "request too large (limit {} bytes)",
                            self.max_request
                        ))
                        .into_bytes(),
                    );
                }
            }
        }
        self.write_reply(stream)
    }

    fn read_request(&mut self, mut stream: &UnixStream) -> ReadOutcome {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) => {
                    // End of stream: what came before it is the request (a half-closed caller).
                    return if self.input.is_empty() {
                        debug!("IPC connection closed without a request");
                        ReadOutcome::Gone
                    } else {
                        ReadOutcome::Line(self.input.len())
                    };
                }
                Ok(n) => {
                    let old = self.input.len();
                    self.input
                        .extend_from_slice(chunk.get(..n).unwrap_or_default());
                    let new = self.input.get(old..).unwrap_or_default();
                    if let Some(pos) = new.iter().position(|b| *b == b'\n') {
                        return ReadOutcome::Line(old + pos);
                    }
                    if self.input.len() > self.max_request {
                        return ReadOutcome::TooLarge;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return ReadOutcome::More,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!(error = %e, "IPC read failed");
                    return ReadOutcome::Gone;
                }
            }
        }
    }

    fn write_reply(&mut self, mut stream: &UnixStream) -> bool {
        let Some(reply) = &self.reply else {
            return false;
        };
        while self.written < reply.len() {
            match stream.write(reply.get(self.written..).unwrap_or_default()) {
                Ok(0) => return true,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!(error = %e, "IPC caller left before the reply");
                    return true;
                }
            }
        }
        true
    }
}

/// What reading a request came to.
enum ReadOutcome {
    /// Nothing more to read now; the line is not whole yet.
    More,
    /// A whole request: `input[..end]`.
    Line(usize),
    TooLarge,
    /// Closed or broken before any request.
    Gone,
}
