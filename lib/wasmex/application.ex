defmodule Wasmex.Application do
  @moduledoc false
  # The application's own processes, for pools that join a cluster-wide group (the
  # `:group` option of `Wasmex.Pool`): the `:pg` scope the groups live in, and this node's
  # cache of the other pools' loads (`Wasmex.Pool.Loads`). Nothing else in the library
  # needs a process of its own.

  use Application

  @impl true
  def start(_type, _args) do
    # Created here, by the process that outlives the supervisor's children: a restarted
    # `Loads` finds the rows the pools of this node wrote.
    Wasmex.Pool.Loads.new_table()

    children = [
      %{id: :pg, start: {:pg, :start_link, [Wasmex.Pool.Member.scope()]}},
      Wasmex.Pool.Loads
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: Wasmex.Supervisor)
  end
end
