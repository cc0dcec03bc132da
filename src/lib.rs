//! The `weft` binary's library half: starting a headless weft in a thread, for `weft demo` and the
//! in-process test harness (`tests/`).

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use anyhow::{anyhow, Context};
pub use weft_backends::headless::{
    Controller, HeadlessOptions, InjectedInput, InsertClientError, Stopped,
};
pub use weft_backends::server::{Endpoints, ServerOptions};
pub use weft_compositor::ipc::Request;
use weft_compositor::reexports::Ping;

/// A headless weft running on its own thread; stopped and joined on drop.
pub struct Running {
    pub endpoints: Endpoints,
    /// Injected input, clients on ready-made sockets, toplevel placement (see [`Controller`]).
    pub controller: Controller,
    stop: Ping,
    thread: Option<JoinHandle<anyhow::Result<i32>>>,
}

impl Running {
    /// Starts weft with `options` and waits until clients can connect.
    pub fn start(options: HeadlessOptions) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("weft".into())
            .spawn(move || {
                weft_backends::headless::run(options, Some(tx)).map_err(anyhow::Error::from)
            })
            .context("spawning the compositor thread")?;
        match rx.recv() {
            Ok(ready) => Ok(Self {
                endpoints: ready.endpoints,
                controller: ready.controller,
                stop: ready.stop,
                thread: Some(thread),
            }),
            Err(_) => {
                let result = thread
                    .join()
                    .map_err(|_| anyhow!("the compositor thread panicked"))?;
                Err(result
                    .err()
                    .unwrap_or_else(|| anyhow!("the compositor stopped before it was ready")))
            }
        }
    }

    /// Delivers `input` to clients as a device would; returns once they were sent the events.
    pub fn inject(&self, input: InjectedInput) -> Result<(), Stopped> {
        self.controller.inject(input)
    }

    pub fn wayland_path(&self) -> PathBuf {
        self.endpoints.wayland_path()
    }

    /// One IPC request, as `weft msg` sends it.
    pub fn msg(&self, req: &Request) -> anyhow::Result<serde_json::Value> {
        Ok(weft_compositor::ipc::client::request(
            &self.endpoints.ipc_path,
            req,
        )?)
    }

    /// Whether the compositor's loop has ended (a `quit` binding, a fatal error).
    pub fn has_stopped(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the compositor and returns its result.
    pub fn stop(mut self) -> anyhow::Result<i32> {
        self.stop_now()
    }

    /// Stops the compositor (if it still runs) and returns how it ended: its error, or that its
    /// thread panicked. A second call, or a drop after it, finds it stopped (`Ok(0)`).
    pub fn stop_now(&mut self) -> anyhow::Result<i32> {
        self.stop.ping();
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| anyhow!("the compositor thread panicked"))?,
            None => Ok(0),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Whoever needs how it ended asked with `stop`/`stop_now` before (the test harness does).
        let _ = self.stop_now();
    }
}

/// A private runtime directory (mode 0700) for a weft that must not touch the user's.
pub fn private_runtime_dir(tag: &str) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::env::temp_dir().join(format!("weft-{tag}-{}-{}", std::process::id(), unique()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Per-process counter for unique directory names; not state of the compositor.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
