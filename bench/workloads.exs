# The benchmark workloads W1–W10 (bench/README.md lists them), and E1, the engine life-cycle.
# Each module's `run/1` returns report rows; `bench/run.exs` runs them.

defmodule Bench.Guests do
  @moduledoc false
  @dir Path.expand("guests", __DIR__)

  def dir, do: @dir
  def bytes(file), do: File.read!(Path.join(@dir, file))

  def instance(file, engine \\ nil) do
    {:ok, store} = Wasmex.Store.new(nil, engine)
    {:ok, module} = Wasmex.Module.compile(store, bytes(file))
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    {store, instance}
  end

  @add ~S[(module
    (memory (export "memory") 1)
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))]

  def add_wat, do: @add

  # Runs `Module.function()` in a fresh `mix run` process (memory figures need an OS
  # process whose allocator has not been grown by other workloads) and returns its value.
  def isolated(module, function) do
    code =
      ~s[Code.require_file("bench/harness.exs"); Code.require_file("bench/workloads.exs"); ] <>
        ~s[IO.puts("RESULT " <> inspect(#{inspect(module)}.#{function}()))]

    {out, 0} = System.cmd("mix", ["run", "--no-compile", "-e", code], stderr_to_stdout: true)
    [_, value] = Regex.run(~r/RESULT (.+)/, out)
    {value, _} = Code.eval_string(value)
    value
  end

  # The raw-engine baseline (bench/raw), built once per run. `env` may give it the malloc
  # settings the BEAM runs with (see Bench.W4).
  def raw(mode, reps, env \\ [], field \\ "median_us") do
    {_, 0} =
      System.cmd("cargo", ["build", "--release", "--locked", "-q", "-p", "raw_bench"],
        stderr_to_stdout: true
      )

    {out, 0} =
      System.cmd(Path.expand("target/release/raw_bench"), [mode, @dir, "#{reps}"], env: env)

    for line <- String.split(out, "\n", trim: true), into: %{} do
      [_, name] = Regex.run(~r/"workload": "(\w+)"/, line)
      [_, value] = Regex.run(~r/"#{field}": (-?[\d.]+)/, line)
      {name, String.to_float(value)}
    end
  end
end

defmodule Bench.W1 do
  @moduledoc false
  # A trivial call, directly and through the Wasmex GenServer, against an empty NIF call.
  def run(_opts) do
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, Bench.Guests.add_wat())
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    {:ok, pid} = Wasmex.start_link(%{bytes: Bench.Guests.add_wat()})

    noop = Bench.per_call(fn -> Wasmex.Native.hook_noop() end)

    direct =
      Bench.per_call(fn -> Wasmex.Instance.call_function(store, instance, "add", [2, 3]) end)

    server = Bench.per_call(fn -> Wasmex.call_function(pid, "add", [2, 3]) end, 5_000, 50)
    GenServer.stop(pid)

    # A bare GenServer round trip (with a timeout, as above), the server path's own floor.
    {:ok, agent} = Agent.start_link(fn -> nil end)
    round_trip = Bench.per_call(fn -> Agent.get(agent, & &1, 5_000) end, 5_000, 50)
    Agent.stop(agent)

    # The same through a server whose instance has an Elixir import (not called): its
    # calls go through the runner process that bounds a callback that never returns.
    imports = %{"env" => %{"f" => {:fn, [], [], fn _context -> nil end}}}
    wat = String.replace(Bench.Guests.add_wat(), "(module", ~S[(module (import "env" "f" (func))])
    {:ok, pid} = Wasmex.start_link(%{bytes: wat, imports: imports})
    runner = Bench.per_call(fn -> Wasmex.call_function(pid, "add", [2, 3]) end, 5_000, 50)
    GenServer.stop(pid)

    [
      Bench.row("W1", "empty NIF call (floor)", noop, "µs", nil),
      Bench.row("W1", "Instance.call_function add", direct, "µs", {:le, 1.0}),
      Bench.row("W1", "add / empty NIF call", direct.median / noop.median, "x", nil),
      Bench.row("W1", "GenServer.call round trip (floor)", round_trip, "µs", nil),
      Bench.row("W1", "Wasmex.call_function(pid) add", server, "µs", {:le, 3.0}),
      Bench.row(
        "W1",
        "Wasmex.call_function(pid) p99 / median",
        server.p99 / server.median,
        "x",
        {:le, 3.0}
      ),
      Bench.row("W1", "Wasmex.call_function(pid) add, with imports", runner, "µs", nil)
    ]
  end
end

defmodule Bench.W2 do
  @moduledoc false
  # An Elixir import called once per call, and 10,000 times in one call.
  def run(_opts) do
    wat = ~S[(module
      (import "env" "inc" (func $inc (param i32) (result i32)))
      (func (export "none") (param i32) (result i32) (local.get 0))
      (func (export "once") (param i32) (result i32) (call $inc (local.get 0)))
      (func (export "many") (param $n i32) (result i32)
        (local $acc i32)
        (block $done
          (loop $next
            (br_if $done (i32.eqz (local.get $n)))
            (local.set $acc (call $inc (local.get $acc)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $next)))
        (local.get $acc)))]

    imports = %{"env" => %{"inc" => {:fn, [:i32], [:i32], fn _context, x -> x + 1 end}}}
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wat)
    {:ok, instance} = Wasmex.Instance.new(store, module, imports)
    call = &Wasmex.Instance.call_function(store, instance, &1, &2)

    none = Bench.per_call(fn -> call.("none", [1]) end)
    once = Bench.per_call(fn -> call.("once", [1]) end)
    many = Bench.per_call(fn -> call.("many", [10_000]) end, 5, 40)

    [
      Bench.row(
        "W2",
        "import round trip, 1 per call",
        %{median: once.median - none.median, p99: once.p99 - none.p99},
        "µs",
        {:le, 2.0}
      ),
      Bench.row(
        "W2",
        "import round trip, 10,000 per call",
        %{median: many.median / 10_000, p99: many.p99 / 10_000},
        "µs",
        {:le, 2.0}
      )
    ]
  end
end

defmodule Bench.W3 do
  @moduledoc false
  # Compute-bound guests through the API, against plain wasmi in the same process: the
  # hook `hook_call_raw` runs the same instance of the same compiled module with wasmi's
  # own `Func::call` (same wasmi build, same engine config, fuel metering on with the
  # user's fuel in one go; no slices, no budgets, no resumes) on a dirty scheduler.
  # Rounds alternate one API run and one raw run (ABAB). Each run is timed in wall time
  # and in the CPU time of the BEAM's scheduler threads (`Bench.tc_cpu/1`: on a machine
  # shared with other work, wall time mostly measures who else ran). The figures are the
  # medians of the rounds' ratios API / raw, the spread column their maximum. Every round
  # checks that both paths give the same result and use the same fuel.
  @workloads [
    {"fib", "fib.wasm", [], {"fib", [30]}},
    {"sha256", "sha256.wasm", [{"fill", [1_048_576, 1]}], {"sha256", [1_048_576]}},
    {"mix", "mix.wasm", [], {"run", [50]}}
  ]

  # Fuel the measured store starts with: metered, so that each round can compare the fuel
  # both paths used; far more than the rounds use.
  @fuel 1_000_000_000_000_000

  @doc false
  # {name, file, setup calls, the measured call}; W10 runs them too.
  def workloads, do: @workloads

  def run(opts) do
    rounds = Keyword.get(opts, :reps, 11)

    for {name, file, setup, {function, args}} <- @workloads do
      {:ok, store} = Wasmex.Store.new(%{fuel: @fuel})
      {:ok, module} = Wasmex.Module.compile(store, Bench.Guests.bytes(file))
      {:ok, instance} = Wasmex.Instance.new(store, module, %{})
      for {f, a} <- setup, do: {:ok, _} = Wasmex.Instance.call_function(store, instance, f, a)

      api = fn ->
        {:ok, before} = Wasmex.StoreOrCaller.get_fuel(store)

        {wall, cpu, {:ok, results}} =
          Bench.tc_cpu(fn -> Wasmex.Instance.call_function(store, instance, function, args) end)

        {:ok, left} = Wasmex.StoreOrCaller.get_fuel(store)
        {wall, cpu, {results, before - left}}
      end

      raw = fn ->
        {wall, cpu, {:ok, {results, _ns, fuel}}} =
          Bench.tc_cpu(fn ->
            Wasmex.Native.hook_call_raw(store.resource, instance.resource, function, args)
          end)

        {wall, cpu, {results, fuel}}
      end

      warm_up([api, raw], System.monotonic_time(:millisecond) + 300)

      samples =
        for _ <- 1..rounds do
          {api_wall, api_cpu, api_outcome} = api.()
          {raw_wall, raw_cpu, raw_outcome} = raw.()

          if api_outcome != raw_outcome do
            raise "W3 #{name}: API gave #{inspect(api_outcome)}, raw wasmi #{inspect(raw_outcome)}"
          end

          %{
            api: api_wall,
            raw: raw_wall,
            wall: api_wall / raw_wall,
            cpu: api_cpu && api_cpu / raw_cpu
          }
        end

      column = fn key -> samples |> Enum.map(&Map.fetch!(&1, key)) |> Bench.stats() end
      ratio = fn %{median: median, max: max} -> %{median: median, p99: max} end

      [
        Bench.row("W3", "#{name}: API", ms(column.(:api)), "ms", nil),
        Bench.row("W3", "#{name}: raw wasmi, same process", ms(column.(:raw)), "ms", nil),
        Bench.row("W3", "#{name}: API / raw, wall time", ratio.(column.(:wall)), "x", nil),
        if(hd(samples).cpu,
          do:
            Bench.row(
              "W3",
              "#{name}: API / raw, CPU time",
              ratio.(column.(:cpu)),
              "x",
              {:le, 1.03}
            )
        )
      ]
    end
    |> List.flatten()
    |> Enum.reject(&is_nil/1)
  end

  defp ms(%{median: median, p99: p99}), do: %{median: median / 1000, p99: p99 / 1000}

  defp warm_up(funs, until) do
    Enum.each(funs, & &1.())
    if System.monotonic_time(:millisecond) < until, do: warm_up(funs, until)
  end
end

defmodule Bench.W4 do
  @moduledoc false
  # Compile + instantiate (new store, new engine: the default path), against raw wasmi.
  #
  # ERTS tunes glibc's malloc (trim threshold), which freezes glibc's mmap threshold at
  # 128 KB: in the BEAM every allocation of 128 KB or more (a 2-page linear memory already)
  # is an mmap and a munmap, where a plain Rust process adapts the threshold and reuses
  # heap memory. The ratio is taken against raw wasmi under the BEAM's setting
  # (MALLOC_MMAP_THRESHOLD_=131072); raw wasmi with glibc's adaptive default is shown too.
  @modules [{"tiny", "fib.wasm"}, {"100k", "startup_100k.wasm"}, {"big", "startup_big.wasm"}]

  def run(opts) do
    reps = Keyword.get(opts, :reps, 9)
    raw = Bench.Guests.raw("startup", reps, [{"MALLOC_MMAP_THRESHOLD_", "131072"}])
    raw_default = Bench.Guests.raw("startup", reps)

    for {name, file} <- @modules do
      bytes = Bench.Guests.bytes(file)

      api =
        Bench.time(
          fn ->
            {:ok, store} = Wasmex.Store.new()
            {:ok, module} = Wasmex.Module.compile(store, bytes)
            {:ok, _} = Wasmex.Instance.new(store, module, %{})
          end,
          reps
        )

      ms = %{median: api.median / 1000, p99: api.p99 / 1000}
      ratio = api.median / raw[name]

      [
        Bench.row(
          "W4",
          "#{name} (#{div(byte_size(bytes), 1024)} KB): compile+instantiate",
          ms,
          "ms",
          if(name == "big", do: {:le, 50.0})
        ),
        Bench.row("W4", "#{name}: raw wasmi, BEAM's malloc setting", raw[name] / 1000, "ms", nil),
        Bench.row("W4", "#{name}: raw wasmi, glibc default", raw_default[name] / 1000, "ms", nil),
        Bench.row("W4", "#{name}: API / raw wasmi", ratio, "x", {:le, 1.1})
      ]
    end
    |> List.flatten()
  end
end

defmodule Bench.W5 do
  @moduledoc false
  # Memory.write_binary then read_binary of 1 MB.
  def run(_opts) do
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, ~S[(module (memory (export "memory") 32))])
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    {:ok, memory} = Wasmex.Instance.memory(store, instance, "memory")
    data = :crypto.strong_rand_bytes(1_048_576)

    stats =
      Bench.time(
        fn ->
          :ok = Wasmex.Memory.write_binary(store, memory, 0, data)
          {:ok, _} = Wasmex.Memory.read_binary(store, memory, 0, 1_048_576)
        end,
        200
      )

    gbps = fn us -> 2 * 1_048_576 / (us * 1000) end

    [
      Bench.row(
        "W5",
        "write + read 1 MB of memory",
        %{median: gbps.(stats.median), p99: gbps.(stats.p99)},
        "GB/s",
        {:ge, 2.0}
      )
    ]
  end
end

defmodule Bench.W6 do
  @moduledoc false
  # A WASI program (test/fixtures/wasi/wasi_tool.c) writing 1 MB to a stdout pipe and
  # reading 1 MB of stdin.
  @tool Path.expand("../test/fixtures/wasi/wasi_tool.wasm", __DIR__)
  @size 1_048_576

  def run(_opts) do
    write = throughput(["bigout", "#{@size}"], "")
    read = throughput(["count-stdin"], :binary.copy("x", @size))

    [
      Bench.row("W6", "WASI: 1 MB to a stdout pipe", write, "MB/s", {:ge, 200}),
      Bench.row("W6", "WASI: 1 MB from a stdin pipe", read, "MB/s", {:ge, 200})
    ]
  end

  defp throughput(args, input) do
    {:ok, engine} = Wasmex.Engine.new(%Wasmex.EngineConfig{})
    {:ok, store} = Wasmex.Store.new(nil, engine)
    {:ok, module} = Wasmex.Module.compile(store, File.read!(@tool))

    for _ <- 1..15 do
      {:ok, stdin} = Wasmex.Pipe.new()
      {:ok, _} = Wasmex.Pipe.write(stdin, input)
      :ok = Wasmex.Pipe.seek(stdin, 0)
      {:ok, stdout} = Wasmex.Pipe.new()
      options = %Wasmex.Wasi.WasiOptions{args: ["wasi_tool" | args], stdin: stdin, stdout: stdout}
      {:ok, store} = Wasmex.Store.new_wasi(options, nil, engine)
      {:ok, instance} = Wasmex.Instance.new(store, module, %{})

      {us, {:ok, []}} =
        :timer.tc(fn -> Wasmex.Instance.call_function(store, instance, "_start", []) end)

      @size / us
    end
    |> Bench.stats()
  end
end

defmodule Bench.W7 do
  @moduledoc false
  # 2 × schedulers processes run guest loops; a probe asks to be woken every 1 ms.
  def run(opts) do
    busy_ms = Keyword.get(opts, :busy_ms, 2_500)
    idle = probe(1_000, 0)
    busy = probe(busy_ms, 2 * System.schedulers_online())

    [
      Bench.row("W7", "probe lateness, idle BEAM (timer granularity)", idle, "ms", nil),
      Bench.row("W7", "probe lateness p99, 2×schedulers guests", busy.p99, "ms", {:le, 2.0}),
      Bench.row("W7", "probe lateness max, 2×schedulers guests", busy.max, "ms", {:le, 10.0}),
      Bench.row("W7", "probe lateness median, 2×schedulers guests", busy.median, "ms", nil)
    ]
  end

  defp probe(busy_ms, spinners) do
    spin = ~S[(module (func (export "spin") (loop (br 0))))]
    parent = self()

    for _ <- 1..spinners//1 do
      spawn(fn ->
        {:ok, store} = Wasmex.Store.new()
        {:ok, module} = Wasmex.Module.compile(store, spin)
        {:ok, instance} = Wasmex.Instance.new(store, module, %{})
        send(parent, :spinning)
        Wasmex.Instance.call_function(store, instance, "spin", [], timeout: busy_ms)
        send(parent, :spun)
      end)
    end

    for _ <- 1..spinners//1, do: receive(do: (:spinning -> :ok))
    lateness = probe_loop(System.monotonic_time(:microsecond) + (busy_ms - 300) * 1000, [])
    for _ <- 1..spinners//1, do: receive(do: (:spun -> :ok))
    Bench.stats(lateness)
  end

  defp probe_loop(until, acc) do
    asked = System.monotonic_time(:microsecond)

    if asked > until do
      acc
    else
      receive do
      after
        1 -> :ok
      end

      probe_loop(until, [
        max((System.monotonic_time(:microsecond) - asked - 1000) / 1000, 0.0) | acc
      ])
    end
  end
end

defmodule Bench.W8 do
  @moduledoc false
  # Footprint: the stripped NIF, the memory of 10,000 live instances (a small module with
  # a 1-page, a 16-page and no linear memory), and what big linear memories and big
  # functions cost: time, the longest hold of a normal scheduler (`long_schedule`, only
  # holds over 1 ms are reported: 0 means none), and resident memory. Memory figures run
  # in fresh OS processes (Bench.Guests.isolated).
  @instances 10_000
  @gib 1_073_741_824

  def run(_opts) do
    so = Application.app_dir(:wasmex_interp, "priv/native/libwasmex_interp.so")
    stripped = Path.join(System.tmp_dir!(), "libwasmex_interp.stripped.so")
    {_, 0} = System.cmd("strip", ["-o", stripped, so])
    size_mb = File.stat!(stripped).size / 1_048_576
    big = Bench.Guests.isolated(__MODULE__, :big_memories)

    [
      Bench.row("W8", "NIF size, stripped (x86_64)", size_mb, "MB", {:le, 6.0}),
      Bench.row(
        "W8",
        "RSS per live instance, 1-page memory (shared engine)",
        Bench.Guests.isolated(__MODULE__, :one_page),
        "KB",
        {:le, 12}
      ),
      Bench.row(
        "W8",
        "RSS per live instance, 16-page memory (shared engine)",
        Bench.Guests.isolated(__MODULE__, :sixteen_pages),
        "KB",
        nil
      ),
      Bench.row(
        "W8",
        "RSS per live instance, no memory (shared engine)",
        Bench.Guests.isolated(__MODULE__, :no_memory),
        "KB",
        nil
      ),
      Bench.row(
        "W8",
        "RSS per live instance, 10,000 in one store, no memory",
        Bench.Guests.isolated(__MODULE__, :one_store_no_memory),
        "KB",
        {:le, 2}
      ),
      Bench.row(
        "W8",
        "RSS per live instance, 10,000 in one store, 1-page memory",
        Bench.Guests.isolated(__MODULE__, :one_store_one_page),
        "KB",
        {:le, 2}
      ),
      Bench.row(
        "W8",
        "RSS per live instance, 1-page memory (Store.new(), own engine)",
        Bench.Guests.isolated(__MODULE__, :own_engine),
        "KB",
        nil
      ),
      Bench.row("W8", "guest memory.grow of 1 GiB", big.grow_1g_ms, "ms", nil),
      Bench.row("W8", "  its longest normal-scheduler hold", big.grow_1g_hold, "ms", {:le, 2}),
      Bench.row("W8", "RSS after touching 1 page of a 1 GiB memory", big.touched_mb, "MB", nil),
      Bench.row("W8", "guest memory.grow of 2 GiB", big.grow_2g_ms, "ms", nil),
      Bench.row("W8", "  its longest normal-scheduler hold", big.grow_2g_hold, "ms", {:le, 2}),
      Bench.row("W8", "Instance.new, tiny module with a 1 GiB memory", big.new_1g_ms, "ms", nil),
      Bench.row("W8", "  its longest normal-scheduler hold", big.new_1g_hold, "ms", {:le, 2}),
      Bench.row("W8", "first call of a 7.5 MB function", big.first_call_ms, "ms", nil),
      Bench.row("W8", "  its longest normal-scheduler hold", big.first_call_hold, "ms", {:le, 2}),
      Bench.row("W8", "  compiling its module (dirty scheduler)", big.compile_ms, "ms", nil)
    ]
  end

  def one_page, do: per_instance(wat("(memory (export \"memory\") 1)"), true)
  def sixteen_pages, do: per_instance(wat("(memory (export \"memory\") 16)"), true)
  def no_memory, do: per_instance(wat(""), true)
  def own_engine, do: per_instance(wat("(memory (export \"memory\") 1)"), false)
  def one_store_no_memory, do: in_one_store(wat(""))
  def one_store_one_page, do: in_one_store(wat("(memory (export \"memory\") 1)"))

  defp wat(memory) do
    ~s[(module #{memory}
      (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))]
  end

  defp per_instance(wat, shared) do
    engine = if shared, do: elem(Wasmex.Engine.new(%Wasmex.EngineConfig{}), 1)
    {:ok, store} = Wasmex.Store.new(nil, engine)
    {:ok, module} = Wasmex.Module.compile(store, wat)
    :erlang.garbage_collect()
    before = rss_kb()

    live =
      for _ <- 1..@instances do
        {:ok, store} = Wasmex.Store.new(nil, engine)
        module = if shared, do: module, else: elem(Wasmex.Module.compile(store, wat), 1)
        {:ok, instance} = Wasmex.Instance.new(store, module, %{})
        {:ok, [5]} = Wasmex.Instance.call_function(store, instance, "add", [2, 3])
        {store, instance}
      end

    :erlang.garbage_collect()
    grown = rss_kb() - before
    # `live` is used after the measure: the instances are alive while it is taken.
    @instances = length(live)
    grown / @instances
  end

  defp in_one_store(wat) do
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wat)
    :erlang.garbage_collect()
    before = rss_kb()
    live = for _ <- 1..@instances, do: elem(Wasmex.Instance.new(store, module, %{}), 1)
    :erlang.garbage_collect()
    grown = rss_kb() - before
    @instances = length(live)
    grown / @instances
  end

  @grows ~S[(module
    (memory (export "memory") 1)
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "touch") (param i32) (result i32)
      (i32.store8 (local.get 0) (i32.const 1))
      (i32.load8_u (local.get 0))))]

  def big_memories do
    pages = div(@gib, 65_536)
    {store, instance} = instantiate(@grows)
    :erlang.garbage_collect()
    before = rss_kb()

    {grow_1g_ms, grow_1g_hold, {:ok, [1]}} =
      held(fn -> call(store, instance, "grow", [pages]) end)

    {:ok, [1]} = call(store, instance, "touch", [@gib + 65_535])
    touched_mb = (rss_kb() - before) / 1024

    {store, instance} = instantiate(@grows)

    {grow_2g_ms, grow_2g_hold, {:ok, [1]}} =
      held(fn -> call(store, instance, "grow", [2 * pages]) end)

    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, "(module (memory #{pages}))")
    {new_1g_ms, new_1g_hold, {:ok, _}} = held(fn -> Wasmex.Instance.new(store, module, %{}) end)

    {:ok, store} = Wasmex.Store.new()
    bytes = big_function(1_070_000)
    {compile_us, {:ok, module}} = :timer.tc(fn -> Wasmex.Module.compile(store, bytes) end)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})

    {first_call_ms, first_call_hold, {:ok, [_]}} =
      held(fn -> Wasmex.Instance.call_function(store, instance, "big", []) end)

    %{
      grow_1g_ms: grow_1g_ms,
      grow_1g_hold: grow_1g_hold,
      touched_mb: touched_mb,
      grow_2g_ms: grow_2g_ms,
      grow_2g_hold: grow_2g_hold,
      new_1g_ms: new_1g_ms,
      new_1g_hold: new_1g_hold,
      first_call_ms: first_call_ms,
      first_call_hold: first_call_hold,
      compile_ms: compile_us / 1000
    }
  end

  defp instantiate(wat) do
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, wat)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    {store, instance}
  end

  defp call(store, instance, name, args),
    do: Wasmex.Instance.call_function(store, instance, name, args)

  # Runs `fun` in a fresh process under a `long_schedule` monitor of 1 ms. Returns its wall
  # time in ms, the longest hold of a normal scheduler by that process in ms (0 when none
  # was over 1 ms) and its result.
  defp held(fun) do
    parent = self()

    {pid, ref} =
      spawn_monitor(fn ->
        receive do
          :go -> send(parent, {:done, self(), :timer.tc(fun)})
        end
      end)

    previous = :erlang.system_monitor(self(), [{:long_schedule, 1}])
    send(pid, :go)

    {us, result} =
      receive do
        {:done, ^pid, timed} -> timed
      end

    receive do
      {:DOWN, ^ref, _, _, _} -> :ok
    end

    restore(previous)
    {us / 1000, longest_hold(pid, 0), result}
  end

  defp restore(:undefined), do: :erlang.system_monitor(:undefined)
  defp restore(previous), do: :erlang.system_monitor(previous)

  defp longest_hold(pid, longest) do
    receive do
      {:monitor, ^pid, :long_schedule, info} ->
        longest_hold(pid, max(longest, Keyword.fetch!(info, :timeout)))
    after
      0 -> longest
    end
  end

  # A module whose export "big" is one function of `reps` times
  # `local.get 0; i32.const 1; i32.add; local.set 0` (7 bytes each).
  defp big_function(reps) do
    body =
      <<1, 1, 0x7F>> <>
        :binary.copy(<<0x20, 0, 0x41, 1, 0x6A, 0x21, 0>>, reps) <> <<0x20, 0, 0x0B>>

    code = <<1>> <> leb(byte_size(body)) <> body

    <<0, "asm", 1, 0, 0, 0>> <>
      section(1, <<1, 0x60, 0, 1, 0x7F>>) <>
      section(3, <<1, 0>>) <>
      section(7, <<1, 3, "big", 0, 0>>) <>
      section(10, code)
  end

  defp section(id, body), do: <<id>> <> leb(byte_size(body)) <> body

  defp leb(n) when n < 0x80, do: <<n>>
  defp leb(n), do: <<Bitwise.bor(Bitwise.band(n, 0x7F), 0x80)>> <> leb(Bitwise.bsr(n, 7))

  def rss_kb do
    [_, kb] = Regex.run(~r/VmRSS:\s+(\d+) kB/, File.read!("/proc/self/status"))
    String.to_integer(kb)
  end
