//! `shinsei-relay --config relay.toml [--check-config]`: everything else is in the
//! library.
#![forbid(unsafe_code)]

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use shinsei_relay::{Config, Relay, RelayOptions};

/// The shinsei reference relay.
#[derive(Parser)]
#[command(name = "shinsei-relay", version)]
struct Args {
    /// Configuration file (TOML).
    #[arg(long, short = 'c', default_value = "/etc/shinsei/relay.toml")]
    config: PathBuf,
    /// Check the configuration and the PKI files, then exit.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    // Before anything is read: no core file, not dumpable (HPKE keys, decrypted
    // applications).
    let hardening = shinsei_relay::harden::harden_process();
    let args = Args::parse();
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shinsei-relay: {e}");
            return ExitCode::from(2);
        }
    };
    let level = config
        .log_level
        .parse::<tracing::Level>()
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    if !hardening.complete() {
        tracing::warn!(?hardening, "process hardening incomplete");
    }
    if args.check_config {
        return match shinsei_relay::server::check(&config) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("shinsei-relay: {e}");
                ExitCode::from(1)
            }
        };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shinsei-relay: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let r = rt.block_on(async {
        let relay = Relay::new(config, RelayOptions::default())?;
        relay.start().await?.run_until_signal().await
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "relay failed");
            eprintln!("shinsei-relay: {e}");
            ExitCode::from(1)
        }
    }
}
