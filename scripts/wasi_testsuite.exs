# The WASI testsuite's prebuilt wasm32-wasip1 tests through this library: see
# scripts/wasi-testsuite. Arguments: the checkout's absolute path, then api | cli | both.
#
# Each test is a .wasm with an optional .json of the same name (the testsuite's
# doc/specification.md): `args`, `env`, `root` (a directory preopened as `/`),
# `exit_code` (default 0), and `stdout`/`stderr` (compared only when given); or the same as
# `operations` (`run`, `read`, `wait`). `*.cleanup` files are removed before each test.

defmodule WasiTestsuite.JSON do
  @moduledoc false
  # A small JSON reader (no hex packages here, and OTP 25 has no :json).

  def decode!(text) do
    {value, rest} = value(skip(text))

    case skip(rest) do
      "" -> value
      rest -> raise ArgumentError, "trailing JSON: #{inspect(String.slice(rest, 0, 20))}"
    end
  end

  defp skip(<<c, rest::binary>>) when c in ~c[ \t\r\n], do: skip(rest)
  defp skip(text), do: text

  defp value("{" <> rest), do: object(skip(rest), %{})
  defp value("[" <> rest), do: array(skip(rest), [])
  defp value("\"" <> rest), do: string(rest, [])
  defp value("true" <> rest), do: {true, rest}
  defp value("false" <> rest), do: {false, rest}
  defp value("null" <> rest), do: {nil, rest}

  defp value(text) do
    case Regex.run(~r/^-?\d+(\.\d+)?([eE][-+]?\d+)?/, text) do
      [number | _] ->
        rest = binary_part(text, byte_size(number), byte_size(text) - byte_size(number))

        parsed =
          case Integer.parse(number) do
            {integer, ""} -> integer
            _ -> String.to_float(number)
          end

        {parsed, rest}

      nil ->
        raise ArgumentError, "bad JSON at #{inspect(String.slice(text, 0, 20))}"
    end
  end

  defp object("}" <> rest, acc), do: {acc, rest}

  defp object("\"" <> rest, acc) do
    {key, rest} = string(rest, [])
    ":" <> rest = skip(rest)
    {value, rest} = value(skip(rest))

    case skip(rest) do
      "," <> rest -> object(skip(rest), Map.put(acc, key, value))
      "}" <> rest -> {Map.put(acc, key, value), rest}
    end
  end

  defp array("]" <> rest, acc), do: {Enum.reverse(acc), rest}

  defp array(text, acc) do
    {value, rest} = value(text)

    case skip(rest) do
      "," <> rest -> array(skip(rest), [value | acc])
      "]" <> rest -> {Enum.reverse([value | acc]), rest}
    end
  end

  defp string("\"" <> rest, acc), do: {acc |> Enum.reverse() |> IO.iodata_to_binary(), rest}

  defp string("\\u" <> <<hex::binary-4, rest::binary>>, acc) do
    high = String.to_integer(hex, 16)

    case rest do
      "\\u" <> <<low::binary-4, rest::binary>> when high in 0xD800..0xDBFF ->
        low = String.to_integer(low, 16)
        code = 0x10000 + Bitwise.bsl(high - 0xD800, 10) + (low - 0xDC00)
        string(rest, [<<code::utf8>> | acc])

      _ ->
        string(rest, [<<high::utf8>> | acc])
    end
  end

  defp string("\\" <> <<c, rest::binary>>, acc) do
    escaped =
      case c do
        ?n -> "\n"
        ?t -> "\t"
        ?r -> "\r"
        ?b -> "\b"
        ?f -> "\f"
        c -> <<c>>
      end

    string(rest, [escaped | acc])
  end

  defp string(<<c, rest::binary>>, acc), do: string(rest, [<<c>> | acc])
end

