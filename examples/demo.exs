# The seed's walkthrough, run end to end: `./scripts/demo` (or `mix run examples/demo.exs`).
#
# A small guest in WAT: `add`, a bump allocator, `upcase` (in place) and `process`
# (sums bytes; traps on an empty input or past the end of memory).

guest = ~S"""
(module $demo
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "allocate") (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (local.get $ptr) (local.get $size)))
    (local.get $ptr))
  (func (export "upcase") (param $ptr i32) (param $len i32)
    (local $i i32) (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
          (then (i32.store8 (i32.add (local.get $ptr) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (local $sum i32) (local $i i32)
    (if (i32.eqz (local.get $len)) (then unreachable))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $sum (i32.add (local.get $sum) (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $sum)))
"""

section = fn title -> IO.puts("\n== #{title}") end

section.("Basic usage: compile, instantiate, call")
{:ok, wasm_bytes} = Wasmex.Wat.to_wasm(guest)
{:ok, store} = Wasmex.Store.new()
{:ok, module} = Wasmex.Module.compile(store, wasm_bytes)
{:ok, instance} = Wasmex.Instance.new(store, module, %{})
{:ok, [result]} = Wasmex.Instance.call_function(store, instance, "add", [2, 3])
IO.puts("add(2, 3) = #{result}")

IO.puts(
  "module #{inspect(Wasmex.Module.name(module))} exports #{inspect(Wasmex.Module.exports(module))}"
)

section.("Memory access")
{:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")
:ok = Wasmex.Memory.write_binary(store, memory, 0, "hello")
{:ok, binary} = Wasmex.Memory.read_binary(store, memory, 0, 5)
IO.puts("read back #{inspect(binary)}; memory is #{Wasmex.Memory.size(store, memory)} bytes")
:ok = Wasmex.Memory.grow(store, memory, 1)
IO.puts("after growing by one page: #{Wasmex.Memory.size(store, memory)} bytes")

section.("String passing: allocate, write, call, read")
string = "hello from elixir"
{:ok, [ptr]} = Wasmex.Instance.call_function(store, instance, "allocate", [byte_size(string)])
:ok = Wasmex.Memory.write_binary(store, memory, ptr, string)
{:ok, []} = Wasmex.Instance.call_function(store, instance, "upcase", [ptr, byte_size(string)])
{:ok, upcased} = Wasmex.Memory.read_binary(store, memory, ptr, byte_size(string))
IO.puts("the guest upper-cased it: #{upcased}")

section.("Error handling")

process = fn store, instance, ptr, len ->
  case Wasmex.Instance.call_function(store, instance, "process", [ptr, len]) do
    {:ok, [result]} -> {:ok, result}
    {:error, "unreachable" <> _} -> {:error, :wasm_trap}
    {:error, "out of bounds memory access" <> _} -> {:error, :memory_violation}
    {:error, "all fuel consumed" <> _} -> {:error, :fuel_exhausted}
    {:error, reason} -> {:error, {:wasm_error, reason}}
  end
end

{:ok, fuel_store} = Wasmex.Store.new(%{fuel: 10_000})
{:ok, fuel_module} = Wasmex.Module.compile(fuel_store, wasm_bytes)
{:ok, fuel_instance} = Wasmex.Instance.new(fuel_store, fuel_module, %{})

for {label, args, on} <- [
      {"sum of 3 bytes", [0, 3], {store, instance}},
      {"empty input", [0, 0], {store, instance}},
      {"past the end of memory", [131_070, 10], {store, instance}},
      {"60,000 bytes on 10,000 fuel", [0, 60_000], {fuel_store, fuel_instance}},
      {"an atom as a length", [0, :three], {store, instance}}
    ] do
  {s, i} = on
  IO.puts("#{label}: #{inspect(apply(process, [s, i | args]))}")
end

section.("An endless loop cannot hold the BEAM")

{:ok, spin_module} =
  Wasmex.Module.compile(store, ~S[(module (func (export "spin") (loop (br 0))))])

{:ok, spin} = Wasmex.Instance.new(store, spin_module, %{})

IO.inspect(Wasmex.Instance.call_function(store, spin, "spin", [], timeout: 100),
  label: "spin with a 100 ms timeout"
)

IO.inspect(Wasmex.Instance.call_function(store, instance, "add", [40, 2]),
  label: "and the store still works",
  charlists: :as_lists
)
