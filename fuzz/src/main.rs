//! Runs the fuzz driver over generated inputs for a fixed time.
//!
//! ```text
//! cargo run --release -p wasmex_fuzz -- [--seconds N] [--threads N] [--seed N] [--max-len N]
//!                                        [--target engine|memory]
//! cargo run --release -p wasmex_fuzz -- --replay [--target memory] FILE...
//! ```
//!
//! `--target engine` (the default) fuzzes the whole engine layer ([`run_case`]);
//! `--target memory` linear memories against a model ([`run_memory_case`]).
//!
//! Each case's input is `--max-len` bytes at most from a SplitMix64 generator seeded with
//! `seed + case number`, so a case is reproduced from its number alone. A case that panics
//! is written to `fuzz/findings/` (its input, and the panic message on stderr), and the run
//! goes on. A case that runs longer than 10 s is reported as a hang. The process's peak
//! RSS is printed at the end: fuzzed stores are limited to 64 MiB per memory.

use std::panic;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmex_fuzz::{case_input, run_case, run_memory_case, Reached};

#[derive(Default)]
struct Totals {
    cases: u64,
    compiled: u64,
    instantiated: u64,
    calls: u64,
    returned: u64,
    host_calls: u64,
    memory_operations: u64,
    memory_growths: u64,
    findings: Vec<String>,
}

impl Totals {
    fn add(&mut self, reached: Reached) {
        self.cases += 1;
        self.compiled += u64::from(reached.compiled);
        self.instantiated += u64::from(reached.instantiated);
        self.calls += u64::from(reached.calls);
        self.returned += u64::from(reached.returned);
        self.host_calls += u64::from(reached.host_calls);
        self.memory_operations += u64::from(reached.memory_operations);
        self.memory_growths += u64::from(reached.memory_growths);
    }
}

/// The case runner of `--target`.
fn target(args: &[String]) -> fn(&[u8]) -> Reached {
    match arg(args, "--target", String::from("engine")).as_str() {
        "engine" => run_case,
        "memory" => run_memory_case,
        other => {
            eprintln!("unknown --target {other}: engine or memory");
            std::process::exit(2)
        }
    }
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|arg| arg == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |value| {
            value.parse().unwrap_or_else(|_| {
                eprintln!("bad value for {name}: {value}");
                std::process::exit(2)
            })
        })
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

