defmodule Bench do
  @moduledoc false
  # The project's own benchmark harness (benchee needs hex): timing, statistics, and the
  # report (a table, a JSON file and an SVG chart under bench/results/).
  #
  # A row is a map: %{id: "W1", figure: "...", value: number, p99: number | nil,
  # unit: "µs", target: {:le | :ge, number} | nil}. `met` is derived from the target.

  @doc "Runs `fun` `batch` times per sample, `samples` times; µs per call."
  def per_call(fun, batch \\ 10_000, samples \\ 100) do
    for _ <- 1..3, do: run_batch(fun, batch)
    for(_ <- 1..samples, do: run_batch(fun, batch) / batch) |> stats()
  end

  defp run_batch(fun, n) do
    {us, _} = :timer.tc(fn -> loop(fun, n) end)
    us
  end

  defp loop(_fun, 0), do: :ok

  defp loop(fun, n) do
    fun.()
    loop(fun, n - 1)
  end

  @doc """
  `{wall µs, CPU µs, result}` of `fun`: the CPU time is what the whole BEAM (every
  thread) used meanwhile, from the OS's process CPU clock (`nil` where there is none), so
  that other processes on a busy machine do not count.
  """
  def tc_cpu(fun) do
    cpu0 = Wasmex.Native.hook_cpu_time()
    {us, result} = :timer.tc(fun)
    cpu1 = Wasmex.Native.hook_cpu_time()
    {us, cpu1 && (cpu1 - cpu0) / 1000, result}
  end

  @doc "Median wall time of `reps` runs of `fun`, in µs, and p99, after warming up for 0.3 s."
  def time(fun, reps) do
    warm_up(fun, System.monotonic_time(:millisecond) + 300)
    for(_ <- 1..reps, do: elem(:timer.tc(fun), 0)) |> stats()
  end

  defp warm_up(fun, until) do
    fun.()
    if System.monotonic_time(:millisecond) < until, do: warm_up(fun, until)
  end

  @doc "Median, p99, min and max of a list of numbers."
  def stats(values) do
    sorted = Enum.sort(values)
    n = length(sorted)

    %{
      median: Enum.at(sorted, div(n, 2)),
      p99: Enum.at(sorted, min(n - 1, round(n * 0.99))),
      min: hd(sorted),
      max: List.last(sorted)
    }
  end

  @doc "A row from stats (median as the value, with its p99) or from a single number."
  def row(id, figure, %{median: median, p99: p99}, unit, target),
    do: %{id: id, figure: figure, value: median, p99: p99, unit: unit, target: target}

  def row(id, figure, value, unit, target),
    do: %{id: id, figure: figure, value: value, p99: nil, unit: unit, target: target}

  def met?(%{target: nil}), do: true
  def met?(%{target: {:le, target}, value: value}), do: value <= target
  def met?(%{target: {:ge, target}, value: value}), do: value >= target

  defp target_text(nil), do: "-"
  defp target_text({:le, n}), do: "≤ #{number(n)}"
  defp target_text({:ge, n}), do: "≥ #{number(n)}"

  def number(n) when is_integer(n), do: Integer.to_string(n)
  def number(n) when n >= 100, do: :erlang.float_to_binary(n * 1.0, decimals: 0)
  def number(n) when n >= 10, do: :erlang.float_to_binary(n * 1.0, decimals: 1)
  def number(n), do: :erlang.float_to_binary(n * 1.0, decimals: 3)

  @doc "Prints `rows` as one table."
  def table(rows) do
    header = ["id", "figure", "median", "p99/spread", "target", "met"]

    lines =
      for row <- rows do
        p99 = if row.p99, do: "#{number(row.p99)} #{row.unit}", else: "-"

        [
          row.id,
          row.figure,
          "#{number(row.value)} #{row.unit}",
          p99,
          "#{target_text(row.target)} #{if row.target, do: row.unit, else: ""}",
          cond do
            row.target == nil -> "-"
            met?(row) -> "yes"
            true -> "NO"
          end
        ]
      end

    columns(header, lines)
  end

  @doc "Prints `header` and `lines` (lists of strings) in aligned columns."
  def columns(header, lines) do
    widths =
      Enum.zip_with([header | lines], fn col ->
        col |> Enum.map(&String.length/1) |> Enum.max()
      end)

    for line <- [header | lines] do
      line
      |> Enum.zip(widths)
      |> Enum.map_join("  ", fn {cell, w} -> String.pad_trailing(cell, w) end)
      |> String.trim_trailing()
      |> IO.puts()
    end
  end

  @doc "Writes `rows` to bench/results/<name>.json and a chart to <name>.svg; returns the paths."
  def write_results(name, rows, context) do
    File.mkdir_p!("bench/results")
    json_path = "bench/results/#{name}.json"
    svg_path = "bench/results/#{name}.svg"
    File.write!(json_path, json(rows, context))
    File.write!(svg_path, svg(rows, context))
    [json_path, svg_path]
  end

  defp json(rows, context) do
    encoded =
      Enum.map_join(rows, ",\n    ", fn row ->
        {kind, target} = row.target || {nil, nil}

        fields = [
          {"id", row.id},
          {"figure", row.figure},
          {"value", row.value},
          {"p99", row.p99},
          {"unit", row.unit},
          {"target", target},
          {"target_kind", kind && Atom.to_string(kind)},
          {"met", if(row.target, do: met?(row), else: nil)}
        ]

        "{" <>
          Enum.map_join(fields, ", ", fn {k, v} -> "#{inspect(k)}: #{json_value(v)}" end) <> "}"
      end)

    context_fields =
      Enum.map_join(context, ", ", fn {k, v} -> "#{inspect(to_string(k))}: #{json_value(v)}" end)

    "{\n  \"context\": {#{context_fields}},\n  \"rows\": [\n    #{encoded}\n  ]\n}\n"
  end

  defp json_value(nil), do: "null"
  defp json_value(v) when is_binary(v), do: inspect(v)
  defp json_value(v) when is_boolean(v), do: to_string(v)
  defp json_value(v) when is_integer(v), do: Integer.to_string(v)
  defp json_value(v) when is_float(v), do: :erlang.float_to_binary(v, decimals: 4)

  # A horizontal bar per figure with a target: the bar is the share of the target used
  # (measured / target for "≤", target / measured for "≥"), so every bar left of the
  # target line meets its target.
  defp svg(rows, context) do
    rows = Enum.filter(rows, & &1.target)
    bar_height = 22
    left = 330
    width = 900
    scale = 400
    height = 90 + length(rows) * bar_height

    bars =
      rows
      |> Enum.with_index()
      |> Enum.map(fn {row, i} ->
        share =
          case row.target do
            {:le, t} -> row.value / t
            {:ge, t} -> if row.value > 0, do: t / row.value, else: 10.0
          end

        y = 60 + i * bar_height
        w = min(share, 2.0) * scale
        color = if met?(row), do: "#3a9a5b", else: "#c8553d"
        label = escape("#{row.id} #{row.figure}")

        value =
          escape(
            "#{number(row.value)} #{row.unit} (target #{target_text(row.target)} #{row.unit})"
          )

        """
        <text x="#{left - 8}" y="#{y + 15}" text-anchor="end" font-size="12">#{label}</text>
        <rect x="#{left}" y="#{y + 3}" width="#{Float.round(w, 1)}" height="#{bar_height - 6}" fill="#{color}"/>
        <text x="#{left + Float.round(w, 1) + 6}" y="#{y + 15}" font-size="11" fill="#333">#{value}</text>
        """
      end)

    title = escape("wasmex_interp benchmarks — #{context[:date]} — #{context[:machine]}")

    """
    <svg xmlns="http://www.w3.org/2000/svg" width="#{width + 300}" height="#{height}" font-family="sans-serif">
    <rect width="100%" height="100%" fill="white"/>
    <text x="10" y="24" font-size="15" font-weight="bold">#{title}</text>
    <text x="10" y="44" font-size="11" fill="#555">bar = share of the target used (left of the line: target met; capped at 2x)</text>
    <line x1="#{left + scale}" y1="52" x2="#{left + scale}" y2="#{height - 10}" stroke="#333" stroke-dasharray="4 3"/>
    <text x="#{left + scale + 4}" y="#{height - 12}" font-size="11">target</text>
    #{Enum.join(bars)}
    </svg>
    """
  end

  defp escape(text) do
    text
    |> String.replace("&", "&amp;")
    |> String.replace("<", "&lt;")
    |> String.replace(">", "&gt;")
  end
end
