//! Is there a way out? The kernel's routing tables as `/proc` prints them, read for the
//! status bar's network indicator (no socket is opened to find out).
//!
//! Format (Linux `net/ipv4/fib_trie.c` and `net/ipv6/route.c`, one route a line):
//! - `/proc/net/route`: a header line, then tab-separated `Iface Destination Gateway
//!   Flags RefCnt Use Metric Mask MTU Window IRTT`; Destination, Gateway, Flags and Mask
//!   in hexadecimal. A default route has Destination `00000000`; Flags bit 0 is
//!   `RTF_UP`.
//! - `/proc/net/ipv6_route`: no header, ten space-separated fields `dest dest_plen src
//!   src_plen next_hop metric refcnt use flags iface`, hexadecimal. A default route has
//!   dest `0…0` (32 digits) and prefix length `00`; flags bit 0 is `RTF_UP`.
//!
//! Loopback (`lo`) never counts. Anything that does not match is ignored, never an
//! error: the answer is then "no route". Fuzz target: `agent/fuzz` `route`; test vectors
//! below.

/// Whether the kernel's routing tables (`/proc/net/route`, `/proc/net/ipv6_route`)
/// hold a default route that is up on an interface other than loopback.
pub fn has_default_route(ipv4: &str, ipv6: &str) -> bool {
    let v4 = ipv4.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3
            && f[0] != "lo"
            && f[1] == "00000000"
            && u32::from_str_radix(f[3], 16).is_ok_and(|flags| flags & 1 == 1)
    });
    let v6 = ipv6.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() == 10
            && f[0] == "00000000000000000000000000000000"
            && f[1] == "00"
            && f[9] != "lo"
            && u32::from_str_radix(f[8], 16).is_ok_and(|flags| flags & 1 == 1)
    });
    v4 || v6
}

#[cfg(test)]
mod tests {
    use super::has_default_route;

    #[test]
    fn default_route_from_proc() {
        let v4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                  wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\n\
                  wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\n";
        assert!(has_default_route(v4, ""));
        let no_default = "Iface\tDestination\tGateway\tFlags\n\
                          wlan0\t0001A8C0\t00000000\t0001\n";
        assert!(!has_default_route(no_default, ""));
        let down = "Iface\tDestination\tGateway\tFlags\n\
                    wlan0\t00000000\t0101A8C0\t0002\n";
        assert!(!has_default_route(down, ""));
        let v6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                  fe800000000000000000000000000001 00000400 00000001 00000000 00000003 wlan0\n\
                  00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                  00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n";
        assert!(has_default_route("", v6));
        assert!(!has_default_route("garbage", "garbage\n"));
    }
}
