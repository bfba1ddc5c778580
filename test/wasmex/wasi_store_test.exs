defmodule Wasmex.WasiStoreTest do
  # WASI stores with small WAT guests; real C programs are in test/wasi_programs_test.exs.
  use ExUnit.Case, async: true

  alias Wasmex.Wasi.{PreopenOptions, WasiOptions}

  @guest ~S[(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (data (i32.const 100) "hello\n")
    (func $write (param $fd i32)
      (i32.store (i32.const 0) (i32.const 100))
      (i32.store (i32.const 4) (i32.const 6))
      (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
    (func (export "hello") (call $write (i32.const 1)))
    (func (export "hello_stderr") (call $write (i32.const 2)))
    (func (export "exit") (param i32) (call $exit (local.get 0)))
    ;; sleeps $ms milliseconds through poll_oneoff; returns the errno
    (func (export "sleep") (param $ms i64) (result i32)
      (i64.store (i32.const 1000) (i64.const 1))
      (i32.store8 (i32.const 1008) (i32.const 0))
      (i32.store (i32.const 1016) (i32.const 1))
      (i64.store (i32.const 1024) (i64.mul (local.get $ms) (i64.const 1000000)))
      (i32.store16 (i32.const 1040) (i32.const 0))
      (call $poll (i32.const 1000) (i32.const 2000) (i32.const 1) (i32.const 3000)))
    (func (export "spin") (loop (br 0))))]

  # Bulk output and opening files, for the sandbox's bounds.
  @io_guest ~S[(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "path_open"
      (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
    (memory (export "memory") 8)
    (data (i32.const 64) "fifo")
    ;; opens "fifo" under fd 3 for reading, again and again
    (func (export "open_forever")
      (loop (drop (call $path_open (i32.const 3) (i32.const 1) (i32.const 64) (i32.const 4)
        (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 0))) (br 0)))
    ;; one fd_write to $fd of $count vectors of the 64 KiB at 65536: bytes written or -errno
    (func $write (export "write") (param $fd i32) (param $count i32) (result i32)
      (local $i i32) (local $errno i32)
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
          (i32.store (i32.add (i32.const 131072) (i32.shl (local.get $i) (i32.const 3)))
            (i32.const 65536))
          (i32.store (i32.add (i32.const 131076) (i32.shl (local.get $i) (i32.const 3)))
            (i32.const 65536))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (local.set $errno
        (call $fd_write (local.get $fd) (i32.const 131072) (local.get $count) (i32.const 0)))
      (if (result i32) (local.get $errno)
        (then (i32.sub (i32.const 0) (local.get $errno)))
        (else (i32.load (i32.const 0)))))
    ;; writes 64 KiB to $fd $times times, looping on short writes: 0 or -errno
    (func (export "write_times") (param $fd i32) (param $times i32) (result i32)
      (local $left i32) (local $n i32)
      (loop $each
        (local.set $left (i32.const 65536))
        (loop $rest
          (i32.store (i32.const 131072) (i32.sub (i32.const 131072) (local.get $left)))
          (i32.store (i32.const 131076) (local.get $left))
          (local.set $n (call $fd_write (local.get $fd) (i32.const 131072) (i32.const 1) (i32.const 0)))
          (if (local.get $n) (then (return (i32.sub (i32.const 0) (local.get $n)))))
          (local.set $left (i32.sub (local.get $left) (i32.load (i32.const 0))))
          (br_if $rest (local.get $left)))
        (local.set $times (i32.sub (local.get $times) (i32.const 1)))
        (br_if $each (local.get $times)))
      (i32.const 0)))]

  defp instantiate(options, limits \\ nil) do
    {:ok, store} = Wasmex.Store.new_wasi(options, limits)
    {:ok, module} = Wasmex.Module.compile(store, @guest)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    {store, instance}
  end

  describe "new_wasi/1,2,3" do
    test "makes a store whose guests can use WASI" do
      {:ok, stdout} = Wasmex.Pipe.new()
      {store, instance} = instantiate(%WasiOptions{stdout: stdout})
      assert Wasmex.Instance.call_function(store, instance, "hello", []) == {:ok, []}
      :ok = Wasmex.Pipe.seek(stdout, 0)
      assert Wasmex.Pipe.read(stdout) == "hello\n"
    end

    test "takes limits, the map form with fuel and an engine" do
      assert {:ok, store} = Wasmex.Store.new_wasi(%WasiOptions{}, %{fuel: 1_000})
      assert Wasmex.StoreOrCaller.get_fuel(store) == {:ok, 1_000}
      engine = Wasmex.Engine.default()

      assert {:ok, _} =
               Wasmex.Store.new_wasi(%WasiOptions{}, %Wasmex.StoreLimits{instances: 1}, engine)
    end

    test "reports a preopened directory that cannot be opened" do
      options = %WasiOptions{
        preopen: [%PreopenOptions{path: "/nonexistent/wasmex", alias: "data"}]
      }

      assert {:error, "could not open the preopened directory `/nonexistent/wasmex`" <> _} =
               Wasmex.Store.new_wasi(options)
    end

    test "rejects malformed options with ArgumentError" do
      bad = [
        %WasiOptions{args: "app"},
        %WasiOptions{args: [:app]},
        %WasiOptions{env: [{"K", "V"}]},
        %WasiOptions{env: %{"K" => 1}},
        %WasiOptions{preopen: ["/tmp"]},
        %WasiOptions{stdin: :pipe},
        %WasiOptions{stdout: {:send, :not_a_pid}},
        %WasiOptions{stderr: :stderr}
      ]

      for options <- bad do
        assert_raise ArgumentError, fn -> Wasmex.Store.new_wasi(options) end
      end

      assert_raise ArgumentError, fn -> Wasmex.Store.new_wasi(%{args: []}) end
    end
  end

  describe "a WASI guest" do
    test "exits with proc_exit: 0 is success, anything else an error" do
      {store, instance} = instantiate(%WasiOptions{})
      assert Wasmex.Instance.call_function(store, instance, "exit", [0]) == {:ok, []}

      assert Wasmex.Instance.call_function(store, instance, "exit", [42]) ==
               {:error, "Exited with i32 exit status 42"}

      assert Wasmex.Instance.call_function(store, instance, "hello", []) == {:ok, []}
    end

    test "sleeps in its process without blocking a scheduler" do
      sleepers = 4 * System.schedulers_online()
      started = System.monotonic_time(:millisecond)

      tasks =
        for _ <- 1..sleepers do
          Task.async(fn ->
            {store, instance} = instantiate(%WasiOptions{})
            Wasmex.Instance.call_function(store, instance, "sleep", [250])
          end)
        end

      assert Enum.uniq(Task.await_many(tasks, 30_000)) == [{:ok, [0]}]
      elapsed = System.monotonic_time(:millisecond) - started
      # Sleeps that held their schedulers would take sleepers / schedulers × 250 ms.
      assert elapsed < 750, "#{sleepers} guests sleeping 250 ms took #{elapsed} ms"
    end

    test "a sleep longer than the call's timeout stops at the timeout" do
      {store, instance} = instantiate(%WasiOptions{})
      started = System.monotonic_time(:millisecond)

      assert Wasmex.Instance.call_function(store, instance, "sleep", [10_000], timeout: 50) ==
               {:error, "timeout: the call did not finish within 50 ms"}

      assert System.monotonic_time(:millisecond) - started < 1_000
      assert Wasmex.Instance.call_function(store, instance, "sleep", [1]) == {:ok, [0]}
    end

    test "streams stdout and stderr to a process, before the call returns" do
      tag = make_ref()
      options = %WasiOptions{stdout: {:send, self(), tag}, stderr: {:send, self()}}
      {store, instance} = instantiate(options)
      assert Wasmex.Instance.call_function(store, instance, "hello", []) == {:ok, []}
      assert_received {:wasi_stdout, ^tag, "hello\n"}
      assert Wasmex.Instance.call_function(store, instance, "hello_stderr", []) == {:ok, []}
      assert_received {:wasi_stderr, ^store, "hello\n"}
    end

    test "WASI imports are unknown in a plain store" do
      {:ok, store} = Wasmex.Store.new()
      {:ok, module} = Wasmex.Module.compile(store, @guest)

      assert Wasmex.Instance.new(store, module, %{}) ==
               {:error, "unknown import: `wasi_snapshot_preview1::fd_write` has not been defined"}
    end

    test "an Elixir import replaces a WASI function" do
      test = self()

      imports = %{
        "wasi_snapshot_preview1" => %{
          "proc_exit" => {:fn, [:i32], [], fn _context, code -> send(test, {:exit, code}) end}
        }
      }

      {:ok, store} = Wasmex.Store.new_wasi(%WasiOptions{})
      {:ok, module} = Wasmex.Module.compile(store, @guest)
      {:ok, instance} = Wasmex.Instance.new(store, module, imports)
      assert Wasmex.Instance.call_function(store, instance, "exit", [5]) == {:ok, []}
      assert_received {:exit, 5}
    end
  end

  describe "the sandbox's bounds" do
    defp io_guest(options) do
      {:ok, store} = Wasmex.Store.new_wasi(options)
      {:ok, module} = Wasmex.Module.compile(store, @io_guest)
      {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      {store, instance}
    end

    test "one fd_write moves at most 256 KiB, however many vectors it names" do
      {:ok, stdout} = Wasmex.Pipe.new()
      {store, instance} = io_guest(%WasiOptions{stdout: stdout})
      # 30,000 vectors of the same 64 KiB: 1.9 GB if written whole.
      assert Wasmex.Instance.call_function(store, instance, "write", [1, 30_000]) ==
               {:ok, [262_144]}

      assert Wasmex.Pipe.size(stdout) == 262_144
    end

    test "a guest cannot write past a pipe's capacity" do
      {:ok, stdout} = Wasmex.Pipe.new(capacity: 100_000)
      {store, instance} = io_guest(%WasiOptions{stdout: stdout})
      # A short write, then ENOSPC (51).
      assert Wasmex.Instance.call_function(store, instance, "write", [1, 2]) == {:ok, [100_000]}
      assert Wasmex.Instance.call_function(store, instance, "write", [1, 1]) == {:ok, [-51]}
      assert Wasmex.Pipe.size(stdout) == 100_000
    end

    test "streamed output comes in messages of at most stream_buffer bytes" do
      tag = make_ref()
      options = %WasiOptions{stdout: {:send, self(), tag}, stream_buffer: 10_000}
      {store, instance} = io_guest(options)
      # 100 writes of 64 KiB: the guest waits whenever 10,000 bytes are not yet sent.
      assert Wasmex.Instance.call_function(store, instance, "write_times", [1, 100]) == {:ok, [0]}
      chunks = receive_chunks(tag)
      assert Enum.all?(chunks, &(byte_size(&1) <= 10_000))
      assert IO.iodata_length(chunks) == 100 * 65_536
    end

    test "a random_get too big for a slice runs on a dirty scheduler, from the same stream" do
      wat =
        ~S[(module
        (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
        (memory (export "memory") 8)
        (func (export "random") (param i32) (result i32) (call $random (i32.const 0) (local.get 0))))]

      run = fn len ->
        {:ok, store} = Wasmex.Store.new_wasi(%WasiOptions{deterministic: true, random_seed: 3})
        {:ok, module} = Wasmex.Module.compile(store, wat)
        {:ok, instance} = Wasmex.Instance.new(store, module, %{})
        {:ok, [0]} = Wasmex.Instance.call_function(store, instance, "random", [len])
        {:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")
        {:ok, bytes} = Wasmex.Memory.read_binary(store, memory, 0, len)
        bytes
      end

      twins = [call_resume_nif: 1, call_resume_dirty_nif: 1]

      # Over 256 KiB: the call suspends for it, and its resume runs on a dirty scheduler.
      assert {big, [:call_resume_nif, :call_resume_dirty_nif]} =
               Wasmex.TestProcesses.native_calls(fn -> run.(300_000) end, twins)

      {small, calls} = Wasmex.TestProcesses.native_calls(fn -> run.(200_000) end, twins)
      refute :call_resume_dirty_nif in calls
      assert binary_part(big, 0, 200_000) == small
    end

    @tag :tmp_dir
    test "opening a FIFO in a loop stops at the call's timeout", %{tmp_dir: dir} do
      {_, 0} = System.cmd("mkfifo", [Path.join(dir, "fifo")])
      options = %WasiOptions{preopen: [%PreopenOptions{path: dir, alias: "/data"}]}
      {store, instance} = io_guest(options)
      started = System.monotonic_time(:millisecond)

      assert Wasmex.Instance.call_function(store, instance, "open_forever", [], timeout: 100) ==
               {:error, "timeout: the call did not finish within 100 ms"}

      assert System.monotonic_time(:millisecond) - started < 5_000
    end
  end

  defp receive_chunks(tag) do
    receive do
      {:wasi_stdout, ^tag, chunk} -> [chunk | receive_chunks(tag)]
    after
      0 -> []
    end
  end
end
