//! `shinsei-agent`, the tablet's binary: a thin layer of command line (clap, in
//! `cli`) over the agent runtime (`shinsei-agent`), the capture pipeline
//! (`shinsei-capture`) and the counter kiosk (`shinsei-kiosk`, feature `ui`).
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

mod cli;
mod demo;
mod error;

use shinsei_agent::memguard::{self, ZeroizingAlloc};

/// Every freed block is cleared first (see `memguard`).
#[global_allocator]
static GLOBAL: ZeroizingAlloc = ZeroizingAlloc;

fn main() {
    let switches = memguard::startup();
    let code = cli::main();
    memguard::shutdown(switches);
    std::process::exit(code);
}
