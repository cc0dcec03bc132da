//! Liveness: weft pings every xdg-shell client that has a toplevel, at most once per interval,
//! and a client that leaves a ping unanswered for longer than the timeout is disconnected with
//! `xdg_wm_base.unresponsive`. The timeout is generous (30 s by default): a busy client that
//! answers late is fine; a hung one should not hold its buffers and surfaces forever.

use std::time::{Duration, Instant};

use smithay::utils::SERIAL_COUNTER;
use smithay::wayland::shell::xdg::ShellClient;
use tracing::{debug, warn};

pub struct PingTracker {
    pub timeout: Duration,
    pub interval: Duration,
    outstanding: Vec<(ShellClient, Instant)>,
    last_round: Option<Instant>,
}

impl Default for PingTracker {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            interval: Duration::from_secs(5),
            outstanding: Vec::new(),
            last_round: None,
        }
    }
}

impl PingTracker {
    /// A client answered its ping.
    pub fn pong(&mut self, client: &ShellClient) {
        self.outstanding.retain(|(c, _)| c != client);
    }

    /// Pings `clients` (once per interval) and disconnects those past the timeout.
    pub fn tick(&mut self, now: Instant, clients: impl IntoIterator<Item = ShellClient>) {
        self.outstanding.retain(|(c, _)| c.alive());
        for (client, sent) in &self.outstanding {
            if now.duration_since(*sent) > self.timeout {
                warn!(timeout = ?self.timeout, "client did not answer a ping: disconnecting it");
                let _ = client.unresponsive();
            }
        }
        if self
            .last_round
            .is_some_and(|t| now.duration_since(t) < self.interval)
        {
            return;
        }
        self.last_round = Some(now);
        for client in clients {
            if self.outstanding.iter().any(|(c, _)| *c == client) {
                continue;
            }
            match client.send_ping(SERIAL_COUNTER.next_serial()) {
                Ok(()) => self.outstanding.push((client, now)),
                Err(e) => debug!(error = ?e, "not pinging client"),
            }
        }
    }
}
