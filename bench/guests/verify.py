#!/usr/bin/env python3
"""Checks and times the benchmark guests in this directory with wasmtime's Python API.

    pip install wasmtime        # the wasmtime package on PyPI, no build needed
    python3 bench/guests/verify.py [--quick]

Checks:
  fib.wasm           fib(n) for small n against Python, and the values in EXPECTED
  sha256.wasm        fill + sha256 against hashlib.sha256 of the same PRNG bytes for
                     lengths 0, 55, 56, 64, 1000 and 1048576 (buffer contents, digest in
                     memory and digest_word)
  mix.wasm           run(n) is repeatable and equals EXPECTED
  startup_*.wasm     entry(x) is repeatable (same instance and fresh instance) and
                     equals EXPECTED; the module has no imports
Also prints timings (wasmtime compiles to native code, so these are far faster than an
interpreter) and executed-instruction counts measured with wasmtime's fuel (about one
unit per executed wasm operator). --quick skips the slower timings. Exits 1 on a mismatch.
"""

import hashlib
import os
import sys
import time

import wasmtime

HERE = os.path.dirname(os.path.abspath(__file__))
BUF_SIZE = 1 << 20

# Values the guests must return (signed i32, as wasm returns them). Regenerate the
# startup values if gen_startup.py or its arguments in scripts/build-bench-guests change.
EXPECTED = {
    "fib": {10: 55, 20: 6765, 25: 75025, 30: 832040},
    "sha256_layout": {"buffer": 1312, "digest": 1049888},
    "mix": {0: 65535, 1: 16248, 2: 13232, 10: 15479, 100: 62667},
    "startup_100k": {0: -186487792, 1: -898200762, 42: 28981296, -1: 1313311103, 12345: -1695863713},
    "startup_big": {0: -435396164, 1: 1950555797, 42: -1635974490, -1: -878915709, 12345: -806038891},
}

failures = []


def check(what, got, want):
    ok = got == want
    print(f"  {'ok ' if ok else 'BAD'} {what}: {got}" + ("" if ok else f" (expected {want})"))
    if not ok:
        failures.append(what)


def fuel_engine():
    cfg = wasmtime.Config()
    cfg.consume_fuel = True
    return wasmtime.Engine(cfg)


PLAIN = wasmtime.Engine()
FUEL = fuel_engine()
FUEL_BUDGET = 10**15


def load(name, engine=PLAIN):
    path = os.path.join(HERE, name + ".wasm")
    with open(path, "rb") as fh:
        data = fh.read()
    t = time.perf_counter()
    module = wasmtime.Module(engine, data)
    compile_s = time.perf_counter() - t
    if module.imports:
        failures.append(f"{name} imports")
        print(f"  BAD {name} has imports: {[(i.module, i.name) for i in module.imports]}")
    return module, compile_s, len(data)


def instance(module, engine=PLAIN):
    store = wasmtime.Store(engine)
    if engine is FUEL:
        store.set_fuel(FUEL_BUDGET)
    inst = wasmtime.Instance(store, module, [])
    return store, inst.exports(store)


def fuel_used(store, fn, *args):
    before = store.get_fuel()
    result = fn(store, *args)
    return result, before - store.get_fuel()


def timed(store, fn, *args, repeat=1):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn(store, *args)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return result, best


def prng_bytes(length, seed):
    """fill's PRNG: x = x * 1103515245 + 12345 (mod 2^32), byte = x >> 24."""
    out = bytearray(length)
    x = seed & 0xFFFFFFFF
    for k in range(length):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out[k] = x >> 24
    return bytes(out)


def signed(v):
    return v - (1 << 32) if v >= 1 << 31 else v


def verify_fib(quick):
    print("fib.wasm")
    module, _, _ = load("fib")
    store, ex = instance(module)
    fib = ex["fib"]
    a, b = 0, 1
    for n in range(20):
        if fib(store, n) != a:
            check(f"fib({n})", fib(store, n), a)
        a, b = b, a + b
    for n, want in EXPECTED["fib"].items():
        if quick and n > 25:
            continue
        got, dt = timed(store, fib, n)
        check(f"fib({n}) [{dt * 1e3:.2f} ms]", got, want)
    fstore, fex = instance(load("fib", FUEL)[0], FUEL)
    _, fuel = fuel_used(fstore, fex["fib"], 25)
    print(f"  fuel for fib(25): {fuel}")


