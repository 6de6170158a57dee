//! A hostile guest that recurses without bound: `recurse`.
//!
//! It attacks the host's stack limit. It prints `recursing` on stdout,
//! then calls a function that puts a 1 KiB array on the stack and calls
//! itself, forever. It never returns; it ends only when the stack runs
//! out and the guest traps.
//!
//! On wasm32 the array lives on Rust's shadow stack in linear memory
//! (1 MiB by default, placed below the data), not on the engine's call
//! stack. So after about a thousand calls the shadow stack pointer runs
//! below address 0 and the trap is an out-of-bounds memory access; the
//! engine's own call-stack limit is not reached first.

use std::hint::black_box;
use std::io::Write;

/// Bytes of stack each call of [`dive`] holds.
const FRAME: usize = 1024;

fn main() {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "recursing");
    let _ = out.flush();
    drop(out);

    black_box(dive(0));
}

/// Fills a 1 KiB frame, hands it to `black_box` so it stays on the
/// stack, and calls itself one level deeper. The frame is read again
/// after the call, so the call cannot become a loop or a tail call.
#[allow(unconditional_recursion, reason = "recursing forever is the point")]
fn dive(depth: u64) -> u8 {
    let frame = black_box([depth.to_le_bytes()[0]; FRAME]);
    let deeper = dive(black_box(depth + 1));
    deeper.wrapping_add(black_box(&frame)[FRAME - 1])
}
