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

    for {args, start} <- [
          {[Path.join(tmp, "missing.wasm")],
           "error: cannot read #{tmp}/missing.wasm: no such file or directory"},
          {[bad], "error: not a valid WebAssembly module: "},
          {["--fuell", "1", @tool], "error: unknown or invalid options: --fuell"},
          {[], "error: usage: mix wasmex.run"}
        ] do
      assert %{status: 1, stdout: "", stderr: stderr} = run(args, tmp)
      assert String.starts_with?(stderr, start)
      assert [_one_line] = String.split(stderr, "\n", trim: true)
    end
  end
end
