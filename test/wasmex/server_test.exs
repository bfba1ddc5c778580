defmodule Wasmex.ServerTest do
  # The Wasmex GenServer under load: calls past their timeout, and bursts of callers that
  # give up. Each test runs on both kinds of server: one whose instance has no Elixir
  # imports (it runs its calls itself) and one whose instance has (its calls run in a
  # runner process). Not async: the tests load both schedulers and count on them.
  use ExUnit.Case, async: false

  alias Wasmex.{Deadline, Instance}

  # `spin` counts its runs in the global `runs`, then loops for ever; `hang` calls an
  # Elixir import that never returns.
  @body ~S[
    (global $runs (export "runs") (mut i32) (i32.const 0))
    (func (export "spin")
      (global.set $runs (i32.add (global.get $runs) (i32.const 1)))
      (loop (br 0)))
    (func (export "one") (result i32) (i32.const 1))]

  @imports ~S[(import "env" "hang" (func $hang))
    (func (export "hang") (call $hang))]

  defp start_server(:without_imports), do: Wasmex.start_link(%{bytes: "(module #{@body})"})

  defp start_server(:with_imports) do
    hang = fn _context -> receive do: (:never -> nil) end
    imports = %{env: %{hang: {:fn, [], [], hang}}}
    Wasmex.start_link(%{bytes: "(module #{@imports} #{@body})", imports: imports})
  end

  # Processes that keep both schedulers busy until the test ends.
  defp load(count) do
    busy = for _ <- 1..count, do: spawn(fn -> busy(0) end)
    on_exit(fn -> Enum.each(busy, &Process.exit(&1, :kill)) end)
  end

  defp busy(n), do: busy(:erlang.phash2(n))

  defp call(server, name, timeout) do
    Wasmex.call_function(server, name, [], timeout)
  catch
    :exit, reason -> {:exit, reason}
  end

  for kind <- [:without_imports, :with_imports] do
    describe "a server #{kind}" do
      @describetag kind: kind

      test "exits every call past its timeout as GenServer.call/3 does, under load", ctx do
        {:ok, server} = start_server(ctx.kind)
        {:ok, store} = Wasmex.store(server)
        {:ok, instance} = Wasmex.instance(server)
        load(4)

        for round <- 1..100 do
          timeout = rem(round, 8) + 1

          outcome = call(server, "spin", timeout)

          assert match?({:exit, {:timeout, {GenServer, :call, _}}}, outcome),
                 "round #{round}, timeout #{timeout} ms: #{inspect(outcome)}"

          # The guest was stopped at the deadline: the store is free again.
          assert Instance.call_function(store, instance, "one", [], timeout: 5_000) == {:ok, [1]}
        end

        # No late reply or timeout error arrived after the exits.
        refute_received _
        # Most calls reached the guest (a request that waited past its deadline is not run).
        assert {:ok, runs} = Instance.get_global_value(store, instance, "runs")
        assert runs in 1..100
      end

      test "answers a fresh call at once after a burst of callers that give up", ctx do
        {:ok, server} = start_server(ctx.kind)
        callers = 5_000
        test = self()
        start = Deadline.now()

        for i <- 1..callers do
          # On a server with imports the first caller, and 1 in 100 of the others, call
          # `hang` (the first one is usually started: its runner gets stuck in it).
          hang? = ctx.kind == :with_imports and (i == 1 or rem(i, 100) == 0)
          name = if hang?, do: "hang", else: "spin"
          timeout = if i == 1, do: 20, else: :rand.uniform(21) - 1

          spawn(fn ->
            send(test, :calling)
            send(test, {:outcome, call(server, name, timeout)})
          end)
        end

        for _ <- 1..callers, do: assert_receive(:calling, 10_000)
        sent = Deadline.now()
        assert call(server, "one", 10_000) == {:ok, [1]}
        latency = Deadline.now() - sent

        outcomes = for _ <- 1..callers, do: elem(assert_receive({:outcome, _}, 10_000), 1)
        # Every caller gave up (none was answered with a timeout error).
        assert Enum.all?(outcomes, &match?({:exit, {:timeout, {GenServer, :call, _}}}, &1))
        # Every caller has exited, so every deadline of the burst is in `start..elapsed`.
        elapsed = Deadline.now() - start
        assert latency < 1_000, "a fresh call took #{latency} ms after the burst"

        # Requests past their deadline were not run: each run went on until its deadline,
        # and the next one started only if its own deadline was later (distinct ms).
        {:ok, store} = Wasmex.store(server)
        {:ok, instance} = Wasmex.instance(server)
        {:ok, runs} = Instance.get_global_value(store, instance, "runs")
        assert runs <= elapsed + 1, "#{runs} runs in #{elapsed} ms"

        if ctx.kind == :with_imports do
          # The runner was replaced only for a `hang` it had started, and each of those
          # held it 100 ms past its deadline: not once per expired request.
          restarts = :sys.get_state(server).restarts
          assert restarts <= div(elapsed, 100) + 1, "#{restarts} restarts in #{elapsed} ms"
        end
      end
    end
  end
end
