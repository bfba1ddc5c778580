# Runs the commands tools/spectest wrote for each .wast file through the Elixir API and
# compares them with wasmi's own verdicts (prepared by scripts/spec-testsuite).
#
#   mix run --no-compile scripts/spec-testsuite.exs OUT_DIR
#
# OUT_DIR/<file>/commands.terms holds one term per command; each ends with wasmi's verdict,
# `pass` or `{fail, Reason}`:
#
#   {module, Line, Name | none, File | none, Stateful, Wasmi}
#   {register, Line, As, Name | none, Wasmi}
#   {action, Line, Invoke, Wasmi}
#   {assert_return, Line, Invoke | Get, [Expected], Wasmi}
#   {assert_trap, Line, Invoke | Get | {instantiate, File}, Message, Wasmi}
#   {assert_exhaustion, Line, Invoke, Message, Wasmi}
#   {assert_invalid | assert_unlinkable, Line, File | none, Message, Wasmi}
#   {unsupported, Line, What}
#
# with Invoke = {invoke, Name | none, Field, [Arg]} and Get = {get, Name | none, Field};
# values as tools/spectest/src/main.rs describes them; Stateful says whether the
# module has a memory, a table or a mutable global (its own or imported).
#
# A command the API cannot express (a reference argument, a NaN with a payload, a module
# that imports a memory or table, or a global of another module, ...) is counted apart
# with the reason, never run as something else. A NaN result is only seen as `:nan`
# through the API: such a command passes "as NaN only", counted apart too.

[dir] = System.argv()

