//! `shinsei-provision`: the command line (clap lives only here, in `cli`) over the
//! `shinsei_provisioning` library.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::{run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = if cli.verbose {
        tracing::Level::DEBUG
    } else {
        tracing::Level::WARN
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut progress = |line: &str| eprintln!("{line}");
    match run(&cli, &mut input, &mut progress) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("エラー / error: {e}");
            ExitCode::FAILURE
        }
    }
}
