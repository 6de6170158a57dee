//! The library's many-instance API: one `Host`, one engine, one pipeline,
//! many guests at once, each in its own box with its own `wasm.run` span.
//!
//! The hosts here use no compiled-code cache, so the tests never write to
//! the user's own.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use wasm_otel_host::cli::ExportConfig;
use wasm_otel_host::embed::{Host, HostConfig, Job};
use wasm_otel_host::limits::Limits;
use wasm_otel_host::run::RunError;
use wasm_otel_host::sandbox::Policy;
use wasm_otel_tests::{TempDir, component, portable_component};

/// A host sending its telemetry to `file` as OTLP JSON Lines.
fn host_writing_to(file: &Path, pooling: Option<u32>) -> Host {
    Host::new(HostConfig {
        export: ExportConfig::File {
            path: file.to_owned(),
            batching: Default::default(),
        },
        service_name: "embed-test".to_owned(),
        fuel: true,
        pooling,
        cache: false,
        ..HostConfig::default()
    })
    .expect("a host")
}

/// Every span in the JSON Lines file: (name, trace id, span id, parent).
fn spans(file: &Path) -> Vec<[String; 4]> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut spans = Vec::new();
    for line in text.lines() {
        let line: Value = serde_json::from_str(line).unwrap();
        let Some(resources) = line["resourceSpans"].as_array() else {
            continue;
        };
        for scope in resources
            .iter()
            .flat_map(|r| r["scopeSpans"].as_array().unwrap())
        {
            for span in scope["spans"].as_array().unwrap() {
                let field = |key: &str| span[key].as_str().unwrap_or_default().to_owned();
                spans.push([
                    field("name"),
                    field("traceId"),
                    field("spanId"),
                    field("parentSpanId"),
                ]);
            }
        }
    }
    spans
}

#[test]
fn many_instances_live_at_once_and_each_run_has_its_own_span() {
    let dir = TempDir::new("embed-many");
    let file = dir.path().join("telemetry.jsonl");
    let host = host_writing_to(&file, Some(8));
    let hello = host.load(&component("hello")).unwrap();

    // Eight instances exist at once, filling the pool, before any runs.
    let names = [
        "Ada", "Alan", "Barbara", "Edsger", "Grace", "John", "Ken", "Radia",
    ];
    let instances: Vec<_> = names
        .iter()
        .map(|name| host.instantiate(&hello, Job::new([*name])).unwrap())
        .collect();
    let finished: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = instances
            .into_iter()
            .map(|instance| scope.spawn(move || instance.run().unwrap()))
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    let report = host.shutdown();

    for (name, done) in names.iter().zip(&finished) {
        assert_eq!(done.outcome.exit_code(), 0, "{done:?}");
        let stdout = String::from_utf8_lossy(&done.stdout);
        assert!(stdout.starts_with(&format!("Hello, {name}!")), "{stdout}");
        assert_eq!(done.stats.spans, 5, "{done:?}");
    }
    let exported: u64 = report.exported.values().sum();
    assert!(exported >= 8 * 6, "{report:?}");
    assert!(report.dropped.is_empty(), "{report:?}");

    // One trace per run; each guest's root span is under its own run.
    let spans = spans(&file);
    let runs: Vec<_> = spans.iter().filter(|s| s[0] == "wasm.run").collect();
    assert_eq!(runs.len(), 8);
    let traces: BTreeSet<_> = runs.iter().map(|s| s[1].clone()).collect();
    assert_eq!(traces.len(), 8);
    for done in &finished {
        let run_id = done.span.span_id().to_string();
        let root = spans
            .iter()
            .find(|s| s[0] == "hello" && s[3] == run_id)
            .unwrap_or_else(|| panic!("no hello span under run {run_id}"));
        assert_eq!(root[1], done.span.trace_id().to_string());
    }
}

