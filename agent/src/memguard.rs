//! Memory hygiene for secrets — the agent's only `unsafe` code.
//!
//! - [`ZeroizingAlloc`]: a global allocator over the system allocator that clears every
//!   block before it is freed, and clears the old block when `realloc` moves data (it
//!   always allocates, copies, clears, frees: the system `realloc` could move a block
//!   and leave the old bytes behind). The binary installs it; so every `Vec`, `String`
//!   or library buffer that held a photo, an application ID or a PIN is zero once freed,
//!   including the ones we do not own (QR decoder, JPEG codec, HTTP stack).
//! - [`LockedBuf`]: a page-aligned buffer that is `mlock`ed (never swapped) and marked
//!   `MADV_DONTDUMP`, cleared and unlocked on drop. Password and PIN entry goes there.
//! - [`harden_process`]: no core dumps (`RLIMIT_CORE` 0, `PR_SET_DUMPABLE` 0, which also
//!   stops other unprivileged processes from reading our memory through `/proc`).
//! - [`scrub_stack`]: overwrites a stretch of the calling thread's stack, where copies of
//!   small values (IDs, PINs) that never reached the heap may linger.
//!
//! Test-only switches ([`TestSwitches`]) exist for the leak-detector test, and are
//! ignored in release builds: keeping the process readable and alive after a submission,
//! and (for the control run that proves the scanner works) turning zeroization off.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

static ZERO_ON_FREE: AtomicBool = AtomicBool::new(true);

/// Clears `len` bytes at `ptr` in a way the optimiser cannot remove
/// (glibc's `explicit_bzero`).
///
/// SAFETY: the caller guarantees `ptr..ptr+len` is a live allocation it may write.
unsafe fn clear(ptr: *mut u8, len: usize) {
    if len > 0 {
        // SAFETY: see the function's contract.
        unsafe { libc::explicit_bzero(ptr.cast(), len) };
    }
}

/// Clears every block before it goes back to the system allocator.
#[derive(Debug, Default, Clone, Copy)]
pub struct ZeroizingAlloc;

// SAFETY: every method forwards to `System` with the same layout contract; the extra
// work only writes inside the block being freed (which the caller owns until `dealloc`
// returns) and copies `min(old, new)` bytes between two live, non-overlapping blocks.
unsafe impl GlobalAlloc for ZeroizingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` is a live block of `layout.size()` bytes owned by the caller.
        unsafe {
            if ZERO_ON_FREE.load(Ordering::Relaxed) {
                clear(ptr, layout.size());
            }
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` is a live block described by `layout`; `new_size` is non-zero and
        // does not overflow when rounded to `layout.align()` (GlobalAlloc's contract), so
        // the new layout is valid. The two blocks are distinct allocations.
        unsafe {
            if !ZERO_ON_FREE.load(Ordering::Relaxed) {
                return System.realloc(ptr, layout, new_size);
            }
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = System.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                clear(ptr, layout.size());
                System.dealloc(ptr, layout);
            }
            new
        }
    }
}

impl ZeroizingAlloc {
    /// Whether freed blocks are being cleared (always, unless a debug build's control
    /// run switched it off).
    pub fn active() -> bool {
        ZERO_ON_FREE.load(Ordering::Relaxed)
    }

    /// Turns clearing on or off, for the allocator benchmark only: the feature
    /// `bench-hooks` is never enabled in a build that ships.
    #[cfg(feature = "bench-hooks")]
    pub fn set_active_for_benchmark(on: bool) {
        ZERO_ON_FREE.store(on, Ordering::Relaxed);
    }
}

/// Why a [`LockedBuf`] could not take another byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferFull;

/// A fixed-capacity secret buffer on pages of its own: locked in RAM when the
/// platform allows (`mlock`; see [`LockedBuf::is_locked`]), excluded from core dumps,
/// cleared on drop. No `Debug`, no `Clone`.
pub struct LockedBuf {
    ptr: *mut u8,
    layout: Layout,
    len: usize,
    locked: bool,
}

