//! `cargo bench -p mcpgen --bench build`: times `load` (parse, validate, model) and
//! `emit::generate` of a 500-tool spec and prints the median of several runs. No criterion:
//! one number to compare between commits, reported by `bench/run`.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does nothing.
//! `MCPGEN_BENCH_TOOLS` (default 500) and `MCPGEN_BENCH_RUNS` (default 9) change the size and
//! the number of timed runs; one untimed run warms up first.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use mcpgen::emit::{self, Options, RuntimeDep};

/// A spec with `tools` tools: every other one a template tool, the rest Rust handlers, each
/// with a small input schema. The same shape as the specs `bench/run` writes.
fn spec(tools: usize) -> String {
    let mut s = String::from(
        "mcpgen: 1\nname: bench-tools\nversion: 0.1.0\nserver:\n  public_url: http://127.0.0.1:8787\n\
         auth:\n  scopes:\n    tools.read: { description: Read }\n    tools.write: { description: Write }\n\
         \x20 default_scopes: [tools.read]\n  consent: auto\ntools:\n",
    );
    for i in 0..tools {
        let _ = write!(
            s,
            "  - name: tool_{i:04}\n    description: Tool number {i}.\n    scopes: [{scope}]\n\
             \x20   input:\n      type: object\n      properties:\n        id: {{ type: string, description: The id }}\n\
             \x20       count: {{ type: integer, minimum: 0 }}\n      required: [id]\n",
            scope = if i % 3 == 0 {
                "tools.write"
            } else {
                "tools.read"
            },
        );
        if i % 2 == 0 {
            let _ = writeln!(
                s,
                "    handler: template\n    template: \"tool {i}: {{{{ id }}}}\""
            );
        } else {
            s.push_str("    handler: rust\n");
        }
    }
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it,
    // and benchmarks are not part of the tests.
    if !std::env::args().any(|a| a == "--bench") {
        println!("bench build: skipped (run it with `cargo bench -p mcpgen --bench build`)");
        return;
    }
    let tools = env_usize("MCPGEN_BENCH_TOOLS", 500);
    let runs = env_usize("MCPGEN_BENCH_RUNS", 9);
    let text = spec(tools);
    let options = Options {
        spec_path: "bench/tools.yaml".into(),
        runtime: RuntimeDep::Path("../runtime".into()),
    };
    let once = || {
        let t0 = Instant::now();
        let model = match mcpgen::load(black_box(text.as_bytes())) {
            Ok(m) => m,
            Err(d) => panic!("the bench spec is invalid: {d:?}"),
        };
        let t1 = Instant::now();
        let files = emit::generate(&model, &options);
        let t2 = Instant::now();
        black_box(files);
        (t1 - t0, t2 - t1, t2 - t0)
    };
    once();
    let (mut load, mut generate, mut total) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (l, g, t) = once();
        load.push(l);
        generate.push(g);
        total.push(t);
    }
    let (min, max) = (
        total.iter().min().copied().unwrap_or_default(),
        total.iter().max().copied().unwrap_or_default(),
    );
    println!(
        "bench build: {tools} tools, load+generate median {:.1} ms over {runs} runs \
         (load {:.1} ms, generate {:.1} ms; min {:.1}, max {:.1})",
        ms(median(total)),
        ms(median(load)),
        ms(median(generate)),
        ms(min),
        ms(max),
    );
}
