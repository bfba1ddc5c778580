defmodule WasmexTest do
  # The Wasmex GenServer.
  use ExUnit.Case, async: true
  doctest Wasmex

  import Wasmex.Fixtures

  describe "start_link/1" do
    test "takes :bytes as a binary or WAT" do
      {:ok, wasm} = Wasmex.Wat.to_wasm(example_wat())
      assert {:ok, pid} = Wasmex.start_link(%{bytes: wasm})
      assert Wasmex.call_function(pid, "add", [1, 2]) == {:ok, [3]}
      assert {:ok, pid} = Wasmex.start_link(%{bytes: example_wat()})
      assert Wasmex.call_function(pid, :add, [1, 2]) == {:ok, [3]}
    end

    test "an unknown option raises, naming it and the known ones (maps and keyword lists)" do
      message =
        "unknown keys [:imprts] in %{bytes: \"(module)\", imprts: %{}}, the allowed keys are: " <>
          "[:bytes, :module, :store, :instance, :imports, :links, :wasi, :name] " <>
          "(did you mean :imports?)"

      assert_raise ArgumentError, message, fn ->
        Wasmex.start_link(%{bytes: "(module)", imprts: %{}})
      end

      assert_raise ArgumentError, message, fn ->
        Wasmex.start_link(bytes: "(module)", imprts: %{})
      end

      assert_raise ArgumentError,
                   "unknown keys [:byts] in %{byts: \"(module)\"}, the allowed keys are: " <>
                     "[:bytes, :module, :links] (did you mean :bytes?)",
                   fn ->
                     Wasmex.start_link(%{bytes: "(module)", links: %{a: %{byts: "(module)"}}})
                   end
    end

    test "takes a keyword list" do
      assert {:ok, pid} = Wasmex.start_link(bytes: example_wat())
      assert Wasmex.call_function(pid, :add, [2, 2]) == {:ok, [4]}
    end

    test "takes :module with the :store it was compiled in" do
      {:ok, store} = Wasmex.Store.new()
      {:ok, module} = Wasmex.Module.compile(store, example_wat())
      assert {:ok, pid} = Wasmex.start_link(%{store: store, module: module})
      assert Wasmex.store(pid) == {:ok, store}
      assert Wasmex.module(pid) == {:ok, module}
    end

    test "takes an existing :instance with its :store and :module" do
      %{store: store, module: module, instance: instance} = instantiate(example_wat())
      assert {:ok, pid} = Wasmex.start_link(%{store: store, module: module, instance: instance})
      assert Wasmex.instance(pid) == {:ok, instance}
      assert Wasmex.call_function(pid, "add", [5, 5]) == {:ok, [10]}
    end

    test "returns Wasmex's error atoms for incomplete options" do
      %{store: store, module: module, instance: instance} = instantiate(example_wat())

      assert Wasmex.start_link(%{module: module}) ==
               {:error, :must_specify_store_used_to_compile_module}

      assert Wasmex.start_link(%{instance: instance, store: store}) ==
               {:error, :must_specify_store_and_module_used_to_instantiate_instance}

      assert Wasmex.start_link(%{instance: instance, module: module}) ==
               {:error, :must_specify_store_used_to_compile_module}
    end

    test "returns compile and instantiation errors" do
      assert {:error, "Error while parsing bytes: " <> _} = Wasmex.start_link(%{bytes: "not wat"})

      assert Wasmex.start_link(%{bytes: ~S[(module (import "env" "f" (func)))]}) ==
               {:error, "unknown import: `env::f` has not been defined"}
    end

    test "raises ArgumentError for bad option values" do
      assert_raise ArgumentError, fn -> Wasmex.start_link(%{bytes: 42}) end
      assert_raise ArgumentError, fn -> Wasmex.start_link(%{}) end
      assert_raise ArgumentError, fn -> Wasmex.start_link(%{bytes: "(module)", wasi: :yes}) end
    end

    test "registers :name" do
      name = :"wasmex_test_#{System.unique_integer([:positive])}"
      assert {:ok, pid} = Wasmex.start_link(%{bytes: example_wat(), name: name})
      assert Process.whereis(name) == pid
      assert Wasmex.call_function(name, "add", [1, 1]) == {:ok, [2]}
    end

    test "can be supervised as {Wasmex, options}" do
      pid = start_supervised!({Wasmex, %{bytes: example_wat()}})
      assert Wasmex.call_function(pid, "add", [3, 4]) == {:ok, [7]}
    end

    test "takes :imports whose callbacks run in the server's runner process" do
      test = self()

      imports = %{
        env: %{
          host_log:
            {:fn, [:i32, :i32], [],
             fn context, ptr, len ->
               {:ok, text} = Wasmex.Memory.read_binary(context.store, context.memory, ptr, len)
               send(test, {:logged, text, self()})
             end},
          host_random: {:fn, [], [:i32], fn _context -> 4 end}
        }
      }

      {:ok, pid} = Wasmex.start_link(%{bytes: host_callbacks_wat(), imports: imports})
      assert Wasmex.call_function(pid, "greet", []) == {:ok, []}
      assert_received {:logged, "hello from wasm", runner}
      assert runner not in [pid, self()]
      # The runner is the server's (it watches it), and the same for every call.
      assert {:monitored_by, monitors} = Process.info(runner, :monitored_by)
      assert pid in monitors
      assert Wasmex.call_function(pid, "greet", []) == {:ok, []}
      assert_received {:logged, "hello from wasm", ^runner}
      assert Wasmex.call_function(pid, "roll", []) == {:ok, [4]}
    end

    test "runs the calls of an instance without imports itself, with no runner process" do
      {:ok, pid} = Wasmex.start_link(%{bytes: example_wat()})
      assert Wasmex.call_function(pid, "add", [1, 2]) == {:ok, [3]}
      assert Process.info(pid, :links) == {:links, [self()]}
    end

    test "takes :wasi" do
      {:ok, pid} = Wasmex.start_link(%{bytes: wasi_exit_wat(), wasi: true})
      assert Wasmex.call_function(pid, "_start", []) == {:error, "Exited with i32 exit status 7"}

      {:ok, pid} =
        Wasmex.start_link(%{bytes: wasi_exit_wat(), wasi: %Wasmex.Wasi.WasiOptions{args: ["x"]}})

      assert Wasmex.call_function(pid, :_start, []) == {:error, "Exited with i32 exit status 7"}
    end
  end

  defp wasi_exit_wat do
    ~S[(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1) (func (export "_start") (call $exit (i32.const 7))))]
  end

  describe ":links" do
    @utils ~S[(module (func (export "sum") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))]
    @calc ~S[(module (import "utils" "sum" (func $sum (param i32 i32) (result i32)))
      (func (export "sum_range") (param $from i32) (param $to i32) (result i32)
        (local $acc i32)
        (block $done (loop $next
          (br_if $done (i32.gt_s (local.get $from) (local.get $to)))
          (local.set $acc (call $sum (local.get $acc) (local.get $from)))
          (local.set $from (i32.add (local.get $from) (i32.const 1)))
          (br $next)))
        (local.get $acc)))]
    @main ~S[(module (import "calc" "sum_range" (func $range (param i32 i32) (result i32)))
      (func (export "calc_seq") (param i32 i32) (result i32) (call $range (local.get 0) (local.get 1))))]

    test "links modules by bytes, nested links first" do
      links = %{calc: %{bytes: @calc, links: %{utils: %{bytes: @utils}}}}
      {:ok, pid} = Wasmex.start_link(%{bytes: @main, links: links})
      assert Wasmex.call_function(pid, "calc_seq", [1, 5]) == {:ok, [15]}
    end

    test "links precompiled modules of the same store" do
      {:ok, store} = Wasmex.Store.new()
      {:ok, utils} = Wasmex.Module.compile(store, @utils)
      {:ok, calc} = Wasmex.Module.compile(store, @calc)
      {:ok, main} = Wasmex.Module.compile(store, @main)
      links = %{"calc" => %{module: calc}, "utils" => %{module: utils}}
      {:ok, pid} = Wasmex.start_link(%{store: store, module: main, links: links})
      assert Wasmex.call_function(pid, "calc_seq", [2, 4]) == {:ok, [9]}
    end

    test "links a dependency used twice once" do
      links = %{
        calc: %{bytes: @calc, links: %{utils: %{bytes: @utils}}},
        utils: %{bytes: @utils}
      }

      {:ok, pid} = Wasmex.start_link(%{bytes: @main, links: links})
      assert Wasmex.call_function(pid, "calc_seq", [1, 3]) == {:ok, [6]}
    end

    test "says what a link is when given a module instead" do
      {:ok, store} = Wasmex.Store.new()
      {:ok, utils} = Wasmex.Module.compile(store, @utils)

      error =
        assert_raise ArgumentError, fn ->
          Wasmex.start_link(%{store: store, bytes: @main, links: %{utils: utils}})
        end

      assert error.message =~
               ~r/^expected a link to be \{name, %\{bytes: wasm\} \| %\{module: module\}\}, got: \{:utils, #Wasmex.Module</
    end

    test "reports a link that does not compile" do
      assert {:error, "Error while parsing bytes: " <> _} =
               Wasmex.start_link(%{bytes: @main, links: %{calc: %{bytes: "nope"}}})
    end
  end

  describe "call_function/3,4" do
    test "takes the longest timeout a GenServer call takes" do
      {:ok, pid} = Wasmex.start_link(%{bytes: example_wat()})
      assert Wasmex.call_function(pid, "add", [1, 2], 4_294_967_295) == {:ok, [3]}
      assert Wasmex.call_function(pid, "add", [2, 2]) == {:ok, [4]}
    end

    test "the server forgets the requests its runner answered" do
      imports = %{
        env: %{
          host_log: {:fn, [:i32, :i32], [], fn _context, _ptr, _len -> nil end},
          host_random: {:fn, [], [:i32], fn _context -> 4 end}
        }
      }

      {:ok, pid} = Wasmex.start_link(%{bytes: host_callbacks_wat(), imports: imports})
      for _ <- 1..1_000, do: {:ok, [4]} = Wasmex.call_function(pid, "roll", [])
      # Only the last request may still be on its books (it is dropped at the next message).
      assert :queue.len(:sys.get_state(pid).in_flight) <= 1
    end

    test "on timeout the caller exits, the guest stops and the server serves the next call" do
      {:ok, pid} = Wasmex.start_link(%{bytes: loop_wat()})
      assert {:timeout, _} = catch_exit(Wasmex.call_function(pid, "spin", [], 100))
      assert Wasmex.call_function(pid, "count", [10], 1_000) == {:ok, [10]}
      assert Process.alive?(pid)
    end

    test "takes :infinity" do
      {:ok, pid} = Wasmex.start_link(%{bytes: loop_wat()})
      assert Wasmex.call_function(pid, "count", [1000], :infinity) == {:ok, [1000]}
    end

    test "returns errors as Instance.call_function does" do
      {:ok, pid} = Wasmex.start_link(%{bytes: example_wat()})

      assert Wasmex.call_function(pid, "nope", []) ==
               {:error,
                "exported function `nope` not found: the module exports the functions " <>
                  "`add`, `allocate`, `expensive_op`, `process` and `upcase`"}

      assert {:error, "unreachable" <> _} = Wasmex.call_function(pid, "process", [0, 0])
    end

    test "serves 1,000 concurrent callers, each with its own result" do
      {:ok, pid} = Wasmex.start_link(%{bytes: example_wat()})

      results =
        1..1_000
        |> Task.async_stream(&Wasmex.call_function(pid, "add", [&1, 1]),
          max_concurrency: 1_000,
          timeout: 30_000
        )
        |> Enum.map(fn {:ok, result} -> result end)

      assert results == Enum.map(1..1_000, &{:ok, [&1 + 1]})
    end
  end

  describe "function_exists/2, memory/1, store/1, module/1, instance/1" do
    test "describe the server's instance" do
      {:ok, pid} = Wasmex.start_link(%{bytes: example_wat()})
      assert Wasmex.function_exists(pid, "add")
      assert Wasmex.function_exists(pid, :allocate)
      refute Wasmex.function_exists(pid, "memory")
      {:ok, memory} = Wasmex.memory(pid)
      {:ok, store} = Wasmex.store(pid)
      assert Wasmex.Memory.size(store, memory) == 65_536
      {:ok, module} = Wasmex.module(pid)
      assert Wasmex.Module.name(module) == "example"
      {:ok, instance} = Wasmex.instance(pid)
      assert Wasmex.Instance.call_function(store, instance, "add", [1, 1]) == {:ok, [2]}
    end
  end
end
