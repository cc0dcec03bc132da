//! The wire fuzzer against a running headless weft (`weft_clients::wire_fuzz`): seeded sequences
//! of valid-ish and random requests with fds of every kind, each on its own connection, while a
//! bystander client keeps committing frames.
//!
//! After every sequence: weft has not panicked (a panic hook records any), logged no ERROR (each
//! is a weft bug), still answers IPC (`outputs`), and the bystander gets its frame callback; the
//! sequence itself ended as the protocol allows (answered, or a protocol error, or a close after a
//! malformed message). A failure names the seed that reproduces it:
//!
//!     WEFT_WIRE_FUZZ_SEED=<seed> WEFT_WIRE_FUZZ_SEQUENCES=1 cargo test --test wire_fuzz
//!
//! Where `/dev/udmabuf` works (the tests/vm guest), real dma-bufs join the fd kinds.
//!
//! CI runs 200 sequences from a fixed seed. `scripts/fuzz` runs long budgets
//! (`WEFT_WIRE_FUZZ_SEQUENCES`, `WEFT_WIRE_FUZZ_SECONDS`, `WEFT_WIRE_FUZZ_SEED`).

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::Harness;
use wayland_client::protocol::wl_shm::Format;
use weft::Request;
use weft_clients::wire_fuzz::{run_sequence, Limits, Outcome};
use weft_clients::{argb, Client, ShmBuffer};

/// Panic messages from any thread of this process (the compositor runs on one of them).
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// ERROR events logged in this process.
static ERRORS: AtomicUsize = AtomicUsize::new(0);

struct CountErrors;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountErrors {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::ERROR {
            ERRORS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Installs the log (as the harness does, plus this file's ERROR counter, so an ERROR is blamed on
/// the sequence that caused it) and the panic hook.
fn install_hooks() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(filter),
        )
        .with(CountErrors);
    let _ = tracing::subscriber::set_global_default(subscriber);
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        PANICS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("thread '{thread}': {info}"));
        default(info);
    }));
}

/// Whether a recorded panic happened in wayland-rs's generated request parsers (its location is
/// in wayland-server's or wayland-protocols' sources; the same rule as weft's dispatch).
fn is_parser_panic(panic: &str) -> bool {
    panic
        .split("panicked at ")
        .nth(1)
        .is_some_and(|at| at.contains("/wayland-server-") || at.contains("/wayland-protocols"))
}

/// A client showing a window that must keep getting frame callbacks.
struct Bystander {
    client: Client,
    top: weft_clients::Toplevel,
    buffer: ShmBuffer,
    tag: u32,
}

impl Bystander {
    fn new(h: &Harness) -> Self {
        let mut client = h.client();
        let top = client.toplevel("bystander", "weft.bystander").unwrap();
        let buffer = ShmBuffer::new(&client.shm, &client.qh, 32, 32, Format::Xrgb8888, |_, _| {
            argb(0, 255, 0, 255)
        })
        .unwrap();
        client.show(&top.surface, &buffer.buffer);
        client.roundtrip().unwrap();
        Self {
            client,
            top,
            buffer,
            tag: 0,
        }
    }

    /// Commits a frame and waits for its callback.
    fn frame(&mut self) -> Result<(), String> {
        self.tag += 1;
        let tag = self.tag;
        self.client.frame(&self.top.surface, tag);
        self.client.show(&self.top.surface, &self.buffer.buffer);
        self.client
            .wait_until("bystander frame", 400, |s| {
                s.frames_done.iter().any(|(t, _)| *t == tag)
            })
            .map_err(|e| format!("the bystander got no frame callback: {e}"))
    }
}

