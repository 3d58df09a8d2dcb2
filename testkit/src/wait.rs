//! Polling for a condition (a process coming up, a background task finishing).

use std::time::{Duration, Instant};

/// Polls `f` every 25 ms inside a tokio runtime; fails the test with "timed out waiting
/// for `what`" when it is still false after `limit`.
pub async fn until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// [`until`] on a plain thread (10 ms steps).
pub fn until_blocking(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `f` every 50 ms for up to `secs` seconds; whether it became true (asks once
/// more at the end). Not an assertion on time.
pub fn poll(mut f: impl FnMut() -> bool, secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}
