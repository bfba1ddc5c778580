defmodule Wasmex.Deadline do
  @moduledoc false
  # Deadlines in monotonic milliseconds, shared by everything that waits: guest calls,
  # the store-wait queue, the `Wasmex` server and the pool.

  @type t :: integer() | :infinity

  @doc false
  # The monotonic time (ms) `timeout` ms from now.
  @spec from_timeout(timeout()) :: t()
  def from_timeout(:infinity), do: :infinity
  def from_timeout(ms), do: now() + ms

  @doc false
  # The milliseconds left until `deadline`, 0 once it has passed.
  @spec remaining(t()) :: timeout()
  def remaining(:infinity), do: :infinity
  def remaining(deadline), do: max(deadline - now(), 0)

  @doc false
  @spec expired?(t()) :: boolean()
  def expired?(:infinity), do: false
  def expired?(deadline), do: now() >= deadline

  @doc false
  @spec now() :: integer()
  def now, do: System.monotonic_time(:millisecond)
end
