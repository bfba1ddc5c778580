# Runs Wasmex's core test files from a copy of its `test/` directory (prepared by
# scripts/wasmex-tests, which also builds the fixtures) against this project, and the doc
# examples of Wasmex's own modules where its test files say `doctest Wasmex.X`.
#
#   mix run --no-compile scripts/wasmex-tests.exs WORK VERSION
[work, version] = System.argv()

defmodule WasmexTests do
  @moduledoc false

  # Wasmex's tests that check Wasmtime itself (and one that checks Wasmex 0.9's internal
  # callback messages), by Wasmex version and test name, with the reason they cannot pass
  # here (docs/compat.md has the same list). They are run and reported apart.
  @fuel "exact Wasmtime fuel figures (each engine prices instructions its own way)"
  @backtrace "Wasmtime's backtrace text (wasmi keeps no Wasm backtrace)"
  @dwarf "source lines from DWARF (Wasmtime's wasm_backtrace_details; wasmi has none)"
  @common %{
    "&Wasmex.StoreOrCaller.get_fuel/1 reports fuel from within an imported function" => @fuel,
    "&Wasmex.StoreOrCaller.set_fuel/2 adds fuel from within an imported function" => @fuel,
    "fuel consumption &Wasmex.call_function/3 with fuel_consumption" =>
      @fuel <> "; " <> @backtrace,
    "error handling handles errors occurring during Wasm execution with default engine config" =>
      @backtrace,
    "error handling handles errors occuring during Wasm execution with wasm_backtrace_details enabled" =>
      @dwarf,
    "when instantiating with imports that raise exceptions call_function returns an error tuple" =>
      @backtrace
  }
  @engine_specific %{
    "0.15.1" => @common,
    "0.9.2" =>
      Map.put(
        @common,
        "&Instance.call_exported_function/3 calling an imported function which returns the wrong type",
        "Wasmex 0.9's internal callback messages ({:invoke_callback, ...} to the process " <>
          "that made the instance); here callbacks run in the calling process"
      )
  }

  def engine_specific(version), do: Map.get(@engine_specific, version, %{})

  # The test files of the core API: the component model is left out.
  def test_files(work) do
    Path.wildcard(Path.join(work, "test/**/*_test.exs"))
    |> Enum.reject(&String.contains?(Path.relative_to(&1, work), "component"))
    |> Enum.sort()
  end

  @doc """
  Wasmex's test helper without its last two lines, which build every fixture (the
  component ones too: the shell script built the others) and start ExUnit.
  """
  def load_test_helper(work) do
    file = Path.join(work, "test/test_helper.exs")
    {:__block__, meta, body} = file |> File.read!() |> Code.string_to_quoted!(file: file)

    body =
      Enum.reject(body, fn
        {{:., _, [{:__aliases__, _, [:TestHelper]}, :precompile_wasm_files]}, _, []} -> true
        {{:., _, [{:__aliases__, _, [:ExUnit]}, :start]}, _, _} -> true
        _ -> false
      end)

    Code.eval_quoted({:__block__, meta, body}, [], file: file)
  end

  @doc """
  Loads a test file, with `doctest Wasmex.X` running the doc examples of Wasmex's own
  `Wasmex.X` (compiled as `WasmexDocs.Wasmex.X` by `compile_docs/2`): the test files mean
  the examples of the module they test.
  """
  def load_test_file(file) do
    file
    |> File.read!()
    |> Code.string_to_quoted!(file: file)
    |> Macro.prewalk(fn
      {:doctest, meta, [module | rest]} ->
        {:doctest, meta, [quote(do: Module.concat(WasmexDocs, unquote(module))) | rest]}

      # A component-model test among the core ones (`Wasmex.Wat` of a component).
      {:test, _, [name | _]} = test when is_binary(name) ->
        if String.contains?(name, "component"), do: nil, else: test

      other ->
        other
    end)
    |> Code.compile_quoted(file)
  end

  @doc """
  Compiles a stub module `WasmexDocs.M` for each module `M` of Wasmex's `lib/` (the
  component model left out) that carries `M`'s documentation, and only that, into `dir`
  and puts `dir` in the code path: what `doctest` needs to run `M`'s doc examples.
  """
  def compile_docs(work, dir) do
    File.mkdir_p!(dir)

    for file <- Path.wildcard(Path.join(work, "lib/**/*.ex")),
        not String.contains?(file, "component"),
        {name, moduledoc, docs} <- file |> File.read!() |> Code.string_to_quoted!() |> modules(),
        docs != [] or is_binary(moduledoc) do
      stub = Module.concat(WasmexDocs, name)

      functions =
        for {fun, arity, doc} <- docs do
          args = Macro.generate_arguments(arity, __MODULE__)

          quote do
            @doc unquote(doc)
            def unquote(fun)(unquote_splicing(args)), do: nil
          end
        end

      ast =
        quote do
          defmodule unquote(stub) do
            @moduledoc unquote(moduledoc)
            unquote_splicing(functions)
          end
        end

      [{^stub, beam}] = Code.compile_quoted(ast, file)
      File.write!(Path.join(dir, "#{stub}.beam"), beam)
    end

    Code.prepend_path(dir)
  end

  # `[{module, moduledoc, [{function, arity, doc}]}]` of the modules defined in `ast`.
  defp modules(ast) do
    {_, found} =
      Macro.prewalk(ast, [], fn
        {:defmodule, _, [{:__aliases__, _, parts}, [do: body]]}, acc ->
          {nil, [documented(Module.concat(parts), body) | acc]}

        other, acc ->
          {other, acc}
      end)

    found
  end

  defp documented(module, body) do
    forms = List.wrap(with {:__block__, _, forms} <- body, do: forms)

    {moduledoc, docs, _pending} =
      Enum.reduce(forms, {nil, [], nil}, fn
        {:@, _, [{:moduledoc, _, [doc]}]}, {_, docs, pending} ->
          {text(doc), docs, pending}

        {:@, _, [{:doc, _, [doc]}]}, {moduledoc, docs, _} ->
          {moduledoc, docs, text(doc)}

        {kind, _, [head | _]}, {moduledoc, docs, doc}
        when kind in [:def, :defmacro] and is_binary(doc) ->
          {name, args} = head(head)
          {moduledoc, [{name, length(args), doc} | docs], nil}

        _, acc ->
          acc
      end)

    {module, moduledoc, docs |> Enum.reverse() |> Enum.uniq_by(&{elem(&1, 0), elem(&1, 1)})}
  end

  defp head({:when, _, [head | _]}), do: head(head)
  defp head({name, _, args}) when is_list(args), do: {name, args}
  defp head({name, _, _}), do: {name, []}

  # A doc string, evaluated (it may be a sigil); anything else (`false`) is no doc.
  defp text(doc) do
    case Code.eval_quoted(doc) do
      {text, _} when is_binary(text) -> text
      _ -> nil
    end
  rescue
    _ -> nil
  end
