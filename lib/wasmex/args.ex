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
  # A positive integer that fits the engine's 64-bit sizes (below 2^63), or nil.
  defguard is_pos_integer_or_nil(value)
           when is_nil(value) or
                  (is_integer(value) and value > 0 and value < 9_223_372_036_854_775_808)

  @doc false
  # Raises for the first of `checks`, `[argument: {kind, value}]` in order, whose value is
  # not of its kind (see `kind/1`).
  @spec invalid!([{atom(), {atom() | tuple(), term()}}]) :: no_return()
  def invalid!(checks) do
    case Enum.find(checks, fn {_argument, {kind, value}} -> not kind_valid?(kind, value) end) do
      {argument, {kind, value}} ->
        {_valid?, expected} = kind(kind)

        raise ArgumentError,
              "expected #{argument} to be #{expected}, got: #{inspect(value, @inspect)}"

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
  def name_string!(name, what) when is_binary(name) do
    # WebAssembly names are UTF-8: another binary names nothing, and the NIF could not
    # even take it as a string.
    if String.valid?(name) do
      name
    else
      raise ArgumentError,
            "expected #{what} to be UTF-8, as WebAssembly names are, got: #{inspect(name, @inspect)}"
    end
  end

  def name_string!(name, _what) when is_atom(name), do: Atom.to_string(name)

  def name_string!(name, what) do
    raise ArgumentError, "expected #{what} (a string or an atom), got: #{inspect(name, @inspect)}"
  end

  @doc false
  # The one check of option keys, for keyword lists and maps alike: raises naming the
  # unknown keys, the allowed ones and, for a misspelt key, the one meant (as
  # `Keyword.validate!/2` words it, which only takes keyword lists). A user's typo
  # (`timout: 100`) must not run with the option silently left out.
  @spec keys!(keyword() | map(), [atom()]) :: :ok
  def keys!(options, allowed),
    do:
      known!(unknown_keys(options, allowed), allowed, "keys", fn -> inspect(options, @inspect) end)

  defp known!([], _allowed, _what, _where), do: :ok

  defp known!(unknown, allowed, what, where) do
    raise ArgumentError,
          "unknown #{what} #{inspect(unknown)} in #{where.()}, " <>
            "the allowed #{what} are: #{inspect(allowed)}" <> did_you_mean(unknown, allowed)
  end

  defp unknown_keys(options, allowed) when is_map(options),
    do: options |> Map.keys() |> Enum.reject(&(&1 in allowed)) |> Enum.sort()

  defp unknown_keys(options, allowed),
    do: options |> Keyword.keys() |> Enum.reject(&(&1 in allowed)) |> Enum.uniq()

  # The allowed key closest to the first unknown one, when it is close (a typo).
  defp did_you_mean([unknown | _], allowed) when is_atom(unknown) do
    {distance, key} =
      allowed
      |> Enum.map(&{String.jaro_distance(Atom.to_string(&1), Atom.to_string(unknown)), &1})
      |> Enum.max(fn -> {0.0, nil} end)

    if distance >= 0.8, do: " (did you mean #{inspect(key)}?)", else: ""
  end

  defp did_you_mean(_unknown, _allowed), do: ""

  @doc false
  # Checks that a struct has exactly the fields of its module: one made from a map by hand
  # may miss some, or carry a misspelt one (`Map.put(%Wasmex.StoreLimits{}, :memory_sise,
  # 1)`, which the struct syntax would refuse at compile time).
  @spec whole!(struct()) :: :ok
  def whole!(%module{} = struct) do
    fields = Map.keys(module.__struct__())

    case fields -- Map.keys(struct) do
      [] ->
        fields = fields -- [:__struct__]
        unknown = struct |> Map.from_struct() |> unknown_keys(fields)
        known!(unknown, fields, "fields", fn -> "a %#{inspect(module)}{}" end)

      missing ->
        raise ArgumentError,
              "expected a whole %#{inspect(module)}{}, missing: #{inspect(missing)}"
    end
  end

  @doc false
  # Whether `list` is a proper list (`[1 | 2]` is not).
  @spec proper_list?(term()) :: boolean()
  def proper_list?([]), do: true
  def proper_list?([_ | tail]), do: proper_list?(tail)
  def proper_list?(_other), do: false

  # Each kind of argument: how a value is checked, and how the error names what was
  # expected. Any other atom is a struct's module.
  defp kind(:binary), do: {&is_binary/1, "a binary"}
  defp kind(:string_or_nil), do: {&(is_binary(&1) or is_nil(&1)), "a string or nil"}
  defp kind(:name), do: {&(is_binary(&1) or is_atom(&1)), "a string or an atom"}
  defp kind(:list), do: {&proper_list?/1, "a list"}
  defp kind(:keyword), do: {&(is_list(&1) and Keyword.keyword?(&1)), "a keyword list"}
  defp kind(:map), do: {&(is_map(&1) and not is_struct(&1)), "a map"}
  defp kind(:options), do: {&(is_map(&1) or kind_valid?(:keyword, &1)), "a map or a keyword list"}
  defp kind(:boolean), do: {&is_boolean/1, "a boolean"}
  defp kind(:timeout), do: {&is_timeout(&1), ":infinity or milliseconds (0..4294967295)"}
  defp kind(:server), do: {&is_server(&1), "a pid or a server name"}
  defp kind(:pid), do: {&is_pid/1, "a pid"}
  defp kind(:fun1), do: {&is_function(&1, 1), "a function of one argument"}

  defp kind(:pos_integer_or_nil),
    do: {&is_pos_integer_or_nil(&1), "a positive integer (below 2^63) or nil"}

  defp kind({:in, values}),
    do: {&(&1 in values), "one of #{Enum.map_join(values, ", ", &inspect/1)}"}

  defp kind({:or_nil, kind}) do
    {valid?, expected} = kind(kind)
    {&(is_nil(&1) or valid?.(&1)), "#{expected} or nil"}
  end

  defp kind(module) when is_atom(module),
    do: {&is_struct(&1, module), "a %#{inspect(module)}{}"}

  defp kind_valid?(kind, value), do: elem(kind(kind), 0).(value)
end
