#![no_main]
//! The `/proc/net/route` and `/proc/net/ipv6_route` reader on arbitrary text (split at
//! the first NUL byte into the two tables). Never a panic; the same answer as reading
//! the two tables one at a time.
use libfuzzer_sys::fuzz_target;
use shinsei_agent::route::has_default_route;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (v4, v6) = text.split_once('\0').unwrap_or((&text, ""));
    let both = has_default_route(v4, v6);
    assert_eq!(both, has_default_route(v4, "") || has_default_route("", v6));
});