end

defmodule Bench.W9 do
  @moduledoc false
  # Throughput: 100 processes, each with its own store, calling add; 1 then 2 schedulers.
  def run(opts) do
    seconds = Keyword.get(opts, :seconds, 5)
    online = System.schedulers_online()
    one = rate(1, seconds)
    all = rate(online, seconds)
    :erlang.system_flag(:schedulers_online, online)

    [
      Bench.row("W9", "calls/s, 100 processes, 1 scheduler", one, "calls/s", nil),
      Bench.row(
        "W9",
        "calls/s, 100 processes, #{online} schedulers",
        all,
        "calls/s",
        {:ge, 1_000_000}
      ),
      Bench.row("W9", "scaling 1 → #{online} schedulers", all / one, "x", nil)
    ]
  end

  defp rate(schedulers, seconds) do
    :erlang.system_flag(:schedulers_online, schedulers)
    parent = self()
    stop_at = System.monotonic_time(:millisecond) + seconds * 1000

    for _ <- 1..100 do
      spawn_link(fn ->
        {:ok, store} = Wasmex.Store.new()
        {:ok, module} = Wasmex.Module.compile(store, Bench.Guests.add_wat())
        {:ok, instance} = Wasmex.Instance.new(store, module, %{})
        send(parent, {:count, loop(store, instance, stop_at, 0)})
      end)
    end

    total = Enum.sum(for _ <- 1..100, do: receive(do: ({:count, n} -> n)))
    total / seconds
  end

  defp loop(store, instance, stop_at, n) do
    if rem(n, 1000) == 0 and System.monotonic_time(:millisecond) >= stop_at do
      n
    else
      {:ok, [5]} = Wasmex.Instance.call_function(store, instance, "add", [2, 3])
      loop(store, instance, stop_at, n + 1)
    end
  end
