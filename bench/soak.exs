# Soak / leak check: `mix run bench/soak.exs [cycles [calls]]` (or `scripts/soak`).
#
# Runs, in one VM, with checkpoints in between:
#
#   * cycles - Store.new, Module.compile (of wasm bytes compiled from WAT once), Instance.new,
#     call_function, drop: `cycles` times (default 1,000,000);
#   * genserver - `Wasmex.call_function(pid, ...)` on a Wasmex GenServer whose guest calls an
#     Elixir import: `calls` times (default 1,000,000);
#   * async - `Wasmex.Instance.call_exported_function/5` (a process per call, which runs the
#     import) on one store: `calls` times;
#   * direct - `Wasmex.Instance.call_function/4` with the import, in this process: `calls` times;
#   * kill - a process starts a call on one shared store and is killed (`Process.exit(pid,
#     :kill)`) inside the Elixir import, in a guest loop after it, or in a nested call's
#     import, in turn; the next iteration needs the store freed: `calls` times.
#
# At every checkpoint every process is garbage collected (so that NIF resources whose last
# reference was on a heap are released) and the OS process's RSS (VmRSS), its peak (VmHWM),
# `:erlang.memory(:total)`, the process count and the port count are recorded. Prints one
# table of checkpoints and a summary (growth per cycle/call after a warm-up), and writes
# bench/results/soak-<date>.json.
#
# Environment: SOAK_CYCLES, SOAK_CALLS (the arguments win), SOAK_PHASES (comma-separated
# subset of cycles,genserver,async,direct,kill), SOAK_CHECKPOINTS (per phase, default 10),
# SOAK_WARMUP (iterations of each phase before the baseline, default 20,000).
Code.require_file("harness.exs", __DIR__)

