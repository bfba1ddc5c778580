# String passing: ask the guest for room, write the string, call, read the result.
Code.require_file("guest.exs", __DIR__)

{:ok, store} = Wasmex.Store.new()
{:ok, module} = Wasmex.Module.compile(store, Examples.Guest.bytes())
{:ok, instance} = Wasmex.Instance.new(store, module, Examples.Guest.imports())

string = "hello from elixir"
{:ok, [ptr]} = Wasmex.Instance.call_function(store, instance, "allocate", [byte_size(string)])
{:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")
:ok = Wasmex.Memory.write_binary(store, memory, ptr, string)
{:ok, []} = Wasmex.Instance.call_function(store, instance, "upcase", [ptr, byte_size(string)])
{:ok, upcased} = Wasmex.Memory.read_binary(store, memory, ptr, byte_size(string))
IO.puts("  the guest upper-cased it: #{upcased}")
