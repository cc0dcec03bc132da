//! The X11 clients that connected before Xwayland ran: weft accepted their connections on its own
//! sockets (that connection is what started Xwayland) and relays them to Xwayland, bytes and file
//! descriptors (DRI3 and MIT-SHM pass buffers as fds) both ways, until either side closes.
//! Clients that connect once Xwayland runs reach it directly.
//!
//! Each direction is a thread with blocking I/O: weft's event loop never waits on an X client,
//! and Xwayland (a Wayland client of weft) is never left waiting on weft's loop.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, Shutdown,
};

/// The most file descriptors one X11 request or reply carries (DRI3 sends up to four planes).
const MAX_FDS: usize = 16;

/// Relays `client` to `server` until one of them closes. Returns at once.
pub fn relay(client: UnixStream, server: UnixStream) -> std::io::Result<()> {
    for s in [&client, &server] {
        s.set_nonblocking(false)?;
    }
    let (client2, server2) = (client.try_clone()?, server.try_clone()?);
    spawn("weft-x11-relay-up", client, server)?;
    spawn("weft-x11-relay-down", server2, client2)?;
    Ok(())
}

fn spawn(name: &str, from: UnixStream, to: UnixStream) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            if let Err(e) = pump(&from, &to) {
                tracing::debug!(error = %e, "X11 relay closed");
            }
            // The other direction ends when its peer sees the shutdown.
            let _ = rustix::net::shutdown(&to, Shutdown::Write);
            let _ = rustix::net::shutdown(&from, Shutdown::Read);
        })
        .map(drop)
}

/// Copies `from` to `to`, file descriptors included, until `from` closes.
fn pump(from: &UnixStream, to: &UnixStream) -> std::io::Result<()> {
    let mut data = vec![0u8; 64 * 1024];
    let mut control = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    loop {
        let mut fds: Vec<OwnedFd> = Vec::new();
        let len = {
            let mut ancillary = RecvAncillaryBuffer::new(&mut control);
            let msg = rustix::net::recvmsg(
                from,
                &mut [IoSliceMut::new(&mut data)],
                &mut ancillary,
                RecvFlags::CMSG_CLOEXEC,
            )?;
            for message in ancillary.drain() {
                if let RecvAncillaryMessage::ScmRights(received) = message {
                    fds.extend(received);
                }
            }
            msg.bytes
        };
        if len == 0 {
            return Ok(());
        }
        let mut sent = 0;
        while sent < len {
            let borrowed: Vec<_> = fds.iter().map(AsFd::as_fd).collect();
            let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
            let mut ancillary = SendAncillaryBuffer::new(&mut space);
            if !borrowed.is_empty() {
                ancillary.push(SendAncillaryMessage::ScmRights(&borrowed));
            }
            let part = data.get(sent..len).unwrap_or_default();
            sent += rustix::net::sendmsg(
                to,
                &[IoSlice::new(part)],
                &mut ancillary,
                SendFlags::NOSIGNAL,
            )?;
            // The descriptors went with the first bytes.
            drop(borrowed);
            fds.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn bytes_and_descriptors_cross_both_ways() {
        let (client, client_far) = UnixStream::pair().unwrap();
        let (server_far, server) = UnixStream::pair().unwrap();
        relay(client_far, server_far).unwrap();

        // Client to server, with a descriptor.
        let (fd_mine, _fd_peer) = UnixStream::pair().unwrap();
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut ancillary = SendAncillaryBuffer::new(&mut space);
        let fds = [fd_mine.as_fd()];
        ancillary.push(SendAncillaryMessage::ScmRights(&fds));
        rustix::net::sendmsg(
            &client,
            &[IoSlice::new(b"hello")],
            &mut ancillary,
            SendFlags::empty(),
        )
        .unwrap();
        let mut buf = [0u8; 5];
        let mut control = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut received = RecvAncillaryBuffer::new(&mut control);
        let msg = rustix::net::recvmsg(
            &server,
            &mut [IoSliceMut::new(&mut buf)],
            &mut received,
            RecvFlags::empty(),
        )
        .unwrap();
        assert_eq!(&buf[..msg.bytes], b"hello");
        let count = received
            .drain()
            .map(|m| match m {
                RecvAncillaryMessage::ScmRights(fds) => fds.count(),
                _ => 0,
            })
            .sum::<usize>();
        assert_eq!(count, 1, "the descriptor crossed");

        // Server to client, then the server closes and the client sees the end.
        (&server).write_all(b"reply").unwrap();
        drop(server);
        let mut back = Vec::new();
        (&client).read_to_end(&mut back).unwrap();
        assert_eq!(back, b"reply");
    }
}
