//! Hostile input: arbitrary bytes and arbitrary YAML never panic, hang or exhaust memory.
//!
//! A counting allocator measures the peak heap of each load, so "bounded memory" is a number
//! this test checks, not a hope. The tests of this file run one at a time (one global peak).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Serialises the tests of this binary so peaks are per test.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap used by `mcpgen::load(bytes)` above what was in use before, at its peak.
fn peak_heap_of_load(bytes: &[u8]) -> usize {
    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = mcpgen::load(bytes);
    drop(result);
    PEAK.load(Ordering::Relaxed) - before
}

const MIB: usize = 1024 * 1024;

fn lock() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn alias_bomb_is_refused_in_bounded_memory() {
    let _g = lock();
    let mut yaml = String::from("mcpgen: 1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        yaml.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let err = mcpgen::load(yaml.as_bytes()).unwrap_err();
    assert!(err[0].message.contains("aliases expand"), "{err:?}");
    let peak = peak_heap_of_load(yaml.as_bytes());
    assert!(peak < 64 * MIB, "alias bomb used {} MiB", peak / MIB);
}

#[test]
fn one_long_string_aliased_many_times_is_refused_by_size_in_bounded_memory() {
    let _g = lock();
    // 100 KiB aliased 100,000 times: within the node bound, 10 GB once expanded.
    let mut yaml = format!(
        "mcpgen: 1\nbig: &big \"{}\"\nmany:\n",
        "x".repeat(100 * 1024)
    );
    for _ in 0..100_000 {
        yaml.push_str("  - *big\n");
    }
    assert!(yaml.len() < mcpgen::parse::MAX_SPEC_BYTES);
    let err = mcpgen::load(yaml.as_bytes()).unwrap_err();
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0]
            .message
            .contains("aliases expand the spec to more than"),
        "{err:?}"
    );
    // Located at the alias that crosses the limit, not at the start of the file.
    let line = yaml[..err[0].span.start].matches('\n').count() + 1;
    assert!(
        line > 3 && yaml[err[0].span.clone()].starts_with("*big"),
        "line {line}"
    );
    let peak = peak_heap_of_load(yaml.as_bytes());
    assert!(
        peak < 64 * MIB,
        "a 10 GB alias expansion used {} MiB",
        peak / MIB
    );
}

#[test]
fn nested_anchors_count_their_copies() {
    let _g = lock();
    // No alias at all: each anchor keeps a copy of the 2 MiB string inside it.
    let depth = 20;
    let yaml = format!(
        "mcpgen: 1\nbig: {}\"{}\"{}\n",
        (0..depth).map(|i| format!("&a{i} [")).collect::<String>(),
        "x".repeat(2 * MIB),
        "]".repeat(depth)
    );
    let err = mcpgen::load(yaml.as_bytes()).unwrap_err();
    assert!(
        err[0].message.contains("aliases expand the spec"),
        "{err:?}"
    );
    let peak = peak_heap_of_load(yaml.as_bytes());
    assert!(peak < 64 * MIB, "nested anchors used {} MiB", peak / MIB);
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let _g = lock();
    for depth in [65, 1_000, 100_000] {
        for (open, close) in [("[", "]"), ("{a: ", "}")] {
            let yaml = format!("a: {}1{}\n", open.repeat(depth), close.repeat(depth));
            let err = mcpgen::load(yaml.as_bytes()).unwrap_err();
            assert_eq!(err.len(), 1, "{err:?}");
            let peak = peak_heap_of_load(yaml.as_bytes());
            assert!(peak < 64 * MIB, "depth {depth} used {} MiB", peak / MIB);
        }
    }
    let mut block = String::from("a:\n");
    for i in 1..200 {
        block.push_str(&" ".repeat(i * 2));
        block.push_str("k:\n");
    }
    assert!(mcpgen::load(block.as_bytes()).is_err());
}

#[test]
fn files_over_the_size_limit_are_refused_before_parsing() {
    let _g = lock();
    let mut big = b"mcpgen: 1\ndescription: \"".to_vec();
    big.resize(mcpgen::parse::MAX_SPEC_BYTES + 1, b'a');
    let err = mcpgen::load(&big).unwrap_err();
    assert!(err[0].message.contains("over the limit"), "{err:?}");
    // Refused without a copy of the file: the cost is a few small allocations.
    assert!(peak_heap_of_load(&big) < MIB);
}

