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

  # The longest wait `receive ... after` (and so `Process.sleep/1`) takes.
  @max_wait 4_294_967_295

  @doc false
  # The deadline a call to `server` carries. Monotonic clocks differ from node to node, so
  # a server on another node is sent `{:in, timeout}`, which it turns into a deadline of
  # its own when the request arrives (see `from_request/1`).
  @spec for_server(GenServer.server(), timeout()) :: t() | {:in, timeout()}
  def for_server(server, timeout) do
    if local?(server), do: from_timeout(timeout), else: {:in, timeout}
  end

  defp local?(server) when is_pid(server), do: node(server) == node()
  defp local?(server) when is_atom(server), do: true
  defp local?({name, node}) when is_atom(name) and is_atom(node), do: node == node()

  defp local?(server) do
    case GenServer.whereis(server) do
      pid when is_pid(pid) -> node(pid) == node()
      _ -> true
    end
  end

  @doc false
  # The deadline of a request that carries `for_server/2`'s deadline.
  @spec from_request(t() | {:in, timeout()}) :: t()
  def from_request({:in, timeout}), do: from_timeout(timeout)
  def from_request(deadline), do: deadline

  @doc false
  # The milliseconds left until `deadline`: 0 once it has passed, and never more than a
  # `receive ... after` waits (2^32 - 1 ms; a deadline that far away is a few
  # milliseconds past a timeout that long).
  @spec remaining(t()) :: timeout()
  def remaining(:infinity), do: :infinity
  def remaining(deadline), do: deadline |> Kernel.-(now()) |> max(0) |> min(@max_wait)

  @doc false
  @spec expired?(t()) :: boolean()
  def expired?(:infinity), do: false
  def expired?(deadline), do: now() >= deadline

  @doc false
  @spec now() :: integer()
  def now, do: System.monotonic_time(:millisecond)

  @doc false
  # Sleeps `ms` milliseconds, however many: a guest may sleep for longer than
  # `Process.sleep/1` can wait.
  @spec sleep(non_neg_integer()) :: :ok
  def sleep(ms) when ms > @max_wait do
    Process.sleep(@max_wait)
    sleep(ms - @max_wait)
  end

  def sleep(ms), do: Process.sleep(ms)
end