fn replay(args: &[String]) -> ! {
    let run_case = target(args);
    let mut failed = false;
    let mut files = args.iter();
    while let Some(file) = files.next() {
        if file == "--target" {
            files.next();
            continue;
        }
        let data = std::fs::read(file).unwrap_or_else(|error| {
            eprintln!("{file}: {error}");
            std::process::exit(2)
        });
        let started = Instant::now();
        let outcome = panic::catch_unwind(|| run_case(&data));
        match outcome {
            Ok(reached) => println!("{file}: ok in {:?}: {reached:?}", started.elapsed()),
            Err(_) => {
                println!("{file}: PANIC");
                failed = true;
            }
        }
    }
    std::process::exit(i32::from(failed))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|arg| arg == "--replay") {
        replay(&args[1..]);
    }
    let run_case = target(&args);
    let seconds: u64 = arg(&args, "--seconds", 60);
    let threads: u64 = arg(&args, "--threads", 2);
    let seed: u64 = arg(&args, "--seed", 0x5eed);
    let max_len: usize = arg(&args, "--max-len", 65_536);
    let findings_dir = arg(&args, "--findings", String::from("fuzz/findings"));

    // Panics are caught per case; keep their messages short on stderr. Every panic is
    // printed, also those wasmex_core catches itself (wasmi's, `error::catch_panic`): only
    // one that reaches the case is a finding, but the others show where wasmi panicked.
    panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        eprintln!("panic in {}: {info}", thread.name().unwrap_or("?"));
    }));

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let next_case = Arc::new(AtomicU64::new(0));
    let totals = Arc::new(Mutex::new(Totals::default()));
    let running: Arc<Vec<(AtomicU64, AtomicU64)>> = Arc::new(
        (0..threads)
            .map(|_| (AtomicU64::new(u64::MAX), AtomicU64::new(0)))
            .collect(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();

    let workers: Vec<_> = (0..threads)
        .map(|worker| {
            let (next_case, totals, running, findings_dir) = (
                next_case.clone(),
                totals.clone(),
                running.clone(),
                findings_dir.clone(),
            );
            std::thread::Builder::new()
                .name(format!("fuzz-{worker}"))
                .stack_size(64 << 20)
                .spawn(move || {
                    while Instant::now() < deadline {
                        let case = next_case.fetch_add(1, Ordering::Relaxed);
                        let data = case_input(seed, case, max_len);
                        let slot = &running[worker as usize];
                        slot.0.store(case, Ordering::Relaxed);
                        slot.1
                            .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                        let outcome = panic::catch_unwind(|| run_case(&data));
                        slot.0.store(u64::MAX, Ordering::Relaxed);
                        let mut totals = totals.lock().unwrap_or_else(|e| e.into_inner());
                        match outcome {
                            Ok(reached) => totals.add(reached),
                            Err(_) => {
                                let path = format!("{findings_dir}/seed{seed}-case{case}.bin");
                                let _ = std::fs::create_dir_all(&findings_dir);
                                let _ = std::fs::write(&path, &data);
                                eprintln!("  -> input written to {path}");
                                totals.cases += 1;
                                totals.findings.push(path);
                            }
                        }
                    }
                })
                .unwrap_or_else(|error| panic!("cannot start a fuzz thread: {error}"))
        })
        .collect();

    // Progress, and hang detection: a case must end within 10 s. The cases running are
    // written to `<findings>/running` every 200 ms: when a case aborts the process (a
    // native stack overflow, the OOM killer), that file names it.
    let watcher = {
        let (totals, running, stop) = (totals.clone(), running.clone(), stop.clone());
        let running_file = format!("{findings_dir}/running");
        let _ = std::fs::create_dir_all(&findings_dir);
        std::thread::spawn(move || {
            let mut last_report = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let cases: Vec<String> = running
                    .iter()
                    .map(|slot| slot.0.load(Ordering::Relaxed))
                    .filter(|case| *case != u64::MAX)
                    .map(|case| format!("seed {seed} case {case}"))
                    .collect();
                let _ = std::fs::write(&running_file, cases.join("\n") + "\n");
                let now = started.elapsed().as_millis() as u64;
                for slot in running.iter() {
                    let case = slot.0.load(Ordering::Relaxed);
                    let since = slot.1.load(Ordering::Relaxed);
                    if case != u64::MAX && now.saturating_sub(since) > 10_000 {
                        eprintln!("HANG: case {case} has run for {} s", (now - since) / 1000);
                        slot.1.store(now, Ordering::Relaxed);
                    }
                }
                if last_report.elapsed() >= Duration::from_secs(60) {
                    last_report = Instant::now();
                    let totals = totals.lock().unwrap_or_else(|e| e.into_inner());
                    eprintln!(
                        "[{:>5} s] {} cases, {} findings, peak RSS {} MB",
                        started.elapsed().as_secs(),
                        totals.cases,
                        totals.findings.len(),
                        peak_rss_kb() / 1024
                    );
                }
            }
        })
    };

    for worker in workers {
        let _ = worker.join();
    }
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();

    let totals = totals.lock().unwrap_or_else(|e| e.into_inner());
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{} cases in {elapsed:.0} s ({:.0}/s) on {threads} threads, seed {seed}",
        totals.cases,
        totals.cases as f64 / elapsed
    );
    if totals.memory_operations > 0 {
        println!(
            "memory operations checked {}, growths {}",
            totals.memory_operations, totals.memory_growths
        );
    } else {
        println!(
            "compiled {}, instantiated {}, export calls {} ({} returned), host calls {}",
            totals.compiled, totals.instantiated, totals.calls, totals.returned, totals.host_calls
        );
    }
    println!("peak RSS {} MB", peak_rss_kb() / 1024);
    if args.iter().any(|arg| arg == "--stats") {
        println!("calls ended by:");
        for (error, count) in wasmex_fuzz::error_counts().iter().take(25) {
            println!("  {count:>8}  {error}");
        }
    }
    if totals.findings.is_empty() {
        println!("no findings");
    } else {
        println!("{} FINDINGS:", totals.findings.len());
        for finding in &totals.findings {
            println!("  {finding}");
        }
        std::process::exit(1);
    }
}
