//! Every limit against a guest that tries to break it: the run is stopped
//! with the documented exit code and message, and `wasm.run` says why.

use std::process::Stdio;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use wasm_otel_tests::otlp::{int_attr, str_attr};
use wasm_otel_tests::{
    Ran, Receiver, component, component_for, find, host, run, run_measuring_memory, run_traced,
};

fn run_span(spans: &[wasm_otel_tests::SpanRecord]) -> &opentelemetry_proto::tonic::trace::v1::Span {
    let span = &find(spans, "wasm.run").span;
    assert_eq!(
        span.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32),
        "a limit or trap makes wasm.run an error"
    );
    span
}

#[test]
fn a_spinning_guest_is_stopped_at_its_timeout() {
    let started = Instant::now();
    let (ran, spans) = run_traced(
        host()
            .args(["run", "--timeout", "500ms"])
            .arg(component("spin"))
            .arg("--print-start"),
    );
    let elapsed = started.elapsed();
    assert_eq!(ran.code, Some(124), "{ran:?}");
    assert_eq!(ran.stdout, "spinning\n");
    assert_eq!(
        ran.stderr,
        "error: guest exceeded its time limit of `500ms` (raise it with --timeout)\n"
    );
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");

    let span = run_span(&spans);
    assert_eq!(str_attr(&span.attributes, "wasm.trap"), "timeout");
    let ran_for = Duration::from_nanos(span.end_time_unix_nano - span.start_time_unix_nano);
    assert!(ran_for >= Duration::from_millis(500), "{ran_for:?}");
    // Compiling the guest is part of the span; the deadline itself is
    // enforced within one 10 ms epoch tick.
    assert!(ran_for < Duration::from_secs(5), "{ran_for:?}");
}