#[test]
fn each_job_has_its_own_box() {
    let dir = TempDir::new("embed-box");
    let host = host_writing_to(&dir.path().join("t.jsonl"), None);
    let load = |name: &str| host.load(&component(name)).unwrap();
    let (hello, spin, membomb, env_peek) = (
        load("hello"),
        load("spin"),
        load("membomb"),
        load("env-peek"),
    );

    let limited = |limits: Limits| Job {
        limits,
        ..Job::default()
    };
    let jobs = [
        (&hello, Job::new(["Ada"])),
        (
            &spin,
            limited(Limits {
                fuel: Some(100_000),
                ..Limits::default()
            }),
        ),
        (
            &spin,
            limited(Limits {
                timeout: Some(Duration::from_millis(200)),
                ..Limits::default()
            }),
        ),
        (
            &membomb,
            limited(Limits {
                max_memory: 16 << 20,
                ..Limits::default()
            }),
        ),
        (
            &env_peek,
            Job {
                sandbox: Policy {
                    env: vec![("ONLY".to_owned(), "this".to_owned())],
                    ..Policy::default()
                },
                ..Job::default()
            },
        ),
    ];
    let finished: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = jobs
            .iter()
            .map(|(program, job)| scope.spawn(|| host.run(program, job).unwrap()))
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    let codes: Vec<u8> = finished.iter().map(|f| f.outcome.exit_code()).collect();
    assert_eq!(codes, [0, 152, 124, 137, 0], "{finished:#?}");
    let env = String::from_utf8_lossy(&finished[4].stdout);
    assert_eq!(env, "ONLY=this\ncount=1\n");
}

#[test]
fn a_portable_guest_s_lines_become_telemetry_not_output() {
    let dir = TempDir::new("embed-portable");
    let file = dir.path().join("telemetry.jsonl");
    let host = host_writing_to(&file, None);
    let hello = host.load(&portable_component("hello")).unwrap();

    let done = host.run(&hello, &Job::new(["Ada", "R2D2"])).unwrap();
    host.shutdown();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(
        stderr,
        "hello: skipping `R2D2`: a name is one or more letters\n"
    );
    assert_eq!(done.stats.spans, 5, "{done:?}");
    let run_id = done.span.span_id().to_string();
    assert!(
        spans(&file)
            .iter()
            .any(|s| s[0] == "hello" && s[3] == run_id)
    );
}

#[test]
fn what_a_host_was_not_built_for_is_refused() {
    let host = Host::new(HostConfig {
        timeouts: false,
        cache: false,
        ..HostConfig::default()
    })
    .unwrap();
    let hello = host.load(&component("hello")).unwrap();
    let fuel = Job {
        limits: Limits {
            fuel: Some(1),
            ..Limits::default()
        },
        ..Job::default()
    };
    let err = host.run(&hello, &fuel).unwrap_err();
    assert!(matches!(err, RunError::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("HostConfig::fuel"), "{err}");
    let timeout = Job {
        limits: Limits {
            timeout: Some(Duration::from_secs(1)),
            ..Limits::default()
        },
        ..Job::default()
    };
    let err = host.run(&hello, &timeout).unwrap_err();
    assert!(err.to_string().contains("HostConfig::timeouts"), "{err}");

    let empty_pool = Host::new(HostConfig {
        pooling: Some(0),
        cache: false,
        ..HostConfig::default()
    });
    let Err(err) = empty_pool else {
        panic!("a pool of 0 was accepted");
    };
    assert!(err.to_string().contains("at least 1"), "{err}");
}

#[test]
fn a_full_pool_refuses_another_instance_until_one_ends() {
    let host = Host::new(HostConfig {
        pooling: Some(1),
        cache: false,
        ..HostConfig::default()
    })
    .unwrap();
    let hello = host.load(&component("hello")).unwrap();

    let first = host.instantiate(&hello, Job::new(["Ada"])).unwrap();
    let second = host.instantiate(&hello, Job::new(["Grace"]));
    let Err(err) = second else {
        panic!("a second instance fit in a pool of one");
    };
    assert!(matches!(err, RunError::Instantiate { .. }), "{err}");
    assert_eq!(first.run().unwrap().outcome.exit_code(), 0);

    let third = host.run(&hello, &Job::new(["Grace"])).unwrap();
    assert!(String::from_utf8_lossy(&third.stdout).starts_with("Hello, Grace!"));
}
