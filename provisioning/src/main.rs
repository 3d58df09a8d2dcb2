//! `shinsei-provision`: thin wrapper over [`shinsei_provisioning::cli`].
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use shinsei_provisioning::cli::{run, Cli};

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