end

defmodule WasmexTests.Formatter do
  @moduledoc false
  use GenServer

  @impl true
  def init(opts), do: {:ok, %{results: [], opts: opts}}

  @impl true
  def handle_cast({:test_finished, %ExUnit.Test{} = test}, state),
    do: {:noreply, %{state | results: [test | state.results]}}

  def handle_cast({:suite_finished, _times}, state) do
    report(Enum.reverse(state.results), state.opts[:engine_specific], state.opts[:work])
    {:noreply, state}
  end

  def handle_cast(_event, state), do: {:noreply, state}

  defp report(tests, engine_specific, work) do
    results =
      tests
      |> Enum.sort_by(&{file(&1, work), &1.name})
      |> Enum.map(fn test ->
        reason = Map.get(engine_specific, name(test))

        {verdict, key} =
          case {test.state, reason} do
            {nil, nil} -> {"pass", :pass}
            {nil, _} -> {"pass (engine-specific)", :engine}
            {_, nil} -> {"FAIL", :fail}
            {_, reason} -> {"engine-specific: #{reason}", :engine}
          end

        IO.puts("#{String.pad_trailing(verdict, 6)} #{file(test, work)}: #{name(test)}")
        if key == :fail, do: IO.puts(failure(test))
        {if(test.tags[:test_type] == :doctest, do: :examples, else: :tests), key}
      end)

    count = fn kind, key -> Enum.count(results, &(&1 == {kind, key})) end
    failed = count.(:tests, :fail) + count.(:examples, :fail)
    :persistent_term.put(:wasmex_tests_failed, failed)

    for {kind, label} <- [tests: "tests", examples: "doc examples"] do
      passed = count.(kind, :pass)

      IO.puts(
        "#{label}: #{passed}/#{passed + count.(kind, :fail)} passed, " <>
          "#{count.(kind, :engine)} engine-specific"
      )
    end

    IO.puts("total: #{failed} failed")
  end

  defp file(test, work), do: Path.relative_to(test.tags.file, work)

  # The test's name without ExUnit's prefix ("test ", "doctest ") and the stub prefix.
  defp name(%ExUnit.Test{name: name}) do
    name
    |> Atom.to_string()
    |> String.replace(~r/^(doc)?test /, "\\1")
    |> String.replace("WasmexDocs.", "")
  end

  defp failure(%ExUnit.Test{state: {:failed, failures}}) do
    failures
    |> Enum.map_join("\n", fn {kind, reason, stack} ->
      Exception.format_banner(kind, reason, stack)
    end)
    |> String.split("\n")
    |> Enum.take(12)
    |> Enum.map_join("\n", &("         " <> &1))
  end

  defp failure(%ExUnit.Test{state: state}), do: "         #{inspect(state)}"
end

WasmexTests.compile_docs(work, Path.join(work, "docs_ebin"))
WasmexTests.load_test_helper(work)

ExUnit.start(
  autorun: false,
  formatters: [WasmexTests.Formatter],
  engine_specific: WasmexTests.engine_specific(version),
  work: work,
  timeout: 60_000
)

Enum.each(WasmexTests.test_files(work), &WasmexTests.load_test_file/1)
# Wasmex's tests name fixture paths relative to its project root.
File.cd!(work)
ExUnit.run()
# The formatter has counted the failures other than the engine-specific ones.
System.halt(if :persistent_term.get(:wasmex_tests_failed) == 0, do: 0, else: 1)
