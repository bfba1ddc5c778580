defmodule Mix.Tasks.Wasmex.RunTest do
  # `mix wasmex.run` as a user runs it: a `mix` OS process, with its own standard input,
  # output, error and exit status.
  use ExUnit.Case, async: true

  @moduletag :tmp_dir

  @tool Wasmex.WasiTool.path()

  # Runs `mix wasmex.run ARGS...` with `stdin` (a binary) as its standard input.
  defp run(args, tmp, options \\ []) do
    stdin = Path.join(tmp, "stdin-#{System.unique_integer([:positive])}")
    stderr = stdin <> ".err"
    File.write!(stdin, Keyword.get(options, :stdin, ""))

    {stdout, status} =
      System.cmd("sh", ["-c", ~S[exec mix wasmex.run "$@" <"$IN" 2>"$ERR"], "sh" | args],
        env:
          [{"MIX_ENV", "test"}, {"IN", stdin}, {"ERR", stderr}] ++ Keyword.get(options, :env, [])
      )

    %{status: status, stdout: stdout, stderr: File.read!(stderr)}
  end

  # Runs several at once: each is a BEAM starting up.
  defp run_all(runs, tmp) do
    runs
    |> Task.async_stream(
      fn
        {args, options} -> run(args, tmp, options)
        args -> run(args, tmp)
      end,
      timeout: 60_000
    )
    |> Enum.map(fn {:ok, result} -> result end)
  end

  defp wat(tmp, name, text) do
    {:ok, wasm} = Wasmex.Wat.to_wasm(text)
    path = Path.join(tmp, name)
    File.write!(path, wasm)
    path
  end

  test "arguments after the file are the guest's, and stdin is passed through", %{tmp_dir: tmp} do
    assert %{status: 0, stdout: stdout} = run([@tool, "args", "a b", "--dir", "-x"], tmp)

    assert stdout ==
             "argc=5\nargv[0]=#{@tool}\nargv[1]=args\nargv[2]=a b\nargv[3]=--dir\nargv[4]=-x\n"

    # A `--` right after the file is dropped, as before.
    assert %{status: 0, stdout: "argc=2\nargv[0]=" <> _} = run([@tool, "--", "args"], tmp)

    assert %{status: 0, stdout: "hello\nworld"} = run([@tool, "echo"], tmp, stdin: "hello\nworld")
    assert %{status: 0, stdout: ""} = run(["--no-stdin", @tool, "echo"], tmp, stdin: "hello")
  end

  test "standard input larger than a pipe's default capacity (64 MiB)", %{tmp_dir: tmp} do
    stdin = :binary.copy("0123456789abcdef", 4 * 1_048_576) <> "!"

    assert %{status: 0, stdout: "67108865 bytes\n", stderr: ""} =
             run([@tool, "count-stdin"], tmp, stdin: stdin)
  end

  describe "stdin_pipe/2" do
    test "holds all of the input, read a chunk at a time" do
      input = :binary.copy("abc", 1_000_000)
      {:ok, device} = StringIO.open(input)
      assert {:ok, pipe} = Mix.Tasks.Wasmex.Run.stdin_pipe(device)
      assert Wasmex.Pipe.size(pipe) == 3_000_000
      assert Wasmex.Pipe.read(pipe) == input
    end

    test "refuses input larger than a pipe can hold, in one line" do
      {:ok, device} = StringIO.open("12345678901")

      assert Mix.Tasks.Wasmex.Run.stdin_pipe(device, 10) ==
               {:error, "standard input is larger than 10 bytes, the most a guest's can hold"}

      {:ok, device} = StringIO.open("1234567890")
      assert {:ok, pipe} = Mix.Tasks.Wasmex.Run.stdin_pipe(device, 10)
      assert Wasmex.Pipe.read(pipe) == "1234567890"
    end
  end

  test "--env KEY=VALUE, and --env KEY inherits the host's value", %{tmp_dir: tmp} do
    assert %{status: 0, stdout: "A=1\nB=two=2\nHOSTVAR=from host\n"} =
             run(
               [
                 "--env",
                 "A=1",
                 "--env",
                 "B=two=2",
                 "--env",
                 "HOSTVAR",
                 "--env",
                 "UNSET_VAR",
                 @tool,
                 "env"
               ],
               tmp,
               env: [{"HOSTVAR", "from host"}, {"UNSET_VAR", nil}]
             )
  end

  test "--dir HOST::GUEST", %{tmp_dir: tmp} do
    File.write!(Path.join(tmp, "f.txt"), "from the host")

    [preopened, not_preopened] =
      run_all(
        [["--dir", "#{tmp}::/work", @tool, "cat", "/work/f.txt"], [@tool, "cat", "/work/f.txt"]],
        tmp
      )

    assert %{status: 0, stdout: "from the host"} = preopened
    # Not preopened: the guest's own error and exit code.
    assert %{status: 2, stderr: "error: Capabilities insufficient\n"} = not_preopened
  end

  test "exit status: the guest's exit code; 134 for a trap, and for proc_exit beyond WASI's 0..125",
       %{tmp_dir: tmp} do
    trap = wat(tmp, "trap.wasm", ~S[(module (func (export "_start") unreachable))])

    [seven, max, usage, beyond, trapped] =
      run_all(
        [[@tool, "exit", "7"], [@tool, "exit", "125"], [@tool], [@tool, "exit", "200"], [trap]],
        tmp
      )

    assert %{status: 7, stderr: ""} = seven
    assert %{status: 125} = max
    assert %{status: 64, stderr: "usage: " <> _} = usage

    assert %{status: 134, stderr: "error: the guest trapped: exit with invalid exit status" <> _} =
             beyond

    assert %{status: 134, stderr: "error: the guest trapped: unreachable" <> _} = trapped
  end

  test "--fuel prints the fuel used, and running out is a trap; --timeout too", %{tmp_dir: tmp} do
    assert %{status: 0, stdout: "slept\n", stderr: stderr} =
             run(["--fuel", "10000000", @tool, "sleep", "1"], tmp)

    assert [_, used] = Regex.run(~r/fuel used: (\d+)/, stderr)
    assert String.to_integer(used) > 0

    assert %{status: 134, stderr: stderr} = run(["--fuel", "100", @tool, "args"], tmp)

    assert stderr =~
             ~r/\Afuel used: \d+\nerror: the guest trapped: all fuel consumed by WebAssembly\n\z/

    spin = wat(tmp, "spin.wasm", ~S[(module (func (export "_start") (loop (br 0))))])

    assert %{status: 134, stderr: "error: the guest trapped: timeout" <> _} =
             run(["--timeout", "50", spin], tmp)
  end

  test "--deterministic --seed N: the same output, byte for byte, on every run",
       %{tmp_dir: tmp} do
    # A directory for each run, all alike: the program writes a file into it.
    dirs =
      for name <- ["a", "b", "c", "d"] do
        dir = Path.join(tmp, name)
        File.mkdir_p!(dir)
        File.write!(Path.join(dir, "input.txt"), "the same")
        dir
      end

    checks = Path.expand("../../fixtures/wasi/wasi_checks.wasm", __DIR__)
    # Prints the clocks, random bytes, a file it wrote, a listing and file metadata.
    run = fn dir, options ->
      options ++ ["--fuel", "10000000000", "--dir", "#{dir}::/data", checks, "det", "/data"]
    end

    [first, second, other_seed, clock_start] =
      run_all(
        [
          run.(Enum.at(dirs, 0), ["--deterministic", "--seed", "42"]),
          run.(Enum.at(dirs, 1), ["--deterministic", "--seed", "42"]),
          run.(Enum.at(dirs, 2), ["--deterministic", "--seed", "43"]),
          run.(Enum.at(dirs, 3), [
            "--deterministic",
            "--seed",
            "42",
            "--clock-start",
            "1704067200000000000"
          ])
        ],
        tmp
      )

    assert %{status: 0, stdout: "realtime=" <> _ = stdout, stderr: "fuel used: " <> _} = first
    assert second == first
    assert stdout =~ ~r/^random=[0-9a-f]{32}$/m
    # Another seed: other random bytes.
    assert other_seed.status == 0
    assert random_line(other_seed.stdout) != random_line(stdout)

    [_, realtime] = Regex.run(~r/^realtime=(\d+)/, clock_start.stdout)
    assert (String.to_integer(realtime) - 1_704_067_200_000_000_000) in 1..1_000_000_000
  end

  defp random_line(stdout), do: hd(Regex.run(~r/^random=.*$/m, stdout))

  test "--invoke converts arguments to the parameter types", %{tmp_dir: tmp} do
    math = wat(tmp, "math.wasm", ~S[(module
        (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
        (func (export "half") (param f64) (result f64) (f64.div (local.get 0) (f64.const 2))))])

    assert %{status: 0, stdout: "5\n"} = run(["--invoke", "add", math, "2", "3"], tmp)
    assert %{status: 0, stdout: "1.0\n"} = run(["--invoke", "half", math, "2"], tmp)
    assert %{status: 0, stdout: "1.25\n"} = run(["--invoke", "half", math, "2.5"], tmp)

    for {args, message} <- [
          {["--invoke", "nope", math], "error: the module exports no function `nope`\n"},
          {["--invoke", "add", math, "1"], "error: add takes 2 arguments (i32, i32), got 1\n"},
          {["--invoke", "add", math, "1", "2.5"],
           "error: argument 2 of add (i32): not a number: 2.5\n"}
        ] do
      assert %{status: 1, stdout: "", stderr: ^message} = run(args, tmp)
    end
  end

  test "a missing file, bad wasm or bad options: one line, status 1", %{tmp_dir: tmp} do
    bad = Path.join(tmp, "bad.wasm")
    File.write!(bad, <<0, "asm", 1, 0, 0, 0, 99>>)

    cases = [
      {[Path.join(tmp, "missing.wasm")],
       "error: cannot read #{tmp}/missing.wasm: no such file or directory"},
      {[bad], "error: not a valid WebAssembly module: "},
      {["--fuell", "1", @tool], "error: unknown or invalid options: --fuell"},
      {["--deterministic", @tool], "error: --deterministic needs --seed N"},
      {["--seed", "1", @tool], "error: --seed and --clock-start are for a deterministic run"},
      {["--deterministic", "--seed", "-1", @tool],
       "error: --seed must be an integer in 0..18446744073709551615, got: -1"},
      {[], "error: usage: mix wasmex.run"}
    ]

    results = run_all(Enum.map(cases, &elem(&1, 0)), tmp)

    for {{_args, start}, result} <- Enum.zip(cases, results) do
      assert %{status: 1, stdout: "", stderr: stderr} = result
      assert String.starts_with?(stderr, start)
      assert [_one_line] = String.split(stderr, "\n", trim: true)
    end
  end
end
