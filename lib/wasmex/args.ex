defmodule Wasmex.Args do
  @moduledoc false
  # Argument checks shared by the public modules. A public function called with an
  # argument of the wrong kind raises an ArgumentError that names the argument (never a
  # FunctionClauseError): its last clause calls `invalid!/1` with what it expected.
  #
  # A struct is expected by giving its module (`store: {Wasmex.StoreOrCaller, store}`):
  # this module names none of them, as they all use it.

  @inspect [limit: 10, printable_limit: 100]

  @doc false
  # A `GenServer.server()`: a pid, a registered name, `{:global, term}`,
  # `{:via, module, term}` or `{name, node}`.
  defguard is_server(server)
           when is_pid(server) or is_atom(server) or
                  (is_tuple(server) and tuple_size(server) == 2 and
                     (elem(server, 0) == :global or
                        (is_atom(elem(server, 0)) and is_atom(elem(server, 1))))) or
                  (is_tuple(server) and tuple_size(server) == 3 and elem(server, 0) == :via and
                     is_atom(elem(server, 1)))

  @doc false
  # The one rule for timeouts: what `receive ... after` (and `GenServer.call/3`) takes,
  # :infinity or 0..2^32-1 milliseconds.
  defguard is_timeout(timeout)
           when timeout == :infinity or
                  (is_integer(timeout) and timeout >= 0 and timeout <= 4_294_967_295)

  @doc false
  # Raises for the first of `checks`, `[argument: {kind, value}]` in order, whose value is
  # not of its kind (see `valid?/2`).
  @spec invalid!([{atom(), {atom() | tuple(), term()}}]) :: no_return()
  def invalid!(checks) do
    case Enum.find(checks, fn {_argument, {kind, value}} -> not valid?(kind, value) end) do
      {argument, {kind, value}} ->
        raise ArgumentError,
              "expected #{argument} to be #{expected(kind)}, got: #{inspect(value, @inspect)}"

      nil ->
        values = Enum.map(checks, fn {_argument, {_kind, value}} -> value end)
        raise ArgumentError, "invalid arguments: #{inspect(values, @inspect)}"
    end
  end

  @doc false
  # Checks the `:name` option of a GenServer: what `GenServer.start_link/3` would otherwise
  # fail on with an UndefinedFunctionError (a `:via` module that is not one).
  @spec name!(term()) :: :ok
  def name!({:via, module, _name} = name) do
    unless is_atom(module) and Code.ensure_loaded?(module) and
             function_exported?(module, :register_name, 2) and
             function_exported?(module, :whereis_name, 1) do
      raise ArgumentError,
            "expected the :via module of the name #{inspect(name)} to register names"
    end

    :ok
  end

  def name!(_name), do: :ok

  @doc false
  # A timeout argument, checked (see `is_timeout/1`).
  @spec timeout!(timeout()) :: timeout()
  def timeout!(timeout) when is_timeout(timeout), do: timeout
  def timeout!(timeout), do: invalid!(timeout: {:timeout, timeout})

  @doc false
  # The one normalisation of names (of functions, imports, namespaces): a string, or an
  # atom's name. Raises naming `what` for anything else.
  @spec name_string!(term(), String.t()) :: String.t()
  def name_string!(name, _what) when is_binary(name), do: name
  def name_string!(name, _what) when is_atom(name), do: Atom.to_string(name)

  def name_string!(name, what) do
    raise ArgumentError, "expected #{what} (a string or an atom), got: #{inspect(name, @inspect)}"
  end

  @doc false
  # Whether `list` is a proper list (`[1 | 2]` is not).
  @spec proper_list?(term()) :: boolean()
  def proper_list?([]), do: true
  def proper_list?([_ | tail]), do: proper_list?(tail)
  def proper_list?(_other), do: false

  @doc false
  @spec valid?(atom() | tuple(), term()) :: boolean()
  def valid?(:binary, value), do: is_binary(value)
  def valid?(:string_or_nil, value), do: is_binary(value) or is_nil(value)
  def valid?(:name, value), do: is_binary(value) or is_atom(value)
  def valid?(:list, value), do: proper_list?(value)
  def valid?(:keyword, value), do: is_list(value) and Keyword.keyword?(value)
  def valid?(:map, value), do: is_map(value) and not is_struct(value)
  def valid?(:options, value), do: is_map(value) or (is_list(value) and Keyword.keyword?(value))
  def valid?(:boolean, value), do: is_boolean(value)
  def valid?(:timeout, value), do: is_timeout(value)
  def valid?(:server, value), do: is_server(value)
  def valid?(:pid, value), do: is_pid(value)
  def valid?(:fun1, value), do: is_function(value, 1)
  def valid?({:in, values}, value), do: value in values
  def valid?({:or_nil, kind}, value), do: is_nil(value) or valid?(kind, value)

  def valid?(:pos_integer_or_nil, value),
    do: is_nil(value) or (is_integer(value) and value > 0 and value < 2 ** 63)

  # Any other atom is a struct's module.
  def valid?(module, value) when is_atom(module), do: is_struct(value, module)

  defp expected(:binary), do: "a binary"
  defp expected(:string_or_nil), do: "a string or nil"
  defp expected(:name), do: "a string or an atom"
  defp expected(:list), do: "a list"
  defp expected(:keyword), do: "a keyword list"
  defp expected(:map), do: "a map"
  defp expected(:options), do: "a map or a keyword list"
  defp expected(:boolean), do: "a boolean"
  defp expected(:timeout), do: ":infinity or milliseconds (0..4294967295)"
  defp expected(:server), do: "a pid or a server name"
  defp expected(:pid), do: "a pid"
  defp expected(:fun1), do: "a function of one argument"
  defp expected(:pos_integer_or_nil), do: "a positive integer (below 2^63) or nil"
  defp expected({:in, values}), do: "one of #{Enum.map_join(values, ", ", &inspect/1)}"
  defp expected({:or_nil, kind}), do: "#{expected(kind)} or nil"
  defp expected(module) when is_atom(module), do: "a %#{inspect(module)}{}"
end
