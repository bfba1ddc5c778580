# Error handling: traps come back as {:error, message}, the message starting with the trap.
Code.require_file("guest.exs", __DIR__)

{:ok, store} = Wasmex.Store.new(%{fuel: 10_000})
{:ok, module} = Wasmex.Module.compile(store, Examples.Guest.bytes())
{:ok, instance} = Wasmex.Instance.new(store, module, Examples.Guest.imports())
{:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")
:ok = Wasmex.Memory.write_binary(store, memory, 0, <<1, 2, 3>>)

process = fn ptr, len ->
  :ok = Wasmex.StoreOrCaller.set_fuel(store, 10_000)

  case Wasmex.Instance.call_function(store, instance, "process", [ptr, len]) do
    {:ok, [result]} -> {:ok, result}
    {:error, "unreachable" <> _} -> {:error, :wasm_trap}
    {:error, "out of bounds memory access" <> _} -> {:error, :memory_violation}
    {:error, "all fuel consumed" <> _} -> {:error, :fuel_exhausted}
    {:error, reason} -> {:error, {:wasm_error, reason}}
  end
end

for {label, ptr, len} <- [
      {"sum of 3 bytes", 0, 3},
      {"empty input", 0, 0},
      {"past the end of memory", 65_530, 10},
      {"60,000 bytes on 10,000 fuel", 0, 60_000},
      {"an atom as a length", 0, :three}
    ] do
  IO.puts("  #{label}: #{inspect(process.(ptr, len))}")
end