// SAFETY: `LockedBuf` owns its allocation exclusively (like a `Box<[u8]>`); nothing
// about it is tied to a thread.
unsafe impl Send for LockedBuf {}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p)
        .ok()
        .filter(|p| *p >= 4096)
        .unwrap_or(4096)
}

impl LockedBuf {
    /// A buffer of at least `capacity` bytes (rounded up to whole pages).
    pub fn new(capacity: usize) -> Self {
        let page = page_size();
        let size = capacity.max(1).div_ceil(page) * page;
        let layout = match Layout::from_size_align(size, page) {
            Ok(l) => l,
            // Unreachable for sane capacities; fall back to one page.
            Err(_) => Layout::new::<[u8; 4096]>(),
        };
        // SAFETY: layout has a non-zero size.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: `ptr..ptr+size` is our allocation, page-aligned, whole pages.
        let locked = unsafe {
            let locked = libc::mlock(ptr.cast(), layout.size()) == 0;
            libc::madvise(ptr.cast(), layout.size(), libc::MADV_DONTDUMP);
            locked
        };
        Self {
            ptr,
            layout,
            len: 0,
            locked,
        }
    }

    /// Whether `mlock` succeeded (it can fail under a small `RLIMIT_MEMLOCK`; the
    /// buffer is then still cleared on drop and excluded from dumps).
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    pub fn capacity(&self) -> usize {
        self.layout.size()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one byte.
    pub fn push(&mut self, b: u8) -> Result<(), BufferFull> {
        if self.len >= self.layout.size() {
            return Err(BufferFull);
        }
        // SAFETY: `len < size`, inside our allocation.
        unsafe { self.ptr.add(self.len).write(b) };
        self.len += 1;
        Ok(())
    }

    /// Drops the last `n` bytes (clearing them).
    pub fn truncate(&mut self, new_len: usize) {
        if new_len < self.len {
            // SAFETY: `new_len..len` lies inside our allocation.
            unsafe { clear(self.ptr.add(new_len), self.len - new_len) };
            self.len = new_len;
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the first `len` bytes are initialised (zeroed at allocation, then
        // written by `push`), and the borrow ties the slice to `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for LockedBuf {
    fn drop(&mut self) {
        // SAFETY: our allocation, released exactly once, after clearing and unlocking.
        unsafe {
            clear(self.ptr, self.layout.size());
            if self.locked {
                libc::munlock(self.ptr.cast(), self.layout.size());
            }
            System.dealloc(self.ptr, self.layout);
        }
    }
}

/// What [`harden_process`] managed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hardening {
    pub core_limit_zero: bool,
    pub not_dumpable: bool,
}

/// Disables core dumps and makes the process non-dumpable (other unprivileged
/// processes of the same user can then neither ptrace it nor read `/proc/PID/mem`).
/// `allow_memory_read` (a debug build's leak test only) keeps it dumpable.
pub fn harden_process(allow_memory_read: bool) -> Hardening {
    let lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit/prctl take plain integers and a pointer to a live local.
    unsafe {
        let core_limit_zero = libc::setrlimit(libc::RLIMIT_CORE, &lim) == 0;
        let not_dumpable = if allow_memory_read {
            false
        } else {
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
        };
        Hardening {
            core_limit_zero,
            not_dumpable,
        }
    }
}

/// Whether the process is currently dumpable (`PR_GET_DUMPABLE`).
pub fn is_dumpable() -> bool {
    // SAFETY: PR_GET_DUMPABLE takes no pointers.
    unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) == 1 }
}

/// Overwrites about `STACK_SCRUB_BYTES` of the calling thread's stack below the caller's
/// frame: values that were copied onto the stack by the code that ran before (an ID's
/// digits, a PIN) are gone afterwards.
#[inline(never)]
pub fn scrub_stack() {
    let mut area = [0u8; STACK_SCRUB_BYTES];
    // Writes the zeros for real (the optimiser may not drop an array it cannot see
    // unused) and keeps them there.
    std::hint::black_box(&mut area);
    zeroize::Zeroize::zeroize(&mut area[..]);
    std::hint::black_box(&area);
}

/// How much stack [`scrub_stack`] clears (the main thread's stack is 8 MiB; the deepest
/// submit path — JPEG decode, face detection, HPKE — stays well inside this).
pub const STACK_SCRUB_BYTES: usize = 512 * 1024;

/// Switches read from the environment that only debug builds honour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestSwitches {
    /// `SHINSEI_TEST_MEMREAD=1`: stay dumpable, and after the command finishes print
    /// `HOLD <pid>` on stderr and wait to be killed, so a test can read our memory.
    pub hold_for_memory_read: bool,
    /// `SHINSEI_TEST_NO_ZEROIZE=1`: the control run — freed memory is not cleared and
    /// the stack is not scrubbed.
    pub no_zeroize: bool,
}

