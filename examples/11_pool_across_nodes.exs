# A pool across nodes: pools started with the same `:group` on connected nodes act as one.
# Connecting the nodes is yours (Node.connect/1, libcluster, ...); here the other node is a
# `:peer` of this machine. Runs as it is, or as
# `elixir --name a@127.0.0.1 -S mix run examples/11_pool_across_nodes.exs`.

# What every node runs (in a real cluster: the same release, with `child/0` in each
# node's supervision tree).
{:module, _, plugins_beam, _} =
  defmodule Examples.Plugins do
    @wat ~S"""
    (module
      (func (export "work") (param $n i32) (result i32)
        (local $sum i32)
        (loop $spin
          (local.set $sum (i32.add (local.get $sum) (local.get $n)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br_if $spin (i32.gt_s (local.get $n) (i32.const 0))))
        (local.get $sum)))
    """

    def child, do: {Wasmex.Pool, name: :plugins_pool, bytes: @wat, size: 2, group: :plugins}

    def start do
      {:ok, supervisor} = Supervisor.start_link([child()], strategy: :one_for_one)
      # Outlives the `:erpc` call that starts it on the other node.
      Process.unlink(supervisor)
      :ok
    end
  end

# This node must be distributed (`--name` makes it so, and starts epmd).
unless Node.alive?() do
  System.cmd("epmd", ["-daemon"])
  # epmd listens a moment after `-daemon` returns.
  Enum.find(1..50, fn _ ->
    match?({:ok, _}, Node.start(:"demo_#{System.pid()}@127.0.0.1")) or Process.sleep(20)
  end)
end

{:ok, peer, other} =
  :peer.start(%{
    name: :peer.random_name(:plugins),
    host: ~c"127.0.0.1",
    longnames: true,
    args: [~c"-setcookie", Atom.to_charlist(Node.get_cookie())]
  })

# The other node gets this project's code and this script's module.
:ok = :erpc.call(other, :code, :add_paths, [:code.get_path()])

{:module, _} =
  :erpc.call(other, :code, :load_binary, [Examples.Plugins, ~c"plugins", plugins_beam])

{:ok, _} = :erpc.call(other, Application, :ensure_all_started, [:wasmex_interp])

:ok = Examples.Plugins.start()
:ok = :erpc.call(other, Examples.Plugins, :start, [])

# Wait until this node sees the other node's pool in the group (OTP's :pg).
{ref, members} = :pg.monitor(Wasmex.Pool.Group, :plugins)
if length(members) < 2, do: receive(do: ({^ref, :join, :plugins, _} -> :ok))

# More callers than this node's 2 workers: the rest run on the other node.
where =
  1..40
  |> Task.async_stream(
    fn _ ->
      Wasmex.Pool.transaction({:group, :plugins}, fn worker ->
        {:ok, [_]} = Wasmex.call_function(worker, "work", [300_000])
        if node(worker) == node(), do: :here, else: :there
      end)
    end,
    max_concurrency: 6
  )
  |> Enum.map(fn {:ok, where} -> where end)
  |> Enum.frequencies()

IO.puts("  40 calls on {:group, :plugins}: #{where[:here]} here, #{where[:there] || 0} there")

IO.puts(
  "  from the other node: #{inspect(:erpc.call(other, Wasmex.Pool, :call_function, [{:group, :plugins}, "work", [3]]))}"
)

:peer.stop(peer)
IO.puts("  with it gone: #{inspect(Wasmex.Pool.call_function({:group, :plugins}, "work", [3]))}")
