defmodule Wasmex.HostileGuestTest do
  # Guests (and callbacks) that try to take everything: each is stopped by a limit, fuel or
  # a timeout with a clear error, and the store goes on working.
  use ExUnit.Case, async: true

  import Bitwise

  @add ~S[(func (export "add") (param i32 i32) (result i32)
            (i32.add (local.get 0) (local.get 1)))]

  defp instantiate(wat_or_wasm, imports \\ %{}, store_options \\ nil) do
    {:ok, store} = if store_options, do: Wasmex.Store.new(store_options), else: Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wat_or_wasm)
    {:ok, instance} = Wasmex.Instance.new(store, module, imports)
    {store, instance}
  end

  defp assert_usable(store, instance) do
    assert Wasmex.Instance.call_function(store, instance, "add", [2, 3]) == {:ok, [5]}
  end

  describe "an infinite loop" do
    @spin ~s[(module (func (export "spin") (loop (br 0))) #{@add})]

    test "runs out of fuel" do
      {store, instance} = instantiate(@spin, %{}, %{fuel: 100_000})

      assert {:error, "all fuel consumed by WebAssembly" <> _} =
               Wasmex.Instance.call_function(store, instance, "spin", [])

      Wasmex.StoreOrCaller.set_fuel(store, 1_000)
      assert_usable(store, instance)
    end

    test "stops at its timeout" do
      {store, instance} = instantiate(@spin)

      assert Wasmex.Instance.call_function(store, instance, "spin", [], timeout: 30) ==
               {:error, "timeout: the call did not finish within 30 ms"}

      assert_usable(store, instance)
    end

    test "in a GenServer stops at the caller's timeout" do
      {:ok, pid} = Wasmex.start_link(%{bytes: @spin})
      assert {:timeout, _} = catch_exit(Wasmex.call_function(pid, "spin", [], 30))
      assert Wasmex.call_function(pid, "add", [2, 3]) == {:ok, [5]}
    end
  end

  test "unbounded recursion exhausts the call stack" do
    {store, instance} = instantiate(~s[(module (func $f (export "recurse") (call $f)) #{@add})])

    assert {:error, "call stack exhausted" <> _} =
             Wasmex.Instance.call_function(store, instance, "recurse", [])

    assert_usable(store, instance)
  end

  describe "memory.grow until refused" do
    @grow_all ~s[(module (memory (export "memory") 1)
      (func (export "grow_all") (result i32) (local $n i32)
        (block $done (loop $again
          (br_if $done (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
          (local.set $n (i32.add (local.get $n) (i32.const 16)))
          (br $again)))
        (local.get $n))
      #{@add})]

    test "stops at the store's memory limit" do
      limits = %Wasmex.StoreLimits{memory_size: 16 * 1024 * 1024}
      {store, instance} = instantiate(@grow_all, %{}, limits)
      # 1 page to start with, then 16 at a time up to 256 pages (16 MiB).
      assert Wasmex.Instance.call_function(store, instance, "grow_all", []) == {:ok, [240]}
      {:ok, memory} = Wasmex.Instance.memory(store, instance)
      assert Wasmex.Memory.size(store, memory) == 241 * 65_536

      assert {:error, "Failed to grow the memory: " <> _} = Wasmex.Memory.grow(store, memory, 16)

      assert_usable(store, instance)
    end

    test "stops at the memory's declared maximum" do
      wat = String.replace(@grow_all, "(memory (export \"memory\") 1)", "(memory 1 100)")
      {store, instance} = instantiate(wat)
      assert Wasmex.Instance.call_function(store, instance, "grow_all", []) == {:ok, [96]}
      assert_usable(store, instance)
    end
  end

  describe "a giant data segment" do
    test "that does not fit the memory fails to instantiate" do
      wasm = data_module(1, 8 * 1024 * 1024)
      {:ok, store} = Wasmex.Store.new()
      {:ok, module} = Wasmex.Module.compile(store, wasm)

      assert {:error, "out of bounds memory access" <> _} =
               Wasmex.Instance.new(store, module, %{})

      {:ok, module} = Wasmex.Module.compile(store, ~s[(module #{@add})])
      {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      assert_usable(store, instance)
    end

    test "that fits is refused by the store's memory limit, else loaded" do
      wasm = data_module(256, 16 * 1024 * 1024)
      {:ok, store} = Wasmex.Store.new(%Wasmex.StoreLimits{memory_size: 1024 * 1024})
      {:ok, module} = Wasmex.Module.compile(store, wasm)

      assert Wasmex.Instance.new(store, module, %{}) ==
               {:error, "memory minimum size of 256 pages exceeds memory limits"}

      {:ok, store} = Wasmex.Store.new()
      {:ok, module} = Wasmex.Module.compile(store, wasm)
      {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      {:ok, memory} = Wasmex.Instance.memory(store, instance)
      last = 16 * 1024 * 1024 - 4

      assert Wasmex.Memory.read_binary(store, memory, last, 4) ==
               {:ok, binary_part(segment(16 * 1024 * 1024), last, 4)}
    end

    test "whose length runs past the end of the binary does not compile" do
      <<prefix::binary-size(64), _::binary>> = data_module(1, 1000)
      {:ok, store} = Wasmex.Store.new()

      assert {:error, "Could not compile module: " <> _} = Wasmex.Module.compile(store, prefix)
    end
  end

  describe "a table of 10 M elements" do
    @table ~s[(module (table 10000000 funcref) #{@add})]
    @grow_table ~s[(module (table 0 funcref)
      (func (export "grow") (result i32) (table.grow (ref.null func) (i32.const 10000000)))
      #{@add})]

    test "is refused by the store's table limit" do
      {:ok, store} = Wasmex.Store.new(%Wasmex.StoreLimits{table_elements: 100_000})
      {:ok, module} = Wasmex.Module.compile(store, @table)
      assert {:error, message} = Wasmex.Instance.new(store, module, %{})
      assert message =~ "table"

      {store, instance} = instantiate(@grow_table, %{}, %Wasmex.StoreLimits{table_elements: 100})
      assert Wasmex.Instance.call_function(store, instance, "grow", []) == {:ok, [-1]}
      assert_usable(store, instance)
    end
  end

  test "a module with 100k functions compiles, instantiates and runs" do
    wasm = many_functions(100_000)
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wasm)
    assert length(Wasmex.Module.exports(module) |> Map.keys()) == 2
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    assert Wasmex.Instance.call_function(store, instance, "first", []) == {:ok, [0]}
    assert Wasmex.Instance.call_function(store, instance, "last", []) == {:ok, [99_999]}
  end

  describe "a callback that never returns" do
    @stuck ~s[(module (import "env" "stuck" (func $stuck (result i32)))
      (func (export "call_stuck") (result i32) (call $stuck))
      #{@add})]

    defp stuck_imports(test) do
      %{
        "env" => %{
          "stuck" =>
            {:fn, [], [:i32],
             fn _context ->
               send(test, {:stuck, self()})
               receive do: (:never -> 0)
             end}
        }
      }
    end

    test "in a GenServer: the call stops at its timeout and the server goes on" do
      {:ok, pid} = Wasmex.start_link(%{bytes: @stuck, imports: stuck_imports(self())})
      stuck = Task.async(fn -> catch_exit(Wasmex.call_function(pid, "call_stuck", [], 50)) end)
      assert_receive {:stuck, runner}
      ref = Process.monitor(runner)
      # Queued behind the stuck call: it runs once the stuck one is stopped.
      queued = Task.async(fn -> Wasmex.call_function(pid, "add", [1, 2]) end)
      assert {:timeout, _} = Task.await(stuck)
      assert_receive {:DOWN, ^ref, :process, ^runner, :killed}, 1_000
      assert Task.await(queued) == {:ok, [3]}
      assert Wasmex.call_function(pid, "add", [2, 3]) == {:ok, [5]}
      assert Wasmex.memory(pid) == {:error, "The WebAssembly module has no exported memory."}
    end

    test "in a GenServer: other requests are answered while it hangs" do
      {:ok, pid} = Wasmex.start_link(%{bytes: @stuck, imports: stuck_imports(self())})

      _stuck =
        Task.async(fn -> catch_exit(Wasmex.call_function(pid, "call_stuck", [], :infinity)) end)

      assert_receive {:stuck, _runner}
      assert {:ok, %Wasmex.Instance{}} = Wasmex.instance(pid)
      assert {:ok, %Wasmex.StoreOrCaller{}} = Wasmex.store(pid)
    end

    test "called directly: killing its caller frees the store" do
      {store, instance} = instantiate(@stuck, stuck_imports(self()))

      task =
        Task.async(fn -> Wasmex.Instance.call_function(store, instance, "call_stuck", []) end)

      assert_receive {:stuck, _}
      assert Task.yield(task, 20) == nil
      assert Task.shutdown(task, :brutal_kill) == nil
      assert_usable(store, instance)
    end
  end

  describe "a callback that calls itself through the guest" do
    @countdown ~s[(module (import "env" "host" (func $host (param i32) (result i32)))
      (func (export "countdown") (param i32) (result i32) (call $host (local.get 0)))
      #{@add})]

    # countdown(n) calls host(n), which calls countdown(n - 1): n nested calls. An error
    # deep down is reported to the test and answered with -1 all the way up.
    defp countdown_imports(test) do
      %{
        "env" => %{
          "host" =>
            {:fn, [:i32], [:i32],
             fn
               _context, 0 ->
                 0

               context, n ->
                 case Wasmex.Instance.call_function(
                        context.caller,
                        context.instance,
                        "countdown",
                        [
                          n - 1
                        ]
                      ) do
                   {:ok, [-1]} ->
                     -1

                   {:ok, [r]} ->
                     r + 1

                   {:error, message} ->
                     send(test, {:nested_error, n, message})
                     -1
                 end
             end}
        }
      }
    end

    test "is stopped past the store's nested-call limit (1,000 by default)" do
      {store, instance} = instantiate(@countdown, countdown_imports(self()))

      assert Wasmex.Instance.call_function(store, instance, "countdown", [10_000]) ==
               {:ok, [-1]}

      # The 1,001st nested call, countdown(8999), is refused; host(9000) sees it.
      assert_received {:nested_error, 9000,
                       "call stack exhausted: more than 1000 nested calls into the store"}

      refute_received {:nested_error, _, _}

      assert Wasmex.Instance.call_function(store, instance, "countdown", [1_000]) ==
               {:ok, [1_000]}

      assert_usable(store, instance)
    end

    test "goes 10,000 deep when the store allows it" do
      limits = %Wasmex.StoreLimits{nested_calls: 10_000}
      {store, instance} = instantiate(@countdown, countdown_imports(self()), limits)

      assert Wasmex.Instance.call_function(store, instance, "countdown", [10_000]) ==
               {:ok, [10_000]}

      assert Wasmex.Instance.call_function(store, instance, "countdown", [10_001]) ==
               {:ok, [-1]}

      assert_received {:nested_error, 1, "call stack exhausted" <> _}
      assert_usable(store, instance)
    end

    test "that fails at every level with a MatchError gives a bounded message" do
      imports = %{
        "env" => %{
          "host" =>
            {:fn, [:i32], [:i32],
             fn context, n ->
               {:ok, [r]} =
                 Wasmex.Instance.call_function(context.caller, context.instance, "countdown", [
                   n - 1
                 ])

               r + 1
             end}
        }
      }

      {store, instance} = instantiate(@countdown, imports)

      assert {:error, "the elixir callback threw an exception: " <> _ = message} =
               Wasmex.Instance.call_function(store, instance, "countdown", [5_000])

      # Each level quotes the one below, so without Inspect's limits this would double
      # in size at every level.
      assert byte_size(message) < 64 * 1024
      assert_usable(store, instance)
    end
  end

  describe "a module that makes wasmi 2.0.0 panic (found by fuzz/)" do
    # Valid Wasm that wasmi's translator trips on (the fixture says how).
    defp wasmi_panics, do: Wasmex.Fixtures.fixture_wat("wasmi_panics.wat")

    test "compiled eagerly, is a compile error" do
      {:ok, engine} = Wasmex.Engine.new(%Wasmex.EngineConfig{compilation_mode: :eager})
      {:ok, store} = Wasmex.Store.new(nil, engine)

      assert Wasmex.Module.compile(store, wasmi_panics()) ==
               {:error,
                "Could not compile module: wasmi panicked: internal error: entered unreachable code"}

      {store, instance} = instantiate(~s[(module #{@add})], %{}, nil)
      assert_usable(store, instance)
    end

    test "translated lazily, fails its call and retires the engine" do
      {store, instance} = instantiate(wasmi_panics())

      assert Wasmex.Instance.call_function(store, instance, "f", [0]) ==
               {:error, "wasmi panicked: internal error: entered unreachable code"}

      # The function stays half-translated in the engine: no call runs there any more,
      # rather than one that would spin forever.
      assert {:error, "the engine is unusable: wasmi panicked in an earlier call" <> _} =
               Wasmex.Instance.call_function(store, instance, "one", [])

      {store, instance} = instantiate(~s[(module #{@add})])
      assert_usable(store, instance)
    end
  end

  # A module with a memory of `pages` pages and one active data segment of `size` bytes at
  # offset 0, exported as "memory".
  defp data_module(pages, size) do
    module([
      section(5, vec([<<0>> <> leb(pages)])),
      section(7, vec([name("memory") <> <<2>> <> leb(0)])),
      section(11, vec([<<0, 0x41, 0, 0x0B>> <> leb(size) <> segment(size)]))
    ])
  end

  defp segment(size) do
    pattern =
      :binary.copy(<<0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 250>>, div(size, 15) + 1)

    binary_part(pattern, 0, size)
  end

  # `count` functions `() -> i32`, the nth returning n; the first and the last exported.
  defp many_functions(count) do
    bodies =
      for n <- 0..(count - 1) do
        code = <<0, 0x41>> <> sleb(n) <> <<0x0B>>
        leb(byte_size(code)) <> code
      end

    module([
      section(1, vec([<<0x60, 0, 1, 0x7F>>])),
      section(3, vec(List.duplicate(<<0>>, count))),
      section(7, vec([name("first") <> <<0, 0>>, name("last") <> <<0>> <> leb(count - 1)])),
      section(10, vec(bodies))
    ])
  end

  defp module(sections), do: IO.iodata_to_binary([<<0, "asm", 1, 0, 0, 0>> | sections])
  defp section(id, body), do: <<id>> <> leb(byte_size(body)) <> body
  defp vec(items), do: IO.iodata_to_binary([leb(length(items)) | items])
  defp name(text), do: leb(byte_size(text)) <> text

  defp leb(n) when n < 0x80, do: <<n>>
  defp leb(n), do: <<0x80 ||| (n &&& 0x7F)>> <> leb(n >>> 7)

  defp sleb(n) when n >= -64 and n < 64, do: <<n &&& 0x7F>>
  defp sleb(n), do: <<0x80 ||| (n &&& 0x7F)>> <> sleb(n >>> 7)
end
