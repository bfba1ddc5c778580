defmodule Bench do
  @moduledoc false
  # The project's own benchmark harness (benchee needs hex): warm up, then time batches
  # of calls and report the median and p99 of the per-call time over the batches.

  @doc "Runs `fun` `batch` times per sample, `samples` times; returns stats in µs per call."
  def per_call(fun, batch \\ 10_000, samples \\ 100) do
    for _ <- 1..3, do: run_batch(fun, batch)
    times = for _ <- 1..samples, do: run_batch(fun, batch) / batch
    stats(times)
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

  @doc "Prints rows `{id, figure, stats_or_value, unit, target, met?}` as a table."
  def table(rows) do
    header = ["id", "figure", "median", "p99", "target", "met"]

    lines =
      for {id, figure, value, unit, target, met} <- rows do
        {median, p99} =
          case value do
            %{median: m, p99: p} -> {fmt(m, unit), fmt(p, unit)}
            v -> {fmt(v, unit), "-"}
          end

        [id, figure, median, p99, target, if(met, do: "yes", else: "NO")]
      end

    widths =
      Enum.zip_with([header | lines], fn col ->
        col |> Enum.map(&String.length/1) |> Enum.max()
      end)

    for line <- [header | lines] do
      line
      |> Enum.zip(widths)
      |> Enum.map_join("  ", fn {cell, w} -> String.pad_trailing(cell, w) end)
      |> IO.puts()
    end
  end

  defp fmt(v, unit) when is_float(v), do: :erlang.float_to_binary(v, decimals: 3) <> " " <> unit
  defp fmt(v, unit), do: "#{v} #{unit}"

  @doc "Writes `rows` as JSON lines-free JSON to bench/results/<name>-<timestamp>.json."
  def write_results(name, rows) do
    File.mkdir_p!("bench/results")
    stamp = DateTime.utc_now() |> DateTime.to_iso8601(:basic) |> String.slice(0, 15)
    path = "bench/results/#{name}-#{stamp}.json"

    json =
      rows
      |> Enum.map(fn {id, figure, value, unit, target, met} ->
        value = if is_map(value), do: value, else: %{value: value}

        fields =
          [{"id", id}, {"figure", figure}, {"unit", unit}, {"target", target}, {"met", met}] ++
            Enum.map(value, fn {k, v} -> {Atom.to_string(k), v} end)

        "{" <> Enum.map_join(fields, ", ", fn {k, v} -> "#{inspect(k)}: #{json(v)}" end) <> "}"
      end)
      |> Enum.join(",\n  ")

    File.write!(path, "[\n  " <> json <> "\n]\n")
    path
  end

  defp json(v) when is_binary(v), do: inspect(v)
  defp json(v) when is_boolean(v), do: to_string(v)
  defp json(v) when is_float(v), do: :erlang.float_to_binary(v, decimals: 4)
  defp json(v) when is_integer(v), do: Integer.to_string(v)
end