defmodule Bench.Soak do
  @moduledoc false

  @add_wat ~S[(module
    (memory (export "memory") 1)
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))]

  # `run(x)` = inc(x) + 1, through an Elixir import.
  @callback_wat ~S[(module
    (import "env" "inc" (func $inc (param i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "run") (param i32) (result i32)
      (i32.add (call $inc (local.get 0)) (i32.const 1))))]

  defp imports, do: %{"env" => %{"inc" => {:fn, [:i32], [:i32], &inc/2}}}
  defp inc(_context, x), do: x + 1

  # `gated(mode)`: gate(mode) (an Elixir import that tells the runner, then blocks for
  # mode 0, returns for mode 1, or makes a nested call of `gated(0)` for mode 2), then an
  # endless loop.
  @kill_wat ~S[(module
    (import "env" "gate" (func $gate (param i32)))
    (func (export "gated") (param i32) (call $gate (local.get 0)) (loop (br 0))))]

  @phases ~w(cycles genserver async direct kill)

  def main(argv) do
    {cycles, calls} = counts(argv)
    phases = phases()
    checkpoints = env_int("SOAK_CHECKPOINTS", 10)
    warmup = env_int("SOAK_WARMUP", 20_000)
    {:ok, add_wasm} = Wasmex.Wat.to_wasm(@add_wat)
    {:ok, callback_wasm} = Wasmex.Wat.to_wasm(@callback_wat)

    IO.puts(
      :stderr,
      "soak: #{fmt(cycles)} cycles, #{fmt(calls)} calls per call phase, phases #{Enum.join(phases, " ")}"
    )

    started = System.monotonic_time(:millisecond)
    start = sample("start", "-", 0, 0)

    # Everything the phases run, once per phase: `{name, count, setup}`; setup returns the
    # per-iteration fun and a teardown.
    plans = [
      {"cycles", cycles, fn -> cycle_fun(add_wasm) end},
      {"genserver", calls, fn -> genserver_fun(callback_wasm) end},
      {"async", calls, fn -> async_fun(callback_wasm) end},
      {"direct", calls, fn -> direct_fun(callback_wasm) end},
      {"kill", calls, fn -> kill_fun() end}
    ]

    plans = Enum.filter(plans, fn {name, _, _} -> name in phases end)

    # Warm-up: the allocators grow to their working size; that is not a leak.
    for {name, count, setup} <- plans,
        do: isolated(fn -> run_plain(setup, min(warmup, count)) end, name)

    baseline = sample("baseline", "warm-up done", 0, 0)

    samples =
      for {name, count, setup} <- plans, reduce: [baseline] do
        acc -> acc ++ isolated(fn -> run_phase(name, count, checkpoints, setup) end, name)
      end

    final = sample("end", "all phases done", 0, 0)
    samples = [start | samples] ++ [final]
    table(samples)
    wall = (System.monotonic_time(:millisecond) - started) / 1000
    rows = summary(samples, plans) ++ [Bench.row("soak", "wall time, all phases", wall, "s", nil)]
    IO.puts("")
    Bench.table(rows)
    context = context(cycles, calls, phases)
    stamp = context[:date] |> String.replace(~r/[-:]/, "") |> String.slice(0, 15)
    path = write_json("soak-#{stamp}", samples, rows, context)
    IO.puts("\nwrote #{path}")
  end

  defp counts(argv) do
    case Enum.map(argv, &parse_int/1) do
      [] -> {env_int("SOAK_CYCLES", 1_000_000), env_int("SOAK_CALLS", 1_000_000)}
      [cycles] -> {cycles, env_int("SOAK_CALLS", cycles)}
      [cycles, calls | _] -> {cycles, calls}
    end
  end

  defp phases do
    case System.get_env("SOAK_PHASES") do
      nil ->
        @phases

      text ->
        selected = String.split(text, ",", trim: true)
        unknown = selected -- @phases

        if unknown != [],
          do: raise("unknown soak phases #{inspect(unknown)}; known: #{inspect(@phases)}")

        Enum.filter(@phases, &(&1 in selected))
    end
  end

  defp env_int(name, default) do
    case System.get_env(name) do
      nil -> default
      text -> parse_int(text)
    end
  end

  defp parse_int(text), do: text |> String.replace("_", "") |> String.to_integer()

  # --- the workloads: each setup returns {iteration fun (index -> any), teardown} ---

  defp cycle_fun(wasm) do
    iteration = fn i ->
      {:ok, store} = Wasmex.Store.new()
      {:ok, module} = Wasmex.Module.compile(store, wasm)
      {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      x = rem(i, 1000)
      {:ok, [sum]} = Wasmex.Instance.call_function(store, instance, "add", [x, 3])
      ^sum = x + 3
    end

    {iteration, fn -> :ok end}
  end

  defp genserver_fun(wasm) do
    {:ok, pid} = Wasmex.start_link(%{bytes: wasm, imports: imports()})

    iteration = fn i ->
      x = rem(i, 1_000_000)
      {:ok, [result]} = Wasmex.call_function(pid, "run", [x])
      ^result = x + 2
    end

    {iteration, fn -> GenServer.stop(pid) end}
  end

  defp async_fun(wasm) do
    {store, instance} = instantiate(wasm)

    iteration = fn i ->
      x = rem(i, 1_000_000)
      ref = make_ref()
      :ok = Wasmex.Instance.call_exported_function(store, instance, "run", [x], {self(), ref})

      receive do
        {^ref, {:ok, [result]}} -> ^result = x + 2
        {^ref, other} -> raise "async call returned #{inspect(other)}"
      end
    end

    {iteration, fn -> :ok end}
  end

  defp direct_fun(wasm) do
    {store, instance} = instantiate(wasm)

    iteration = fn i ->
      x = rem(i, 1_000_000)
      {:ok, [result]} = Wasmex.Instance.call_function(store, instance, "run", [x])
      ^result = x + 2
    end

    {iteration, fn -> :ok end}
  end

  defp kill_fun do
    runner = self()

    gate = fn context, mode ->
      send(runner, {:gated, self(), mode})

      case mode do
        0 -> receive(do: (:never -> :ok))
        1 -> :ok
        2 -> Wasmex.Instance.call_function(context.caller, context.instance, "gated", [0])
      end

      nil
    end

    {store, instance} = instantiate(@kill_wat, %{"env" => %{"gate" => {:fn, [:i32], [], gate}}})

    iteration = fn i ->
      mode = rem(i, 3)
      pid = spawn(fn -> Wasmex.Instance.call_function(store, instance, "gated", [mode]) end)
      ref = Process.monitor(pid)
      # Mode 2 reports twice: the outer gate, then the nested one (mode 0), where it blocks.
      receive do: ({:gated, ^pid, ^mode} -> :ok)
      if mode == 2, do: receive(do: ({:gated, ^pid, 0} -> :ok))
      Process.exit(pid, :kill)
      receive do: ({:DOWN, ^ref, :process, ^pid, :killed} -> :ok)
    end

    {iteration, fn -> :ok end}
  end

  defp instantiate(wasm, imports \\ imports()) do
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wasm)
    {:ok, instance} = Wasmex.Instance.new(store, module, imports)
    {store, instance}
  end

  # --- running ---

  # Runs `fun` in a fresh process (its heap, and every handle it made, go when it ends).
  defp isolated(fun, name) do
    task = Task.async(fun)

    case Task.yield(task, :infinity) do
      {:ok, result} -> result
      other -> raise "soak phase #{name} failed: #{inspect(other)}"
    end
  end

  defp run_plain(setup, n) do
    {iteration, teardown} = setup.()
    loop(iteration, 1, n)
    teardown.()
  end

  defp run_phase(name, count, checkpoints, setup) do
    {iteration, teardown} = setup.()
    step = max(div(count, max(checkpoints, 1)), 1)
    IO.puts(:stderr, "#{name}: #{fmt(count)} iterations")

    samples = checkpoints(name, iteration, step, count, 1, 0, [])
    teardown.()
    samples
  end

  # Runs iterations `first..` in chunks of `step`, sampling after each chunk.
  defp checkpoints(_name, _iteration, _step, count, first, _us, acc) when first > count,
    do: Enum.reverse(acc)

  defp checkpoints(name, iteration, step, count, first, us, acc) do
    last = min(first + step - 1, count)
    {elapsed, :ok} = :timer.tc(fn -> loop(iteration, first, last) end)
    us = us + elapsed
    s = sample(name, "#{fmt(last)} done", last, us)
    IO.puts(:stderr, "  #{name} #{fmt(last)}: #{rate(last, us)}/s, RSS #{mb(s.rss_kb * 1024)}")
    checkpoints(name, iteration, step, count, last + 1, us, [s | acc])
  end

  defp loop(_fun, i, last) when i > last, do: :ok

  defp loop(fun, i, last) do
    fun.(i)
    loop(fun, i + 1, last)
  end

  # --- measuring ---

  defp gc_all do
    for pid <- Process.list(), do: :erlang.garbage_collect(pid)
    :ok
  end

  defp sample(phase, label, done, us) do
    gc_all()
    status = File.read!("/proc/self/status")

    %{
      phase: phase,
      label: label,
      done: done,
      us: us,
      rss_kb: status_kb(status, "VmRSS"),
      hwm_kb: status_kb(status, "VmHWM"),
      erlang_total: :erlang.memory(:total),
      erlang_binary: :erlang.memory(:binary),
      processes: :erlang.system_info(:process_count),
      ports: :erlang.system_info(:port_count)
    }
  end

  defp status_kb(status, key) do
    [_, kb] = Regex.run(~r/#{key}:\s+(\d+) kB/, status)
    String.to_integer(kb)
  end

  # --- reporting ---

  defp table(samples) do
    header = [
      "phase",
      "point",
      "time",
      "rate/s",
      "RSS",
      "peak RSS",
      "erlang total",
      "procs",
      "ports"
    ]

    lines =
      for s <- samples do
        [
          s.phase,
          s.label,
          if(s.us > 0, do: "#{Float.round(s.us / 1_000_000, 1)} s", else: "-"),
          if(s.us > 0, do: rate(s.done, s.us), else: "-"),
          mb(s.rss_kb * 1024),
          mb(s.hwm_kb * 1024),
          mb(s.erlang_total),
          Integer.to_string(s.processes),
          Integer.to_string(s.ports)
        ]
      end

    IO.puts("")
    Bench.columns(header, lines)
  end

  # Growth figures are from the baseline (after the warm-up) to each phase's last
  # checkpoint, per iteration; the first checkpoint of a phase is its own baseline too, so
  # that a leak shows as growth between checkpoints rather than as the first chunk's
  # allocator growth.
  defp summary(samples, plans) do
    baseline = Enum.find(samples, &(&1.phase == "baseline"))
    final = List.last(samples)
    start = hd(samples)

    phase_rows =
      for {name, count, _} <- plans do
        points = Enum.filter(samples, &(&1.phase == name))
        first = hd(points)
        last = List.last(points)
        span = max(last.done - first.done, 1)

        [
          Bench.row(
            "soak",
            "#{name}: #{fmt(count)} iterations, time",
            last.us / 1_000_000,
            "s",
            nil
          ),
          Bench.row("soak", "#{name}: rate", count / (last.us / 1_000_000), "/s", nil),
          Bench.row(
            "soak",
            "#{name}: RSS growth per iteration (checkpoint 1 -> last)",
            (last.rss_kb - first.rss_kb) * 1024 / span,
            "B",
            {:le, 16}
          ),
          Bench.row(
            "soak",
            "#{name}: erlang memory growth per iteration (checkpoint 1 -> last)",
            (last.erlang_total - first.erlang_total) / span,
            "B",
            {:le, 16}
          ),
          Bench.row(
            "soak",
            "#{name}: processes, last checkpoint - first",
            last.processes - first.processes,
            "",
            {:le, 0}
          )
        ]
      end

    List.flatten(phase_rows) ++
      [
        Bench.row("soak", "RSS at start", start.rss_kb / 1024, "MB", nil),
        Bench.row("soak", "RSS after warm-up (baseline)", baseline.rss_kb / 1024, "MB", nil),
        Bench.row("soak", "RSS at end", final.rss_kb / 1024, "MB", nil),
        Bench.row("soak", "peak RSS (VmHWM)", final.hwm_kb / 1024, "MB", nil),
        Bench.row(
          "soak",
          "erlang memory at end - baseline",
          (final.erlang_total - baseline.erlang_total) / 1_048_576,
          "MB",
          nil
        ),
        Bench.row("soak", "processes at start", start.processes, "", nil),
        Bench.row("soak", "processes at end", final.processes, "", nil),
        Bench.row(
          "soak",
          "processes at end - baseline",
          final.processes - baseline.processes,
          "",
          {:le, 0}
        ),
        Bench.row("soak", "ports at end - baseline", final.ports - baseline.ports, "", {:le, 0})
      ]
  end

  defp context(cycles, calls, phases) do
    {cpu, _} = System.cmd("sh", ["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"])

    [
      date: DateTime.utc_now() |> DateTime.truncate(:second) |> DateTime.to_iso8601(),
      machine: "#{String.trim(cpu)}, #{System.schedulers_online()} schedulers",
      otp: System.otp_release(),
      elixir: System.version(),
      workloads: "soak cycles=#{cycles} calls=#{calls} phases=#{Enum.join(phases, ",")}"
    ]
  end

  defp write_json(name, samples, rows, context) do
    File.mkdir_p!("bench/results")
    path = "bench/results/#{name}.json"

    encode = fn
      v when is_binary(v) -> inspect(v)
      v when is_integer(v) -> Integer.to_string(v)
      v when is_float(v) -> :erlang.float_to_binary(v, decimals: 4)
      nil -> "null"
      v when is_boolean(v) -> to_string(v)
    end

    object = fn pairs ->
      "{" <>
        Enum.map_join(pairs, ", ", fn {k, v} -> "#{inspect(to_string(k))}: #{encode.(v)}" end) <>
        "}"
    end

    row_objects =
      Enum.map(rows, fn row ->
        {kind, target} = row.target || {nil, nil}

        object.(
          id: row.id,
          figure: row.figure,
          value: row.value,
          unit: row.unit,
          target: target,
          target_kind: kind && Atom.to_string(kind),
          met: if(row.target, do: Bench.met?(row), else: nil)
        )
      end)

    sample_objects = Enum.map(samples, fn s -> object.(Map.to_list(s)) end)

    File.write!(path, """
    {
      "context": #{object.(context)},
      "checkpoints": [
        #{Enum.join(sample_objects, ",\n    ")}
      ],
      "rows": [
        #{Enum.join(row_objects, ",\n    ")}
      ]
    }
    """)

    path
  end

  defp rate(done, us) when us > 0, do: fmt(round(done * 1_000_000 / us))
  defp rate(_done, _us), do: "-"

  defp mb(bytes), do: "#{:erlang.float_to_binary(bytes / 1_048_576, decimals: 1)} MB"

  defp fmt(n) when is_integer(n) do
    n
    |> Integer.to_string()
    |> String.reverse()
    |> String.replace(~r/(\d{3})(?=\d)/, "\\1,")
    |> String.reverse()
  end
end

Bench.Soak.main(System.argv())
