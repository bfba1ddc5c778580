# W1: the cost of a trivial call (`add`), against an empty NIF call measured in the same
# run; W2: the cost of one Elixir import round trip. Run with `mix run bench/call.exs`.
Code.require_file("harness.exs", __DIR__)

{:ok, store} = Wasmex.Store.new()

{:ok, module} = Wasmex.Module.compile(store, ~S[(module
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))])

{:ok, instance} = Wasmex.Instance.new(store, module, %{})
{:ok, [5]} = Wasmex.Instance.call_function(store, instance, "add", [2, 3])

noop = Bench.per_call(fn -> Wasmex.Native.call_noop() end)
add = Bench.per_call(fn -> Wasmex.Instance.call_function(store, instance, "add", [2, 3]) end)

# W2: a guest that calls an Elixir import once per call, and one that calls it 10,000
# times in one call. The round trip is the time above a plain call, per import call.
{:ok, module} = Wasmex.Module.compile(store, ~S[(module
    (import "env" "inc" (func $inc (param i32) (result i32)))
    (func (export "once") (param i32) (result i32) (call $inc (local.get 0)))
    (func (export "many") (param $n i32) (result i32)
      (local $acc i32)
      (block $done
        (loop $next
          (br_if $done (i32.eqz (local.get $n)))
          (local.set $acc (call $inc (local.get $acc)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $next)))
      (local.get $acc)))])

imports = %{"env" => %{"inc" => {:fn, [:i32], [:i32], fn _context, x -> x + 1 end}}}
{:ok, importer} = Wasmex.Instance.new(store, module, imports)
{:ok, [10_000]} = Wasmex.Instance.call_function(store, importer, "many", [10_000])

once = Bench.per_call(fn -> Wasmex.Instance.call_function(store, importer, "once", [1]) end)

many =
  Bench.per_call(
    fn -> Wasmex.Instance.call_function(store, importer, "many", [10_000]) end,
    5,
    40
  )

round_trip = %{median: once.median - add.median, p99: once.p99 - add.p99}
per_import = %{median: many.median / 10_000, p99: many.p99 / 10_000}

rows = [
  {"W1", "empty NIF call (floor)", noop, "µs", "-", true},
  {"W1", "Instance.call_function add", add, "µs", "≤ 1 µs", add.median <= 1.0},
  {"W1", "add / empty NIF (ratio)", Float.round(add.median / noop.median, 1), "x", "-", true},
  {"W2", "call with 1 import (whole call)", once, "µs", "-", true},
  {"W2", "import round trip (1 per call)", round_trip, "µs", "≤ 2 µs", round_trip.median <= 2.0},
  {"W2", "import round trip (10k per call)", per_import, "µs", "≤ 2 µs", per_import.median <= 2.0}
]

Bench.table(rows)
IO.puts("\nwrote " <> Bench.write_results("call", rows))
