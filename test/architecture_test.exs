defmodule Wasmex.ArchitectureTest do
  # ARCHITECTURE.md names files, Elixir modules and functions, Rust items and NIFs: each
  # must exist, so that the page follows the code.
  use ExUnit.Case, async: true

  @root Path.expand("..", __DIR__)
  @text File.read!(Path.join(@root, "ARCHITECTURE.md"))

  # Paths that land from another branch: checked once they are in the tree.
  @landing ["vendor/", "vendor/README.md"]

  defp rust_sources do
    [@root, "native", "**", "*.rs"]
    |> Path.join()
    |> Path.wildcard()
    |> Enum.map_join(&File.read!/1)
  end

  test "the files it names exist" do
    paths =
      ~r{\b(?:lib|native|test|mix|scripts|docs|vendor|bench)/[\w./-]*}
      |> Regex.scan(@text)
      |> Enum.map(fn [path] -> String.trim_trailing(path, ".") end)
      |> Enum.uniq()

    assert length(paths) > 20
    missing = Enum.reject(paths, &(File.exists?(Path.join(@root, &1)) or &1 in @landing))
    assert missing == []
  end

  test "the Elixir modules and functions it names exist" do
    for [module] <- Regex.scan(~r/\bWasmex(?:\.[A-Z]\w*)*/, @text) do
      assert Code.ensure_loaded?(Module.concat([module])), module
    end

    for [_, module, function] <- Regex.scan(~r/\b(Wasmex(?:\.[A-Z]\w*)*)\.([a-z_]\w*)/, @text) do
      functions = Module.concat([module]).__info__(:functions)
      assert Keyword.has_key?(functions, String.to_atom(function)), "#{module}.#{function}"
    end
  end

  test "the Rust items and NIFs it names exist" do
    words = ~r/\b\w+\b/ |> Regex.scan(rust_sources()) |> List.flatten() |> MapSet.new()
    nifs = Regex.scan(~r/\b\w+_nif\b/, @text) |> List.flatten()

    items =
      for [item] <- Regex.scan(~r/`([\w:]+::\w+|\w+!)`/, @text, capture: :all_but_first),
          segment <- String.split(String.trim_trailing(item, "!"), "::"),
          do: segment

    assert length(nifs ++ items) > 10
    assert Enum.reject(nifs ++ items, &MapSet.member?(words, &1)) == []
  end
end
