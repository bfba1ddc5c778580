# W7: BEAM responsiveness while guests compute. 2 × schedulers processes each run a guest
# loop for 2.5 s; a probe asks to be woken every 1 ms and records how late it wakes.
# Run with `mix run bench/responsiveness.exs`.
Code.require_file("harness.exs", __DIR__)

defmodule Bench.Responsiveness do
  def run(busy_ms \\ 2_500, spinners \\ 2 * System.schedulers_online()) do
    spin = ~S[(module (func (export "spin") (loop (br 0))))]
    parent = self()

    spinners =
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

    for _ <- spinners, do: receive(do: (:spinning -> :ok))
    delays = probe(System.monotonic_time(:microsecond) + (busy_ms - 300) * 1000, [])
    for _ <- spinners, do: receive(do: (:spun -> :ok))
    Bench.stats(delays)
  end

  # Asks to be woken after 1 ms, again and again; returns the lateness of each wake-up, ms.
  defp probe(until, delays) do
    asked = System.monotonic_time(:microsecond)

    if asked > until do
      delays
    else
      receive do
      after
        1 -> :ok
      end

      late = (System.monotonic_time(:microsecond) - asked - 1000) / 1000
      probe(until, [max(late, 0.0) | delays])
    end
  end
end

idle = Bench.Responsiveness.run(1_000, 0)
busy = Bench.Responsiveness.run()

rows = [
  {"W7", "probe delay, idle BEAM (reference)", idle, "ms", "-", true},
  {"W7", "probe delay p99 (2×schedulers guests)", busy.p99, "ms", "≤ 2 ms", busy.p99 <= 2.0},
  {"W7", "probe delay max", busy.max, "ms", "≤ 10 ms", busy.max <= 10.0},
  {"W7", "probe delay median", busy.median, "ms", "-", true}
]

Bench.table(rows)
IO.puts("\nwrote " <> Bench.write_results("responsiveness", rows))