#[test]
fn a_guest_blocked_in_a_host_call_is_ended_past_its_timeout() {
    // Epochs cannot interrupt a guest waiting inside the host, so the
    // process is ended a short grace period after the deadline, with the
    // run's span still exported.
    for mode in ["sleep", "stdin"] {
        let receiver = Receiver::start();
        let started = Instant::now();
        let mut child = host()
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
            .args(["run", "--timeout", "500ms"])
            .arg(component("block"))
            .arg(mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Held open until the process is gone: a read of stdin never ends.
        let _stdin = child.stdin.take();
        let ran = Ran::from(child.wait_with_output().unwrap());
        let elapsed = started.elapsed();
        let spans = receiver.spans();
        assert_eq!(ran.code, Some(124), "{mode}: {ran:?}");
        assert_eq!(ran.stdout, "blocking\n", "{mode}");
        assert_eq!(
            ran.stderr,
            "error: guest exceeded its time limit of `500ms` while blocked in a host call, \
             and the process was ended (raise it with --timeout)\n",
            "{mode}"
        );
        assert!(elapsed < Duration::from_secs(10), "{mode}: {elapsed:?}");
        let span = run_span(&spans);
        assert_eq!(str_attr(&span.attributes, "wasm.trap"), "timeout", "{mode}");
    }
}

#[test]
fn a_spinning_guest_is_stopped_when_its_fuel_runs_out() {
    let budget: u64 = 50_000_000;
    let (ran, spans) = run_traced(
        host()
            .args(["run", "--fuel", &budget.to_string()])
            .arg(component("spin")),
    );
    assert_eq!(ran.code, Some(152), "{ran:?}");
    assert_eq!(
        ran.stderr,
        format!("error: guest used up its fuel budget of `{budget}` (raise it with --fuel)\n")
    );
    let span = run_span(&spans);
    assert_eq!(str_attr(&span.attributes, "wasm.trap"), "out_of_fuel");
    assert_eq!(
        int_attr(&span.attributes, "wasm.fuel.consumed"),
        budget as i64
    );
}

#[test]
fn fuel_used_by_a_guest_that_finishes_is_recorded() {
    let (ran, spans) = run_traced(
        host()
            .args(["run", "--fuel", "1000000000"])
            .arg(component("hello")),
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let span = &find(&spans, "wasm.run").span;
    let used = int_attr(&span.attributes, "wasm.fuel.consumed");
    assert!(used > 1000 && used < 1_000_000_000, "{used}");
}

#[test]
fn without_fuel_no_fuel_is_reported() {
    let (ran, spans) = run_traced(host().arg("run").arg(component("plain")));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let span = &find(&spans, "wasm.run").span;
    assert!(
        !span
            .attributes
            .iter()
            .any(|kv| kv.key == "wasm.fuel.consumed")
    );
}

#[test]
fn a_memory_bomb_is_stopped_at_max_memory() {
    let (ran, spans) = run_traced(
        host()
            .args(["run", "--max-memory", "64MiB"])
            .arg(component("membomb")),
    );
    assert_eq!(ran.code, Some(137), "{ran:?}");
    assert_eq!(ran.stdout.lines().last(), Some("allocated 48 MiB"));
    assert!(
        ran.stderr.ends_with(
            "error: guest exceeded its memory limit of `64 MiB` and aborted \
             (raise it with --max-memory)\n"
        ),
        "{}",
        ran.stderr
    );
    let span = run_span(&spans);
    assert_eq!(str_attr(&span.attributes, "wasm.trap"), "memory_limit");
    let peak = int_attr(&span.attributes, "wasm.memory.peak_bytes");
    assert!(peak > 48 << 20 && peak <= 64 << 20, "{peak}");
}

#[test]
fn the_hosts_own_memory_stays_within_the_cap_plus_a_margin() {
    // The same host running a guest that allocates nothing shows what the
    // host itself costs; a memory bomb may add its cap and little more.
    let (ran, baseline) = run_measuring_memory(
        host()
            .args(["run", "--exporter", "none"])
            .arg(component("plain")),
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let cap: u64 = 64 << 20;
    let (ran, bombed) = run_measuring_memory(
        host()
            .args(["run", "--exporter", "none", "--max-memory", "64MiB"])
            .arg(component("membomb")),
    );
    assert_eq!(ran.code, Some(137), "{ran:?}");
    let margin: u64 = 32 << 20;
    assert!(
        bombed <= baseline + cap + margin,
        "peak {} MiB against a baseline of {} MiB and a 64 MiB cap",
        bombed >> 20,
        baseline >> 20
    );
}

#[test]
fn growth_past_max_memory_fails_inside_the_guest() {
    // The guest sees an ordinary allocation failure, handles it, and exits
    // with its own code; the run still reports the limit that caused it.
    let (ran, spans) = run_traced(
        host()
            .args(["run", "--max-memory", "32MiB"])
            .arg(component("membomb"))
            .arg("graceful"),
    );
    assert_eq!(ran.code, Some(137), "{ran:?}");
    let last = ran.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("allocation failed after "),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stderr.contains(
            "memory limit of `32 MiB` and exited with code 3 (raise it with --max-memory)"
        ),
        "{}",
        ran.stderr
    );
    let span = run_span(&spans);
    assert_eq!(int_attr(&span.attributes, "wasm.exit_code"), 3);
}

#[test]
fn unbounded_recursion_traps_without_hurting_the_host() {
    // Rust keeps large frames on a stack in linear memory, which runs out
    // first: an out-of-bounds trap.
    let ran = run(host()
        .args(["run", "--exporter", "none"])
        .arg(component("recurse")));
    assert_eq!(ran.code, Some(134), "{ran:?}");
    assert_eq!(ran.stdout, "recursing\n");
    let mut lines = ran.stderr.lines();
    assert_eq!(
        lines.next(),
        Some("error: guest trapped: wasm trap: out of bounds memory access")
    );
    let frame = lines.next().unwrap_or_default();
    assert!(
        frame.starts_with("    at recurse::dive ("),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.lines().count() <= 10,
        "a short backtrace:\n{}",
        ran.stderr
    );
}

#[test]
fn a_small_max_stack_stops_recursion_with_a_stack_overflow() {
    let (ran, spans) = run_traced(
        host()
            .args(["run", "--max-stack", "64KiB"])
            .arg(component("recurse")),
    );
    assert_eq!(ran.code, Some(134), "{ran:?}");
    assert!(
        ran.stderr
            .starts_with("error: guest trapped: wasm trap: call stack exhausted\n"),
        "{}",
        ran.stderr
    );
    let span = run_span(&spans);
    assert_eq!(str_attr(&span.attributes, "wasm.trap"), "stack_overflow");
}

/// What `flood` writes for `lines` lines.
fn flood_bytes(lines: usize) -> usize {
    (0..lines)
        .map(|n| format!("flood line {n} {}\n", "x".repeat(64)).len())
        .sum()
}

#[test]
fn output_past_max_output_is_discarded_and_counted() {
    let (ran, spans) = run_traced(
        host()
            .args(["run", "--max-output", "4KiB"])
            .arg(component("flood"))
            .args(["stdout", "1000"]),
    );
    assert_eq!(ran.code, Some(0), "the guest keeps running: {ran:?}");
    assert_eq!(ran.stdout.len(), 4096);
    assert!(ran.stdout.starts_with("flood line 0 x"));
    let dropped = flood_bytes(1000) - 4096;
    assert_eq!(
        ran.stderr,
        format!(
            "warning: guest output past the `--max-output` cap of `4 KiB` was discarded: \
             {dropped} bytes of stdout, 0 bytes of stderr (raise it with --max-output)\n"
        )
    );
    let span = &find(&spans, "wasm.run").span;
    assert_eq!(
        int_attr(&span.attributes, "wasm.output.dropped_bytes"),
        dropped as i64
    );
}

#[test]
fn an_endless_flood_ends_at_its_timeout_with_capped_output() {
    let started = Instant::now();
    let ran = run(host()
        .args([
            "run",
            "--exporter",
            "none",
            "--max-output",
            "64KiB",
            "--timeout",
            "1s",
        ])
        .arg(component("flood"))
        .arg("both"));
    assert_eq!(ran.code, Some(124), "{ran:?}");
    assert_eq!(ran.stdout.len(), 64 << 10);
    // Stderr holds the guest's 64 KiB, cut mid-line, then the host's own
    // two lines, each on a line of its own.
    let rest = ran.stderr[64 << 10..]
        .strip_prefix('\n')
        .expect("the host ends the guest's unfinished line");
    let host_lines: Vec<&str> = rest.lines().collect();
    assert_eq!(host_lines.len(), 2, "{host_lines:?}");
    assert!(host_lines[0].starts_with("warning: guest output past the `--max-output` cap"));
    assert!(host_lines[1].starts_with("error: guest exceeded its time limit of `1s`"));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn bad_limit_values_are_usage_errors() {
    for (flag, value, says) in [
        ("--timeout", "soon", "`soon` is not a duration"),
        ("--max-memory", "lots", "`lots` is not a size"),
        ("--fuel", "-1", "`-1` is not a whole number of instructions"),
    ] {
        let ran = run(host().args(["run", flag, value]).arg(component("plain")));
        assert_eq!(ran.code, Some(125), "{flag} {value}: {ran:?}");
        assert!(ran.stderr.contains(says), "{flag} {value}: {}", ran.stderr);
    }
}

#[test]
fn a_limit_reached_while_the_guest_starts_is_still_that_limit() {
    // The preview-1 adapter runs guest code while the component is
    // instantiated; running out of fuel there is running out of fuel.
    for target in ["wasm32-wasip1", "wasm32-wasip2"] {
        let ran = run(host()
            .args(["run", "--exporter", "none", "--fuel", "0"])
            .arg(component_for(target, "hello")));
        assert_eq!(ran.code, Some(152), "{target}: {ran:?}");
        assert_eq!(
            ran.stderr,
            "error: guest used up its fuel budget of `0` (raise it with --fuel)\n"
        );
    }
}

#[test]
fn a_plain_module_exits_with_any_code_wrapping_past_255() {
    for (code, expected) in [
        ("125", 125),
        ("126", 126),
        ("200", 200),
        ("256", 0),
        ("-1", 255),
    ] {
        let ran = run(host()
            .args(["run", "--exporter", "none"])
            .arg(component("plain"))
            .arg(code));
        assert_eq!(ran.code, Some(expected), "{code}: {ran:?}");
        assert_eq!(ran.stderr, "", "{code}");
    }
}

#[test]
fn a_closed_stderr_does_not_change_the_exit_code() {
    let mut child = host()
        .args(["run", "--exporter", "none"])
        .arg(component("recurse"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(134));
}

#[test]
fn the_hosts_lines_start_on_a_line_of_their_own() {
    let ran = run(host()
        .args(["run", "--exporter", "none", "--max-output", "1"])
        .arg(component("flood"))
        .args(["stderr", "1"]));
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let mut lines = ran.stderr.lines();
    assert_eq!(lines.next(), Some("f"));
    let warning = format!(
        "warning: guest output past the `--max-output` cap of `1 byte` was discarded: \
         0 bytes of stdout, {} bytes of stderr (raise it with --max-output)",
        flood_bytes(1) - 1
    );
    assert_eq!(lines.next(), Some(warning.as_str()));
}
