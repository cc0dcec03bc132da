//! `weft-bench-client [--size WxH] [--frames N] [--warmup N] [--damage full|square]
//! [--buffers shm|dmabuf-xrgb8888|dmabuf-nv12]`: the client of `benches/compositors` (see
//! [`weft_clients::bench`]). Connects to `$WAYLAND_DISPLAY` and prints one JSON line:
//! `{"frames":N,"seconds":S,"fps":F}`. Exits 2 on a usage error, 1 when the run failed.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

use weft_clients::bench::{run, BenchOptions, Buffers, Damage};
use weft_clients::dmabuf::{NV12, XRGB8888};

const USAGE: &str = "usage: weft-bench-client [--size WxH] [--frames N] [--warmup N] [--damage full|square] [--buffers shm|dmabuf-xrgb8888|dmabuf-nv12]";

fn parse() -> Result<BenchOptions, String> {
    let mut o = BenchOptions {
        width: 640,
        height: 360,
        frames: 150,
        warmup: 10,
        damage: Damage::Full,
        buffers: Buffers::Shm,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        let number = |v: &str| v.parse::<u32>().map_err(|e| format!("{arg} {v}: {e}"));
        match arg.as_str() {
            "--size" => {
                let (w, h) = value.split_once('x').ok_or("--size WxH")?;
                o.width = number(w)? as i32;
                o.height = number(h)? as i32;
            }
            "--frames" => o.frames = number(&value)?,
            "--warmup" => o.warmup = number(&value)?,
            "--damage" => {
                o.damage = match value.as_str() {
                    "full" => Damage::Full,
                    "square" => Damage::Square,
                    v => return Err(format!("--damage {v}: full or square")),
                }
            }
            "--buffers" => {
                o.buffers = match value.as_str() {
                    "shm" => Buffers::Shm,
                    "dmabuf-xrgb8888" => Buffers::Dmabuf(XRGB8888),
                    "dmabuf-nv12" => Buffers::Dmabuf(NV12),
                    v => {
                        return Err(format!(
                            "--buffers {v}: shm, dmabuf-xrgb8888 or dmabuf-nv12"
                        ))
                    }
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.width <= 0 || o.height <= 0 || o.frames == 0 {
        return Err("--size and --frames must be positive".into());
    }
    Ok(o)
}

fn socket() -> Result<PathBuf, String> {
    let display = std::env::var_os("WAYLAND_DISPLAY").ok_or("WAYLAND_DISPLAY is not set")?;
    let display = PathBuf::from(display);
    if display.is_absolute() {
        return Ok(display);
    }
    let dir = std::env::var_os("XDG_RUNTIME_DIR").ok_or("XDG_RUNTIME_DIR is not set")?;
    Ok(PathBuf::from(dir).join(display))
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = socket()
        .and_then(|p| UnixStream::connect(&p).map_err(|e| format!("{}: {e}", p.display())))
        .and_then(|s| run(s, &options).map_err(|e| e.to_string()));
    match result {
        Ok(r) => {
            println!(
                "{{\"frames\":{},\"seconds\":{:.4},\"fps\":{:.2}}}",
                r.frames,
                r.seconds,
                r.fps()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("weft-bench-client: {e}");
            ExitCode::from(1)
        }
    }
}
