defmodule Mix.Tasks.Wasmex.Run do
  @shortdoc "Runs a WASI program (or calls an export) with wasmex_interp"
  @moduledoc ~S"""
  Runs a WebAssembly program through this library, like `wasmtime run`.

      mix wasmex.run [OPTIONS] FILE.wasm [GUEST_ARGS...]
      mix wasmex.run [OPTIONS] --invoke FUNCTION FILE.wasm [ARGS...]

  Options come before the file; everything after it belongs to the guest (a `--` right
  after the file is dropped). Without `--invoke`, the module is run as a WASI command:
  its `_start` is called with `FILE.wasm` and `GUEST_ARGS` as its arguments, its standard
  output and error are printed as it writes them, and its standard input is this task's
  (read to its end before the guest starts, at most 4 GiB; not read when it is a
  terminal, unless `--stdin` is given).

  With `--invoke FUNCTION`, the export `FUNCTION` is called with `ARGS` (integers or
  floats; an integer is taken as a float for an `f32`/`f64` parameter) and its results
  are printed, one per line.

  ## Exit status

    * the guest's exit code: 0 when `_start` returns, `n` for `proc_exit(n)` (WASI
      allows 0 to 125);
    * 134 when the guest traps (`unreachable`, out of bounds access, fuel exhausted,
      `--timeout`, or a `proc_exit` code of 126 or more), as `wasmtime run` does on Unix
      (128 + SIGABRT);
    * 1 when it does not get to run: a missing or invalid file, an unknown export,
      wrong arguments or options, a standard input over 4 GiB. The error is one line on
      standard error.

  ## Options

    * `--invoke FUNCTION` - call this export instead of `_start`.
    * `--dir HOST[::GUEST]` - let the guest use the host directory `HOST`, as `GUEST`
      (default: the same path). May be repeated.
    * `--env KEY=VALUE` - set an environment variable for the guest; `--env KEY` passes
      the host's value of `KEY` (nothing when it is not set). May be repeated.
    * `--fuel N` - run with N units of fuel; the fuel used is printed to standard error.
    * `--timeout MS` - stop the guest after MS milliseconds.
    * `--stdin` / `--no-stdin` - read standard input even from a terminal / never.
    * `--deterministic` - a deterministic run: the guest's clocks are virtual (they
      advance one nanosecond per unit of fuel used, and a sleep takes no time), its
      random bytes come from `--seed`, and file timestamps, inode numbers and directory
      order are stable. The same program with the same arguments, environment, files and
      standard input then prints the same output, byte for byte, on every run and every
      CPU (and uses the same fuel). See `Wasmex.Wasi.WasiOptions`.
    * `--seed N` - the number the guest's random bytes are drawn from in a deterministic
      run (the same number, the same bytes), an integer in 0..18446744073709551615. Required with `--deterministic`.
    * `--clock-start NS` - where the guest's realtime clock starts in a deterministic
      run, in nanoseconds since the Unix epoch. Defaults to 0 (1970-01-01).

  ## Examples

      mix wasmex.run hello.wasm --name world
      mix wasmex.run --dir ./data::/data --env LOG=1 --env HOME tool.wasm ls /data
      echo hi | mix wasmex.run cat.wasm
      mix wasmex.run --invoke add math.wasm 2 3
      mix wasmex.run --deterministic --seed 42 --clock-start 1704067200000000000 app.wasm
  """

  use Mix.Task

  alias Wasmex.{Instance, Module, Pipe, Store, StoreOrCaller}
  alias Wasmex.Wasi.{PreopenOptions, WasiOptions}

  @switches [
    invoke: :string,
    dir: :keep,
    env: :keep,
    fuel: :integer,
    stdin: :boolean,
    timeout: :integer,
    deterministic: :boolean,
    seed: :integer,
    clock_start: :integer
  ]

  @max_u64 18_446_744_073_709_551_615

  # Standard input is read this many bytes at a time, into a pipe of at most a pipe's
  # largest capacity (4 GiB, as `Wasmex.Pipe.new/1` takes it).
  @stdin_chunk 1_048_576
  @max_stdin 4_294_967_296

  # 128 + SIGABRT, as wasmtime exits when the guest traps; WASI exit codes are 0..125.
  @trap_status 134
  @usage "usage: mix wasmex.run [OPTIONS] FILE.wasm [ARGS...] (see `mix help wasmex.run`)"

  @impl true
  def run(argv) do
    case run_argv(argv) do
      :ok -> :ok
      {:exit, 0} -> :ok
      {:exit, status} -> exit({:shutdown, status})
      {:error, message} -> fail(message)
    end
  end

  defp fail(message) do
    IO.puts(:stderr, "error: " <> message)
    exit({:shutdown, 1})
  end

  defp run_argv(argv) do
    with {:ok, options, file, args} <- parse(argv),
         {:ok, bytes} <- read(file),
         Mix.Task.run("app.start"),
         {:ok, wasi} <- wasi_options(file, args, options),
         {:ok, store, instance, call} <- instantiate(bytes, wasi, options, args) do
      {function, params} = call
      result = call(store, instance, function, params, Keyword.get(options, :timeout, :infinity))
      if options[:fuel], do: report_fuel(store, options[:fuel])
      outcome(result, Keyword.has_key?(options, :invoke))
    end
  end

  defp parse(argv) do
    case OptionParser.parse_head(argv, strict: @switches) do
      {_, _, [_ | _] = invalid} ->
        {:error, "unknown or invalid options: #{Enum.map_join(invalid, ", ", &elem(&1, 0))}"}

      {options, [file, "--" | args], []} ->
        {:ok, options, file, args}

      {options, [file | args], []} ->
        {:ok, options, file, args}

      {_, [], []} ->
        {:error, @usage}
    end
  end

  defp read(file) do
    case File.read(file) do
      {:ok, bytes} -> {:ok, bytes}
      {:error, reason} -> {:error, "cannot read #{file}: #{:file.format_error(reason)}"}
    end
  end

  defp instantiate(bytes, wasi, options, args) do
    limits = if options[:fuel], do: %{fuel: options[:fuel]}

    with {:ok, store} <- Store.new_wasi(wasi, limits),
         {:ok, module} <- compile(store, bytes),
         {:ok, call} <- call_of(module, options[:invoke], args),
         {:ok, instance} <- Instance.new(store, module, %{}) do
      {:ok, store, instance, call}
    end
  end

  defp compile(store, bytes) do
    case Module.compile(store, bytes) do
      {:ok, module} -> {:ok, module}
      {:error, reason} -> {:error, "not a valid WebAssembly module: #{first_line(reason)}"}
    end
  end

  defp first_line(text), do: text |> String.split("\n", parts: 2) |> hd()

  # The export to call and its arguments, checked against its type before anything runs:
  # past this point an error is the guest's (a trap).
  defp call_of(module, nil, _args) do
    case Module.exports(module) do
      %{"_start" => {:fn, [], []}} -> {:ok, {"_start", []}}
      _ -> {:error, "the module has no `_start` export to run (use --invoke FUNCTION)"}
    end
  end

  defp call_of(module, function, args) do
    case Module.exports(module) do
      %{^function => {:fn, params, _results}} when length(params) == length(args) ->
        params
        |> Enum.zip(args)
        |> Enum.with_index(1)
        |> Enum.reduce_while({:ok, []}, fn {{type, text}, index}, {:ok, acc} ->
          case parse_param(type, text) do
            {:ok, value} ->
              {:cont, {:ok, [value | acc]}}

            :error ->
              {:halt,
               {:error, "argument #{index} of #{function} (#{type}): not a number: #{text}"}}
          end
        end)
        |> case do
          {:ok, values} -> {:ok, {function, Enum.reverse(values)}}
          error -> error
        end

      %{^function => {:fn, params, _results}} ->
        {:error,
         "#{function} takes #{length(params)} arguments (#{Enum.join(params, ", ")}), got #{length(args)}"}

      _ ->
        {:error, "the module exports no function `#{function}`"}
    end
  end

  defp parse_param(type, text) when type in [:i32, :i64] do
    case Integer.parse(text) do
      {n, ""} -> {:ok, n}
      _ -> :error
    end
  end

  defp parse_param(type, text) when type in [:f32, :f64] do
    case Float.parse(text) do
      {x, ""} -> {:ok, x}
      _ -> float_word(text)
    end
  end

  defp parse_param(_type, _text), do: :error

  defp float_word("nan"), do: {:ok, :nan}
  defp float_word("inf"), do: {:ok, :infinity}
  defp float_word("-inf"), do: {:ok, :neg_infinity}
  defp float_word(_), do: :error

  defp wasi_options(file, args, options) do
    with {:ok, env} <- env(Keyword.get_values(options, :env)),
         {:ok, deterministic} <- deterministic(options),
         {:ok, stdin} <- stdin(Keyword.get(options, :stdin)) do
      {:ok,
       struct!(
         %WasiOptions{
           args: [file | args],
           env: env,
           preopen: options |> Keyword.get_values(:dir) |> Enum.map(&parse_dir/1),
           stdin: stdin,
           stdout: {:send, self(), :wasmex_run},
           stderr: {:send, self(), :wasmex_run}
         },
         deterministic
       )}
    end
  end

  # The deterministic-run fields of WasiOptions.
  defp deterministic(options) do
    case {options[:deterministic], options[:seed], options[:clock_start]} do
      {true, nil, _} ->
        {:error,
         "--deterministic needs --seed N (the number the guest's random bytes are drawn from)"}

      {true, seed, start} ->
        with :ok <- in_u64("--seed", seed),
             :ok <- in_u64("--clock-start", start || 0) do
          {:ok, [deterministic: true, random_seed: seed, clock_start: start || 0]}
        end

      {_, nil, nil} ->
        {:ok, []}

      _ ->
        {:error, "--seed and --clock-start are for a deterministic run (add --deterministic)"}
    end
  end

  defp in_u64(_option, value) when value in 0..@max_u64, do: :ok

  defp in_u64(option, value),
    do: {:error, "#{option} must be an integer in 0..#{@max_u64}, got: #{value}"}

  defp env(pairs) do
    Enum.reduce_while(pairs, {:ok, %{}}, fn pair, {:ok, env} ->
      case String.split(pair, "=", parts: 2) do
        [""] -> {:halt, {:error, "expected --env KEY or --env KEY=VALUE"}}
        [key, value] -> {:cont, {:ok, Map.put(env, key, value)}}
        # Like wasmtime: the host's value, if it has one.
        [key] -> {:cont, {:ok, maybe_put(env, key, System.get_env(key))}}
      end
    end)
  end

  defp maybe_put(env, _key, nil), do: env
  defp maybe_put(env, key, value), do: Map.put(env, key, value)

  # The guest reads a pipe filled before it starts (WASI stdin here is a Wasmex.Pipe).
  # Reading a terminal would wait for end of input even for a guest that reads nothing.
  defp stdin(false), do: {:ok, nil}

  defp stdin(forced?) do
    if forced? || not terminal?(), do: stdin_pipe(:stdio), else: {:ok, nil}
  end

  @doc false
  # A pipe holding all of `device`'s input, sized to it: `{:ok, pipe}`, or an error when
  # the input is larger than `max` bytes (a pipe's largest capacity), found once a chunk
  # past `max` is read (the rest is not read).
  @spec stdin_pipe(IO.device(), non_neg_integer()) :: {:ok, Pipe.t()} | {:error, String.t()}
  def stdin_pipe(device, max \\ @max_stdin) do
    with {:ok, chunks, size} <- read_input(device, max, [], 0) do
      {:ok, pipe} = Pipe.new(capacity: size)
      # Chunk by chunk: a pipe write of at most 1 MiB stays on a normal scheduler.
      Enum.each(chunks, fn chunk -> {:ok, _} = Pipe.write(pipe, chunk) end)
      :ok = Pipe.seek(pipe, 0)
      {:ok, pipe}
    end
  end

  defp read_input(device, max, chunks, size) do
    case IO.binread(device, @stdin_chunk) do
      data when is_binary(data) and size + byte_size(data) <= max ->
        read_input(device, max, [data | chunks], size + byte_size(data))

      data when is_binary(data) ->
        {:error, "standard input is larger than #{max} bytes, the most a guest's can hold"}

      :eof ->
        {:ok, Enum.reverse(chunks), size}

      {:error, reason} ->
        {:error, "cannot read standard input: #{inspect(reason)}"}
    end
  end

  defp terminal? do
    case File.read_link("/proc/self/fd/0") do
      {:ok, "/dev/pts/" <> _} -> true
      {:ok, "/dev/tty" <> _} -> true
      {:ok, "/dev/console"} -> true
      _ -> false
    end
  end

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

  defp outcome({:ok, results}, true = _invoke?), do: Enum.each(results, &IO.puts(inspect(&1)))
  defp outcome({:ok, _}, false), do: :ok

  defp outcome({:error, "Exited with i32 exit status " <> status}, _),
    do: {:exit, String.to_integer(status)}

  # The same, worded with Wasmex's prefix in Wasmex compatibility mode.
  defp outcome(
         {:error, "Error during function excecution: Exited with i32 exit status " <> status},
         _
       ),
       do: {:exit, String.to_integer(status)}

  defp outcome({:error, reason}, _) do
    IO.puts(:stderr, "error: the guest trapped: #{reason}")
    {:exit, @trap_status}
  end

  defp parse_dir(spec) do
    case String.split(spec, "::", parts: 2) do
      [host, guest] -> %PreopenOptions{path: host, alias: guest}
      [host] -> %PreopenOptions{path: host}
    end
  end
end
