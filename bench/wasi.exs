# W6: WASI stdio throughput. A C program (test/fixtures/wasi/wasi_tool.c) writes 1 MB to
# a stdout pipe, and reads 1 MB of stdin. Run with `mix run bench/wasi.exs`.
Code.require_file("harness.exs", __DIR__)

defmodule Bench.Wasi do
  @tool Path.expand("../test/fixtures/wasi/wasi_tool.wasm", __DIR__)
  @size 1_048_576

  def size, do: @size

  # MB/s of `reps` runs of the tool with `args`, stdin from `input`.
  def throughput(args, input, reps \\ 15) do
    {:ok, engine} = Wasmex.Engine.new(%Wasmex.EngineConfig{})
    {:ok, store} = Wasmex.Store.new(nil, engine)
    {:ok, module} = Wasmex.Module.compile(store, File.read!(@tool))

    rates =
      for _ <- 1..reps do
        {:ok, stdin} = Wasmex.Pipe.new()
        {:ok, _} = Wasmex.Pipe.write(stdin, input)
        :ok = Wasmex.Pipe.seek(stdin, 0)
        {:ok, stdout} = Wasmex.Pipe.new()

        options = %Wasmex.Wasi.WasiOptions{
          args: ["wasi_tool" | args],
          stdin: stdin,
          stdout: stdout
        }

        {:ok, store} = Wasmex.Store.new_wasi(options, nil, engine)
        {:ok, instance} = Wasmex.Instance.new(store, module, %{})

        {us, {:ok, []}} =
          :timer.tc(fn -> Wasmex.Instance.call_function(store, instance, "_start", []) end)

        @size / us
      end

    Bench.stats(rates)
  end
end

write = Bench.Wasi.throughput(["bigout", "#{Bench.Wasi.size()}"], "")
read = Bench.Wasi.throughput(["count-stdin"], :binary.copy("x", Bench.Wasi.size()))

rows = [
  {"W6", "1 MB to a stdout pipe", write, "MB/s", "≥ 200 MB/s", write.median >= 200},
  {"W6", "1 MB from a stdin pipe", read, "MB/s", "≥ 200 MB/s", read.median >= 200}
]

Bench.table(rows)
IO.puts("\nwrote " <> Bench.write_results("wasi", rows))
