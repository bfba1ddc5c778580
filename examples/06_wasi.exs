# WASI: a C program (test/fixtures/wasi/wasi_tool.c) run with arguments, environment
# variables, a preopened directory and its output streamed to this process.
tool = Path.expand("../test/fixtures/wasi/wasi_tool.wasm", __DIR__)
dir = Path.join(System.tmp_dir!(), "wasmex_example_#{System.unique_integer([:positive])}")
File.mkdir_p!(dir)
File.write!(Path.join(dir, "config.toml"), "log_level = \"info\"\n")

run = fn args ->
  options = %Wasmex.Wasi.WasiOptions{
    args: ["wasi_tool" | args],
    env: %{"LOG_LEVEL" => "info", "APP_ENV" => "production"},
    preopen: [%Wasmex.Wasi.PreopenOptions{path: dir, alias: "/data"}],
    stdout: {:send, self(), :example},
    stderr: {:send, self(), :example}
  }

  {:ok, store} = Wasmex.Store.new_wasi(options)
  {:ok, module} = Wasmex.Module.compile(store, File.read!(tool))
  {:ok, instance} = Wasmex.Instance.new(store, module, %{})
  result = Wasmex.Instance.call_function(store, instance, "_start", [])

  output =
    Stream.repeatedly(fn ->
      receive do
        {kind, :example, chunk} when kind in [:wasi_stdout, :wasi_stderr] -> chunk
      after
        0 -> nil
      end
    end)
    |> Enum.take_while(& &1)
    |> Enum.join()

  IO.puts("  $ wasi_tool #{Enum.join(args, " ")}  => #{inspect(result)}")
  output |> String.split("\n", trim: true) |> Enum.each(&IO.puts("    #{&1}"))
end

run.(["args"])
run.(["env"])
run.(["ls", "/data"])
run.(["cat", "/data/config.toml"])
run.(["cat", "/etc/passwd"])
run.(["exit", "3"])
File.rm_rf!(dir)
