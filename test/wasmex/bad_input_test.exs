defmodule Wasmex.BadInputTest do
  # Bad input for every public function, from hand-rolled random generators (no hex, so no
  # StreamData). Every call with a bad argument must return `{:error, message}` (a binary)
  # or raise ArgumentError: any other exception (FunctionClauseError, KeyError, MatchError,
  # ErlangError, ...), an exit, a missing reply or a crash of the VM is a failure. After
  # each batch, the store, the `Wasmex` server and the pool the batch used must still
  # answer a real call correctly.
  #
  # Reproduce a run with its seed: `mix test --seed N test/wasmex/bad_input_test.exs`
  # (ExUnit's seed; failures print it), or BAD_INPUT_SEED=N to vary only these cases.
  #
  # Every `Wasmex.Pipe` case gets a pipe of its own (a seek moves the shared position).
  use ExUnit.Case, async: true

  alias Wasmex.{Engine, EngineConfig, Instance, Memory, Module, Pipe, Pool, Store}
  alias Wasmex.{StoreLimits, StoreOrCaller, Wat}
  alias Wasmex.Wasi.{PreopenOptions, WasiOptions}

  # Random cases: per public function, and in the call, memory and bytes tests.
  @cases_per_function 40
  @call_cases 2_000
  @memory_cases 1_500
  @bytes_cases 500

  # The public API: every module with documentation, and its functions (structs'
  # `__struct__` and GenServer callbacks aside). A new public function must be added here
  # and to `specs/0`, which the first test checks.
  @booleans [
    :bulk_memory,
    :consume_fuel,
    :custom_page_sizes,
    :debug_info,
    :extended_const,
    :floats,
    :memory64,
    :multi_memory,
    :multi_value,
    :mutable_global,
    :reference_types,
    :relaxed_simd,
    :saturating_float_to_int,
    :sign_extension,
    :simd,
    :tail_call,
    :wasm_backtrace_details,
    :wasm_component_model,
    :wide_arithmetic
  ]

  @public %{
    Wasmex => [
      call_function: 3,
      call_function: 4,
      child_spec: 1,
      function_exists: 2,
      instance: 1,
      memory: 1,
      module: 1,
      start_link: 1,
      store: 1
    ],
    Engine => [default: 0, new: 1, precompile_module: 2],
    EngineConfig =>
      Enum.map(@booleans, &{&1, 2}) ++
        [
          compilation_mode: 2,
          cranelift_opt_level: 2,
          max_recursion_depth: 2,
          max_stack_height: 2,
          validate!: 1
        ],
    Instance => [
      call_exported_function: 5,
      call_exported_function: 6,
      call_function: 4,
      call_function: 5,
      function_export_exists: 3,
      get_global_value: 3,
      memory: 2,
      memory: 3,
      new: 3,
      new: 4,
      set_global_value: 4
    ],
    Memory => [
      from_instance: 2,
      get_byte: 3,
      grow: 3,
      read_binary: 4,
      read_string: 4,
      set_byte: 4,
      size: 2,
      write_binary: 4
    ],
    Module => [
      compile: 2,
      exports: 1,
      imports: 1,
      name: 1,
      serialize: 1,
      unsafe_deserialize: 1,
      unsafe_deserialize: 2
    ],
    Pipe => [new: 0, new: 1, read: 1, seek: 2, size: 1, write: 2],
    Pool => [
      call_function: 3,
      call_function: 4,
      checkin: 2,
      checkout: 1,
      checkout: 2,
      child_spec: 1,
      size: 1,
      start_link: 1,
      transaction: 2,
      transaction: 3,
      workers: 1
    ],
    Store => [new: 0, new: 1, new: 2, new_wasi: 1, new_wasi: 2, new_wasi: 3],
    StoreLimits => [],
    StoreOrCaller => [get_fuel: 1, set_fuel: 2],
    PreopenOptions => [],
    WasiOptions => [],
    Wat => [to_wasm: 1]
  }

  # Public, but not fuzzed: a Mix task's run/1 takes the command line (strings) and reports
  # bad usage with Mix.raise, as Mix tasks do.
  @not_fuzzed [Mix.Tasks.Wasmex.Run]

  @wat ~S"""
  (module $bad_input
    (memory (export "memory") 1 4)
    (global (export "gi32") (mut i32) (i32.const 0))
    (global (export "gi64") (mut i64) (i64.const 0))
    (global (export "gf32") (mut f32) (f32.const 0))
    (global (export "gf64") (mut f64) (f64.const 0))
    (global (export "gv128") (mut v128) (v128.const i64x2 0 0))
    (global (export "gconst") i32 (i32.const 7))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
    (func (export "i32") (param i32) (result i32) (local.get 0))
    (func (export "i64") (param i64) (result i64) (local.get 0))
    (func (export "f32") (param f32) (result f32) (local.get 0))
    (func (export "f64") (param f64) (result f64) (local.get 0))
    (func (export "v128") (param v128) (result v128) (local.get 0))
    (func (export "swap") (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
    (func (export "mixed") (param i32 i64 f32 f64) (result f64)
      (f64.add
        (f64.add (f64.convert_i32_s (local.get 0)) (f64.convert_i64_s (local.get 1)))
        (f64.add (f64.promote_f32 (local.get 2)) (local.get 3))))
    (func (export "void"))
    (func (export "trap") unreachable)
    (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))
  """

  @add_wat ~S"""
  (module
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
  """

  @import_wat ~S"""
  (module
    (import "env" "f" (func $f))
    (func (export "run") (call $f))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
  """

  @ints [
    -1,
    0,
    1,
    255,
    256,
    65_536,
    2 ** 31 - 1,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 63 - 1,
    2 ** 63,
    -(2 ** 63) - 1,
    2 ** 64 - 1,
    2 ** 64,
    -(2 ** 70),
    2 ** 128 - 1,
    2 ** 128,
    2 ** 200
  ]

  @floats [
    0.0,
    -0.0,
    0.5,
    1.0,
    -1.5,
    1.0e-45,
    5.0e-324,
    3.4028234663852886e38,
    3.4028235677973366e38,
    3.4028236e38,
    1.8446744073709552e19,
    1.0e308,
    -1.0e308
  ]

  @atoms [
    nil,
    true,
    false,
    :nan,
    :infinity,
    :neg_infinity,
    :ok,
    :error,
    :"",
    :i32,
    :f64,
    :add,
    :memory,
    :"no such thing"
  ]

  setup context do
    seed =
      case System.get_env("BAD_INPUT_SEED") do
        nil -> ExUnit.configuration()[:seed]
        seed -> String.to_integer(seed)
      end

    :rand.seed(:exsss, {seed, :erlang.phash2(context.test), 3})
    %{seed: seed}
  end

  describe "the public API" do
    test "is the list above, and every function of it is fuzzed" do
      {:ok, modules} = :application.get_key(:wasmex_interp, :modules)

      documented =
        for module <- modules,
            {:docs_v1, _, _, _, moduledoc, _, _} = Code.fetch_docs(module),
            is_map(moduledoc),
            do: module

      assert Enum.sort(documented) == Enum.sort(Map.keys(@public) ++ @not_fuzzed)

      for {module, functions} <- @public do
        callbacks =
          for behaviour <- Keyword.get_values(module.module_info(:attributes), :behaviour),
              behaviour = List.first(behaviour),
              callback <- behaviour.behaviour_info(:callbacks),
              do: callback

        exported = module.__info__(:functions) -- [{:__struct__, 0}, {:__struct__, 1}]
        assert Enum.sort(exported -- callbacks) == Enum.sort(functions), inspect(module)
      end

      fuzzed = for {mfa, _kinds} <- specs(), do: mfa
      listed = for {module, functions} <- @public, {f, a} <- functions, do: {module, f, a}
      assert Enum.sort(fuzzed) == Enum.sort(listed)
    end
  end

  describe "every public function" do
    test "answers bad arguments with {:error, message} or ArgumentError", %{seed: seed} do
      world = world()

      {failures, count} =
        Enum.reduce(specs(), {[], 0}, fn {mfa, kinds}, {failures, count} ->
          batch =
            for _ <- 1..@cases_per_function,
                failure = fuzz_case(mfa, kinds, world),
                do: failure

          {failures ++ batch ++ unhealthy(world, mfa), count + @cases_per_function}
        end)

      assert count == length(specs()) * @cases_per_function
      assert failures == [], report(failures, seed)
    end
  end

  describe "call_function/4 with random argument lists" do
    test "converts, rejects and counts arguments exactly", %{seed: seed} do
      %{store: store, instance: instance} = instantiate(@wat)
      {:ok, server} = Wasmex.start_link(%{bytes: @wat})

      failures =
        for n <- 1..@call_cases, failure = call_case(store, instance, server, n), do: failure

      assert failures == [], report(failures, seed)
    end
  end

  describe "found by this test, fixed in the NIF" do
    test "a negative v128 is refused, not wrapped modulo 2^128" do
      %{store: store, instance: instance} = instantiate(@wat)

      for n <- [-(2 ** 128) + 1, -(2 ** 127) - 1, -(2 ** 128), -5] do
        assert {:error, "Cannot convert argument #1 to a WebAssembly v128" <> _} =
                 Instance.call_function(store, instance, "v128", [n])
      end

      assert Instance.call_function(store, instance, "v128", [2 ** 128 - 1]) ==
               {:ok, [2 ** 128 - 1]}
    end

    test "a pipe cannot be sought far past its end (the write would allocate the gap)" do
      {:ok, pipe} = Pipe.new()

      for position <- [2 ** 64 - 1, 2 ** 40, 2 ** 30 + 1] do
        assert_raise ArgumentError, fn -> Pipe.seek(pipe, position) end
      end

      assert Pipe.write(pipe, "a") == {:ok, 1}
      assert Pipe.seek(pipe, 0) == :ok
      assert Pipe.read(pipe) == "a"
    end
  end

  describe "memory access at random offsets and lengths" do
    test "matches a model of the memory", %{seed: seed} do
      %{store: store, instance: instance} = instantiate(@wat)
      {:ok, memory} = Instance.memory(store, instance, "memory")
      model = :binary.copy(<<0>>, 65_536)

      {model, failures} =
        Enum.reduce(1..@memory_cases, {model, []}, fn _, {model, failures} ->
          {model, failure} = memory_case(store, instance, memory, model)
          {model, if(failure, do: [failure | failures], else: failures)}
        end)

      assert Memory.size(store, memory) == byte_size(model)
      assert Memory.read_binary(store, memory, 0, byte_size(model)) == {:ok, model}
      assert failures == [], report(Enum.reverse(failures), seed)
    end
  end

  describe "random bytes" do
    test "as Wasm, WAT and serialized modules, and what compiles of them", %{seed: seed} do
      engine = Engine.default()
      {:ok, store} = Store.new(nil, engine)
      {:ok, valid} = Wat.to_wasm(@wat)
      {:ok, module} = Module.compile(store, valid)
      {:ok, serialized} = Module.serialize(module)

      failures =
        for _ <- 1..@bytes_cases,
            failure = bytes_case(store, engine, valid, serialized),
            do: failure

      assert {:ok, instance} = Instance.new(store, module, %{})
      assert Instance.call_function(store, instance, "add", [2, 3]) == {:ok, [5]}
      assert failures == [], report(failures, seed)
    end
  end

  describe "a store another process is using" do
    # `{:busy, id}` (the store is in use) and `:dirty` (too big for a normal scheduler)
    # are replies of the NIFs that `Wasmex.Native` acts on; no public function may return
    # them. Each call below waits while another process's call holds the store, then
    # answers as usual.
    @held ~S[(module
      (import "env" "gate" (func $gate))
      (memory (export "memory") 40)
      (global (export "g") (mut i32) (i32.const 0))
      (func (export "gated") (call $gate))
      (func (export "one") (result i32) (i32.const 1)))]

    test "makes every store function wait, and none returns the waiting replies" do
      test = self()
      gate = fn _context -> send(test, {:held, self()}) && receive(do: (:open -> nil)) end
      imports = %{"env" => %{"gate" => {:fn, [], [], gate}}}
      {:ok, store} = Store.new(%{fuel: 1_000_000})
      {:ok, module} = Module.compile(store, @held)
      {:ok, instance} = Instance.new(store, module, imports)
      {:ok, memory} = Memory.from_instance(store, instance)
      {:ok, big_memory} = Module.compile(store, "(module (memory 100))")
      big = :binary.copy(<<1>>, 2 * 1024 * 1024)

      calls = [
        fn -> Memory.size(store, memory) end,
        fn -> Memory.grow(store, memory, 1) end,
        fn -> Memory.grow(store, memory, 20) end,
        fn -> Memory.read_binary(store, memory, 0, 2 * 1024 * 1024) end,
        fn -> Memory.write_binary(store, memory, 0, big) end,
        fn -> Memory.get_byte(store, memory, 0) end,
        fn -> Memory.set_byte(store, memory, 0, 1) end,
        fn -> Instance.memory(store, instance) end,
        fn -> Instance.get_global_value(store, instance, "g") end,
        fn -> Instance.set_global_value(store, instance, "g", 1) end,
        fn -> Instance.call_function(store, instance, "one", []) end,
        fn -> Instance.new(store, module, imports) end,
        fn -> Instance.new(store, big_memory, %{}) end,
        fn -> StoreOrCaller.get_fuel(store) end,
        fn -> StoreOrCaller.set_fuel(store, 1_000_000) end
      ]

      owner = spawn(fn -> Instance.call_function(store, instance, "gated", []) end)
      assert_receive {:held, ^owner}, 5_000

      waiters =
        for call <- calls do
          pid = spawn(fn -> send(test, {:answer, self(), call.()}) end)
          await_store_wait(pid)
          pid
        end

      send(owner, :open)

      for pid <- waiters do
        assert_receive {:answer, ^pid, answer}, 10_000
        refute match?({:busy, _}, answer) or answer in [:dirty, :timeout], inspect(answer)
        refute match?({:error, _}, answer), inspect(answer)
      end
    end

    # Returns once `pid` sleeps in `receive`: in the store-wait, the only one on its path.
    defp await_store_wait(pid) do
      case Process.info(pid, [:status, :current_function]) do
        [status: :waiting, current_function: {Wasmex.Native, :await, 3}] ->
          :ok

        info ->
          assert info != nil, "the caller died before it waited"
          :erlang.yield()
          await_store_wait(pid)
      end
    end
  end

  describe "dead and foreign resources" do
    test "resources outlive the processes that made or used them" do
      # A store whose owner was killed inside a callback, mid-call.
      %{store: store, instance: instance} = killed_owner()
      assert Instance.call_function(store, instance, "add", [1, 2]) == {:ok, [3]}
      assert {:ok, module} = Module.compile(store, @add_wat)
      assert {:ok, other} = Instance.new(store, module, %{})
      assert Instance.call_function(store, other, "add", [3, 4]) == {:ok, [7]}

      # The store, instance and memory of a killed server.
      {:ok, server} = Wasmex.start_link(%{bytes: @wat})
      {:ok, store} = Wasmex.store(server)
      {:ok, instance} = Wasmex.instance(server)
      {:ok, memory} = Wasmex.memory(server)
      kill(server)
      assert Instance.call_function(store, instance, "add", [1, 2]) == {:ok, [3]}
      assert Memory.write_binary(store, memory, 0, "ok") == :ok
      assert Memory.read_binary(store, memory, 0, 2) == {:ok, "ok"}
      assert catch_exit(Wasmex.call_function(server, "add", [1, 2])) |> elem(0) == :noproc

      # Made by a process that has exited.
      %{store: store, instance: instance} = Task.await(Task.async(fn -> instantiate(@wat) end))
      assert Instance.call_function(store, instance, "add", [1, 2]) == {:ok, [3]}

      # An asynchronous call whose reply goes to a dead process.
      dead = dead_pid()
      assert :ok = Instance.call_exported_function(store, instance, "add", [1, 2], {dead, :tag})
      assert Instance.call_function(store, instance, "add", [2, 2]) == {:ok, [4]}
    end

    test "resources of another store or engine are refused, and nothing breaks" do
      world = world()
      %{store: store, instance: instance, memory: memory} = world
      foreign = world.foreign
      {:ok, serialized} = Module.serialize(world.module)
      {:ok, float_free} = Engine.new(%EngineConfig{floats: false})
      {:ok, other_engine} = Engine.new(%EngineConfig{})

      calls = [
        fn -> Instance.call_function(foreign.store, instance, "add", [1, 2]) end,
        fn -> Instance.call_function(store, foreign.instance, "add", [1, 2]) end,
        fn -> Instance.function_export_exists(foreign.store, instance, "add") end,
        fn -> Instance.get_global_value(foreign.store, instance, "gi32") end,
        fn -> Instance.set_global_value(foreign.store, instance, "gi32", 1) end,
        fn -> Instance.memory(foreign.store, instance) end,
        fn -> Instance.new(store, foreign.module, %{}) end,
        fn ->
          Instance.new(store, world.add_module, %{}, [%{name: "x", module: foreign.module}])
        end,
        fn -> Memory.size(store, foreign.memory) end,
        fn -> Memory.grow(store, foreign.memory, 1) end,
        fn -> Memory.read_binary(store, foreign.memory, 0, 1) end,
        fn -> Memory.write_binary(store, foreign.memory, 0, "x") end,
        fn -> Memory.get_byte(store, foreign.memory, 0) end,
        fn -> Memory.set_byte(store, foreign.memory, 0, 1) end,
        fn -> Memory.size(foreign.store, memory) end,
        fn -> Memory.from_instance(foreign.store, instance) end,
        fn -> Module.unsafe_deserialize(serialized, float_free) end,
        fn -> Wasmex.start_link(%{store: store, module: foreign.module}) end,
        fn -> Pool.start_link(size: 1, module: world.add_module, engine: other_engine) end,
        fn -> Pool.start_link(size: 1, module: foreign.module) end
      ]

      calls = calls ++ Enum.map(world.forged, &forged_calls(&1, world))

      failures =
        for call <- List.flatten(calls),
            outcome = outcome(call),
            not refused?(outcome),
            do: "#{inspect(call)} -> #{inspect(outcome, limit: 8)}"

      assert failures == []
      assert unhealthy(world, :foreign) == []
    end
  end

  ## The functions and their arguments

  # Every public function, with the kind of each argument (see `good/2`, `bad/2` and
  # `class/3`).
  defp specs do
    booleans = for field <- @booleans, do: {{EngineConfig, field, 2}, [:config, :boolean]}

    booleans ++
      [
        {{Wasmex, :call_function, 3}, [:server, :fname, :params]},
        {{Wasmex, :call_function, 4}, [:server, :fname, :params, :gen_timeout]},
        {{Wasmex, :child_spec, 1}, [:server_options_any]},
        {{Wasmex, :function_exists, 2}, [:server, :fname]},
        {{Wasmex, :instance, 1}, [:server]},
        {{Wasmex, :memory, 1}, [:server]},
        {{Wasmex, :module, 1}, [:server]},
        {{Wasmex, :start_link, 1}, [:server_options]},
        {{Wasmex, :store, 1}, [:server]},
        {{Engine, :default, 0}, []},
        {{Engine, :new, 1}, [:valid_config]},
        {{Engine, :precompile_module, 2}, [:engine, :wasm]},
        {{EngineConfig, :compilation_mode, 2}, [:config, {:one_of, [:lazy_translation, :eager]}]},
        {{EngineConfig, :cranelift_opt_level, 2},
         [:config, {:one_of, [:none, :speed, :speed_and_size]}]},
        {{EngineConfig, :max_recursion_depth, 2}, [:config, :limit]},
        {{EngineConfig, :max_stack_height, 2}, [:config, :limit]},
        {{EngineConfig, :validate!, 1}, [:valid_config]},
        {{Instance, :call_exported_function, 5}, [:store, :instance, :fname, :params, :from]},
        {{Instance, :call_exported_function, 6},
         [:store, :instance, :fname, :params, :from, :call_timeout]},
        {{Instance, :call_function, 4}, [:store, :instance, :fname, :params]},
        {{Instance, :call_function, 5}, [:store, :instance, :fname, :params, :call_opts]},
        {{Instance, :function_export_exists, 3}, [:store, :instance, :fname]},
        {{Instance, :get_global_value, 3}, [:store, :instance, :gname]},
        {{Instance, :memory, 2}, [:store, :instance]},
        {{Instance, :memory, 3}, [:store, :instance, :memory_name]},
        {{Instance, :new, 3}, [:engine_store, :module, :imports]},
        {{Instance, :new, 4}, [:engine_store, :module, :imports, :links]},
        {{Instance, :set_global_value, 4}, [:store, :instance, :gname, :value]},
        {{Memory, :from_instance, 2}, [:store, :instance]},
        {{Memory, :get_byte, 3}, [:store, :memory, :int]},
        {{Memory, :grow, 3}, [:store, :memory, :int]},
        {{Memory, :read_binary, 4}, [:store, :memory, :int, :int]},
        {{Memory, :read_string, 4}, [:store, :memory, :int, :int]},
        {{Memory, :set_byte, 4}, [:store, :memory, :int, :int]},
        {{Memory, :size, 2}, [:store, :memory]},
        {{Memory, :write_binary, 4}, [:store, :memory, :int, :binary]},
        {{Module, :compile, 2}, [:any_store, :wasm]},
        {{Module, :exports, 1}, [:any_module]},
        {{Module, :imports, 1}, [:any_module]},
        {{Module, :name, 1}, [:any_module]},
        {{Module, :serialize, 1}, [:any_module]},
        {{Module, :unsafe_deserialize, 1}, [:serialized]},
        {{Module, :unsafe_deserialize, 2}, [:serialized, :engine_or_nil]},
        {{Pipe, :new, 0}, []},
        {{Pipe, :new, 1}, [:keyword]},
        {{Pipe, :read, 1}, [:pipe]},
        {{Pipe, :seek, 2}, [:pipe, :int]},
        {{Pipe, :size, 1}, [:pipe]},
        {{Pipe, :write, 2}, [:pipe, :binary]},
        {{Pool, :call_function, 3}, [:pool, :fname, :params]},
        {{Pool, :call_function, 4}, [:pool, :fname, :params, :gen_timeout]},
        {{Pool, :checkin, 2}, [:pool, :pid]},
        {{Pool, :checkout, 1}, [:pool]},
        {{Pool, :checkout, 2}, [:pool, :gen_timeout]},
        {{Pool, :child_spec, 1}, [:keyword]},
        {{Pool, :size, 1}, [:pool]},
        {{Pool, :start_link, 1}, [:pool_options]},
        {{Pool, :transaction, 2}, [:pool, :fun1]},
        {{Pool, :transaction, 3}, [:pool, :fun1, :gen_timeout]},
        {{Pool, :workers, 1}, [:pool]},
        {{Store, :new, 0}, []},
        {{Store, :new, 1}, [:limits]},
        {{Store, :new, 2}, [:limits, :engine_or_nil]},
        {{Store, :new_wasi, 1}, [:wasi]},
        {{Store, :new_wasi, 2}, [:wasi, :limits]},
        {{Store, :new_wasi, 3}, [:wasi, :limits, :engine_or_nil]},
        {{StoreOrCaller, :get_fuel, 1}, [:any_store]},
        {{StoreOrCaller, :set_fuel, 2}, [:any_store, :int]},
        {{Wat, :to_wasm, 1}, [:wat]}
      ]
  end

  # What a call may return when all its arguments are valid (errors aside).
  defp result_ok?({Wasmex, :call_function, _}, result),
    do: match?({:ok, list} when is_list(list), result)

  defp result_ok?({Wasmex, :child_spec, 1}, result), do: is_map(result)
  defp result_ok?({Wasmex, :function_exists, 2}, result), do: is_boolean(result)
  defp result_ok?({Wasmex, :instance, 1}, result), do: match?({:ok, %Instance{}}, result)
  defp result_ok?({Wasmex, :memory, 1}, result), do: match?({:ok, %Memory{}}, result)
  defp result_ok?({Wasmex, :module, 1}, result), do: match?({:ok, %Module{}}, result)
  defp result_ok?({Wasmex, :store, 1}, result), do: match?({:ok, %StoreOrCaller{}}, result)

  defp result_ok?({Wasmex, :start_link, 1}, result),
    do: match?({:ok, pid} when is_pid(pid), result)

  defp result_ok?({Engine, :default, 0}, result), do: match?(%Engine{}, result)
  defp result_ok?({Engine, :new, 1}, result), do: match?({:ok, %Engine{}}, result)
  defp result_ok?({Engine, :precompile_module, 2}, result), do: ok_binary?(result)
  defp result_ok?({EngineConfig, :validate!, 1}, result), do: result == :ok
  defp result_ok?({EngineConfig, _, 2}, result), do: match?(%EngineConfig{}, result)

  defp result_ok?({Instance, :call_exported_function, _}, result),
    do: match?({:ok, list} when is_list(list), result)

  defp result_ok?({Instance, :call_function, _}, result),
    do: match?({:ok, list} when is_list(list), result)

  defp result_ok?({Instance, :function_export_exists, 3}, result), do: is_boolean(result)
  defp result_ok?({Instance, :get_global_value, 3}, result), do: match?({:ok, _}, result)
  defp result_ok?({Instance, :memory, _}, result), do: match?({:ok, %Memory{}}, result)
  defp result_ok?({Instance, :new, _}, result), do: match?({:ok, %Instance{}}, result)
  defp result_ok?({Instance, :set_global_value, 4}, result), do: result == :ok
  defp result_ok?({Memory, :from_instance, 2}, result), do: match?({:ok, %Memory{}}, result)
  defp result_ok?({Memory, :get_byte, 3}, result), do: result in 0..255
  defp result_ok?({Memory, :grow, 3}, result), do: result == :ok
  defp result_ok?({Memory, :read_binary, 4}, result), do: ok_binary?(result)
  defp result_ok?({Memory, :read_string, 4}, result), do: ok_binary?(result)
  defp result_ok?({Memory, :set_byte, 4}, result), do: result == :ok
  defp result_ok?({Memory, :size, 2}, result), do: is_integer(result) and result >= 0
  defp result_ok?({Memory, :write_binary, 4}, result), do: result == :ok
  defp result_ok?({Module, :compile, 2}, result), do: match?({:ok, %Module{}}, result)
  defp result_ok?({Module, :exports, 1}, result), do: is_map(result)
  defp result_ok?({Module, :imports, 1}, result), do: is_map(result)
  defp result_ok?({Module, :name, 1}, result), do: is_binary(result) or is_nil(result)
  defp result_ok?({Module, :serialize, 1}, result), do: ok_binary?(result)
  defp result_ok?({Module, :unsafe_deserialize, _}, result), do: match?({:ok, %Module{}}, result)
  defp result_ok?({Pipe, :new, _}, result), do: match?({:ok, %Pipe{}}, result)
  defp result_ok?({Pipe, :read, 1}, result), do: is_binary(result)
  defp result_ok?({Pipe, :seek, 2}, result), do: result == :ok
  defp result_ok?({Pipe, :size, 1}, result), do: is_integer(result) and result >= 0
  defp result_ok?({Pipe, :write, 2}, result), do: match?({:ok, n} when is_integer(n), result)

  defp result_ok?({Pool, :call_function, _}, result),
    do: match?({:ok, list} when is_list(list), result)

  defp result_ok?({Pool, :checkin, 2}, result), do: result == :ok
  defp result_ok?({Pool, :checkout, _}, result), do: is_pid(result)
  defp result_ok?({Pool, :child_spec, 1}, result), do: is_map(result)
  defp result_ok?({Pool, :size, 1}, result), do: is_integer(result) and result > 0
  defp result_ok?({Pool, :start_link, 1}, result), do: match?({:ok, pid} when is_pid(pid), result)
  defp result_ok?({Pool, :transaction, _}, _result), do: true

  defp result_ok?({Pool, :workers, 1}, result),
    do: is_list(result) and Enum.all?(result, &is_pid/1)

  defp result_ok?({Store, _, _}, result), do: match?({:ok, %StoreOrCaller{}}, result)

  defp result_ok?({StoreOrCaller, :get_fuel, 1}, result),
    do: match?({:ok, n} when is_integer(n), result)

  defp result_ok?({StoreOrCaller, :set_fuel, 2}, result), do: result == :ok
  defp result_ok?({Wat, :to_wasm, 1}, result), do: ok_binary?(result)

  defp ok_binary?(result), do: match?({:ok, binary} when is_binary(binary), result)

  # Wasmex's documented non-string errors of start_link/1.
  @start_errors [
    :must_specify_store_used_to_compile_module,
    :must_specify_store_and_module_used_to_instantiate_instance
  ]

  ## One random case

  defp fuzz_case({module, function, _arity} = mfa, kinds, world) do
    args = arguments(kinds, world)
    classes = Enum.map(args, &elem(&1, 1))
    values = Enum.map(args, &elem(&1, 0))
    outcome = outcome(fn -> apply(module, function, values) end) |> reply(mfa, values)
    verdict = verdict(mfa, classes, outcome)
    late = after_call(mfa, values, outcome, world)

    cond do
      verdict != :ok ->
        "#{describe(mfa, values, classes)}\n    -> #{verdict}: #{inspect(outcome, limit: 12)}"

      late != :ok ->
        "#{describe(mfa, values, classes)}\n    -> #{late}"

      true ->
        nil
    end
  end

  # Each argument is valid, or wrong in a way known for its kind, or any junk term (its
  # class then says whether the kind takes it). One case in four has only valid arguments
  # (what valid input gives is checked too); the others have at least one that is not.
  defp arguments([], _world), do: []

  defp arguments(kinds, world) do
    forced = if :rand.uniform(4) > 1, do: :rand.uniform(length(kinds)), else: 0

    kinds
    |> Enum.with_index(1)
    |> Enum.map(fn {kind, index} ->
      case {forced, index == forced, :rand.uniform(10)} do
        {0, _, _} -> {good(kind, world), :ok}
        {_, false, roll} when roll <= 6 -> {good(kind, world), :ok}
        {_, _, roll} when roll <= 8 -> bad(kind, world)
        _ -> junk_for(kind, world)
      end
    end)
  end

  defp junk_for(kind, world) do
    value = junk(world)
    {value, class(kind, value, world)}
  end

  defp outcome(fun) do
    {:returned, fun.()}
  rescue
    error -> {:raised, error}
  catch
    kind, reason -> {:caught, kind, reason}
  end

  # `:ok` or what is wrong with `outcome`.
  defp verdict(mfa, classes, outcome) do
    bad? = :bad in classes

    case outcome do
      {:raised, %ArgumentError{message: message}} when is_binary(message) ->
        :ok

      {:returned, {:error, message}} when is_binary(message) ->
        :ok

      {:returned, {:error, reason}}
      when mfa == {Wasmex, :start_link, 1} and reason in @start_errors ->
        :ok

      {:returned, result} when not bad? ->
        if result_ok?(mfa, result), do: :ok, else: "unexpected result"

      {:returned, _} ->
        "bad input accepted"

      {:caught, :exit, {reason, _}} ->
        cond do
          :noproc in classes and (reason == :noproc or match?({:nodedown, _}, reason)) -> :ok
          :may_timeout in classes and reason == :timeout -> :ok
          true -> "exit"
        end

      _ ->
        "not an ArgumentError"
    end
  end

  # The result of an asynchronous call is its reply, when it comes to this process; when it
  # goes elsewhere, `:ok` is all there is to check.
  defp reply({:returned, :ok}, {Instance, :call_exported_function, _}, [_, _, _, _, from | _]) do
    case from do
      {pid, tag} when pid == self() ->
        receive do
          {^tag, reply} -> {:returned, reply}
        after
          5_000 -> :no_reply
        end

      _elsewhere ->
        {:returned, {:error, "(the reply went elsewhere)"}}
    end
  end

  defp reply(outcome, _mfa, _values), do: outcome

  # Cleans up after a successful call.
  defp after_call({Wasmex, :start_link, 1}, _args, {:returned, {:ok, pid}}, _world),
    do: stop(pid)

  defp after_call({Pool, :start_link, 1}, _args, {:returned, {:ok, pid}}, _world),
    do: stop(pid)

  defp after_call({Pool, :checkout, _}, _args, {:returned, pid}, world) when is_pid(pid),
    do: Pool.checkin(world.pool, pid)

  defp after_call(_mfa, _args, _outcome, _world), do: :ok

  # After each batch: the world's store, server and pool answer a real call.
  defp unhealthy(world, after_what) do
    a = :rand.uniform(2 ** 32) - 2 ** 31
    b = :rand.uniform(2 ** 32) - 2 ** 31
    sum = wrap32(a + b)

    checks = [
      {"store", fn -> Instance.call_function(world.store, world.instance, "add", [a, b]) end},
      {"memory", fn -> elem(Memory.read_binary(world.store, world.memory, 0, 4), 0) end},
      {"server", fn -> Wasmex.call_function(world.server, "add", [a, b]) end},
      {"pool", fn -> Pool.call_function(world.pool, "add", [a, b]) end}
    ]

    for {what, check} <- checks,
        outcome = outcome(check),
        outcome not in [{:returned, {:ok, [sum]}}, {:returned, :ok}] do
      "after #{inspect(after_what)}: the #{what} is broken: #{inspect(outcome, limit: 8)}"
    end
  end

  ## Values, by kind

  # A valid value of `kind`.
  defp good(:server, world), do: world.server
  defp good(:pool, world), do: world.pool

  defp good(:fname, _world),
    do: pick(["add", :add, "add", "i32", "void", "trap", "load", "nope", "", text()])

  defp good(:params, _world) do
    case :rand.uniform(3) do
      1 -> [in_range(:i32), in_range(:i32)]
      _ -> for _ <- 1..(:rand.uniform(4) - 1)//1, do: number()
    end
  end

  defp good(:gen_timeout, _world), do: pick([5_000, :infinity, 4_294_967_295])
  defp good(:server_options_any, _world), do: pick([%{bytes: @add_wat}, [bytes: @add_wat], []])

  defp good(:server_options, world) do
    pick([
      %{bytes: @add_wat},
      [bytes: @add_wat],
      %{bytes: world.add_wasm, imports: %{}, links: %{}},
      %{bytes: @add_wat, wasi: true},
      %{store: world.store, module: world.add_module},
      %{bytes: @add_wat, links: %{"lib" => %{bytes: @add_wat}}}
    ])
  end

  defp good(:valid_config, _world) do
    %EngineConfig{}
    |> EngineConfig.consume_fuel(pick([true, false]))
    |> EngineConfig.compilation_mode(pick([:lazy_translation, :eager]))
    |> EngineConfig.max_recursion_depth(pick([nil, 1, 100, 2 ** 63 - 1]))
    |> EngineConfig.max_stack_height(pick([nil, 1, 100_000, 2 ** 63 - 1]))
    |> EngineConfig.simd(pick([true, false]))
  end

  defp good(:config, world), do: good(:valid_config, world)
  defp good(:boolean, _world), do: pick([true, false])
  defp good({:one_of, values}, _world), do: pick(values)
  defp good(:limit, _world), do: pick([nil, 1, 1000, 2 ** 63 - 1])
  defp good(:engine, world), do: pick(world.engines)
  defp good(:engine_or_nil, world), do: pick([nil | world.engines])
  defp good(:wasm, world), do: wasm_like(world.wasm)
  defp good(:wat, _world), do: pick([@wat, "(module)", text(), mutate(@wat), bytes()])
  defp good(:serialized, world), do: pick([world.serialized, mutate(world.serialized), bytes()])
  defp good(:store, world), do: world.store
  defp good(:any_store, world), do: pick([world.store, world.fuel_store])
  defp good(:engine_store, world), do: pick([world.store, world.fuel_store])
  defp good(:instance, world), do: world.instance
  defp good(:memory, world), do: world.memory
  defp good(:module, world), do: pick([world.module, world.add_module])
  defp good(:any_module, world), do: pick([world.module, world.add_module, world.foreign.module])

  defp good(:imports, _world) do
    pick([
      %{},
      %{"env" => %{}},
      %{env: %{f: {:fn, [:i32], [:i32], fn _context, x -> x end}}},
      %{"env" => %{"f" => {:fn, [], [], fn _context -> [] end}}}
    ])
  end

  defp good(:links, world), do: pick([[], [%{name: "lib", module: world.add_module}]])
  defp good(:gname, _world), do: pick(~w(gi32 gi64 gf32 gf64 gv128 gconst nope add) ++ [""])
  defp good(:value, _world), do: number()
  defp good(:memory_name, _world), do: pick(["memory", nil, "nope", "add"])
  defp good(:call_opts, _world), do: pick([[], [timeout: 1_000], [timeout: :infinity], [foo: 1]])
  defp good(:call_timeout, _world), do: pick([nil, 1_000, :infinity])
  # A `GenServer` `from`, or any other term (Wasmex 0.9's form).
  defp good(:from, world),
    do: pick([{self(), make_ref()}, {world.dead_pid, :tag}, :from, {:x, :tag}, nil])

  defp good(:int, _world), do: pick([:rand.uniform(70_000) - 1, :rand.uniform(5) - 1, int()])
  defp good(:binary, _world), do: bytes()
  defp good(:pipe, _world), do: elem(Pipe.new(), 1)
  defp good(:pid, world), do: pick([world.dead_pid, self()])

  defp good(:fun1, _world),
    do: pick([fn worker -> Wasmex.call_function(worker, "add", [1, 2]) end, fn _ -> :done end])

  defp good(:keyword, _world), do: pick([[], [size: 1], [name: :a_pool]])

  defp good(:pool_options, world) do
    pick([
      [size: 1, bytes: @add_wat],
      [size: 2, bytes: world.add_wasm],
      [size: 1, module: world.add_module, engine: world.engine]
    ])
  end

  defp good(:limits, world) do
    pick([
      nil,
      %{},
      %StoreLimits{},
      %StoreLimits{memory_size: 65_536 * :rand.uniform(4), instances: 10, tables: 2},
      %StoreLimits{memory_size: 2 ** 64 - 1, table_elements: 0},
      %{fuel: :rand.uniform(1_000)},
      %{fuel: 0, limits: %StoreLimits{memories: 1}},
      %{engine: world.engine}
    ])
  end

  defp good(:wasi, world) do
    {:ok, pipe} = Pipe.new()

    pick([
      %WasiOptions{},
      %WasiOptions{args: ["app", "--flag", ""], env: %{"KEY" => "VALUE", "" => ""}},
      %WasiOptions{stdin: pipe, stdout: pipe, stderr: pipe},
      %WasiOptions{stdout: {:send, self()}, stderr: {:send, world.dead_pid, :tag}},
      %WasiOptions{preopen: [%PreopenOptions{path: System.tmp_dir!(), alias: "tmp"}]},
      %WasiOptions{preopen: [%PreopenOptions{path: "/no/such/directory"}]},
      %WasiOptions{args: ["nul\0inside"], env: %{"K=" => "\0"}}
    ])
  end

  # A value of `kind`'s shape that is wrong for it, with its class.
  defp bad(:server, world), do: server_like(world)
  defp bad(:pool, world), do: server_like(world)
  defp bad(:fname, _world), do: {pick([1, 1.5, {"add"}, ["add"], %{}, <<255, 254>>]), :bad}
  defp bad(:params, _world), do: {pick([[1 | 2], [1, 2 | 3], :x, "ab", {1, 2}, %{}]), :bad}

  defp bad(:gen_timeout, _world) do
    pick([
      {pick([-1, 4_294_967_296, 2 ** 64, 1.0e3, :never, "5000", nil]), :bad},
      {pick([0, 1, 10]), :may_timeout}
    ])
  end

  defp bad(:server_options_any, _world), do: {pick([:x, 5, "bytes", [1, 2], [{"a", 1}]]), :bad}

  defp bad(:server_options, world) do
    value =
      pick([
        %{},
        [1, 2],
        [{"bytes", @add_wat}],
        %{bytes: :x},
        %{bytes: "garbage"},
        %{bytes: bytes()},
        %{bytes: broken_module()},
        %{bytes: @import_wat},
        %{module: world.add_module},
        %{instance: world.instance},
        %{instance: world.instance, store: world.store},
        %{instance: :x, store: world.store, module: world.add_module},
        %{store: :x, bytes: @add_wat},
        %{store: world.forged_store, bytes: @add_wat},
        %{store: world.store, module: :x},
        %{store: world.store, module: world.foreign.module},
        %{bytes: @add_wat, imports: :x},
        %{bytes: @add_wat, imports: %{"env" => :x}},
        %{bytes: @add_wat, imports: %{"env" => %{"f" => {:fn, [:i32], [], :not_a_fun}}}},
        %{bytes: @add_wat, links: :x},
        %{bytes: @add_wat, links: %{"a" => :x}},
        %{bytes: @add_wat, links: %{1 => %{bytes: @add_wat}}},
        %{bytes: @add_wat, links: %{"a" => %{bytes: "junk"}}},
        %{bytes: @add_wat, links: %{"a" => %{links: :x, bytes: @add_wat}}},
        %{bytes: @add_wat, links: %{"a" => %{}}},
        %{bytes: @add_wat, wasi: :x},
        %{bytes: @add_wat, wasi: %WasiOptions{args: :x}},
        %{bytes: @add_wat, name: 5},
        %{bytes: @add_wat, name: {:via, :no_such_module, :x}},
        %{bytes: world.deep_list}
      ])

    {value, :bad}
  end

  defp bad(:valid_config, _world) do
    value =
      pick([
        %EngineConfig{consume_fuel: :yes},
        %EngineConfig{cranelift_opt_level: :max},
        %EngineConfig{compilation_mode: :fast},
        %EngineConfig{max_recursion_depth: 0},
        %EngineConfig{max_stack_height: 2 ** 64},
        %EngineConfig{max_stack_height: 1.0},
        %EngineConfig{simd: nil},
        Map.delete(%EngineConfig{}, :simd),
        Map.delete(%EngineConfig{}, :cranelift_opt_level),
        Map.from_struct(%EngineConfig{}),
        %{__struct__: EngineConfig}
      ])

    {value, :bad}
  end

  defp bad(:config, _world),
    do:
      {pick([%{}, Map.from_struct(%EngineConfig{}), %StoreLimits{}, [consume_fuel: true]]), :bad}

  defp bad(:boolean, _world), do: {pick([nil, "true", 1, 0, :yes]), :bad}
  defp bad({:one_of, _}, _world), do: {pick([:max, nil, "speed", 1, :fast]), :bad}
  defp bad(:limit, _world), do: {pick([0, -1, 2 ** 63, 2 ** 64, 1.0, :infinity, "1"]), :bad}
  defp bad(:engine, world), do: {pick(world.forged_engines), :bad}
  defp bad(:engine_or_nil, world), do: {pick([false | world.forged_engines]), :bad}
  defp bad(:wasm, _world), do: {pick([:x, 'chars', <<1::3>>, ["(module)"], nil]), :bad}
  defp bad(:wat, world), do: bad(:wasm, world)
  defp bad(:serialized, world), do: bad(:wasm, world)
  defp bad(:store, world), do: {pick(world.wrong_stores), :bad}
  defp bad(:engine_store, world), do: {pick(world.wrong_stores -- [world.fuel_store]), :bad}
  defp bad(:any_store, world), do: {pick(world.forged_stores), :bad}
  defp bad(:instance, world), do: {pick(world.wrong_instances), :bad}
  defp bad(:memory, world), do: {pick(world.wrong_memories), :bad}
  defp bad(:module, world), do: {pick(world.wrong_modules), :bad}
  defp bad(:any_module, world), do: {pick(world.forged_modules), :bad}

  defp bad(:imports, world) do
    fun = fn _context -> 0 end

    value =
      pick([
        %{"env" => :x},
        %{"env" => %{"f" => :x}},
        %{"env" => %{"f" => {:fn, [:i32], [:i32], :not_a_fun}}},
        %{"env" => %{"f" => {:fn, [:bogus], [], fun}}},
        %{"env" => %{"f" => {:fn, [1], [2], fun}}},
        %{"env" => %{"f" => {:fn, [:i32 | :i64], [], fun}}},
        %{"env" => %{"f" => {:fn, :i32, [], fun}}},
        %{"env" => %{"f" => {:fn, [], [], fn -> 0 end}}},
        %{"env" => %{"f" => {:fn, [:i32], [], fn _, _, _ -> 0 end}}},
        %{"env" => %{"f" => {:fn, [], [], fun, :extra}}},
        %{"env" => %{"f" => {:fn, world.deep_list, [], fun}}},
        %{"env" => world.deep_map},
        %{1 => %{}},
        %{"env" => %{1.5 => {:fn, [], [], fun}}},
        %{{:a} => %{}}
      ])

    {value, :bad}
  end

  defp bad(:links, world) do
    value =
      pick([
        [%{name: 1, module: world.add_module}],
        [%{name: "x", module: :x}],
        [%{name: "x"}],
        [%{module: world.add_module}],
        [:x],
        [%{name: "x", module: world.foreign.module}],
        [%{name: "x", module: world.forged_module}],
        [%{name: "x", module: world.add_module} | :tail],
        %{}
      ])

    {value, :bad}
  end

  defp bad(:gname, _world), do: {pick([:gi32, 1, 'gi32', nil]), :bad}
  defp bad(:value, world), do: {pick(["1", [1], {1}, %{}, nil, :foo, world.deep_tuple]), :bad}
  defp bad(:memory_name, _world), do: {pick([:memory, 1, 'memory']), :bad}

  defp bad(:call_opts, _world) do
    value =
      pick([
        [timeout: -1],
        [timeout: 1.5],
        [timeout: :never],
        [timeout: nil],
        [1],
        :x,
        %{timeout: 1}
      ])

    {value, :bad}
  end

  defp bad(:call_timeout, _world), do: {pick([-1, 1.5, :never, false, "1"]), :bad}

  # Every term is a `from`.
  defp bad(:from, world), do: junk_for(:from, world)

  defp bad(:int, _world), do: {pick([1.0, :x, "1", nil, [1], -0.0]), :bad}
  defp bad(:binary, _world), do: {pick([:x, 'abc', <<1::3>>, ["a"], 97]), :bad}
  defp bad(:pipe, world), do: {pick(world.forged_pipes), :bad}
  defp bad(:pid, _world), do: {pick([:x, nil, "pid", {self()}]), :bad}

  defp bad(:fun1, _world),
    do: {pick([fn -> :x end, fn _, _ -> :x end, :fun, {Kernel, :is_pid}, &Kernel.+/2]), :bad}

  defp bad(:keyword, _world), do: {pick([[1], :x, %{}, [{"size", 1}], "size"]), :bad}

  defp bad(:pool_options, world) do
    value =
      pick([
        [size: 0, bytes: @add_wat],
        [size: -1, bytes: @add_wat],
        [size: 1.5, bytes: @add_wat],
        [size: :x, bytes: @add_wat],
        [size: 1, bytes: :x],
        [size: 1],
        [size: 1, bytes: "garbage"],
        [size: 1, bytes: broken_module()],
        [size: 2, bytes: @import_wat],
        [size: 1, worker: :x],
        [size: 1, worker: {NoSuchModule, []}],
        [size: 1, worker: {Wasmex, :not_options}],
        [size: 1, worker: {Kernel, []}],
        [size: 1, bytes: @add_wat, imports: :x],
        [size: 1, bytes: @add_wat, imports: %{"env" => :x}],
        [size: 1, bytes: @add_wat, links: :x],
        [size: 1, bytes: @add_wat, wasi: :x],
        [size: 1, bytes: @add_wat, wasi: %WasiOptions{args: [:x]}],
        [
          size: 1,
          bytes: @add_wat,
          wasi: %WasiOptions{preopen: [%PreopenOptions{path: "/no/dir"}]}
        ],
        [size: 1, bytes: @add_wat, engine: :x],
        [size: 1, module: world.add_module, engine: world.forged_engine],
        [size: 1, module: world.foreign.module],
        [size: 1, module: :x],
        [size: 1, bytes: @add_wat, name: 5],
        [color: :red],
        [1],
        [{"size", 1}],
        :x,
        %{size: 1, bytes: @add_wat}
      ])

    {value, :bad}
  end

  defp bad(:limits, world) do
    value =
      pick([
        %StoreLimits{memory_size: -1},
        %StoreLimits{instances: 1.5},
        %StoreLimits{tables: :x},
        %StoreLimits{memories: 2 ** 64},
        Map.delete(%StoreLimits{}, :tables),
        %{fuel: -1},
        %{fuel: 1.0},
        %{fuel: 2 ** 64},
        %{fuel: :infinity},
        %{fuel: 1, limits: :x},
        %{fuel: 1, limits: %{memory_size: 1}},
        %{fuel: 1, engine: :x},
        %{fuel: 1, engine: %Engine{}},
        %{foo: 1},
        %{"fuel" => 1},
        [fuel: 1],
        :x,
        world.deep_map
      ])

    {value, :bad}
  end

  defp bad(:wasi, world) do
    value =
      pick([
        %WasiOptions{args: :x},
        %WasiOptions{args: [:a]},
        %WasiOptions{args: [<<255>>]},
        %WasiOptions{args: ["a" | "b"]},
        %WasiOptions{args: world.deep_list},
        %WasiOptions{env: [{"a", "b"}]},
        %WasiOptions{env: %{"a" => 1}},
        %WasiOptions{env: %{<<255>> => "v"}},
        %WasiOptions{env: %{a: "b"}},
        %WasiOptions{preopen: ["/tmp"]},
        %WasiOptions{preopen: [%PreopenOptions{path: 1}]},
        %WasiOptions{preopen: [%PreopenOptions{path: <<255>>}]},
        %WasiOptions{preopen: [%PreopenOptions{path: "/tmp", alias: :x}]},
        %WasiOptions{preopen: %PreopenOptions{path: "/tmp"}},
        %WasiOptions{stdin: :x},
        %WasiOptions{stdin: {:send, self()}},
        %WasiOptions{stdout: {:send, :not_a_pid}},
        %WasiOptions{stderr: {:send, self(), 1, 2}},
        %WasiOptions{stdout: world.forged_pipe},
        Map.delete(%WasiOptions{}, :env),
        %{args: []},
        :x
      ])

    {value, :bad}
  end

  # A server argument that is not a server: a name or pid of no process (an exit, as from
  # GenServer.call/3), or not a name at all.
  defp server_like(world) do
    pick([
      {world.dead_pid, :noproc},
      {:no_such_server, :noproc},
      {{:global, :no_such_server}, :noproc},
      {pick([5, "server", %{}, {:foo}, 1.0, make_ref()]), :bad}
    ])
  end

  # How `kind` takes the junk `value`: `:ok` (valid: any answer), `:bad` (must be an error
  # or ArgumentError), `:noproc` (a server that does not run: an exit is fine too) or
  # `:may_timeout` (a timeout short enough to expire).
  defp class(kind, value, _world) when kind in [:server, :pool] do
    cond do
      not server?(value) -> :bad
      true -> :noproc
    end
  end

  defp class(:fname, value, _world), do: ok_if(is_atom(value) or String.valid?(value))
  defp class(:params, value, _world), do: ok_if(proper_list?(value))

  defp class(:gen_timeout, value, _world) do
    cond do
      value == :infinity or (is_integer(value) and value in 1_000..4_294_967_295) -> :ok
      is_integer(value) and value in 0..999 -> :may_timeout
      true -> :bad
    end
  end

  defp class(:server_options_any, value, _world), do: ok_if(is_map(value) or keyword?(value))
  defp class(:keyword, value, _world), do: ok_if(keyword?(value))
  defp class(:boolean, value, _world), do: ok_if(is_boolean(value))
  defp class({:one_of, values}, value, _world), do: ok_if(value in values)

  defp class(:limit, value, _world),
    do: ok_if(is_nil(value) or (is_integer(value) and value > 0 and value < 2 ** 63))

  defp class(:engine, value, world), do: ok_if(value in world.engines)
  defp class(:engine_or_nil, value, world), do: ok_if(value in [nil | world.engines])
  defp class(kind, value, _world) when kind in [:wasm, :serialized], do: ok_if(is_binary(value))
  defp class(:wat, value, _world), do: ok_if(is_binary(value))
  defp class(:store, value, world), do: ok_if(value == world.store)
  defp class(:any_store, value, world), do: ok_if(value in world.stores)
  defp class(:engine_store, value, world), do: ok_if(value in [world.store, world.fuel_store])
  defp class(:instance, value, world), do: ok_if(value == world.instance)
  defp class(:memory, value, world), do: ok_if(value == world.memory)
  defp class(:module, value, world), do: ok_if(value in [world.module, world.add_module])
  defp class(:any_module, value, world), do: ok_if(value in world.modules)
  defp class(:imports, value, _world), do: ok_if(is_map(value))
  defp class(:links, value, _world), do: ok_if(value == [])
  defp class(:gname, value, _world), do: ok_if(is_binary(value) and String.valid?(value))

  defp class(:value, value, _world),
    do: ok_if(is_number(value) or value in [:nan, :infinity, :neg_infinity])

  defp class(:memory_name, value, _world),
    do: ok_if(is_nil(value) or (is_binary(value) and String.valid?(value)))

  defp class(:call_opts, value, _world) do
    ok_if(
      keyword?(value) and
        match?(t when t == :infinity or (is_integer(t) and t >= 0), value[:timeout] || 0)
    )
  end

  defp class(:call_timeout, value, _world),
    do: ok_if(value in [nil, :infinity] or (is_integer(value) and value >= 0))

  defp class(:from, _value, _world), do: :ok
  defp class(:int, value, _world), do: ok_if(is_integer(value))
  defp class(:binary, value, _world), do: ok_if(is_binary(value))
  defp class(:pid, value, _world), do: ok_if(is_pid(value))
  defp class(:fun1, value, _world), do: ok_if(is_function(value, 1))

  defp class(:limits, value, world),
    do:
      ok_if(
        value in [nil, %{}, %StoreLimits{}] or value in Enum.map(world.engines, &%{engine: &1})
      )

  defp class(:wasi, value, _world), do: ok_if(value == %WasiOptions{})

  defp class(_kind, _value, _world), do: :bad

  defp ok_if(true), do: :ok
  defp ok_if(false), do: :bad

  ## The world the cases run in

  defp world do
    engine = Engine.default()
    {:ok, store} = Store.new(%StoreLimits{memory_size: 4 * 65_536}, engine)
    {:ok, fuel_store} = Store.new(%{fuel: 1_000_000}, engine)
    {:ok, module} = Module.compile(store, @wat)
    {:ok, add_module} = Module.compile(store, @add_wat)
    {:ok, instance} = Instance.new(store, module, %{})
    {:ok, memory} = Instance.memory(store, instance, "memory")
    {:ok, wasm} = Wat.to_wasm(@wat)
    {:ok, add_wasm} = Wat.to_wasm(@add_wat)
    {:ok, serialized} = Module.serialize(module)
    {:ok, server} = Wasmex.start_link(%{bytes: @wat})
    {:ok, pool} = Pool.start_link(size: 1, bytes: @add_wat)
    foreign = foreign()

    # Handles of the right struct with a resource of another kind, or none.
    forged_stores = [
      %StoreOrCaller{resource: module.resource},
      %StoreOrCaller{resource: make_ref()},
      %StoreOrCaller{}
    ]

    forged_modules = [%Module{resource: store.resource}, %Module{resource: nil}]
    forged_instances = [%Instance{resource: memory.resource}, %Instance{resource: make_ref()}]
    forged_memories = [%Memory{resource: instance.resource}, %Memory{}]
    forged_engines = [%Engine{resource: store.resource}, %Engine{}]
    forged_pipes = [%Pipe{resource: engine.resource}, %Pipe{resource: 1}]

    deep_list = Enum.reduce(1..10_000, :bottom, fn _, acc -> [acc] end)
    deep_tuple = Enum.reduce(1..10_000, :bottom, fn _, acc -> {acc} end)
    deep_map = Enum.reduce(1..10_000, %{}, fn _, acc -> %{"k" => acc} end)

    %{
      engine: engine,
      store: store,
      fuel_store: fuel_store,
      module: module,
      add_module: add_module,
      instance: instance,
      memory: memory,
      wasm: wasm,
      add_wasm: add_wasm,
      serialized: serialized,
      server: server,
      pool: pool,
      foreign: foreign,
      dead_pid: dead_pid(),
      engines: [engine, foreign.engine],
      stores: [store, fuel_store, foreign.store, foreign.killed_owner_store, foreign.dead_store],
      modules: [module, add_module, foreign.module],
      wrong_stores: forged_stores ++ [fuel_store, foreign.store, foreign.dead_store],
      wrong_instances: forged_instances ++ [foreign.instance, foreign.dead_instance],
      wrong_memories: forged_memories ++ [foreign.memory],
      wrong_modules: forged_modules ++ [foreign.module],
      forged_stores: forged_stores,
      forged_store: hd(forged_stores),
      forged_modules: forged_modules,
      forged_module: hd(forged_modules),
      forged_engines: forged_engines,
      forged_engine: hd(forged_engines),
      forged_pipes: forged_pipes,
      forged_pipe: hd(forged_pipes),
      forged: forged_stores ++ forged_modules ++ forged_instances ++ forged_memories,
      deep_list: deep_list,
      deep_tuple: deep_tuple,
      deep_map: deep_map,
      # Genuine resources that fit no argument of this world: each from a store or engine
      # of its own, some of them of owners or servers that are gone.
      junk_resources:
        [foreign.store, foreign.module, foreign.instance, foreign.memory, foreign.engine] ++
          [foreign.killed_owner_store, foreign.dead_store, foreign.dead_instance] ++
          [store, fuel_store, module, instance, memory, engine]
    }
  end

  defp foreign do
    {:ok, store} = Store.new()
    {:ok, other} = Store.new()
    {:ok, module} = Module.compile(other, @wat)
    %{instance: instance} = instantiate(@wat)
    %{store: memory_store, instance: memory_instance} = instantiate(@wat)
    {:ok, memory} = Instance.memory(memory_store, memory_instance)
    {:ok, engine} = Engine.new(%EngineConfig{consume_fuel: true})
    %{store: killed_owner_store} = killed_owner()

    {:ok, server} = Wasmex.start_link(%{bytes: @wat})
    {:ok, dead_store} = Wasmex.store(server)
    kill(server)
    {:ok, server} = Wasmex.start_link(%{bytes: @wat})
    {:ok, dead_instance} = Wasmex.instance(server)
    kill(server)

    %{
      store: store,
      module: module,
      instance: instance,
      memory: memory,
      engine: engine,
      killed_owner_store: killed_owner_store,
      dead_store: dead_store,
      dead_instance: dead_instance
    }
  end

  # A store whose owner was killed inside an import callback, in the middle of a call.
  defp killed_owner do
    test = self()

    imports = %{
      "env" => %{
        "f" =>
          {:fn, [], [],
           fn _context ->
             send(test, {:in_callback, self()})
             Process.sleep(:infinity)
           end}
      }
    }

    %{store: store, instance: instance} = world = instantiate(@import_wat, imports)
    owner = spawn(fn -> Instance.call_function(store, instance, "run", []) end)
    assert_receive {:in_callback, ^owner}, 5_000
    kill(owner)
    world
  end

  defp instantiate(wat, imports \\ %{}) do
    {:ok, store} = Store.new()
    {:ok, module} = Module.compile(store, wat)
    {:ok, instance} = Instance.new(store, module, imports)
    %{store: store, module: module, instance: instance}
  end

  defp kill(pid) do
    ref = Process.monitor(pid)
    Process.unlink(pid)
    Process.exit(pid, :kill)
    assert_receive {:DOWN, ^ref, :process, ^pid, _}, 5_000
  end

  defp stop(pid) do
    ref = Process.monitor(pid)
    Process.unlink(pid)
    Process.exit(pid, :shutdown)

    receive do
      {:DOWN, ^ref, :process, ^pid, _} -> :ok
    after
      5_000 -> "#{inspect(pid)} did not stop"
    end
  end

  defp dead_pid do
    pid = spawn(fn -> :ok end)
    ref = Process.monitor(pid)
    assert_receive {:DOWN, ^ref, :process, ^pid, _}
    pid
  end

  ## Generic junk

  defp junk(world) do
    pick([
      fn -> pick(@ints) end,
      fn -> int() end,
      fn -> pick(@floats) end,
      fn -> pick(@atoms) end,
      fn -> bytes() end,
      fn -> <<0, "asm", 1, 0, 0, 0>> <> bytes() end,
      fn -> text() end,
      fn -> <<:rand.uniform(127)::7>> end,
      fn -> pick([[], [1, 2], [1 | 2], 'chars', [:a, "b", 1.0], [[]], world.deep_list]) end,
      fn ->
        pick([{}, {1}, {:ok, 1}, {:error, :reason}, {:fn, [], [], nil}, world.deep_tuple])
      end,
      fn -> pick([%{}, %{fuel: -1}, %{foo: 1}, %{"env" => %{}}, %{resource: make_ref()}]) end,
      fn -> pick([world.deep_map, %{bytes: 1}, %{__struct__: Wasmex.Nope}, 1..3]) end,
      fn -> pick(world.forged ++ world.forged_engines ++ world.forged_pipes) end,
      fn -> pick(world.junk_resources) end,
      fn -> pick([world.dead_pid, make_ref(), hd(Port.list())]) end,
      fn -> pick([fn -> :junk end, fn _ -> :junk end, fn _, _ -> :junk end, &Kernel.+/2]) end,
      fn -> pick([%URI{}, MapSet.new([1]), ~D[2024-01-01], %StoreLimits{}, %WasiOptions{}]) end
    ]).()
  end

  defp pick(list), do: Enum.random(list)

  defp int do
    bits = pick([7, 8, 16, 31, 32, 33, 63, 64, 65, 128, 129])
    value = :rand.uniform(2 ** bits) - 1
    if :rand.uniform(2) == 1, do: value, else: -value
  end

  # A value for a Wasm parameter: in or out of range for each type.
  defp number do
    pick([
      fn -> :rand.uniform(2 ** 32) - 2 ** 31 - 1 end,
      fn -> :rand.uniform(2 ** 64) - 2 ** 63 - 1 end,
      fn -> :rand.uniform(2 ** 128) - 1 end,
      fn -> int() end,
      fn -> pick(@ints) end,
      fn -> pick(@floats) end,
      fn -> (:rand.uniform() - 0.5) * pick([1.0, 1.0e10, 1.0e38, 1.0e300]) end,
      fn -> pick([:nan, :infinity, :neg_infinity]) end
    ]).()
  end

  defp bytes, do: :crypto.strong_rand_bytes(:rand.uniform(65) - 1) |> scramble()

  # A Wasm header and random bytes that never make a valid module: a section id past the
  # last one (a header alone, or with a random custom section, would be valid).
  defp broken_module, do: <<0, "asm", 1, 0, 0, 0, 13 + :rand.uniform(242)>> <> bytes()

  # `:crypto` is not seeded: make the bytes depend on the seed as well.
  defp scramble(bytes) do
    key = :rand.uniform(256) - 1
    for <<byte <- bytes>>, into: <<>>, do: <<Bitwise.bxor(byte, key)>>
  end

  defp text do
    for _ <- 0..:rand.uniform(20), into: "" do
      case :rand.uniform(10) do
        1 -> <<pick([0x00E9, 0x4E2D, 0x1F600, 0xFFFD])::utf8>>
        2 -> pick(["(", ")", " ", "\n", "\"", ";;", "$", "\\"])
        _ -> <<Enum.random(32..126)>>
      end
    end
  end

  # A binary that may or may not be a module: random, random with a Wasm header, valid,
  # or valid with some damage.
  defp wasm_like(valid) do
    pick([
      fn -> bytes() end,
      fn -> <<0, "asm", 1, 0, 0, 0>> <> bytes() end,
      fn -> valid end,
      fn -> mutate(valid) end,
      fn -> text() end,
      fn -> mutate(@wat) end,
      fn -> "(module)" end,
      fn -> "" end
    ]).()
  end

  defp mutate(binary) when byte_size(binary) < 2, do: binary <> bytes()

  defp mutate(binary) do
    size = byte_size(binary)
    at = :rand.uniform(size) - 1

    case :rand.uniform(4) do
      1 ->
        <<head::binary-size(at), byte, tail::binary>> = binary
        head <> <<Bitwise.bxor(byte, :rand.uniform(255))>> <> tail

      2 ->
        binary_part(binary, 0, at)

      3 ->
        binary_part(binary, 0, at) <> bytes() <> binary_part(binary, at, size - at)

      4 ->
        length = min(:rand.uniform(8), size - at)
        binary_part(binary, 0, at) <> binary_part(binary, at + length, size - at - length)
    end
    |> then(fn damaged -> if :rand.uniform(3) == 1, do: mutate(damaged), else: damaged end)
  end

  ## call_function with random argument lists

  @signatures %{
    "add" => [:i32, :i32],
    "i32" => [:i32],
    "i64" => [:i64],
    "f32" => [:f32],
    "f64" => [:f64],
    "v128" => [:v128],
    "swap" => [:i32, :i64],
    "mixed" => [:i32, :i64, :f32, :f64],
    "void" => []
  }

  defp call_case(store, instance, server, n) do
    {name, types} = pick(Map.to_list(@signatures))

    params =
      case :rand.uniform(6) do
        # the wrong number of arguments
        1 -> for _ <- 1..:rand.uniform(5), do: number()
        # values of the right type, in range or not
        _ -> Enum.map(types, fn type -> param_for(type) end)
      end

    expected = expected_call(name, types, params)
    via_server? = rem(n, 10) == 0
    name = if :rand.uniform(2) == 1, do: String.to_atom(name), else: name

    actual =
      if via_server?,
        do: outcome(fn -> Wasmex.call_function(server, name, params) end),
        else: outcome(fn -> Instance.call_function(store, instance, name, params) end)

    if matches?(expected, actual),
      do: nil,
      else:
        "#{name}(#{inspect(params)})#{if via_server?, do: " via the server"}: " <>
          "expected #{inspect(expected)}, got #{inspect(actual)}"
  end

  defp param_for(type) do
    case :rand.uniform(8) do
      1 -> junk_param()
      2 -> number()
      _ -> in_range(type)
    end
  end

  defp junk_param do
    pick([nil, :foo, "1", [1], {1}, %{}, self(), make_ref(), fn -> 1 end, hd(Port.list())])
  end

  defp in_range(:i32), do: :rand.uniform(2 ** 32) - 2 ** 31 - 1
  defp in_range(:i64), do: :rand.uniform(2 ** 64) - 2 ** 63 - 1
  defp in_range(:v128), do: :rand.uniform(2 ** 128) - 1

  defp in_range(float) when float in [:f32, :f64] do
    pick([
      fn -> (:rand.uniform() - 0.5) * pick([1.0, 1.0e6, 1.0e30, 1.0e38, 1.0e-40]) end,
      fn -> pick([:nan, :infinity, :neg_infinity, 0.0, -0.0, 3.4028234663852886e38]) end
    ]).()
  end

  # `{:ok, results}`, `{:ok, :float}` (any float result) or `{:error, message}`.
  defp expected_call(name, types, params) do
    with :ok <- arity(types, params),
         {:ok, values} <- convert_all(types, params) do
      case {name, values} do
        {"add", [a, b]} -> {:ok, [wrap32(a + b)]}
        {"swap", [a, b]} -> {:ok, [b, a]}
        {"mixed", _} -> {:ok, :float}
        {"void", []} -> {:ok, []}
        {_echo, [value]} -> {:ok, [value]}
      end
    end
  end

  defp arity(types, params) when length(types) == length(params), do: :ok

  defp arity(types, params),
    do:
      {:error,
       "number of params does not match. expected #{length(types)}, got #{length(params)}"}

  defp convert_all(types, params) do
    types
    |> Enum.zip(params)
    |> Enum.with_index(1)
    |> Enum.reduce_while({:ok, []}, fn {{type, param}, position}, {:ok, values} ->
      case convert(type, param) do
        {:ok, value} ->
          {:cont, {:ok, values ++ [value]}}

        :refused ->
          {:halt,
           {:error,
            "Cannot convert argument ##{position} to a WebAssembly #{type} value: " <>
              "expected #{takes(type)}, got: #{shown(param)}"}}
      end
    end)
  end

  @specials [:nan, :infinity, :neg_infinity]
  @i32_range Range.new(-(2 ** 31), 2 ** 31 - 1)
  @i64_range Range.new(-(2 ** 63), 2 ** 63 - 1)
  @v128_range 0..(2 ** 128 - 1)

  defp convert(:i32, value) when is_integer(value) and value in @i32_range,
    do: {:ok, value}

  defp convert(:i64, value) when is_integer(value) and value in @i64_range,
    do: {:ok, value}

  defp convert(:v128, value) when is_integer(value) and value in @v128_range,
    do: {:ok, value}

  defp convert(float, value) when float in [:f32, :f64] and value in @specials, do: {:ok, value}
  defp convert(:f64, value) when is_float(value), do: {:ok, value}

  # Erlang rounds to f32 as wasmex_interp must; a float that overflows is refused.
  defp convert(:f32, value) when is_float(value) do
    case <<value::float-32>> do
      <<rounded::float-32>> -> {:ok, rounded}
      _infinity -> :refused
    end
  rescue
    ArgumentError -> :refused
  end

  defp convert(_type, _value), do: :refused

  defp takes(:i32), do: "an integer in -2147483648..2147483647"
  defp takes(:i64), do: "an integer in -9223372036854775808..9223372036854775807"

  defp takes(:f32),
    do:
      "a float in -3.4028234663852886e38..3.4028234663852886e38, :nan, :infinity or :neg_infinity"

  defp takes(:f64), do: "a float, :nan, :infinity or :neg_infinity"
  defp takes(:v128), do: "an integer in 0..340282366920938463463374607431768211455"

  # How the message shows a value: as Elixir writes it, or its kind.
  defp shown(value)
       when is_integer(value) and
              (value < -170_141_183_460_469_231_731_687_303_715_884_105_728 or
                 value > 340_282_366_920_938_463_463_374_607_431_768_211_455),
       do: "an integer of more than 128 bits"

  defp shown(value) when is_number(value) or is_atom(value) or is_binary(value),
    do: inspect(value)

  defp shown(value) when is_list(value), do: "a list"
  defp shown(value) when is_map(value), do: "a map"
  defp shown(value) when is_tuple(value), do: "a tuple"
  defp shown(value) when is_pid(value), do: "a pid"
  defp shown(value) when is_reference(value), do: "a reference"
  defp shown(value) when is_function(value), do: "a function"
  defp shown(value) when is_port(value), do: "a port"

  defp matches?({:ok, :float}, {:returned, {:ok, [result]}}),
    do: is_float(result) or result in @specials

  defp matches?(expected, {:returned, actual}), do: expected == actual
  defp matches?(_expected, _outcome), do: false

  defp wrap32(n) do
    <<wrapped::signed-32>> = <<n::32>>
    wrapped
  end

  ## Memory access against a model

  @oob {:error, "out of bounds memory access"}

  defp memory_case(store, instance, memory, model) do
    size = byte_size(model)

    case :rand.uniform(7) do
      1 ->
        {offset, length} = {position(size), position(size)}
        expected = read_model(model, offset, length)

        check(model, "read_binary #{offset}, #{length}", expected, fn ->
          Memory.read_binary(store, memory, offset, length)
        end)

      2 ->
        {offset, length} = {position(size), position(size)}
        expected = read_model(model, offset, length)

        check(model, "read_string #{offset}, #{length}", expected, fn ->
          Memory.read_string(store, memory, offset, length)
        end)

      3 ->
        offset = position(size)
        data = if :rand.uniform(10) == 1, do: pick([:x, 'ab', <<1::3>>]), else: bytes()
        {expected, next} = write_model(model, offset, data)

        {_, failure} =
          check(model, "write_binary #{offset}, #{inspect(data)}", expected, fn ->
            Memory.write_binary(store, memory, offset, data)
          end)

        {next, failure}

      4 ->
        index = position(size)
        expected = if valid_u64?(index), do: byte_at(model, index), else: :argument_error

        check(model, "get_byte #{index}", expected, fn ->
          Memory.get_byte(store, memory, index)
        end)

      5 ->
        index = position(size)
        value = pick([:rand.uniform(256) - 1, -1, 256, 1.0, :x])

        {expected, next} =
          cond do
            value not in 0..255 or not valid_u64?(index) -> {:argument_error, model}
            index >= size -> {@oob, model}
            true -> {:ok, put_byte(model, index, value)}
          end

        {_, failure} =
          check(model, "set_byte #{index}, #{inspect(value)}", expected, fn ->
            Memory.set_byte(store, memory, index, value)
          end)

        {next, failure}

      6 ->
        pages = pick([0, 1, 2, 3, 4, -1, 2 ** 32, 2 ** 64 - 1, 2 ** 64, 1.0, :x])

        {expected, next} =
          cond do
            not valid_u64?(pages) ->
              {:argument_error, model}

            div(size, 65_536) + pages > 4 ->
              {{:error, "Failed to grow the memory: failed to grow memory by `#{pages}`."}, model}

            true ->
              {:ok, model <> :binary.copy(<<0>>, pages * 65_536)}
          end

        {_, failure} =
          check(model, "grow #{inspect(pages)}", expected, fn ->
            Memory.grow(store, memory, pages)
          end)

        {next, failure}

      7 ->
        # The guest sees the same bytes.
        address = pick([:rand.uniform(size) - 1, size, size + 1, 2 ** 31 - 1, -1])

        expected =
          if address in 0..(size - 1),
            do: {:ok, [:binary.at(model, address)]},
            else: {:error, "out of bounds memory access"}

        check(model, "load #{address}", expected, fn ->
          case Instance.call_function(store, instance, "load", [address]) do
            {:error, "out of bounds memory access" <> _} ->
              {:error, "out of bounds memory access"}

            other ->
              other
          end
        end)
    end
  end

  defp check(model, what, expected, fun) do
    actual = outcome(fun)

    ok? =
      case {expected, actual} do
        {:argument_error, {:raised, %ArgumentError{}}} -> true
        {expected, {:returned, expected}} -> true
        _ -> false
      end

    if ok?,
      do: {model, nil},
      else: {model, "#{what}: expected #{inspect(expected)}, got #{inspect(actual, limit: 8)}"}
  end

  # An offset or length: in the memory, just past it, or far out of any range.
  defp position(size) do
    pick([
      fn -> :rand.uniform(size + 1) - 1 end,
      fn -> :rand.uniform(64) - 1 end,
      fn -> size - :rand.uniform(8) + 4 end,
      fn -> pick([-1, 2 ** 32, 2 ** 63, 2 ** 64 - 1, 2 ** 64, -(2 ** 70), 5_000_000]) end,
      fn -> pick([1.0, :x, nil]) end
    ]).()
  end

  defp valid_u64?(value), do: is_integer(value) and value in 0..(2 ** 64 - 1)

  defp read_model(model, offset, length) do
    cond do
      not valid_u64?(offset) or not valid_u64?(length) -> :argument_error
      offset + length > byte_size(model) -> @oob
      true -> {:ok, binary_part(model, offset, length)}
    end
  end

  defp write_model(model, offset, data) do
    cond do
      not is_binary(data) or not valid_u64?(offset) ->
        {:argument_error, model}

      offset + byte_size(data) > byte_size(model) ->
        {@oob, model}

      true ->
        <<head::binary-size(offset), _::binary-size(byte_size(data)), tail::binary>> = model
        {:ok, head <> data <> tail}
    end
  end

  defp byte_at(model, index) when index < byte_size(model), do: :binary.at(model, index)
  defp byte_at(_model, _index), do: @oob

  defp put_byte(model, index, value) do
    <<head::binary-size(index), _, tail::binary>> = model
    head <> <<value>> <> tail
  end

  ## Random bytes as modules

  defp bytes_case(store, engine, valid, serialized) do
    candidate = wasm_like(valid)
    failures = []

    compiled = outcome(fn -> Module.compile(store, candidate) end)
    failures = expect(failures, "compile", candidate, compiled, &ok_struct?(&1, Module))

    wat = outcome(fn -> Wat.to_wasm(candidate) end)

    failures =
      expect(failures, "Wat.to_wasm", candidate, wat, fn
        {:ok, binary} -> is_binary(binary)
        _ -> false
      end)

    failures =
      if String.valid?(candidate) and match?({:raised, _}, wat),
        do: ["Wat.to_wasm raised on text #{inspect(candidate)}" | failures],
        else: failures

    precompiled = outcome(fn -> Engine.precompile_module(engine, candidate) end)
    failures = expect(failures, "precompile_module", candidate, precompiled, &ok_binary?/1)

    failures =
      if match?({:returned, {:ok, _}}, compiled) != match?({:returned, {:ok, _}}, precompiled),
        do: ["compile and precompile_module disagree on #{inspect(candidate)}" | failures],
        else: failures

    damaged = mutate(serialized)
    loaded = outcome(fn -> Module.unsafe_deserialize(damaged, engine) end)

    failures = expect(failures, "unsafe_deserialize", damaged, loaded, &ok_struct?(&1, Module))

    failures =
      case compiled do
        {:returned, {:ok, module}} -> failures ++ use_module(module, engine, candidate)
        _ -> failures
      end

    if failures == [], do: nil, else: Enum.join(failures, "\n  ")
  end

  defp ok_struct?({:ok, %{__struct__: struct}}, struct), do: true
  defp ok_struct?(_, _), do: false

  defp expect(failures, what, input, outcome, ok?) do
    case outcome do
      {:returned, {:error, message}} when is_binary(message) ->
        failures

      {:raised, %ArgumentError{}} ->
        failures

      {:returned, result} ->
        if ok?.(result), do: failures, else: [bad(what, input, outcome) | failures]

      _ ->
        [bad(what, input, outcome) | failures]
    end
  end

  defp bad(what, input, outcome),
    do: "#{what}(#{inspect(input, limit: 40)}) -> #{inspect(outcome, limit: 12)}"

  # A module that compiled, however damaged: describe it, instantiate it in a small store
  # with little fuel, and call what it exports with arguments of the right types.
  defp use_module(module, engine, input) do
    limits = %StoreLimits{
      memory_size: 1_048_576,
      table_elements: 1_000,
      instances: 4,
      tables: 4,
      memories: 4
    }

    {:ok, store} = Store.new(%{fuel: 20_000, limits: limits}, engine)

    descriptions = [
      {"exports", outcome(fn -> Module.exports(module) end), &is_map/1},
      {"imports", outcome(fn -> Module.imports(module) end), &is_map/1},
      {"name", outcome(fn -> Module.name(module) end), &(is_binary(&1) or is_nil(&1))},
      {"serialize", outcome(fn -> Module.serialize(module) end), &ok_binary?/1}
    ]

    failures =
      for {what, outcome, ok?} <- descriptions,
          not (match?({:returned, _}, outcome) and ok?.(elem(outcome, 1))),
          do: bad(what, input, outcome)

    with [] <- failures,
         {:returned, {:ok, instance}} <- outcome(fn -> Instance.new(store, module, %{}) end) do
      {:returned, exports} = outcome(fn -> Module.exports(module) end)

      for {name, {:fn, params, _results}} <- exports,
          params = Enum.map(params, &in_range_or_zero/1),
          outcome = outcome(fn -> Instance.call_function(store, instance, name, params) end),
          not match?({:returned, {:ok, list}} when is_list(list), outcome),
          not match?({:returned, {:error, message}} when is_binary(message), outcome),
          do: bad("call #{name}", input, outcome)
    else
      {:returned, {:error, message}} when is_binary(message) -> []
      {:raised, %ArgumentError{}} -> []
      failures when is_list(failures) -> failures
      other -> [bad("Instance.new", input, other)]
    end
  end

  defp in_range_or_zero(type) when type in [:i32, :i64, :v128, :f32, :f64], do: in_range(type)
  defp in_range_or_zero(_reference), do: nil

  ## Foreign and forged

  defp forged_calls(%StoreOrCaller{} = store, world) do
    [
      fn -> Module.compile(store, "(module)") end,
      fn -> StoreOrCaller.get_fuel(store) end,
      fn -> StoreOrCaller.set_fuel(store, 1) end,
      fn -> Instance.call_function(store, world.instance, "add", [1, 2]) end,
      fn -> Instance.new(store, world.add_module, %{}) end,
      fn -> Memory.size(store, world.memory) end
    ]
  end

  defp forged_calls(%Module{} = module, world) do
    [
      fn -> Module.name(module) end,
      fn -> Module.exports(module) end,
      fn -> Module.imports(module) end,
      fn -> Module.serialize(module) end,
      fn -> Instance.new(world.store, module, %{}) end
    ]
  end

  defp forged_calls(%Instance{} = instance, world) do
    [
      fn -> Instance.call_function(world.store, instance, "add", [1, 2]) end,
      fn -> Instance.function_export_exists(world.store, instance, "add") end,
      fn -> Instance.get_global_value(world.store, instance, "gi32") end,
      fn -> Instance.memory(world.store, instance) end
    ]
  end

  defp forged_calls(%Memory{} = memory, world) do
    [
      fn -> Memory.size(world.store, memory) end,
      fn -> Memory.read_binary(world.store, memory, 0, 1) end,
      fn -> Memory.grow(world.store, memory, 0) end
    ]
  end

  defp refused?({:returned, {:error, message}}) when is_binary(message), do: true
  defp refused?({:raised, %ArgumentError{}}), do: true
  defp refused?(_outcome), do: false

  ## Helpers

  defp server?(value) when is_pid(value) or is_atom(value), do: true
  defp server?({:global, _}), do: true
  defp server?({:via, module, _}) when is_atom(module), do: true
  defp server?({name, node}) when is_atom(name) and is_atom(node), do: true
  defp server?(_value), do: false

  defp proper_list?([]), do: true
  defp proper_list?([_ | tail]), do: proper_list?(tail)
  defp proper_list?(_value), do: false

  defp keyword?(value), do: is_list(value) and proper_list?(value) and Keyword.keyword?(value)

  defp describe({module, function, _arity}, values, classes) do
    arguments = Enum.map_join(values, ", ", &inspect(&1, limit: 6, printable_limit: 40))
    "#{inspect(module)}.#{function}(#{arguments}) #{inspect(classes)}"
  end

  defp report(failures, seed) do
    shown = failures |> Enum.take(25) |> Enum.map_join("\n", &("  * " <> &1))

    "#{length(failures)} failures (seed #{seed}: mix test --seed #{seed} #{__ENV__.file}):\n" <>
      shown
  end
end