/// Names the sequence about to run where an abort (which no panic hook sees) leaves it readable:
/// in `$TMPDIR/weft-wire-fuzz.current`, and on stderr past the test harness's capture when
/// `WEFT_WIRE_FUZZ_PROGRESS` is set.
fn announce(i: u64, seed: u64) {
    use std::io::Write;
    let line = format!("wire fuzz: sequence {i} seed {seed:#x}\n");
    let _ = std::fs::write(std::env::temp_dir().join("weft-wire-fuzz.current"), &line);
    if std::env::var_os("WEFT_WIRE_FUZZ_PROGRESS").is_some() {
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

/// A kernel dma-buf (udmabuf over a shrink-sealed memfd), as the tests/vm guest can make.
fn udmabuf(size: u64) -> std::io::Result<std::os::fd::OwnedFd> {
    let buf = weft_guest::udmabuf::alloc(size).map_err(|e| std::io::Error::other(e.to_string()))?;
    buf.try_clone_fd()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

fn udmabuf_works() -> bool {
    udmabuf(4096).is_ok()
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

/// The seed of sequence `i` of a run from `base`: sequence seeds are independent of each other,
/// so one reproduces on its own.
fn sequence_seed(base: u64, i: u64) -> u64 {
    weft_clients::wire_fuzz::Rng::new(base ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64()
}

#[test]
fn weft_survives_random_wire_traffic() {
    install_hooks();
    let sequences = env_u64("WEFT_WIRE_FUZZ_SEQUENCES").unwrap_or(200);
    let seconds = env_u64("WEFT_WIRE_FUZZ_SECONDS");
    let base = env_u64("WEFT_WIRE_FUZZ_SEED").unwrap_or(0x005e_ed0f_3ef7);
    // One sequence given by its own seed (the reproduction line) is run as is.
    let single = sequences == 1 && std::env::var_os("WEFT_WIRE_FUZZ_SEED").is_some();
    let h = Harness::new(320, 240, 60);
    let mut bystander = Bystander::new(&h);
    bystander
        .frame()
        .expect("the bystander is served before fuzzing");
    let start = Instant::now();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let (mut requests, mut events, mut done) = (0u64, 0u64, 0u64);
    let limits = Limits {
        trace_to_stderr: single,
        dmabufs: udmabuf_works().then_some(udmabuf as _),
        ..Limits::default()
    };
    println!(
        "wire fuzz: real dma-bufs: {}",
        if limits.dmabufs.is_some() {
            "udmabuf"
        } else {
            "none (/dev/udmabuf is missing: sealed memfds stand in)"
        }
    );
    for i in 0..sequences {
        if seconds.is_some_and(|s| start.elapsed() >= Duration::from_secs(s)) {
            break;
        }
        let seed = if single { base } else { sequence_seed(base, i) };
        announce(i, seed);
        let errors_before = ERRORS.load(Ordering::SeqCst);
        let report = run_sequence(&h.weft.wayland_path(), seed, limits);
        let fail = |what: String| -> ! {
            panic!(
                "wire fuzz: sequence {i}, seed {seed:#x}: {what}\n  reproduce: \
                 WEFT_WIRE_FUZZ_SEED={seed:#x} WEFT_WIRE_FUZZ_SEQUENCES=1 cargo test --test wire_fuzz"
            )
        };
        // A panic in wayland-rs's generated request parser (a null string where the protocol
        // requires one, which wayland-backend 0.3 passes through) is contained by weft's per-client
        // boundary and logged at WARN (backends/src/dispatch.rs): the client is ended, which the
        // outcome checks below see. Any other panic is a bug.
        let panics: Vec<String> =
            std::mem::take(&mut *PANICS.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .filter(|p| !is_parser_panic(p))
                .collect();
        if !panics.is_empty() {
            fail(format!("weft panicked: {}", panics.join("\n")));
        }
        let report = report.unwrap_or_else(|e| fail(format!("the fuzzing client failed: {e}")));
        if let Err(e) = h.weft.msg(&Request::Outputs) {
            fail(format!("weft no longer answers IPC: {e:#}"));
        }
        if let Err(e) = bystander.frame() {
            fail(e);
        }
        let errors = ERRORS.load(Ordering::SeqCst);
        if errors > errors_before {
            fail(format!(
                "{} ERROR events were logged (see the output): each is a weft bug",
                errors - errors_before
            ));
        }
        let key = match &report.outcome {
            Outcome::Violation(what) => fail(format!(
                "{what} after {} requests:\n    {}",
                report.requests,
                report.trace.join("\n    ")
            )),
            Outcome::Alive => "answered".to_string(),
            Outcome::ClosedAfterMalformed => "closed after a malformed message".to_string(),
            Outcome::ProtocolError(e) => format!("{}.error {}", e.interface, e.code),
        };
        *outcomes.entry(key).or_default() += 1;
        requests += report.requests;
        events += report.events;
        done += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "wire fuzz: {done} sequences, {requests} requests, {events} events in {elapsed:.1} s \
         ({:.0} requests/s), base seed {base:#x}",
        requests as f64 / elapsed.max(1e-9)
    );
    for (outcome, n) in &outcomes {
        println!("  {n:6}  {outcome}");
    }
    assert!(done > 0, "no sequence ran");
    assert!(
        outcomes.get("answered").copied().unwrap_or(0) > 0 || single,
        "no sequence was answered: the generator only produces errors"
    );
    drop(bystander);
    drop(h);
    assert_eq!(ERRORS.load(Ordering::SeqCst), 0, "ERROR events were logged");
}
