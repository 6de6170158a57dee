//! The guest's box: fuel, wall time, memory, tables, instances, stack and
//! the host-side allocations a guest can push the host into.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Engine, ResourceLimiter, Store};

/// How often the epoch ticks when a wall-time limit is set. The deadline
/// is enforced to within one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Default cap on each linear memory: 512 MiB.
pub const DEFAULT_MAX_MEMORY: u64 = 512 << 20;
/// Default guest stack: 512 KiB, Wasmtime's own default.
pub const DEFAULT_MAX_STACK: u64 = 512 << 10;
/// Default cap on each of stdout and stderr: 64 MiB.
pub const DEFAULT_MAX_OUTPUT: u64 = 64 << 20;
/// Cap on the elements of each table.
pub const MAX_TABLE_ELEMENTS: usize = 1_000_000;
/// Cap on core instances in one store (a componentized module uses a few).
pub const MAX_INSTANCES: usize = 64;
/// Cap on tables in one store.
pub const MAX_TABLES: usize = 64;
/// Cap on linear memories in one store.
pub const MAX_MEMORIES: usize = 64;
/// Bytes a guest may hand the host in one call (strings, lists): bounds
/// what one host call can make the host allocate.
pub const HOSTCALL_FUEL: usize = 16 << 20;
/// Entries in a component's resource table (streams, files, ...).
pub const RESOURCE_TABLE_CAPACITY: usize = 100_000;
/// Bytes of randomness a guest may ask for in one call.
pub const MAX_RANDOM_SIZE: u64 = 1 << 20;

/// The limits of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Instruction budget; `None` compiles no fuel metering in.
    pub fuel: Option<u64>,
    /// Wall-clock deadline; `None` compiles no epoch checks in.
    pub timeout: Option<Duration>,
    /// Cap on each linear memory, in bytes.
    pub max_memory: u64,
    /// The guest's stack, in bytes.
    pub max_stack: u64,
    /// Cap on each of stdout and stderr, in bytes.
    pub max_output: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: None,
            timeout: None,
            max_memory: DEFAULT_MAX_MEMORY,
            max_stack: DEFAULT_MAX_STACK,
            max_output: DEFAULT_MAX_OUTPUT,
        }
    }
}

impl Limits {
    /// Sets what the engine must compile in for these limits.
    pub fn configure(&self, config: &mut wasmtime::Config) {
        config.consume_fuel(self.fuel.is_some());
        config.epoch_interruption(self.timeout.is_some());
        let stack = usize::try_from(self.max_stack).unwrap_or(usize::MAX);
        config.max_wasm_stack(stack);
        // Wasmtime wants room for the guest's stack on async fibers too,
        // though this host runs guests synchronously.
        config.async_stack_size(stack.saturating_add(1 << 20).max(2 << 20));
    }

    /// The native stack the thread that runs the guest needs: the guest's
    /// stack, and room for the host's own frames around it.
    pub fn thread_stack(&self) -> usize {
        usize::try_from(self.max_stack)
            .unwrap_or(usize::MAX)
            .saturating_add(8 << 20)
    }

    /// Applies the per-store limits: fuel, epoch deadline, memory and
    /// table caps, host-call fuel.
    pub fn apply<T>(
        &self,
        store: &mut Store<T>,
        limiter: fn(&mut T) -> &mut GuestLimiter,
    ) -> wasmtime::Result<()> {
        store.limiter(move |data| limiter(data) as &mut dyn ResourceLimiter);
        match self.fuel {
            Some(fuel) => store.set_fuel(fuel)?,
            // On an engine that meters fuel for other runs' sake, this run
            // gets all there is; on one that does not, there is nothing to
            // set.
            None => {
                let _ = store.set_fuel(u64::MAX);
            }
        }
        self.restart_deadline(store);
        store.epoch_deadline_trap();
        Ok(())
    }

    /// Starts the wall-time deadline again from now: for a guest that
    /// waited between its instantiation and its start.
    pub fn restart_deadline<T>(&self, store: &mut Store<T>) {
        let ticks = self.timeout.map_or(NO_DEADLINE, deadline_ticks);
        store.set_epoch_deadline(ticks);
    }

    /// The memory limiter for one store.
    pub fn limiter(&self) -> GuestLimiter {
        GuestLimiter {
            max_memory: usize::try_from(self.max_memory).unwrap_or(usize::MAX),
            memory_bytes: 0,
            memory_denied: false,
        }
    }
}

/// Epoch ticks in `timeout`, rounded up, and at least one.
fn deadline_ticks(timeout: Duration) -> u64 {
    let ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos());
    u64::try_from(ticks)
        .unwrap_or(NO_DEADLINE)
        .clamp(1, NO_DEADLINE)
}

/// Epoch ticks that never pass: the deadline of a store without a
/// timeout on an engine with epoch checks. Wasmtime adds it to the
/// current epoch, so it leaves room for that.
const NO_DEADLINE: u64 = u64::MAX / 2;

/// Caps each memory and table of a store, and remembers how much memory
/// the guest held and whether a growth was refused.
#[derive(Debug)]
pub struct GuestLimiter {
    max_memory: usize,
    memory_bytes: usize,
    memory_denied: bool,
}

impl GuestLimiter {
    /// The sum of all the store's linear memories at their largest, in
    /// bytes. Wasm memories never shrink, so this is also their size now.
    pub fn peak_memory(&self) -> usize {
        self.memory_bytes
    }

    /// Whether a memory was refused growth past the cap.
    pub fn memory_denied(&self) -> bool {
        self.memory_denied
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.memory_denied = true;
            return Ok(false);
        }
        self.memory_bytes = self
            .memory_bytes
            .saturating_add(desired.saturating_sub(current));
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// Advances an engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    /// Starts ticking `engine`. The thread holds the engine weakly, so it
    /// never keeps one alive.
    pub fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("wasm-otel-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("the OS can start a thread");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A size in bytes, written the way a person would: `64 MiB`, `1 GiB`,
/// `1500 bytes`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{} {name}", bytes / unit);
        }
    }
    for (unit, name) in UNITS {
        if bytes >= unit {
            return format!("{:.1} {name}", bytes as f64 / unit as f64);
        }
    }
    match bytes {
        1 => "1 byte".to_owned(),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_whole_ticks() {
        assert_eq!(deadline_ticks(Duration::from_millis(500)), 50);
        assert_eq!(deadline_ticks(Duration::from_millis(501)), 51);
        assert_eq!(deadline_ticks(Duration::ZERO), 1);
    }

    #[test]
    fn the_limiter_refuses_growth_past_the_cap_and_remembers() {
        let mut limiter = Limits {
            max_memory: 1 << 20,
            ..Limits::default()
        }
        .limiter();
        assert!(limiter.memory_growing(0, 65536, None).unwrap());
        assert!(limiter.memory_growing(65536, 1 << 20, None).unwrap());
        assert!(!limiter.memory_denied());
        assert!(
            !limiter
                .memory_growing(1 << 20, (1 << 20) + 65536, None)
                .unwrap()
        );
        assert!(limiter.memory_denied());
        assert_eq!(limiter.peak_memory(), 1 << 20);
    }

    #[test]
    fn sizes_read_like_a_person_wrote_them() {
        assert_eq!(format_size(64 << 20), "64 MiB");
        assert_eq!(format_size(1 << 30), "1 GiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(100), "100 bytes");
        assert_eq!(format_size(1), "1 byte");
    }
}
