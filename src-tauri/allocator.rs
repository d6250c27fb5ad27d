//! Start-up tuning of the C allocator.
//!
//! glibc gives each thread that contends for malloc an arena of its own, up to eight per core,
//! and keeps what is freed in every arena for reuse. Under a long soak (200 conversations for
//! 10 minutes, `scripts/soak`) the engine's anonymous memory kept rising 32 -> 73 MiB with
//! nothing live growing: the async workers, the store threads and reqwest's connections were
//! each filling arenas of their own. Capped at two arenas the same run levels off (30 -> 46 MiB,
//! flat for the last minutes) at no measurable cost in latency.

/// Arenas the process may use; one per core of the machine type we target.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
const ARENAS: i32 = 2;

/// Caps glibc's malloc arenas. Must run first in `main`, before any thread starts. A
/// `MALLOC_ARENA_MAX` set in the environment wins, so an operator can still tune it.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes allocator parameters; it is called before any other
        // thread exists, and an unsupported value is refused (returns 0), never undefined.
        let applied = unsafe { libc::mallopt(libc::M_ARENA_MAX, ARENAS) };
        debug_assert_eq!(applied, 1, "glibc accepts M_ARENA_MAX");
    }
}