impl TestSwitches {
    pub fn from_env() -> Self {
        // Only builds with the `test-hooks` feature read these (crate::test_hooks).
        Self {
            hold_for_memory_read: crate::test_hooks::hold_for_memory_read(),
            no_zeroize: crate::test_hooks::no_zeroize(),
        }
    }
}

/// Process start-up for the binary: hardening, and the test switches.
pub fn startup() -> TestSwitches {
    let sw = TestSwitches::from_env();
    if sw.no_zeroize {
        ZERO_ON_FREE.store(false, Ordering::Relaxed);
    }
    let h = harden_process(sw.hold_for_memory_read);
    if !h.core_limit_zero || (!sw.hold_for_memory_read && !h.not_dumpable) {
        tracing::warn!(?h, "process hardening incomplete");
    }
    sw
}

/// Process end for the binary: scrubs the stack, and in a memory-read test run waits
/// to be killed.
pub fn shutdown(sw: TestSwitches) {
    if !sw.no_zeroize {
        scrub_stack();
    }
    if sw.hold_for_memory_read {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "HOLD {}", std::process::id());
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_buf_holds_bytes_and_is_bounded() {
        let mut b = LockedBuf::new(10);
        assert!(b.capacity() >= 4096);
        for c in b"secret" {
            b.push(*c).unwrap();
        }
        assert_eq!(b.as_slice(), b"secret");
        b.truncate(3);
        assert_eq!(b.as_slice(), b"sec");
        let cap = b.capacity();
        let mut full = LockedBuf::new(1);
        for _ in 0..cap {
            full.push(1).unwrap();
        }
        assert_eq!(full.push(1), Err(BufferFull));
    }

    #[test]
    fn allocator_round_trips_data_through_realloc() {
        let a = ZeroizingAlloc;
        let layout = Layout::from_size_align(16, 8).unwrap();
        // SAFETY (test): layouts are valid and every block is freed once.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            for i in 0..16 {
                p.add(i).write(i as u8 + 1);
            }
            let q = a.realloc(p, layout, 4096);
            assert!(!q.is_null());
            for i in 0..16 {
                assert_eq!(q.add(i).read(), i as u8 + 1);
            }
            let q2 = a.realloc(q, Layout::from_size_align(4096, 8).unwrap(), 8);
            for i in 0..8 {
                assert_eq!(q2.add(i).read(), i as u8 + 1);
            }
            a.dealloc(q2, Layout::from_size_align(8, 8).unwrap());
        }
    }

    #[test]
    fn hardening_makes_the_process_non_dumpable() {
        // Runs in the test process: harmless (tests do not dump core).
        let h = harden_process(false);
        assert!(h.core_limit_zero);
        assert!(h.not_dumpable);
        assert!(!is_dumpable());
    }
}
