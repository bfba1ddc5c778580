# Basic usage: compile, instantiate, call.
Code.require_file("guest.exs", __DIR__)

{:ok, store} = Wasmex.Store.new()
{:ok, module} = Wasmex.Module.compile(store, Examples.Guest.bytes())
{:ok, instance} = Wasmex.Instance.new(store, module, Examples.Guest.imports())

{:ok, [result]} = Wasmex.Instance.call_function(store, instance, "add", [2, 3])
IO.puts("  add(2, 3) = #{result}")

IO.puts(
  "  module #{inspect(Wasmex.Module.name(module))} exports #{inspect(Map.keys(Wasmex.Module.exports(module)))}"
)
