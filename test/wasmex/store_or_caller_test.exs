defmodule Wasmex.StoreOrCallerTest do
  use ExUnit.Case, async: true
  doctest Wasmex.StoreOrCaller

  describe "set_fuel/2 and get_fuel/1" do
    test "set and read the fuel of a fuel store" do
      {:ok, store} = Wasmex.Store.new(%{fuel: 0})
      assert Wasmex.StoreOrCaller.set_fuel(store, 2 ** 64 - 1) == :ok
      assert Wasmex.StoreOrCaller.get_fuel(store) == {:ok, 2 ** 64 - 1}
    end

    test "report a store without fuel" do
      {:ok, store} = Wasmex.Store.new()

      assert Wasmex.StoreOrCaller.set_fuel(store, 1) ==
               {:error, "Could not set fuel: fuel is not configured in this store"}

      assert Wasmex.StoreOrCaller.get_fuel(store) ==
               {:error, "Could not get fuel: fuel is not configured in this store"}
    end

    test "raise ArgumentError for negative or huge fuel" do
      {:ok, store} = Wasmex.Store.new(%{fuel: 0})
      assert_raise ArgumentError, fn -> Wasmex.StoreOrCaller.set_fuel(store, -1) end
      assert_raise ArgumentError, fn -> Wasmex.StoreOrCaller.set_fuel(store, 2 ** 64) end
    end
  end
end

defmodule Wasmex.StoreOrCallerFuelTest do
  # Fuel as guests use it: exact, deterministic amounts, independent of slicing.
  use ExUnit.Case, async: true

  import Wasmex.Fixtures

  @guest ~S[(module
    (import "env" "peek" (func $peek))
    (func (export "void"))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
    (func (export "count") (param $n i32) (result i32)
      (local $i i32)
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (local.get $i))
    (func $fib (export "fib") (param $n i32) (result i32)
      (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
        (then (local.get $n))
        (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                       (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
    (func (export "peek_twice") (call $peek) (drop (call $fib (i32.const 10))) (call $peek)))]

  # The fuel each call uses. wasmi charges by instruction groups; these are the figures
  # of wasmi 2.0 with the engine configuration this library uses.
  @expected [
    {"void", [], 1},
    {"add", [1, 2], 4},
    {"count", [0], 12},
    {"count", [1], 22},
    {"count", [1000], 10_012},
    {"fib", [20], 240_797}
  ]

  defp guest(store_options, imports \\ %{"env" => %{"peek" => {:fn, [], [], fn _ -> [] end}}}) do
    instantiate(@guest, imports, store_options)
  end

  defp fuel_used(store, instance, function, args) do
    {:ok, before} = Wasmex.StoreOrCaller.get_fuel(store)
    {:ok, _} = Wasmex.Instance.call_function(store, instance, function, args)
    {:ok, left} = Wasmex.StoreOrCaller.get_fuel(store)
    before - left
  end

  test "each call uses an exact amount of fuel" do
    %{store: store, instance: instance} = guest(%{fuel: 1_000_000_000})

    for {function, args, fuel} <- @expected do
      assert fuel_used(store, instance, function, args) == fuel, "#{function}#{inspect(args)}"
    end
  end

  test "fuel use does not depend on the slice size, or on the store being fresh" do
    for slice <- [1_000, 100_000, 10_000_000] do
      %{store: store, instance: instance} = guest(%{fuel: 1_000_000_000})
      :ok = Wasmex.Native.hook_set_slice(store.resource, slice)

      for _run <- 1..2, {function, args, fuel} <- @expected do
        assert fuel_used(store, instance, function, args) == fuel,
               "slice #{slice}: #{function}#{inspect(args)}"
      end
    end
  end

  test "running out of fuel is an error; refuelling lets the next call finish" do
    %{store: store, instance: instance} = guest(%{fuel: 10_011})

    assert Wasmex.Instance.call_function(store, instance, "count", [1000]) ==
             {:error, "all fuel consumed by WebAssembly"}

    :ok = Wasmex.StoreOrCaller.set_fuel(store, 10_012)
    assert Wasmex.Instance.call_function(store, instance, "count", [1000]) == {:ok, [1000]}
    assert Wasmex.StoreOrCaller.get_fuel(store) == {:ok, 0}

    assert {:error, "all fuel consumed" <> _} =
             Wasmex.Instance.call_function(store, instance, "void", [])
  end

  test "an engine with consume_fuel starts stores at 0 fuel, as Wasmex does" do
    {:ok, engine} = Wasmex.Engine.new(%Wasmex.EngineConfig{consume_fuel: true})
    {:ok, store} = Wasmex.Store.new(nil, engine)
    {:ok, module} = Wasmex.Module.compile(store, @guest)

    {:ok, instance} =
      Wasmex.Instance.new(store, module, %{"env" => %{"peek" => {:fn, [], [], fn _ -> [] end}}})

    assert {:error, "all fuel consumed" <> _} =
             Wasmex.Instance.call_function(store, instance, "void", [])

    :ok = Wasmex.StoreOrCaller.set_fuel(store, 4)
    assert Wasmex.Instance.call_function(store, instance, "add", [1, 2]) == {:ok, [3]}
  end

  test "a callback can read and set fuel through context.store and context.caller" do
    test = self()

    peek = fn context ->
      {:ok, fuel} = Wasmex.StoreOrCaller.get_fuel(context.caller)
      send(test, {:fuel, fuel})
      :ok = Wasmex.StoreOrCaller.set_fuel(context.store, fuel + 1_000_000)
      []
    end

    %{store: store, instance: instance} =
      guest(%{fuel: 10_000}, %{"env" => %{"peek" => {:fn, [], [], peek}}})

    assert Wasmex.Instance.call_function(store, instance, "peek_twice", []) == {:ok, []}
    assert_received {:fuel, first}
    assert_received {:fuel, second}
    assert first < 10_000
    used_between = first + 1_000_000 - second
    assert used_between > 0
    assert {:ok, left} = Wasmex.StoreOrCaller.get_fuel(store)
    assert left > 1_000_000
  end

  test "fuel inside a callback is charged to the same store, nested calls included" do
    nested = fn context ->
      {:ok, [55]} = Wasmex.Instance.call_function(context.store, context.instance, "fib", [10])
      []
    end

    %{store: store, instance: instance} =
      guest(%{fuel: 1_000_000_000}, %{"env" => %{"peek" => {:fn, [], [], nested}}})

    with_nested = fuel_used(store, instance, "peek_twice", [])
    %{store: plain_store, instance: plain} = guest(%{fuel: 1_000_000_000})
    without = fuel_used(plain_store, plain, "peek_twice", [])
    assert with_nested - without == 2 * fuel_used(plain_store, plain, "fib", [10])
  end
end