end

defmodule Bench.W10 do
  @moduledoc false
  # Fuel slicing: the W3 guests with 10,000-fuel slices against one slice for the call,
  # alternated so that both see the same machine, in CPU time (`Bench.tc_cpu/1`). Then
  # what one resume costs (bench/raw `resume`, plain Rust): wasmi's own, and a slice of
  # wasmex_core's (wasmi's resume, the fuel bookkeeping and the budget's clock).

  def run(opts) do
    reps = Keyword.get(opts, :reps, 9)

    ratios =
      for {name, file, setup, {function, args}} <- Bench.W3.workloads() do
        {store, instance} = Bench.Guests.instance(file)
        for {f, a} <- setup, do: {:ok, _} = Wasmex.Instance.call_function(store, instance, f, a)
        {:ok, _} = Wasmex.Instance.call_function(store, instance, function, args)

        samples =
          for _ <- 1..reps, slice <- [1_000_000_000_000, 10_000] do
            :ok = Wasmex.Native.hook_set_slice(store.resource, slice)

            {wall, cpu, {:ok, _}} =
              Bench.tc_cpu(fn ->
                Wasmex.Instance.call_function(store, instance, function, args)
              end)

            {slice, cpu || wall}
          end

        median = fn slice ->
          samples
          |> Enum.filter(&(elem(&1, 0) == slice))
          |> Enum.map(&elem(&1, 1))
          |> Bench.stats()
          |> Map.fetch!(:median)
        end

        Bench.row(
          "W10",
          "#{name}: 10k-fuel slices / one slice",
          median.(10_000) / median.(1_000_000_000_000),
          "x",
          {:le, 1.05}
        )
      end

    resume = Bench.Guests.raw("resume", 15, [], "ns_per_resume")

    ratios ++
      [
        Bench.row("W10", "one resume, wasmi alone", resume["wasmi"], "ns", nil),
        Bench.row(
          "W10",
          "one slice through wasmex_core (resume, fuel, clock)",
          resume["wasmex_core"],
          "ns",
          nil
        )
      ]
  end
