# Preloading modules at start: keep the wasm bytes in ETS, start workers from them.
Code.require_file("guest.exs", __DIR__)

:ets.new(:wasm_modules, [:named_table, :public, read_concurrency: true])
:ets.insert(:wasm_modules, {"plugin", Examples.Guest.bytes()})

[{"plugin", bytes}] = :ets.lookup(:wasm_modules, "plugin")
{:ok, pid} = Wasmex.start_link(%{bytes: bytes, imports: Examples.Guest.imports()})

IO.puts(
  "  a worker started from preloaded bytes: add(1, 2) = #{inspect(Wasmex.call_function(pid, "add", [1, 2]))}"
)
