//! `weft-soak --weft PATH [--cycles N] [--warmup N] [--output WxH@HZ] [--progress N]
//! [--malloc-defaults]`: runs the soak
//! of [`weft_clients::soak`] against a `weft` process and prints its open fds, resident memory and
//! mappings before and after. Exits 1 when weft grew fds or mappings, grew its RSS by 1 MiB or more,
//! logged an ERROR, or stopped answering; 2 on a usage error or a failed cycle.

use std::path::PathBuf;
use std::process::ExitCode;

use weft_clients::soak::{run, SoakOptions};

const USAGE: &str =
    "usage: weft-soak --weft PATH [--cycles N] [--warmup N] [--output WxH@HZ] [--progress N] [--malloc-defaults]";

fn parse() -> Result<SoakOptions, String> {
    let mut options = SoakOptions::new(PathBuf::new(), 100_000);
    options.progress_every = 10_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{arg} {v}: {e}"));
        match arg.as_str() {
            "--weft" => options.weft = PathBuf::from(value()?),
            "--cycles" => options.cycles = number(value()?)?,
            "--warmup" => options.warmup = number(value()?)?,
            "--output" => options.output = value()?,
            "--progress" => options.progress_every = number(value()?)?,
            "--malloc-defaults" => options.malloc_defaults = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if options.warmup < weft_clients::soak::EARLY {
        return Err(format!(
            "--warmup must be at least {}",
            weft_clients::soak::EARLY
        ));
    }
    if options.weft.as_os_str().is_empty() {
        return Err("--weft PATH is required".into());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("weft-soak: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let report = match run(&options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("weft-soak: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{report}");
    for line in &report.errors {
        println!("  {line}");
    }
    let ok = report.fd_growth() == 0
        && report.maps_growth() == 0
        && report.rss_growth_kib() < 1024
        && report.errors.is_empty()
        && report.outputs.contains("HEADLESS-1");
    println!(
        "goal (0 fds, 0 mappings, < 1 MiB RSS growth, no ERROR, weft still answering): {}",
        if ok { "met" } else { "MISSED" }
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
