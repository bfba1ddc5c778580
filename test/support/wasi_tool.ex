defmodule Wasmex.WasiTool do
  @moduledoc false
  # Runs test/fixtures/wasi/wasi_tool.wasm (built from wasi_tool.c by
  # scripts/build-wasi-fixtures) in a fresh WASI store.

  alias Wasmex.Wasi.WasiOptions

  @path Path.expand("../fixtures/wasi/wasi_tool.wasm", __DIR__)
  @checks Path.expand("../fixtures/wasi/wasi_checks.wasm", __DIR__)

  def path, do: @path
  def bytes, do: File.read!(@path)
  def checks_bytes, do: File.read!(@checks)

  @doc """
  Runs `wasi_tool args...` with `options` (a `WasiOptions` without stdio) and `imports`;
  returns `%{result: ..., stdout: ..., stderr: ..., store: ...}`. `stdin` is a binary.
  """
  def run(args, options \\ %WasiOptions{}, imports \\ %{}, stdin \\ nil) do
    run_program(bytes(), "wasi_tool", args, options, imports, stdin)
  end

  @doc """
  Runs `wasi_checks args...` (test/fixtures/wasi/wasi_checks.c) as `run/4` runs wasi_tool.
  """
  def checks(args, options \\ %WasiOptions{}, stdin \\ nil) do
    run_program(checks_bytes(), "wasi_checks", args, options, %{}, stdin)
  end

  defp run_program(bytes, name, args, options, imports, stdin) do
    {:ok, stdout} = Wasmex.Pipe.new()
    {:ok, stderr} = Wasmex.Pipe.new()

    stdin_pipe =
      if stdin do
        {:ok, pipe} = Wasmex.Pipe.new()
        {:ok, _} = Wasmex.Pipe.write(pipe, stdin)
        :ok = Wasmex.Pipe.seek(pipe, 0)
        pipe
      end

    options = %{
      options
      | args: [name | args],
        stdout: stdout,
        stderr: stderr,
        stdin: stdin_pipe
    }

    {:ok, store} = Wasmex.Store.new_wasi(options)
    {:ok, module} = Wasmex.Module.compile(store, bytes)
    {:ok, instance} = Wasmex.Instance.new(store, module, imports)
    result = Wasmex.Instance.call_function(store, instance, "_start", [])
    %{result: result, stdout: read(stdout), stderr: read(stderr), store: store}
  end

  defp read(pipe) do
    :ok = Wasmex.Pipe.seek(pipe, 0)
    Wasmex.Pipe.read(pipe)
  end
end
