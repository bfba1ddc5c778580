defmodule MyApp.WasmWorker do
  # The "Wasm Worker" of Wasmex usage, as written.
  use GenServer

  def start_link(opts) do
    GenServer.start_link(__MODULE__, opts, name: opts[:name])
  end

  def call_function(pid, func_name, params) do
    GenServer.call(pid, {:call, func_name, params})
  end

  @impl true
  def init(opts) do
    wasm_bytes = File.read!(opts[:wasm_path])
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wasm_bytes)
    {:ok, instance} = Wasmex.Instance.new(store, module, opts[:imports] || %{})

    {:ok, %{store: store, instance: instance}}
  end

  @impl true
  def handle_call({:call, func_name, params}, _from, state) do
    result = Wasmex.Instance.call_function(state.store, state.instance, func_name, params)
    {:reply, result, state}
  end
end

defmodule MyApp.WasmSupervisor do
  # The "Supervised Wasm Pool" of Wasmex usage, as written.
  use Supervisor

  def start_link(init_arg) do
    Supervisor.start_link(__MODULE__, init_arg, name: __MODULE__)
  end

  @impl true
  def init(_init_arg) do
    children = [
      {MyApp.WasmWorker, name: :wasm_worker_1, wasm_path: "priv/wasm/plugin.wasm"},
      {MyApp.WasmWorker, name: :wasm_worker_2, wasm_path: "priv/wasm/plugin.wasm"}
    ]

    Supervisor.init(children, strategy: :one_for_one)
  end
end

defmodule MyApp.FixedWasmSupervisor do
  # That supervisor with the one change Elixir requires: two children of one module
  # need distinct ids (`Supervisor.child_spec/2`). As written, the snippet's version fails to
  # start with "more than one child specification has the id: MyApp.WasmWorker", with
  # Wasmex as with this library.
  use Supervisor

  def start_link(init_arg) do
    Supervisor.start_link(__MODULE__, init_arg, name: __MODULE__)
  end

  @impl true
  def init(_init_arg) do
    children = [
      Supervisor.child_spec(
        {MyApp.WasmWorker, name: :wasm_worker_1, wasm_path: "priv/wasm/plugin.wasm"},
        id: :wasm_worker_1
      ),
      Supervisor.child_spec(
        {MyApp.WasmWorker, name: :wasm_worker_2, wasm_path: "priv/wasm/plugin.wasm"},
        id: :wasm_worker_2
      )
    ]

    Supervisor.init(children, strategy: :one_for_one)
  end
end

defmodule MyApp.Application do
  # The "Module Preloading at Application Start" of Wasmex usage, as written.
  use Application

  @impl true
  def start(_type, _args) do
    # Preload wasm modules into ETS for fast access
    :ets.new(:wasm_modules, [:named_table, :public, read_concurrency: true])

    wasm_bytes = File.read!(Application.app_dir(:my_app, "priv/wasm/plugin.wasm"))
    :ets.insert(:wasm_modules, {"plugin", wasm_bytes})

    children = [
      MyApp.WasmSupervisor
    ]

    Supervisor.start_link(children, strategy: :one_for_one)
  end
end

