//! A plain wasip1 command with no `wasi:otel` imports, run on the
//! preview-1 linker: `plain [CODE] [WORDS]...` prints its arguments and
//! exits with CODE (0 when absent or not a number).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("argv: {}", args.join(" "));
    let code = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(0);
    std::process::exit(code);
}