defmodule SpecTestsuite do
  @moduledoc false

  import Bitwise
  alias Wasmex.{Instance, Module, Store}

  # The module the testsuite imports from as "spectest". Its functions and (constant)
  # globals are the same in every copy, so a link (a fresh copy per importer) gives
  # exactly what the testsuite means; its memory and table are shared state, which links
  # cannot give: importers of those are not expressible.
  @spectest ~S"""
  (module
    (func (export "print"))
    (func (export "print_i32") (param i32))
    (func (export "print_i64") (param i64))
    (func (export "print_f32") (param f32))
    (func (export "print_f64") (param f64))
    (func (export "print_i32_f32") (param i32 f32))
    (func (export "print_f64_f64") (param f64 f64))
    (global (export "global_i32") i32 (i32.const 666))
    (global (export "global_i64") i64 (i64.const 666))
    (global (export "global_f32") f32 (f32.const 666.6))
    (global (export "global_f64") f64 (f64.const 666.6))
    (table (export "table") 10 20 funcref)
    (memory (export "memory") 1 2))
  """

  # `taint`: the instances whose state the command would have changed. Commands on them
  # (and on instances calling into them) afterwards are not expressible either.
  defmodule Inexpressible do
    @moduledoc false
    defexception [:message, taint: []]
  end

  def run(dir) do
    files = dir |> File.ls!() |> Enum.sort()
    results = Enum.flat_map(files, &run_file(Path.join(dir, &1)))
    report(results)
  end

  defp run_file(path) do
    {:ok, commands} = :file.consult(Path.join(path, "commands.terms"))
    {:ok, store} = Store.new()
    {:ok, spectest} = Module.compile(store, @spectest)

    state = %{
      dir: path,
      store: store,
      spectest: spectest,
      current: nil,
      named: %{},
      as: %{},
      tainted: MapSet.new()
    }

    {results, _state} =
      Enum.map_reduce(commands, state, fn command, state ->
        {api, state} =
          try do
            command(command, state)
          rescue
            error in Inexpressible ->
              state = %{state | tainted: MapSet.union(state.tainted, MapSet.new(error.taint))}
              {{:inexpressible, error.message}, inexpressible(command, state)}
          end

        {{Path.basename(path), elem(command, 1), elem(command, 0), wasmi(command), api}, state}
      end)

    print_file(Path.basename(path), results)
    results
  end

  defp wasmi({:unsupported, _line, _what}), do: :unsupported
  defp wasmi(command), do: elem(command, tuple_size(command) - 1)

  # A module that cannot be expressed: the commands on it cannot either.
  defp inexpressible({:module, _, name, _, _, _}, state) do
    entry = :inexpressible

    %{
      state
      | current: entry,
        named: if(name == :none, do: state.named, else: Map.put(state.named, name, entry))
    }
  end

  defp inexpressible(_command, state), do: state

  ## Commands

  defp command({:module, _line, name, file, stateful, _}, state) do
    case instantiate(file, state) do
      {:ok, entry} ->
        entry = Map.put(entry, :stateful, stateful)
        named = if name == :none, do: state.named, else: Map.put(state.named, name, entry)
        {:pass, %{state | current: entry, named: named}}

      {:error, reason} ->
        {{:fail, reason}, %{state | current: nil}}
    end
  end

  defp command({:register, _line, as, name, _}, state) do
    case entry(name, state) do
      nil -> {{:fail, "no such module"}, state}
      entry -> {:pass, %{state | as: Map.put(state.as, as, entry)}}
    end
  end

  defp command({:action, _line, invoke, _}, state) do
    case exec(invoke, state) do
      {:ok, _} -> {:pass, state}
      {:error, reason} -> {{:fail, reason}, state}
    end
  end

  defp command({:assert_return, _line, exec, expected, _}, state) do
    verdict =
      case exec(exec, state) do
        {:ok, results} when length(results) == length(expected) ->
          results
          |> Enum.zip(expected)
          |> Enum.map(fn {result, expected} -> check(expected, result) end)
          |> Enum.reduce(:pass, &worst/2)

        {:ok, results} ->
          {:fail, "results: #{inspect(results)}"}

        {:error, reason} ->
          {:fail, reason}
      end

    {verdict, state}
  end

  defp command({:assert_trap, _line, {:instantiate, file}, _message, _}, state) do
    {must_not_link(file, state), state}
  end

  defp command({kind, _line, exec, _message, _}, state)
       when kind in [:assert_trap, :assert_exhaustion] do
    case exec(exec, state) do
      {:error, _} -> {:pass, state}
      {:ok, results} -> {{:fail, "returned #{inspect(results)}"}, state}
    end
  end

  defp command({:assert_invalid, _line, :none, _message, _}, _state),
    do: inexpressible!("a module the text parser rejects, with no text to give the API")

  defp command({:assert_invalid, _line, file, _message, _}, state) do
    case Module.compile(state.store, read(file, state)) do
      {:error, _} -> {:pass, state}
      {:ok, _} -> {{:fail, "compiled"}, state}
    end
  end

  defp command({:assert_unlinkable, _line, file, _message, _}, state),
    do: {must_not_link(file, state), state}

  defp command({:unsupported, _line, what}, state), do: {{:unsupported, what}, state}

  defp must_not_link(:none, _state), do: {:fail, "does not encode"}

  defp must_not_link(file, state) do
    case instantiate(file, state) do
      {:error, "does not compile: " <> _ = reason} -> {:fail, reason}
      {:error, _} -> :pass
      {:ok, _} -> {:fail, "instantiated"}
    end
  end

  defp read(file, state), do: File.read!(Path.join(state.dir, file))

  ## Modules and their imports

  defp instantiate(:none, _state), do: {:error, "does not encode"}

  defp instantiate(file, state) do
    case Module.compile(state.store, read(file, state)) do
      {:ok, module} ->
        {imports, links} = imports(module, state)

        # The instances this one calls into: if their state is off, so are its results.
        sources =
          for {namespace, _} <- Module.imports(module),
              %{instance: source} <- [Map.get(state.as, namespace)],
              do: source

        with {:ok, instance} <- Instance.new(state.store, module, imports, links) do
          {:ok, %{instance: instance, exports: Module.exports(module), sources: sources}}
        end

      {:error, reason} ->
        {:error, "does not compile: " <> reason}
    end
  end

  # Elixir imports for the functions of registered modules (calling into that module's
  # instance), a link for "spectest"; anything else is left out, so that instantiation
  # fails as the testsuite expects.
  defp imports(module, state) do
    Enum.reduce(Module.imports(module), {%{}, []}, fn {namespace, entries}, {imports, links} ->
      case {namespace, Map.get(state.as, namespace)} do
        {"spectest", _} ->
          Enum.each(entries, fn
            {_name, {kind, _}} when kind in [:memory, :table] ->
              inexpressible!("imports the spectest #{kind} (shared state)")

            _ ->
              :ok
          end)

          {imports, [%{name: "spectest", module: state.spectest} | links]}

        {_, nil} ->
          {imports, links}

        {_, :inexpressible} ->
          inexpressible!("imports from an inexpressible module")

        {_, entry} ->
          functions =
            entries |> Enum.flat_map(fn {name, import} -> forward(entry, name, import) end)

          {Map.put(imports, namespace, Map.new(functions)), links}
      end
    end)
  rescue
    # The module would have written to the instances it imports from (segments, start).
    error in Inexpressible ->
      taint =
        for {namespace, _} <- Module.imports(module),
            %{instance: instance} <- [Map.get(state.as, namespace)],
            do: instance

      reraise %{error | taint: error.taint ++ taint}, __STACKTRACE__
  end

  # The function as the exporting module types it, so that a mismatch fails to link.
  defp forward(entry, name, {:fn, _, _}) do
    case Map.get(entry.exports, name) do
      {:fn, params, results} ->
        unless Enum.all?(params ++ results, &is_atom/1),
          do: inexpressible!("imports a function with reference parameters or results")

        [{name, {:fn, params, results, &call_into(&1, entry.instance, name)}}]

      # Not exported, or not as a function: left out, so that it fails to link.
      _missing_or_other ->
        []
    end
  end

  defp forward(_entry, _name, {kind, _}),
    do: inexpressible!("imports a #{kind} of another module (shared state)")

  defp call_into(context, instance, name) do
    case Instance.call_function(context.caller, instance, name, context.params) do
      {:ok, results} -> results
      {:error, reason} -> raise reason
    end
  end

  defp entry(:none, state), do: state.current
  defp entry(name, state), do: Map.get(state.named, name)

  ## Actions

  defp exec(exec, state) do
    case entry(elem(exec, 1), state) do
      nil ->
        {:error, "no such module"}

      :inexpressible ->
        inexpressible!("acts on an inexpressible module")

      entry ->
        if Enum.any?([entry.instance | entry.sources], &MapSet.member?(state.tainted, &1)),
          do: inexpressible!("follows a command the API cannot express, on the same instance")

        exec(exec, entry, state)
    end
  end

  defp exec({:invoke, _, field, args}, entry, state) do
    args =
      try do
        Enum.map(args, &arg/1)
      rescue
        # The call does not happen: the state it could have changed (the instance's own,
        # if it has any, and that of the instances it calls into) may now differ from
        # wasmi's.
        error in Inexpressible ->
          own = if Map.get(entry, :stateful, true), do: [entry.instance], else: []
          reraise %{error | taint: own ++ entry.sources}, __STACKTRACE__
      end

    Instance.call_function(state.store, entry.instance, field, args)
  end

  defp exec({:get, _, field}, entry, state) do
    case Instance.get_global_value(state.store, entry.instance, field) do
      {:ok, value} -> {:ok, [value]}
      {:error, "unable_to_return_" <> _} -> inexpressible!("reads a reference global")
      error -> error
    end
  end

  defp arg({:i32, n}), do: n
  defp arg({:i64, n}), do: n
  defp arg({:v128, n}), do: n
  defp arg({:f32, bits}), do: float(bits, 32)
  defp arg({:f64, bits}), do: float(bits, 64)
  defp arg({kind, _}), do: inexpressible!("a #{kind} argument")

  # A float argument from its bits: NaN goes in as `:nan` (Wasm's canonical NaN), so a NaN
  # of any other bits cannot.
  defp float(bits, size) do
    case {classify(bits, size), bits == canonical_nan(size)} do
      {:nan, true} -> :nan
      {:nan, false} -> inexpressible!("a NaN argument with a payload or sign")
      {other, _} -> other
    end
  end

  defp canonical_nan(32), do: 0x7FC00000
  defp canonical_nan(64), do: 0x7FF8000000000000

  # `:nan`, `:infinity`, `:neg_infinity`, or the float.
  defp classify(bits, size) do
    exponent = bits >>> (size - 1 - exponent_bits(size)) &&& (1 <<< exponent_bits(size)) - 1
    fraction = bits &&& (1 <<< (size - 1 - exponent_bits(size))) - 1
    negative = bits >>> (size - 1) == 1

    cond do
      exponent != (1 <<< exponent_bits(size)) - 1 ->
        <<x::float-size(size)>> = <<bits::size(size)>>
        x

      fraction != 0 ->
        :nan

      negative ->
        :neg_infinity

      true ->
        :infinity
    end
  end

  defp exponent_bits(32), do: 8
  defp exponent_bits(64), do: 11

  ## Results

  defp check({:either, alternatives}, value) do
    results = Enum.map(alternatives, &check(&1, value))

    Enum.find(
      results,
      {:fail, "none of #{inspect(alternatives)}: #{inspect(value)}"},
      &(&1 in [:pass, :nan_only])
    )
  end

  defp check({:i32, n}, value), do: equal(n, value)
  defp check({:i64, n}, value), do: equal(n, value)
  defp check({:f32, pattern}, value), do: check_float(pattern, value, 32)
  defp check({:f64, pattern}, value), do: check_float(pattern, value, 64)

  defp check({:v128, shape, lanes}, value) when is_integer(value) do
    {width, float?} = shape(shape)
    mask = (1 <<< width) - 1

    lanes
    |> Enum.with_index()
    |> Enum.all?(fn {expected, i} ->
      bits = value >>> (i * width) &&& mask

      cond do
        float? -> float_bits_match?(expected, bits, width)
        true -> (expected &&& mask) == bits
      end
    end)
    |> if(do: :pass, else: {:fail, "v128 #{value}"})
  end

  defp check({:ref_null}, value), do: equal(nil, value)
  defp check({:ref_func}, value), do: equal(:funcref, value)
  defp check({:ref_extern, :any}, value), do: equal(:externref, value)
  defp check({:ref_extern, _}, _value), do: inexpressible!("an externref result's host value")
  defp check({:unsupported, what}, _value), do: inexpressible!("a result of kind #{what}")
  defp check(expected, value), do: {:fail, "expected #{inspect(expected)}, got #{inspect(value)}"}

  defp equal(expected, expected), do: :pass
  defp equal(expected, value), do: {:fail, "expected #{inspect(expected)}, got #{inspect(value)}"}

  defp shape(:i8x16), do: {8, false}
  defp shape(:i16x8), do: {16, false}
  defp shape(:i32x4), do: {32, false}
  defp shape(:i64x2), do: {64, false}
  defp shape(:f32x4), do: {32, true}
  defp shape(:f64x2), do: {64, true}

  # A float result through the API: a NaN is only seen as `:nan`.
  defp check_float(pattern, value, size) do
    expected_nan = pattern in [:nan_canonical, :nan_arithmetic] or classify(pattern, size) == :nan

    cond do
      expected_nan and value == :nan -> :nan_only
      expected_nan -> {:fail, "expected NaN, got #{inspect(value)}"}
      bits(value, size) == pattern -> :pass
      true -> {:fail, "expected bits #{pattern}, got #{inspect(value)}"}
    end
  end

  defp bits(:infinity, 32), do: 0x7F800000
  defp bits(:neg_infinity, 32), do: 0xFF800000
  defp bits(:infinity, 64), do: 0x7FF0000000000000
  defp bits(:neg_infinity, 64), do: 0xFFF0000000000000

  defp bits(x, size) when is_float(x) do
    <<bits::size(size)>> = <<x::float-size(size)>>
    bits
  end

  defp bits(_other, _size), do: nil

  defp float_bits_match?(:nan_canonical, bits, size),
    do: (bits &&& mask(size) - sign(size)) == canonical_nan(size)

  defp float_bits_match?(:nan_arithmetic, bits, size),
    do: (bits &&& canonical_nan(size)) == canonical_nan(size)

  defp float_bits_match?(expected, bits, _size), do: expected == bits

  defp mask(size), do: (1 <<< size) - 1
  defp sign(size), do: 1 <<< (size - 1)

  defp worst(verdict, :pass), do: verdict
  defp worst(:pass, verdict), do: verdict
  defp worst(:nan_only, :nan_only), do: :nan_only
  defp worst({:fail, _} = fail, _), do: fail
  defp worst(_, {:fail, _} = fail), do: fail

  defp inexpressible!(reason), do: raise(Inexpressible, reason)

  ## Report

  defp passed?(:pass), do: true
  defp passed?(:nan_only), do: true
  defp passed?(_), do: false

  defp print_file(file, results) do
    count = fn f -> Enum.count(results, f) end

    IO.puts(
      "#{String.pad_trailing(file, 40)} #{length(results)} commands: " <>
        "wasmi #{count.(&(elem(&1, 3) == :pass))}, " <>
        "API #{count.(&passed?(elem(&1, 4)))} (#{count.(&(elem(&1, 4) == :nan_only))} NaN only), " <>
        "#{count.(&match?({:inexpressible, _}, elem(&1, 4)))} inexpressible" <>
        unsupported(count.(&match?({:unsupported, _}, elem(&1, 4))))
    )

    for {file, line, kind, :pass, {:fail, reason}} <- results do
      IO.puts(
        "  MISMATCH #{file}.wast:#{line} #{kind}: wasmi passes, the API: #{String.slice(reason, 0, 200)}"
      )
    end
  end

  defp unsupported(0), do: ""
  defp unsupported(n), do: ", #{n} not run (unsupported directives)"

  defp report(results) do
    count = fn f -> Enum.count(results, f) end
    mismatches = count.(&match?({_, _, _, :pass, {:fail, _}}, &1))

    reasons =
      results
      |> Enum.flat_map(fn
        {_, _, _, _, {:inexpressible, reason}} -> [reason]
        _ -> []
      end)
      |> Enum.frequencies()
      |> Enum.sort_by(&(-elem(&1, 1)))

    IO.puts("""

    commands:         #{length(results)}
    wasmi passes:     #{count.(&(elem(&1, 3) == :pass))}
    API passes:       #{count.(&passed?(elem(&1, 4)))} (of which #{count.(&(elem(&1, 4) == :nan_only))} NaN results, seen as :nan only)
    API fails:        #{count.(&match?({:fail, _}, elem(&1, 4)))} (#{count.(&match?({_, _, _, {:fail, _}, {:fail, _}}, &1))} of them fail in wasmi too)
    inexpressible:    #{count.(&match?({:inexpressible, _}, elem(&1, 4)))}
    #{Enum.map_join(reasons, "\n", fn {reason, n} -> "  #{n} #{reason}" end)}
    not run:          #{count.(&match?({:unsupported, _}, elem(&1, 4)))} (unsupported directives)
    wasmi passes, the API does not: #{mismatches}
    """)

    mismatches
  end
end

System.halt(if SpecTestsuite.run(dir) == 0, do: 0, else: 1)
