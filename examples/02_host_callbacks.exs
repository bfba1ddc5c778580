# Host callbacks: the guest calls `env.log`, an Elixir function that reads guest memory.
Code.require_file("guest.exs", __DIR__)

{:ok, store} = Wasmex.Store.new()
{:ok, module} = Wasmex.Module.compile(store, Examples.Guest.bytes())
{:ok, instance} = Wasmex.Instance.new(store, module, Examples.Guest.imports())
{:ok, []} = Wasmex.Instance.call_function(store, instance, "greet", [])
