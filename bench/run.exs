# The benchmark suite: `mix run bench/run.exs [W1 W2 ...]` (all workloads by default).
# Prints one table and writes bench/results/<date>.json and .svg. See ../README.md.
Code.require_file("harness.exs", __DIR__)
Code.require_file("workloads.exs", __DIR__)
Code.require_file("long_schedule.exs", __DIR__)
Code.require_file("cluster.exs", __DIR__)

all = ~w(W1 W2 W3 W4 W5 W6 W7 W8 W9 W10 E1 C1)
# Run only when asked for: LS takes about a minute and 3 GB of memory.
known = all ++ ~w(LS)
selected = if System.argv() == [], do: all, else: Enum.map(System.argv(), &String.upcase/1)

unknown = selected -- known

if unknown != [],
  do: Mix.raise("unknown workloads: #{Enum.join(unknown, ", ")}; known: #{Enum.join(known, " ")}")

rows =
  for id <- selected do
    module = Module.concat(Bench, id)
    {us, rows} = :timer.tc(fn -> module.run([]) end)
    IO.puts(:stderr, "#{id} done in #{div(us, 1_000_000)} s")
    rows
  end
  |> List.flatten()

{cpu, _} = System.cmd("sh", ["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"])

context = [
  date: DateTime.utc_now() |> DateTime.truncate(:second) |> DateTime.to_iso8601(),
  machine: "#{String.trim(cpu)}, #{System.schedulers_online()} schedulers",
  otp: System.otp_release(),
  elixir: System.version(),
  workloads: Enum.join(selected, " ")
]

IO.puts("")
Bench.table(rows)
stamp = context[:date] |> String.replace(~r/[-:]/, "") |> String.slice(0, 15)
paths = Bench.write_results(stamp, rows, context)
IO.puts("\nwrote #{Enum.join(paths, " and ")}")
missed = Enum.reject(rows, &Bench.met?/1)

IO.puts(
  "#{length(rows) - length(missed)} of #{length(rows)} figures met their targets (or have none)"
)
