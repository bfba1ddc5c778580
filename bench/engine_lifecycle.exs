# Engine life-cycle: memory over 10,000 compile/instantiate/call/drop cycles with the
# default Store.new() path (an engine per store, freed with it), against the same cycles
# compiling into one long-lived shared engine (wasmi never frees code compiled into an
# engine while the engine lives). Run with `mix run bench/engine_lifecycle.exs`.
Code.require_file("harness.exs", __DIR__)

defmodule Bench.EngineLifecycle do
  @cycles 10_000

  def cycles, do: @cycles

  def rss_kb do
    "/proc/self/status"
    |> File.read!()
    |> then(&Regex.run(~r/VmRSS:\s+(\d+) kB/, &1))
    |> Enum.at(1)
    |> String.to_integer()
  end

  # A small module, different in each cycle (a constant), as a real workload's would be.
  def wat(n) do
    ~s[(module (memory (export "memory") 1)
      (func (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.const #{n})))
      (func (export "g") (result i32) (i32.const #{n * 7})))]
  end

  # Runs the cycles in a fresh process (so its garbage is collected); returns RSS samples.
  def run(store_fun) do
    task =
      Task.async(fn ->
        for n <- 1..@cycles, reduce: [] do
          samples ->
            store = store_fun.()
            {:ok, module} = Wasmex.Module.compile(store, wat(n))
            {:ok, instance} = Wasmex.Instance.new(store, module, %{})
            {:ok, [_]} = Wasmex.Instance.call_function(store, instance, "f", [1])

            if rem(n, 1_000) == 0 do
              :erlang.garbage_collect()
              [rss_kb() | samples]
            else
              samples
            end
        end
        |> Enum.reverse()
      end)

    Task.await(task, :infinity)
  end
end

:erlang.garbage_collect()
before = Bench.EngineLifecycle.rss_kb()

default =
  Bench.EngineLifecycle.run(fn ->
    {:ok, store} = Wasmex.Store.new()
    store
  end)

{:ok, shared_engine} = Wasmex.Engine.new(%Wasmex.EngineConfig{})

shared =
  Bench.EngineLifecycle.run(fn ->
    {:ok, store} = Wasmex.Store.new(nil, shared_engine)
    store
  end)

# Growth from the first sample (after 1,000 cycles, allocators warm) to the last.
growth = fn samples -> List.last(samples) - hd(samples) end

per_cycle = fn samples ->
  Float.round(growth.(samples) * 1024 / (Bench.EngineLifecycle.cycles() - 1_000), 1)
end

IO.puts("RSS before: #{before} kB")
IO.puts("default path RSS every 1,000 cycles (kB): #{inspect(default)}")
IO.puts("shared engine RSS every 1,000 cycles (kB): #{inspect(shared)}")

rows = [
  {"W-E", "default Store.new(): RSS growth over 9,000 cycles", growth.(default), "kB",
   "flat (≤ 2,048 kB)", growth.(default) <= 2_048},
  {"W-E", "default Store.new(): growth per cycle", per_cycle.(default), "B", "-", true},
  {"W-E", "one shared engine: RSS growth over 9,000 cycles", growth.(shared), "kB",
   "grows (documented)", true},
  {"W-E", "one shared engine: growth per cycle", per_cycle.(shared), "B", "-", true}
]

Bench.table(rows)
IO.puts("\nwrote " <> Bench.write_results("engine_lifecycle", rows))