defmodule WasiTestsuite do
  @moduledoc false

  alias Wasmex.Wasi.{PreopenOptions, WasiOptions}

  @timeout 60_000

  def main([dir, paths]) do
    tests =
      Path.wildcard(Path.join(dir, "tests/*/testsuite/wasm32-wasip1/*.wasm"))
      |> Enum.sort()

    if tests == [] do
      IO.puts(:stderr, "no wasm32-wasip1 tests under #{dir}/tests")
      System.halt(64)
    end

    runners =
      case paths do
        "api" -> [api: &run_api/2]
        "cli" -> [cli: &run_cli/2]
        "both" -> [api: &run_api/2, cli: &run_cli/2]
      end

    totals =
      for {name, runner} <- runners do
        IO.puts("== through #{if name == :api, do: "the Elixir API", else: "mix wasmex.run"}")
        results = Enum.map(tests, &run_test(&1, runner))
        passed = Enum.count(results, &(&1 == :pass))
        IO.puts("#{name}: #{passed}/#{length(results)} passed\n")
        {name, passed, length(results)}
      end

    for {name, passed, total} <- totals, do: IO.puts("#{name}: #{passed}/#{total}")

    if Enum.all?(totals, fn {_, passed, total} -> passed == total end),
      do: :ok,
      else: System.halt(1)
  end

  defp run_test(wasm, runner) do
    suite = wasm |> Path.dirname() |> Path.dirname() |> Path.dirname() |> Path.basename()
    label = "#{suite}/#{Path.basename(wasm, ".wasm")}"
    spec = spec(wasm)
    cleanup(Path.dirname(wasm))

    outcome =
      case spec do
        {:unsupported, why} -> {:fail, "unsupported spec: #{why}"}
        spec -> check(spec, runner.(wasm, spec))
      end

    cleanup(Path.dirname(wasm))

    case outcome do
      :pass -> IO.puts("PASS  #{label}")
      {:fail, why} -> IO.puts("FAIL  #{label}: #{why}")
    end

    if outcome == :pass, do: :pass, else: :fail
  end

  defp cleanup(dir) do
    for path <- Path.wildcard(Path.join(dir, "**/*.cleanup"), match_dot: true) do
      File.rm_rf!(path)
    end
  end

  # The legacy keys, or `operations` of `run`, `read` and `wait`.
  defp spec(wasm) do
    json = Path.rootname(wasm) <> ".json"
    config = if File.exists?(json), do: WasiTestsuite.JSON.decode!(File.read!(json)), else: %{}

    config =
      case config do
        %{"operations" => operations} -> from_operations(operations, config)
        legacy -> legacy
      end

    case config do
      {:unsupported, _} = unsupported ->
        unsupported

      config ->
        %{
          args: Map.get(config, "args", []),
          env: Map.get(config, "env", %{}),
          root: config["root"] && Path.join(Path.dirname(wasm), config["root"]),
          exit_code: Map.get(config, "exit_code", 0),
          stdout: config["stdout"],
          stderr: config["stderr"]
        }
    end
  end

  defp from_operations(operations, config) do
    if Map.get(config, "proposals", []) != [] do
      {:unsupported, "proposals #{inspect(config["proposals"])}"}
    else
      Enum.reduce_while(operations, %{}, fn
        %{"type" => "run"} = run, acc ->
          {:cont, Map.merge(acc, Map.delete(run, "type"))}

        %{"type" => "wait"} = wait, acc ->
          {:cont, Map.merge(acc, Map.delete(wait, "type"))}

        %{"type" => "read"} = read, acc ->
          {:cont, Map.put(acc, read["id"] || "stdout", read["payload"] || "")}

        other, _acc ->
          {:halt, {:unsupported, "operation #{inspect(other["type"])}"}}
      end)
    end
  end

  defp check(spec, {exit_code, stdout, stderr}) do
    cond do
      exit_code != spec.exit_code ->
        {:fail,
         "exit #{inspect(exit_code)}, expected #{spec.exit_code}; stderr: #{inspect(stderr)}"}

      spec.stdout && stdout != spec.stdout ->
        {:fail, "stdout #{inspect(stdout)}, expected #{inspect(spec.stdout)}"}

      spec.stderr && stderr != spec.stderr ->
        {:fail, "stderr #{inspect(stderr)}, expected #{inspect(spec.stderr)}"}

      true ->
        :pass
    end
  end

  # Through Wasmex.Store.new_wasi/1 and Wasmex.Instance.call_function/5.
  defp run_api(wasm, spec) do
    {:ok, stdout} = Wasmex.Pipe.new()
    {:ok, stderr} = Wasmex.Pipe.new()

    options = %WasiOptions{
      args: [wasm | spec.args],
      env: spec.env,
      preopen: if(spec.root, do: [%PreopenOptions{path: spec.root, alias: "/"}], else: []),
      stdout: stdout,
      stderr: stderr
    }

    result =
      with {:ok, store} <- Wasmex.Store.new_wasi(options),
           {:ok, module} <- Wasmex.Module.compile(store, File.read!(wasm)),
           {:ok, instance} <- Wasmex.Instance.new(store, module, %{}) do
        Wasmex.Instance.call_function(store, instance, "_start", [], timeout: @timeout)
      end

    exit_code =
      case result do
        {:ok, _} ->
          0

        # proc_exit, with Wasmex's prefix in Wasmex compatibility mode.
        {:error, reason} ->
          case Regex.run(
                 ~r/^(?:Error during function excecution: )?Exited with i32 exit status (\d+)$/,
                 reason
               ) do
            [_, status] -> String.to_integer(status)
            nil -> {:error, reason}
          end
      end

    {exit_code, read(stdout), read(stderr)}
  end

  defp read(pipe) do
    :ok = Wasmex.Pipe.seek(pipe, 0)
    Wasmex.Pipe.read(pipe)
  end

  # Through `mix wasmex.run`, in a fresh OS process, as a user would run it.
  defp run_cli(wasm, spec) do
    stderr_file =
      Path.join(System.tmp_dir!(), "wasi-testsuite-#{System.unique_integer([:positive])}")

    args =
      Enum.flat_map(spec.env, fn {key, value} -> ["--env", "#{key}=#{value}"] end) ++
        if(spec.root, do: ["--dir", "#{spec.root}::/"], else: []) ++
        [wasm, "--" | spec.args]

    # Standard input from /dev/null: the task reads its input to the end, and a port's
    # never ends. (The wasip1 tests read none.)
    {stdout, exit_code} =
      System.cmd(
        "sh",
        ["-c", ~S[exec mix wasmex.run "$@" 2>"$WASI_TESTSUITE_STDERR" </dev/null], "sh" | args],
        env: [{"WASI_TESTSUITE_STDERR", stderr_file}]
      )

    stderr = File.read!(stderr_file)
    File.rm!(stderr_file)
    {exit_code, stdout, stderr}
  end
end

WasiTestsuite.main(System.argv())
