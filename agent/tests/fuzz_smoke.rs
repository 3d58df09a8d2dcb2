#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Stable-toolchain smoke of the `agent/fuzz` target `route` (CI has no nightly for
//! `cargo fuzz` everywhere): arbitrary text and lines close to real routing-table lines.

use proptest::prelude::*;
use shinsei_agent::route::has_default_route;

fn route(v4: &str, v6: &str) {
    let both = has_default_route(v4, v6);
    assert_eq!(both, has_default_route(v4, "") || has_default_route("", v6));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_route_text_never_panics(v4 in "\\PC{0,300}", v6 in "\\PC{0,300}") {
        route(&v4, &v6);
    }

    #[test]
    fn route_like_lines(
        iface in "(lo|wlan0|eth0|)",
        dest in "[0-9A-F]{0,9}",
        flags in "[0-9A-Fa-fx+-]{0,9}",
        fields in 0usize..12,
    ) {
        let v4 = format!("Iface\tDestination\tGateway\tFlags\n{iface}\t{dest}\t0101A8C0\t{flags}\n");
        route(&v4, "");
        let mut line: Vec<String> = vec!["0".repeat(32), "00".into()];
        line.extend((0..fields).map(|i| if i == 6 { flags.clone() } else { dest.clone() }));
        line.push(iface.clone());
        route("", &line.join(" "));
        // Only an up default route on another interface than loopback counts.
        let up = format!("Iface\tDestination\tGateway\tFlags\n{iface}\t00000000\t0101A8C0\t0003\n");
        prop_assert_eq!(has_default_route(&up, ""), !iface.is_empty() && iface != "lo");
    }
}
