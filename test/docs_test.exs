defmodule Wasmex.DocsTest do
  # Without ex_doc: every public module is documented, and every public function has a
  # doc and a spec.
  use ExUnit.Case, async: true

  {:ok, modules} = :application.get_key(:wasmex_interp, :modules)
  @modules modules

  defp public_modules do
    for module <- @modules,
        Code.ensure_loaded!(module),
        not function_exported?(module, :__impl__, 1),
        {:docs_v1, _, :elixir, _, moduledoc, _, _} = Code.fetch_docs(module),
        moduledoc != :hidden,
        do: module
  end

  test "public modules have a moduledoc" do
    for module <- public_modules() do
      {:docs_v1, _, _, _, moduledoc, _, _} = Code.fetch_docs(module)
      assert %{"en" => text} = moduledoc, "#{inspect(module)} has no @moduledoc"
      assert String.length(text) > 40, "#{inspect(module)} has a thin @moduledoc"
    end
  end

  test "public functions have a doc and a spec" do
    for module <- public_modules() do
      {:docs_v1, _, _, _, _, _, entries} = Code.fetch_docs(module)
      {:ok, specs} = Code.Typespec.fetch_specs(module)
      specced = MapSet.new(specs, fn {name_arity, _} -> name_arity end)

      for {{:function, name, arity}, _, _, doc, _} <- entries, doc != :hidden do
        assert %{"en" => _} = doc, "#{inspect(module)}.#{name}/#{arity} has no @doc"

        assert Enum.any?(0..arity, &MapSet.member?(specced, {name, &1})),
               "#{inspect(module)}.#{name}/#{arity} has no @spec"
      end
    end
  end
end
