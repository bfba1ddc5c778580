//! Replays the inputs of past fuzz findings (`fuzz/regressions/`), then a few hundred
//! generated cases: the driver itself must keep working, and none may panic.

use wasmex_fuzz::{case_input, run_case, run_memory_case};

#[test]
fn past_findings_no_longer_panic() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/regressions");
    let mut replayed = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "bin") {
            let data = std::fs::read(&path).unwrap_or_else(|error| panic!("{path:?}: {error}"));
            let reached = run_case(&data);
            // wasmi 2.0.0's translator panicked on these; the patched wasmi compiles them.
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with("wasmi-store16-panic") {
                assert!(reached.compiled, "{name} does not compile: {reached:?}");
            }
            replayed += 1;
        }
    }
    assert!(replayed >= 2, "only {replayed} past findings in {dir}");
}

#[test]
fn generated_cases_reach_calls_and_host_calls() {
    let (mut instantiated, mut returned, mut host_calls) = (0, 0, 0);
    for case in 0..400 {
        let reached = run_case(&case_input(7, case, 8192));
        instantiated += u32::from(reached.instantiated);
        returned += reached.returned;
        host_calls += reached.host_calls;
    }
    // The driver gets past compilation into calls; if a change stops it, this says so.
    assert!(instantiated > 50, "only {instantiated} cases instantiated");
    assert!(returned > 20, "only {returned} calls returned");
    assert!(host_calls > 20, "only {host_calls} host calls");
}

#[test]
fn generated_memory_cases_agree_with_the_model() {
    let (mut operations, mut growths) = (0, 0);
    for case in 0..300 {
        let reached = run_memory_case(&case_input(11, case, 4096));
        operations += reached.memory_operations;
        growths += reached.memory_growths;
    }
    assert!(operations > 10_000, "only {operations} memory operations");
    assert!(growths > 500, "only {growths} growths");
}
