defmodule Mix.Tasks.Wasmex.Run do
  @shortdoc "Runs a WASI program (or calls an export) with wasmex_interp"
  @moduledoc ~S"""
  Runs a WebAssembly program through this library, like `wasmtime run`.

      mix wasmex.run FILE.wasm [OPTIONS] [-- GUEST_ARGS...]
      mix wasmex.run FILE.wasm --invoke FUNCTION [ARGS...]

  Without `--invoke`, the module is run as a WASI command: its `_start` is called with
  `FILE.wasm` and `GUEST_ARGS` as its arguments. The guest's standard output and error
  are printed as it writes them, and the task exits with the guest's exit status
  (`proc_exit`), 0 when it returns normally, or 1 when it traps.

  With `--invoke FUNCTION`, the export `FUNCTION` is called with `ARGS` (integers or
  floats) and its results are printed, one per line.

  ## Options

    * `--invoke FUNCTION` - call this export instead of `_start`.
    * `--dir HOST[::GUEST]` - let the guest use the host directory `HOST`, as `GUEST`
      (default: the same path). May be given several times.
    * `--env KEY=VALUE` - set an environment variable for the guest. May be repeated.
    * `--fuel N` - run with N units of fuel; the fuel used is printed to standard error.
    * `--stdin` - give the guest this task's standard input (read to its end first).
    * `--timeout MS` - stop the guest after MS milliseconds.

  ## Examples

      mix wasmex.run hello.wasm -- --name world
      mix wasmex.run tool.wasm --dir ./data::/data --env LOG=1 -- ls /data
      mix wasmex.run math.wasm --invoke add 2 3
  """

  use Mix.Task

  alias Wasmex.{Instance, Module, Store, StoreOrCaller}
  alias Wasmex.Wasi.{PreopenOptions, WasiOptions}

  @switches [
    invoke: :string,
    dir: :keep,
    env: :keep,
    fuel: :integer,
    stdin: :boolean,
    timeout: :integer
  ]

  @impl true
  def run(argv) do
    {argv, guest_args} = split_guest_args(argv)
    {options, positional, invalid} = OptionParser.parse(argv, strict: @switches)

    if invalid != [] do
      Mix.raise("unknown or invalid options: #{Enum.map_join(invalid, ", ", &elem(&1, 0))}")
    end

    case positional do
      [file | args] -> exit_with(run_file(file, args, guest_args, options))
      [] -> Mix.raise("usage: mix wasmex.run FILE.wasm [OPTIONS] [-- GUEST_ARGS...]")
    end
  end

  defp split_guest_args(argv) do
    case Enum.split_while(argv, &(&1 != "--")) do
      {argv, ["--" | guest_args]} -> {argv, guest_args}
      {argv, []} -> {argv, []}
    end
  end

  defp run_file(file, args, guest_args, options) do
    Mix.Task.run("app.start")
    bytes = File.read!(file)
    wasi = wasi_options(file, guest_args, options)
    fuel = Keyword.get(options, :fuel)
    limits = if fuel, do: %{fuel: fuel}, else: nil

    with {:ok, store} <- Store.new_wasi(wasi, limits),
         {:ok, module} <- Module.compile(store, bytes),
         {:ok, instance} <- Instance.new(store, module, %{}) do
      {function, params} =
        case Keyword.fetch(options, :invoke) do
          {:ok, function} -> {function, Enum.map(args, &parse_number/1)}
          :error -> {"_start", []}
        end

      timeout = Keyword.get(options, :timeout, :infinity)
      result = call(store, instance, function, params, timeout)
      if fuel, do: report_fuel(store, fuel)
      {result, Keyword.has_key?(options, :invoke)}
    else
      {:error, reason} -> {{:error, reason}, false}
    end
  end

  defp wasi_options(file, guest_args, options) do
    stdin =
      if Keyword.get(options, :stdin, false) do
        {:ok, pipe} = Wasmex.Pipe.new()
        {:ok, _} = Wasmex.Pipe.write(pipe, IO.binread(:stdio, :eof) |> binary_or_empty())
        :ok = Wasmex.Pipe.seek(pipe, 0)
        pipe
      end

    %WasiOptions{
      args: [file | guest_args],
      env: options |> Keyword.get_values(:env) |> Map.new(&parse_env/1),
      preopen: options |> Keyword.get_values(:dir) |> Enum.map(&parse_dir/1),
      stdin: stdin,
      stdout: {:send, self(), :wasmex_run},
      stderr: {:send, self(), :wasmex_run}
    }
  end

  defp binary_or_empty(data) when is_binary(data), do: data
  defp binary_or_empty(_eof_or_error), do: ""

  # Runs the call in a task while this process prints the guest's output as it comes.
  defp call(store, instance, function, params, timeout) do
    task =
      Task.async(fn ->
        Instance.call_function(store, instance, function, params, timeout: timeout)
      end)

    print_until(task.ref)
  end

  defp print_until(ref) do
    receive do
      {:wasi_stdout, :wasmex_run, chunk} ->
        IO.binwrite(:stdio, chunk)
        print_until(ref)

      {:wasi_stderr, :wasmex_run, chunk} ->
        IO.binwrite(:stderr, chunk)
        print_until(ref)

      {^ref, result} ->
        Process.demonitor(ref, [:flush])
        result
    end
  end

  defp report_fuel(store, fuel) do
    {:ok, left} = StoreOrCaller.get_fuel(store)
    IO.puts(:stderr, "fuel used: #{fuel - left}")
  end

  defp exit_with({{:ok, results}, true}) do
    Enum.each(results, &IO.puts(inspect(&1)))
  end

  defp exit_with({{:ok, _}, false}), do: :ok

  defp exit_with({{:error, reason}, _}) do
    # The guest's proc_exit (worded with Wasmex's prefix in Wasmex compatibility mode).
    case Regex.run(
           ~r/^(?:Error during function excecution: )?Exited with i32 exit status (\d+)$/,
           reason
         ) do
      [_, status] ->
        exit({:shutdown, String.to_integer(status)})

      nil ->
        IO.puts(:stderr, "error: #{reason}")
        exit({:shutdown, 1})
    end
  end

  defp parse_env(pair) do
    case String.split(pair, "=", parts: 2) do
      [key, value] -> {key, value}
      _ -> Mix.raise("expected --env KEY=VALUE, got: #{pair}")
    end
  end

  defp parse_dir(spec) do
    case String.split(spec, "::", parts: 2) do
      [host, guest] -> %PreopenOptions{path: host, alias: guest}
      [host] -> %PreopenOptions{path: host}
    end
  end

  defp parse_number(text) do
    case Integer.parse(text) do
      {n, ""} ->
        n

      _ ->
        case Float.parse(text) do
          {x, ""} -> x
          _ -> Mix.raise("expected a number for --invoke, got: #{text}")
        end
    end
  end
end
