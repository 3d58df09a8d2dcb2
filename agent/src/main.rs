#![forbid(unsafe_code)]

use shinsei_agent::memguard::{self, ZeroizingAlloc};

/// Every freed block is cleared first (see `memguard`).
#[global_allocator]
static GLOBAL: ZeroizingAlloc = ZeroizingAlloc;

fn main() {
    let switches = memguard::startup();
    let code = shinsei_agent::cli::main();
    memguard::shutdown(switches);
    std::process::exit(code);
}
