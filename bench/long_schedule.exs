# LS: the longest a single operation holds a normal scheduler, at the largest sizes the
# limits allow (no store limits here), watched with
# `:erlang.system_monitor(self(), [{:long_schedule, 1}])`. Target: at most 2 ms each.
#
# Each operation runs in a process of its own; its setup (compiling, instantiating,
# building binaries) runs before the monitor is on, so the figure is the operation's own.
# A row reads 0 when no schedule of the process reached 1 ms. Peak memory is about 3 GB
# (a 2 GiB memory.grow). `LS_ONLY=text` runs the operations whose figure contains it.

defmodule Bench.LS do
  @moduledoc false

  @gib 1024 * 1024 * 1024
  @mib 1024 * 1024

  def run(_opts) do
    # LS_ONLY=text runs the operations whose figure contains it.
    only = System.get_env("LS_ONLY", "")

    for {figure, setup, op} <- operations(), String.contains?(figure, only) do
      # The best of three runs: on a shared machine the OS preempts scheduler threads too,
      # which makes a schedule look longer than the work in it.
      runs = for _ <- 1..3, do: measure(setup, op)
      {worst, _} = Enum.min(runs)
      IO.puts(:stderr, "LS #{figure}: worst hold (ms), time (s) per run: #{inspect(runs)}")
      Bench.row("LS", figure, worst, "ms", {:le, 2.0})
    end
  end

  # {figure, setup (in the process, unmonitored) -> state, op: state -> any}
  defp operations do
    [
      {"guest memory.grow by 2 GiB", fn -> guest(~S[(module (memory 1 65536)
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))]) end,
       &call(&1, "grow", [32_768])},
      {"Instance.new of a module declaring a 1 GiB memory",
       fn -> compiled("(module (memory 16384))") end, &instantiate/1},
      {"guest memory.fill of 1 GiB", fn -> guest(bulk_wat()) end, &call(&1, "fill", [0, @gib])},
      {"guest memory.copy of 1 GiB", fn -> guest(bulk_wat()) end,
       &call(&1, "copy", [0, 65_536, @gib])},
      {"guest table.grow by 10 M elements", fn -> guest(table_wat(0)) end,
       &call(&1, "grow", [10_000_000])},
      {"guest table.fill of 10 M elements", fn -> guest(table_wat(10_000_000)) end,
       &call(&1, "fill", [10_000_000])},
      {"Pipe.write of 256 MiB", fn -> pipe_and(:binary.copy("p", 256 * @mib)) end,
       fn {pipe, bytes} -> {:ok, _} = Wasmex.Pipe.write(pipe, bytes) end},
      {"Pipe.read of 256 MiB", &filled_pipe/0, &Wasmex.Pipe.read/1},
      {"Memory.read_binary of 4 MiB, 16 in a row", fn -> memory(100) end,
       &reads(&1, 16, 4 * @mib)},
      {"Memory.read_binary of 1 MiB, 64 in a row", fn -> memory(100) end, &reads(&1, 64, @mib)},
      {"Instance.new with 200,000 imports", &many_imports/0, &instantiate/1},
      {"first call of a 7.5 MB function (lazy translation)",
       fn -> guest(huge_function(7_500_000)) end, &call(&1, "f", [])},
      {"WASI random_get of 1 GiB", fn -> wasi_guest(random_wat()) end,
       &call(&1, "random", [0, @gib])},
      {"WASI fd_write of 4,000 iovecs of 64 KiB (256 MiB)", &fd_write_guest/0,
       &call(&1, "write", [4_000])},
      {"WASI fd_readdir of a 50,000-entry directory", &files_guest/0,
       &call(&1, "readdir", [4_096])},
      {"WASI poll_oneoff on 4,096 open files", &open_files/0, &call(&1, "poll", [4_096])}
    ]
  end

  # Runs `setup` then `op` in a new process; returns the longest schedule of that process
  # during `op` (ms) and the op's wall time (s).
  defp measure(setup, op) do
    parent = self()

    worker =
      spawn(fn ->
        state = setup.()
        send(parent, {:ready, self()})

        receive do
          :go ->
            {us, _} = :timer.tc(fn -> op.(state) end)
            send(parent, {:done, self(), us})
        end

        # Exits (freeing what it built) once the monitor is off.
        receive do: (:stop -> :ok)
      end)

    receive do: ({:ready, ^worker} -> :ok)
    previous = :erlang.system_monitor(self(), [{:long_schedule, 1}, {:long_gc, 1}])
    send(worker, :go)
    us = receive do: ({:done, ^worker, us} -> us)
    # Its last schedule ends when it waits for :stop; the monitor reports it then.
    idle(worker)
    Process.sleep(20)
    :erlang.system_monitor(previous || :undefined)
    ref = Process.monitor(worker)
    send(worker, :stop)
    receive do: ({:DOWN, ^ref, :process, ^worker, _} -> :ok)
    {worst(worker, 0), Float.round(us / 1_000_000, 2)}
  end

  defp idle(pid) do
    if Process.info(pid, :status) != {:status, :waiting} do
      Process.sleep(1)
      idle(pid)
    end
  end

  defp worst(worker, acc) do
    receive do
      {:monitor, ^worker, :long_schedule, info} ->
        if System.get_env("LS_VERBOSE"), do: IO.puts(:stderr, "  #{inspect(info)}")
        worst(worker, max(acc, info[:timeout]))

      {:monitor, ^worker, :long_gc, info} ->
        if System.get_env("LS_VERBOSE"), do: IO.puts(:stderr, "  gc #{info[:timeout]} ms")
        worst(worker, acc)

      {:monitor, _other, _kind, _info} ->
        worst(worker, acc)
    after
      0 -> acc
    end
  end

  defp compiled(wat) do
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wat)
    {store, module, %{}}
  end

  defp instantiate({store, module, imports}),
    do: {:ok, _} = Wasmex.Instance.new(store, module, imports)

  defp guest(wasm, store \\ nil) do
    {:ok, store} = if store, do: {:ok, store}, else: Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wasm)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    {store, instance}
  end

  defp call({store, instance}, name, params) do
    {:ok, _} = Wasmex.Instance.call_function(store, instance, name, params)
  end

  defp bulk_wat do
    ~S[(module (memory (export "memory") 16386)
      (func (export "fill") (param i32 i32) (memory.fill (local.get 0) (i32.const 7) (local.get 1)))
      (func (export "copy") (param i32 i32 i32)
        (memory.copy (local.get 0) (local.get 1) (local.get 2))))]
  end

  defp table_wat(size) do
    ~s[(module (table $t #{size} funcref)
      (func (export "grow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
      (func (export "fill") (param i32) (table.fill $t (i32.const 0) (ref.null func) (local.get 0))))]
  end

  # Pipes hold at most their capacity (64 MiB unless told).
  defp pipe_and(bytes) do
    {:ok, pipe} = Wasmex.Pipe.new(capacity: byte_size(bytes))
    {pipe, bytes}
  end

  defp filled_pipe do
    {:ok, pipe} = Wasmex.Pipe.new(capacity: 256 * @mib)
    {:ok, _} = Wasmex.Pipe.write(pipe, :binary.copy("p", 256 * @mib))
    :ok = Wasmex.Pipe.seek(pipe, 0)
    pipe
  end

  defp memory(pages) do
    {store, instance} = guest(~s[(module (memory (export "memory") #{pages}))])
    {:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")
    {store, memory}
  end

  defp reads({store, memory}, count, len) do
    for _ <- 1..count, do: {:ok, _} = Wasmex.Memory.read_binary(store, memory, 0, len)
  end

  defp many_imports do
    count = 200_000
    wat = "(module " <> Enum.map_join(1..count, " ", &~s[(import "env" "f#{&1}" (func))]) <> ")"
    {store, module, _} = compiled(wat)
    funs = for i <- 1..count, into: %{}, do: {"f#{i}", {:fn, [], [], fn _ -> nil end}}
    {store, module, %{"env" => funs}}
  end

  # A module exporting "f", one function of about `bytes` bytes of code
  # (`i32.const 0; drop`, over and over).
  defp huge_function(bytes) do
    body = <<0>> <> :binary.copy(<<0x41, 0x00, 0x1A>>, div(bytes, 3)) <> <<0x0B>>

    <<0, "asm", 1, 0, 0, 0>> <>
      section(1, <<1, 0x60, 0, 0>>) <>
      section(3, <<1, 0>>) <>
      section(7, <<1, 1, "f", 0, 0>>) <>
      section(10, leb(1) <> leb(byte_size(body)) <> body)
  end

  defp section(id, payload), do: <<id>> <> leb(byte_size(payload)) <> payload

  defp leb(n) when n < 128, do: <<n>>
  defp leb(n), do: <<Bitwise.bor(Bitwise.band(n, 127), 128)>> <> leb(Bitwise.bsr(n, 7))

  defp wasi_guest(wat, options \\ %Wasmex.Wasi.WasiOptions{}) do
    {:ok, store} = Wasmex.Store.new_wasi(options)
    guest(wat, store)
  end

  defp random_wat do
    ~S[(module
      (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
      (memory (export "memory") 16385)
      (func (export "random") (param i32 i32) (result i32) (call $random (local.get 0) (local.get 1))))]
  end

  # stdout is a pipe; `write(n)` writes n iovecs, each the same 64 KiB, in one fd_write.
  defp fd_write_guest do
    {:ok, stdout} = Wasmex.Pipe.new()

    wat = ~S[(module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 2)
      (func (export "write") (param $n i32) (result i32)
        (call $fd_write (i32.const 1) (i32.const 0) (local.get $n) (i32.const 60000))))]

    {store, instance} = wasi_guest(wat, %Wasmex.Wasi.WasiOptions{stdout: stdout})
    {:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")
    iovecs = :binary.copy(<<65_536::little-32, 65_536::little-32>>, 4_000)
    :ok = Wasmex.Memory.write_binary(store, memory, 0, iovecs)
    {store, instance}
  end

  # A preopened directory of 50,000 files (made once, under the system's temporary
  # directory): `readdir(len)` reads it from cookie 0 into a buffer of `len` bytes,
  # `open(n)` opens its file `f` n times and `poll(n)` polls the n descriptors from 4 on.
  defp files_guest do
    dir = Path.join(System.tmp_dir!(), "wasmex-bench-ls-files")

    unless File.exists?(Path.join(dir, "f49999")) do
      File.mkdir_p!(dir)
      for i <- 0..49_999, do: File.touch!(Path.join(dir, "f#{i}"))
      File.touch!(Path.join(dir, "f"))
    end

    wat = ~S[(module
      (import "wasi_snapshot_preview1" "fd_readdir" (func $readdir (param i32 i32 i32 i64 i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_open"
        (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 8)
      (data (i32.const 64) "f")
      (func (export "readdir") (param $len i32) (result i32)
        (call $readdir (i32.const 3) (i32.const 1024) (local.get $len) (i64.const 0) (i32.const 0)))
      (func (export "open") (param $n i32) (result i32)
        (loop $next
          (drop (call $path_open (i32.const 3) (i32.const 1) (i32.const 64) (i32.const 1)
            (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 0)))
          (br_if $next (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (i32.const 0))
      (func (export "poll") (param $n i32) (result i32) (local $i i32) (local $at i32)
        (loop $next
          (local.set $at (i32.add (i32.const 4096) (i32.mul (local.get $i) (i32.const 48))))
          (i32.store8 (i32.add (local.get $at) (i32.const 8)) (i32.const 1))
          (i32.store (i32.add (local.get $at) (i32.const 16)) (i32.add (local.get $i) (i32.const 4)))
          (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (call $poll (i32.const 4096) (i32.const 262144) (local.get $n) (i32.const 0))))]

    options = %Wasmex.Wasi.WasiOptions{
      preopen: [%Wasmex.Wasi.PreopenOptions{path: dir, alias: "/d"}],
      fd_limit: 5_000
    }

    wasi_guest(wat, options)
  end

  defp open_files do
    guest = files_guest()
    call(guest, "open", [4_096])
    guest
  end
end
