# A GenServer per instance: the library's own Wasmex server, and a hand-written
# worker as Wasmex users write one, both calling the same guest.
Code.require_file("guest.exs", __DIR__)

{:ok, pid} =
  Wasmex.start_link(%{bytes: Examples.Guest.bytes(), imports: Examples.Guest.imports()})

IO.puts(
  "  Wasmex.call_function(pid, \"add\", [2, 3]) = #{inspect(Wasmex.call_function(pid, "add", [2, 3]))}"
)

{:ok, []} = Wasmex.call_function(pid, :greet, [])

defmodule Examples.WasmWorker do
  use GenServer

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: opts[:name])
  def call_function(pid, func_name, params), do: GenServer.call(pid, {:call, func_name, params})

  @impl true
  def init(opts) do
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, opts[:wasm_bytes])
    {:ok, instance} = Wasmex.Instance.new(store, module, opts[:imports] || %{})
    {:ok, %{store: store, instance: instance}}
  end

  @impl true
  def handle_call({:call, func_name, params}, _from, state) do
    {:reply, Wasmex.Instance.call_function(state.store, state.instance, func_name, params), state}
  end
end

{:ok, worker} =
  Examples.WasmWorker.start_link(
    wasm_bytes: Examples.Guest.bytes(),
    imports: Examples.Guest.imports()
  )

IO.puts(
  "  a hand-written worker: add(40, 2) = #{inspect(Examples.WasmWorker.call_function(worker, "add", [40, 2]), charlists: :as_lists)}"
)
