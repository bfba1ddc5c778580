defmodule Wasmex.NativeTest do
  use ExUnit.Case, async: true

  # A missing or broken NIF library must not crash anything: the module loads, warns, and
  # every call raises a message saying how to get the library.
  test "a missing library gives a clear message" do
    ebin = :code.which(Wasmex.Native) |> to_string() |> Path.dirname()
    script = "try do Wasmex.Store.new() rescue e -> IO.puts(Exception.message(e)) end"

    {output, 0} =
      System.cmd("elixir", ["-pa", ebin, "-e", script],
        env: [{"WASMEX_INTERP_NIF_PATH", "/nonexistent/libwasmex_interp.so"}],
        stderr_to_stdout: true
      )

    assert output =~ "the wasmex_interp NIF could not be loaded"
    assert output =~ "/nonexistent/libwasmex_interp"
    assert output =~ "mix compile"
    assert output =~ "WASMEX_INTERP_NIF_PATH"
  end

  test "WASMEX_INTERP_NIF_PATH loads a prebuilt library" do
    ebin = :code.which(Wasmex.Native) |> to_string() |> Path.dirname()
    library = Application.app_dir(:wasmex_interp, "priv/native/libwasmex_interp.so")

    script =
      "{:ok, store} = Wasmex.Store.new(%{fuel: 7}); IO.inspect(Wasmex.StoreOrCaller.get_fuel(store))"

    {output, 0} =
      System.cmd("elixir", ["-pa", ebin, "-e", script],
        env: [{"WASMEX_INTERP_NIF_PATH", library}],
        stderr_to_stdout: true
      )

    assert output =~ "{:ok, 7}"
  end
end
