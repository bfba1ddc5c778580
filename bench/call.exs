# W1: the cost of a trivial call (`add`), against an empty NIF call measured in the same
# run. Run with `mix run bench/call.exs`.
Code.require_file("harness.exs", __DIR__)

{:ok, store} = Wasmex.Store.new()

{:ok, module} = Wasmex.Module.compile(store, ~S[(module
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))])

{:ok, instance} = Wasmex.Instance.new(store, module, %{})
{:ok, [5]} = Wasmex.Instance.call_function(store, instance, "add", [2, 3])

noop = Bench.per_call(fn -> Wasmex.Native.call_noop() end)
add = Bench.per_call(fn -> Wasmex.Instance.call_function(store, instance, "add", [2, 3]) end)

rows = [
  {"W1", "empty NIF call (floor)", noop, "µs", "-", true},
  {"W1", "Instance.call_function add", add, "µs", "≤ 1 µs", add.median <= 1.0},
  {"W1", "add / empty NIF (ratio)", Float.round(add.median / noop.median, 1), "x", "-", true}
]

Bench.table(rows)
IO.puts("\nwrote " <> Bench.write_results("call", rows))
