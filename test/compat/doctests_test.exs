defmodule Wasmex.CompatDoctestsTest do
  # The doc examples of the modules whose examples show mode-dependent shapes, compiled in
  # Wasmex compatibility mode. (In the default mode each module's own test file runs them;
  # test_helper.exs excludes this file then.)
  use ExUnit.Case, async: true
  @moduletag :compat_doctests

  doctest Wasmex.Instance
  doctest Wasmex.Memory
  doctest Wasmex.Pipe
  doctest Wasmex.Store
end
