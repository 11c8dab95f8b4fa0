//! Every committed fuzz input, replayed through its target on every test run:
//! the seeds of `fuzz/corpus/` and, in `fuzz/regressions/`, each input that
//! once broke a target (docs/testing.md, "Fuzzing").

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

#[test]
fn committed_fuzz_inputs_pass_their_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failures = Vec::new();
    for (name, target) in identityd::fuzzing::TARGETS {
        let mut seeds = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
                    failures.push(path.display().to_string());
                }
                seeds += 1;
            }
        }
        assert!(seeds > 0, "no committed inputs for the fuzz target {name}");
        assert!(
            root.join("fuzz_targets")
                .join(format!("{name}.rs"))
                .exists(),
            "{name} has no fuzz target"
        );
    }
    assert!(failures.is_empty(), "inputs that fail: {failures:?}");
}