end

defmodule Bench.E1 do
  @moduledoc false
  # Engine life-cycle: RSS over 10,000 compile/instantiate/call/drop cycles on
  # the default Store.new() path, against compiling into one shared engine.
  @cycles 10_000

  def run(_opts) do
    default = Bench.Guests.isolated(__MODULE__, :default)
    shared = Bench.Guests.isolated(__MODULE__, :shared)
    growth = fn samples -> List.last(samples) - hd(samples) end

    [
      Bench.row(
        "E1",
        "default Store.new(): RSS growth, 9,000 cycles",
        growth.(default),
        "kB",
        {:le, 2048}
      ),
      Bench.row("E1", "one shared engine: RSS growth, 9,000 cycles", growth.(shared), "kB", nil)
    ]
  end

  def default, do: cycles(fn -> elem(Wasmex.Store.new(), 1) end)

  def shared do
    {:ok, engine} = Wasmex.Engine.new(%Wasmex.EngineConfig{})
    cycles(fn -> elem(Wasmex.Store.new(nil, engine), 1) end)
  end

  defp cycles(store_fun) do
    Task.async(fn ->
      for n <- 1..@cycles, reduce: [] do
        samples ->
          store = store_fun.()

          wat =
            ~s[(module (func (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.const #{n}))))]

          {:ok, module} = Wasmex.Module.compile(store, wat)
          {:ok, instance} = Wasmex.Instance.new(store, module, %{})
          {:ok, [_]} = Wasmex.Instance.call_function(store, instance, "f", [1])

          if rem(n, 1_000) == 0 do
            :erlang.garbage_collect()
            [Bench.W8.rss_kb() | samples]
          else
            samples
          end
      end
      |> Enum.reverse()
    end)
    |> Task.await(:infinity)
  end
end
