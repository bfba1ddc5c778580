# Fuel metering and timeouts: a guest that would loop for seconds is stopped by fuel, or
# by a wall-clock timeout; either way the store stays usable.
Code.require_file("guest.exs", __DIR__)

{:ok, store} = Wasmex.Store.new(%{fuel: 1_000_000})
{:ok, module} = Wasmex.Module.compile(store, Examples.Guest.bytes())
{:ok, instance} = Wasmex.Instance.new(store, module, Examples.Guest.imports())

result =
  case Wasmex.Instance.call_function(store, instance, "expensive_op", []) do
    {:ok, result} -> {:ok, result}
    {:error, "all fuel consumed" <> _} -> {:error, :timeout}
  end

IO.puts("  expensive_op on 1,000,000 fuel: #{inspect(result)}")
:ok = Wasmex.StoreOrCaller.set_fuel(store, 1_000)

IO.puts(
  "  after refuelling, add(1, 2) = #{inspect(Wasmex.Instance.call_function(store, instance, "add", [1, 2]))}"
)

{:ok, plain} = Wasmex.Store.new()
{:ok, module} = Wasmex.Module.compile(plain, Examples.Guest.bytes())
{:ok, instance} = Wasmex.Instance.new(plain, module, Examples.Guest.imports())

{micros, result} =
  :timer.tc(fn ->
    Wasmex.Instance.call_function(plain, instance, "expensive_op", [], timeout: 100)
  end)

IO.puts("  expensive_op with a 100 ms timeout: #{inspect(result)} after #{div(micros, 1000)} ms")
