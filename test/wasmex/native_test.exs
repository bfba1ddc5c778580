defmodule Wasmex.NativeTest do
  use ExUnit.Case, async: true

  @moduletag :tmp_dir

  defp run_elixir(ebin, env) do
    script =
      "try do IO.inspect(Wasmex.Store.new(%{fuel: 7}) |> elem(0)) rescue e -> IO.puts(Exception.message(e)) end"

    System.cmd("elixir", ["-pa", ebin, "-e", script], env: env, stderr_to_stdout: true)
  end

  defp ebin, do: :code.which(Wasmex.Native) |> to_string() |> Path.dirname()

  # A missing or broken NIF library must not crash anything: the module loads, warns, and
  # every call raises a message saying how to get the library.
  test "a missing library gives a clear message", %{tmp_dir: dir} do
    # The application without its priv/ directory.
    copy = Path.join(dir, "wasmex_interp/ebin")
    File.mkdir_p!(copy)
    File.cp_r!(ebin(), copy)

    {output, 0} = run_elixir(copy, [])
    assert output =~ "the wasmex_interp NIF could not be loaded"
    assert output =~ Path.join(dir, "wasmex_interp/priv/native/libwasmex_interp")
    assert output =~ "mix compile"
    assert output =~ "WASMEX_INTERP_PRECOMPILED_URL"
  end

  test "WASMEX_INTERP_NIF_PATH is not read at run time" do
    # A stale value left in the environment must not beat the library the build carries.
    assert {":ok\n", 0} =
             run_elixir(ebin(), [{"WASMEX_INTERP_NIF_PATH", "/nonexistent/libwasmex_interp.so"}])
  end
end