def verify_sha256(quick):
    print("sha256.wasm")
    module, _, _ = load("sha256")
    store, ex = instance(module)
    mem = ex["memory"]
    buf = ex["buffer"](store)
    check("buffer()", buf, EXPECTED["sha256_layout"]["buffer"])
    for length, seed in [(0, 1), (55, 2), (56, 3), (64, 4), (1000, 5), (BUF_SIZE, 6), (BUF_SIZE, 0)]:
        data = prng_bytes(length, seed)
        ex["fill"](store, length, seed)
        if bytes(mem.read(store, buf, buf + length)) != data:
            check(f"fill({length}, {seed}) buffer contents", "differ", "equal")
        ptr, dt = timed(store, ex["sha256"], length)
        got = bytes(mem.read(store, ptr, ptr + 32)).hex()
        words = [ex["digest_word"](store, i) for i in range(8)]
        want = hashlib.sha256(data).hexdigest()
        check(f"sha256(fill({length}, {seed})) [{dt * 1e3:.2f} ms]", got, want)
        want_words = [signed(int(want[8 * i:8 * i + 8], 16)) for i in range(8)]
        if words != want_words:
            check(f"digest_word 0..7 after len {length}", words, want_words)
        else:
            print(f"    digest_word 0..7 = {words}")
    check("sha256() result (digest address)", ptr, EXPECTED["sha256_layout"]["digest"])
    check("digest_word(8)", ex["digest_word"](store, 8), 0)
    fstore, fex = instance(load("sha256", FUEL)[0], FUEL)
    fex["fill"](fstore, BUF_SIZE, 6)
    _, fuel = fuel_used(fstore, fex["sha256"], BUF_SIZE)
    print(f"  fuel for sha256(1 MiB): {fuel} ({fuel / (BUF_SIZE / 64):.0f} per 64-byte block)")
    _, fuel = fuel_used(fstore, fex["fill"], BUF_SIZE, 6)
    print(f"  fuel for fill(1 MiB): {fuel}")


def verify_mix(quick):
    print("mix.wasm")
    module, _, _ = load("mix")
    store, ex = instance(module)
    run = ex["run"]
    results = {}
    for n in (0, 1, 2, 10, 100):
        first, dt = timed(store, run, n)
        again = run(store, n)
        fresh_store, fresh = instance(module)
        third = fresh["run"](fresh_store, n)
        if not (first == again == third):
            check(f"run({n}) repeatable", (first, again, third), (first,) * 3)
        results[n] = first
        want = EXPECTED["mix"].get(n, first)
        check(f"run({n}) [{dt * 1e3:.2f} ms]", first, want)
    if not quick:
        _, dt = timed(store, run, 1000)
        print(f"  run(1000): {dt * 1e3:.1f} ms, {dt * 1e6 / 1000:.1f} us per iteration")
    fstore, fex = instance(load("mix", FUEL)[0], FUEL)
    _, fuel = fuel_used(fstore, fex["run"], 10)
    print(f"  fuel per iteration (run(10) / 10): {fuel / 10:.0f}")


def verify_startup(name, quick):
    print(f"{name}.wasm")
    module, compile_s, size = load(name)
    print(f"  size {size} bytes; wasmtime compile {compile_s * 1e3:.1f} ms")
    t = time.perf_counter()
    store, ex = instance(module)
    print(f"  instantiate {1e3 * (time.perf_counter() - t):.2f} ms")
    entry = ex["entry"]
    for x in (0, 1, 42, -1, 12345):
        got, dt = timed(store, entry, x)
        again = entry(store, x)
        fresh_store, fresh = instance(module)
        third = fresh["entry"](fresh_store, x)
        if not (got == again == third):
            check(f"entry({x}) repeatable", (got, again, third), (got,) * 3)
        want = EXPECTED[name].get(x, got)
        check(f"entry({x}) [{dt * 1e6:.1f} us]", got, want)
    fmodule = load(name, FUEL)[0]
    fstore, fex = instance(fmodule, FUEL)
    _, fuel = fuel_used(fstore, fex["entry"], 42)
    print(f"  fuel for entry(42): {fuel}")


def main():
    quick = "--quick" in sys.argv[1:]
    verify_fib(quick)
    verify_sha256(quick)
    verify_mix(quick)
    verify_startup("startup_100k", quick)
    verify_startup("startup_big", quick)
    if failures:
        print(f"FAILED: {', '.join(failures)}")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