defmodule Wasmex.UsageSnippets.GenServerIntegrationTest do
  # The GenServer patterns of Wasmex usage: the convenience API, a worker, a supervised set of
  # workers, the poolboy setup (with Wasmex.Pool), module preloading, priv paths and the
  # LiveView-style Task.async offload. Not async: the snippets' paths are relative to the
  # current directory, so the test changes into a fake `:my_app`.
  use ExUnit.Case, async: false

  @moduletag :tmp_dir

  setup %{tmp_dir: dir} do
    root = Wasmex.Plugin.install!(dir)
    previous = File.cwd!()
    File.cd!(root)

    on_exit(fn ->
      File.cd!(previous)
      Wasmex.Plugin.uninstall!(root)
    end)

    %{root: root}
  end

  test "using the Wasmex convenience API" do
    wasm_bytes = File.read!("priv/wasm/plugin.wasm")

    {:ok, pid} = Wasmex.start_link(%{bytes: wasm_bytes})

    # Call exported functions
    {:ok, [result]} = Wasmex.call_function(pid, "add", [2, 3])
    assert result == 5
  end

  test "the wasm worker" do
    {:ok, pid} = MyApp.WasmWorker.start_link(wasm_path: "priv/wasm/plugin.wasm")
    assert MyApp.WasmWorker.call_function(pid, "process", [21]) == {:ok, [42]}
  end

  test "the snippet's supervisor as written fails on Elixir's duplicate child ids" do
    assert {:error, reason} = start_supervised(MyApp.WasmSupervisor)
    assert inspect(reason) =~ "duplicate_child_name"
  end

  test "the supervised wasm workers (with distinct ids), restarted after a crash" do
    start_supervised!(MyApp.FixedWasmSupervisor)
    assert MyApp.WasmWorker.call_function(:wasm_worker_1, "process", [1]) == {:ok, [2]}
    assert MyApp.WasmWorker.call_function(:wasm_worker_2, "process", [2]) == {:ok, [4]}

    old = Process.whereis(:wasm_worker_1)
    ref = Process.monitor(old)
    Process.exit(old, :kill)
    assert_receive {:DOWN, ^ref, :process, ^old, :killed}
    assert wait_for_restart(:wasm_worker_1, old) != old
    assert MyApp.WasmWorker.call_function(:wasm_worker_1, "process", [3]) == {:ok, [6]}
  end

  test "the poolboy setup, with Wasmex.Pool in poolboy's place" do
    input = 8

    # In application supervisor
    children = [
      {Wasmex.Pool,
       name: :wasm_pool,
       worker: {MyApp.WasmWorker, [wasm_path: "priv/wasm/plugin.wasm"]},
       size: System.schedulers_online()}
    ]

    {:ok, _supervisor} = Supervisor.start_link(children, strategy: :one_for_one)

    # Usage
    result =
      Wasmex.Pool.transaction(
        :wasm_pool,
        fn pid ->
          MyApp.WasmWorker.call_function(pid, "process", [input])
        end,
        :timer.seconds(5)
      )

    assert result == {:ok, [16]}
    GenServer.stop(Process.whereis(:wasm_pool))
  end

  test "module preloading at application start" do
    # The preloading works; the snippet's supervisor it starts then fails on its duplicate
    # child ids (see above).
    Process.flag(:trap_exit, true)

    assert {:error, {:shutdown, {:failed_to_start_child, MyApp.WasmSupervisor, _}}} =
             MyApp.Application.start(:normal, [])

    assert [{"plugin", bytes}] = :ets.lookup(:wasm_modules, "plugin")
    assert {:ok, pid} = Wasmex.start_link(%{bytes: bytes})
    assert Wasmex.call_function(pid, "process", [5]) == {:ok, [10]}
    :ets.delete(:wasm_modules)
  end

  test "loading wasm from the priv directory" do
    wasm_path = Application.app_dir(:my_app, "priv/wasm/module.wasm")
    wasm_bytes = File.read!(wasm_path)
    {:ok, store} = Wasmex.Store.new()
    assert {:ok, module} = Wasmex.Module.compile(store, wasm_bytes)
    assert Wasmex.Module.name(module) == "plugin"
  end

  test "offloading to a wasm worker with Task.async, as the LiveView example does" do
    {:ok, _} = MyApp.WasmWorker.start_link(name: :wasm_worker, wasm_path: "priv/wasm/plugin.wasm")
    input = 50

    # Offload to wasm worker
    task =
      Task.async(fn ->
        MyApp.WasmWorker.call_function(:wasm_worker, "process", [input])
      end)

    # What the LiveView's handle_info/2 receives.
    ref = task.ref

    receive do
      {^ref, {:ok, [result]}} when is_reference(ref) ->
        Process.demonitor(ref, [:flush])
        assert result == 100
    end
  end

  defp wait_for_restart(name, old) do
    case Process.whereis(name) do
      pid when is_pid(pid) and pid != old ->
        pid

      _ ->
        receive do
        after
          5 -> wait_for_restart(name, old)
        end
    end
  end
end
