# A supervised pool: workers are instances of one module compiled once; callers beyond
# the pool's size wait their turn; a crashed worker is replaced.
Code.require_file("guest.exs", __DIR__)

children = [
  {Wasmex.Pool,
   name: :wasm_pool, size: 4, bytes: Examples.Guest.bytes(), imports: Examples.Guest.imports()}
]

{:ok, _supervisor} = Supervisor.start_link(children, strategy: :one_for_one)

results =
  1..100
  |> Task.async_stream(fn n -> Wasmex.Pool.call_function(:wasm_pool, "add", [n, n]) end,
    max_concurrency: 20
  )
  |> Enum.map(fn {:ok, {:ok, [sum]}} -> sum end)

IO.puts("  100 concurrent calls on 4 workers, sum of results: #{Enum.sum(results)}")

[victim | _] = Wasmex.Pool.workers(:wasm_pool)
Process.exit(victim, :kill)
Process.sleep(10)

IO.puts(
  "  after a worker crash: #{length(Wasmex.Pool.workers(:wasm_pool))} workers, add(1, 1) = #{inspect(Wasmex.Pool.call_function(:wasm_pool, "add", [1, 1]))}"
)

result =
  Wasmex.Pool.transaction(
    :wasm_pool,
    fn pid -> Wasmex.call_function(pid, "add", [20, 22]) end,
    :timer.seconds(5)
  )

IO.puts("  poolboy-style transaction: #{inspect(result, charlists: :as_lists)}")
