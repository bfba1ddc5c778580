defmodule Wasmex.Pool.Member do
  @moduledoc false
  # A pool's side of its cluster-wide group (the `:group` option of `Wasmex.Pool`): it
  # joins the group and reports its load, its own row of `Wasmex.Pool.Loads` at every
  # change and to the other nodes at most once per `@publish_ms` after a change
  # (`Wasmex.Pool.Group` says why loads are kept this way, and how callers use them).

  alias Wasmex.Deadline
  alias Wasmex.Pool.Loads

  # The `:pg` scope of the groups (started by the application). Users see its name
  # (`:pg.get_members(Wasmex.Pool.Group, group)`), that of the module that routes calls
  # to groups; written as an atom, as this module does not call that one.
  @scope :"Elixir.Wasmex.Pool.Group"

  # How often at most a pool sends its load to the other nodes, in ms.
  @publish_ms 5

  # What a pool of a group keeps: its group, and when it last reported its load.
  defstruct [:name, :published_at, timer: nil]

  @type t :: %__MODULE__{name: term(), published_at: integer(), timer: reference() | nil}

  @doc false
  # The `:pg` scope of the groups.
  @spec scope() :: atom()
  def scope, do: @scope

  @doc false
  # The calling pool joins `group` with `free` free workers.
  @spec join(term(), non_neg_integer()) :: t()
  def join(group, free) do
    Loads.put(free)
    Loads.watch()
    # Reported before the join: on each node the report is in flight no later than the
    # membership.
    Loads.publish(free)
    :ok = :pg.join(@scope, group, self())
    %__MODULE__{name: group, published_at: Deadline.now()}
  end

  @doc false
  # The pool now has `free` free workers and `waiting` callers in line.
  @spec changed(t(), non_neg_integer(), :queue.queue()) :: t()
  def changed(%__MODULE__{timer: nil} = group, free, waiting) do
    Loads.put(free)

    if Node.list() == [] do
      group
    else
      now = Deadline.now()

      case group.published_at + @publish_ms - now do
        wait when wait <= 0 -> publish(group, free, waiting)
        wait -> %{group | timer: Process.send_after(self(), {__MODULE__, :publish}, wait)}
      end
    end
  end

  # A report is due: it will say what the load is then.
  def changed(%__MODULE__{} = group, free, _waiting) do
    Loads.put(free)
    group
  end

  @doc false
  # Reports the load now (the pool calls this when `changed/3`'s timer,
  # `{Wasmex.Pool.Member, :publish}`, fires).
  @spec publish(t(), non_neg_integer(), :queue.queue()) :: t()
  def publish(group, free, waiting) do
    Loads.publish(if free > 0, do: free, else: -:queue.len(waiting))
    %{group | published_at: Deadline.now(), timer: nil}
  end
end
