#![forbid(unsafe_code)]

fn main() {
    std::process::exit(shinsei_agent::cli::main());
}