#[test]
fn a_large_valid_spec_loads_in_bounded_memory() {
    let _g = lock();
    let mut yaml = String::from(
        "mcpgen: 1\nname: big\nversion: 0.1.0\nserver: { public_url: https://x.example.com }\nauth: { scopes: { use: { description: Use } } }\ntools:\n",
    );
    for i in 0..2000 {
        yaml.push_str(&format!(
            "  - {{ name: tool_{i}, description: Tool {i}., input: {{ type: object, properties: {{ a: {{ type: string }}, b: {{ type: integer }} }} }} }}\n"
        ));
    }
    let model = mcpgen::load(yaml.as_bytes()).expect("valid");
    assert_eq!(model.tools.len(), 2000);
    let peak = peak_heap_of_load(yaml.as_bytes());
    assert!(
        peak < 256 * MIB,
        "a {} KiB spec used {} MiB",
        yaml.len() / 1024,
        peak / MIB
    );
}

/// YAML-shaped text: keys of the spec, anchors, aliases, flow and block collections, quoting,
/// tags and odd scalars, so the generator reaches far past the first syntax error.
fn yaml_fragment() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        Just("1".to_string()),
        Just("~".to_string()),
        Just("true".to_string()),
        Just(".inf".to_string()),
        Just("\"claudeai \"".to_string()),
        Just("https://mcp.example.com".to_string()),
        Just("http://127.0.0.1:8080".to_string()),
        Just("'#/$defs/x'".to_string()),
        Just("!!str 5".to_string()),
        Just("!custom x".to_string()),
        Just("*a".to_string()),
        Just("&a x".to_string()),
        "[a-z_ .é\\\\\"-]{0,12}",
    ];
    let key = prop_oneof![
        Just("mcpgen"),
        Just("name"),
        Just("version"),
        Just("server"),
        Just("public_url"),
        Just("endpoint"),
        Just("auth"),
        Just("scopes"),
        Just("default_scopes"),
        Just("tools"),
        Just("input"),
        Just("output"),
        Just("type"),
        Just("properties"),
        Just("$ref"),
        Just("anyOf"),
        Just("handler"),
        Just("template"),
        Just("consent"),
        Just("description"),
    ];
    let leaf = (key.clone(), scalar).prop_map(|(k, v)| format!("{k}: {v}"));
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            (key.clone(), prop::collection::vec(inner.clone(), 0..5))
                .prop_map(|(k, items)| format!("{k}: {{{}}}", items.join(", "))),
            (key.clone(), prop::collection::vec(inner.clone(), 0..5)).prop_map(|(k, items)| {
                let body: Vec<String> = items.iter().map(|i| format!("  - {{{i}}}")).collect();
                format!("{k}:\n{}", body.join("\n"))
            }),
            (key.clone(), prop::collection::vec(inner, 0..4)).prop_map(|(k, items)| {
                let body: Vec<String> = items.iter().map(|i| format!("  {i}")).collect();
                format!("{k}:\n{}", body.join("\n"))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _g = lock();
        if let Err(diags) = mcpgen::load(&bytes) {
            prop_assert!(!diags.is_empty());
            let text = String::from_utf8_lossy(&bytes);
            for d in &diags {
                prop_assert!(d.span.start <= d.span.end && d.span.end <= text.len());
            }
            // Rendering must not panic either.
            let _ = mcpgen::diag::render(&diags, "fuzz.yaml", &text);
        }
    }

    #[test]
    fn arbitrary_yaml_never_panics(lines in prop::collection::vec(yaml_fragment(), 1..8)) {
        let _g = lock();
        let text = lines.join("\n");
        let peak = peak_heap_of_load(text.as_bytes());
        prop_assert!(peak < 64 * MIB);
        match mcpgen::load(text.as_bytes()) {
            Ok(_) => {}
            Err(diags) => {
                prop_assert!(!diags.is_empty());
                for d in &diags {
                    prop_assert!(d.span.end <= text.len());
                    prop_assert!(!d.message.is_empty());
                }
                let _ = mcpgen::diag::render(&diags, "fuzz.yaml", &text);
            }
        }
    }
}
