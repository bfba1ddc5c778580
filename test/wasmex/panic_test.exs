defmodule Wasmex.PanicTest do
  # A panic inside wasmi (a wasmi bug; a test hook makes a host call panic in its stead)
  # fails the call that ran into it, and nothing else: not the store, not the engine its
  # stores and a pool's workers share.
  use ExUnit.Case, async: true

  # `ping` calls the import `env.host`, `answer` calls nothing.
  @wat ~S[(module
    (import "env" "host" (func $host (result i32)))
    (func (export "ping") (result i32) (i32.add (call $host) (i32.const 1)))
    (func (export "answer") (result i32) (i32.const 42)))]

  defp imports, do: %{"env" => %{"host" => {:fn, [], [:i32], fn _context -> 6 end}}}

  test "the store and the engine go on after a call panicked" do
    {:ok, engine} = Wasmex.Engine.new(%Wasmex.EngineConfig{})
    {:ok, store} = Wasmex.Store.new(nil, engine)
    {:ok, module} = Wasmex.Module.compile(store, @wat)
    {:ok, instance} = Wasmex.Instance.new(store, module, imports())
    :ok = Wasmex.Native.hook_panic_next_host_call(store.resource)

    assert {:error, "wasmi panicked: the test hook made a host call panic"} =
             Wasmex.Instance.call_function(store, instance, "ping", [])

    assert {:ok, [7]} = Wasmex.Instance.call_function(store, instance, "ping", [])
    assert {:ok, [42]} = Wasmex.Instance.call_function(store, instance, "answer", [])

    {:ok, fresh} = Wasmex.Store.new(nil, engine)
    {:ok, other} = Wasmex.Instance.new(fresh, module, imports())
    assert {:ok, [7]} = Wasmex.Instance.call_function(fresh, other, "ping", [])
  end

  test "a pool whose request panicked serves the next requests on every worker" do
    pool = start_supervised!({Wasmex.Pool, size: 2, bytes: @wat, imports: imports()})
    workers = Wasmex.Pool.workers(pool)
    [first, second] = Enum.map(workers, fn _ -> Wasmex.Pool.checkout(pool) end)
    {:ok, store} = Wasmex.store(first)
    :ok = Wasmex.Native.hook_panic_next_host_call(store.resource)

    assert {:error, "wasmi panicked: " <> _} = Wasmex.call_function(first, "ping", [])
    # The other worker, a store of the same engine, was not touched.
    assert {:ok, [7]} = Wasmex.call_function(second, "ping", [])
    Enum.each([first, second], &Wasmex.Pool.checkin(pool, &1))

    # The pool serves requests as before, with the same workers, the one that panicked
    # included.
    results =
      1..8
      |> Enum.map(fn _ -> Task.async(fn -> Wasmex.Pool.call_function(pool, "ping", []) end) end)
      |> Task.await_many()

    assert results == List.duplicate({:ok, [7]}, 8)
    assert Wasmex.Pool.workers(pool) == workers
    assert {:ok, [7]} = Wasmex.call_function(first, "ping", [])
  end
end
