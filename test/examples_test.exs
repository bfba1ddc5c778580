defmodule Wasmex.ExamplesTest do
  # The scripts in examples/ (what `./scripts/demo` runs) keep working.
  use ExUnit.Case, async: false

  @moduletag :slow

  test "examples/demo.exs runs every example" do
    {output, status} =
      System.cmd("mix", ["run", "examples/demo.exs"],
        env: [{"MIX_ENV", "test"}],
        stderr_to_stdout: true
      )

    assert status == 0, output

    for expected <- [
          "add(2, 3) = 5",
          "guest says: hello from the guest",
          "HELLO FROM ELIXIR",
          "past the end of memory: {:error, :memory_violation}",
          "expensive_op on 1,000,000 fuel: {:error, :timeout}",
          "argv[1]=args",
          "error: Capabilities insufficient",
          "poolboy-style transaction: {:ok, [42]}",
          "handle_info got the task's result: 21",
          "from the other node: {:ok, [6]}",
          "with it gone: {:ok, [6]}"
        ] do
      assert output =~ expected
    end
  end
end
