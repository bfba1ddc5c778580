defmodule Mix.Tasks.Wasmex.RunTest do
  use ExUnit.Case, async: false

  import ExUnit.CaptureIO

  @moduletag :tmp_dir

  defp run(args) do
    stderr =
      capture_io(:stderr, fn ->
        stdout =
          capture_io(fn ->
            status =
              try do
                Mix.Tasks.Wasmex.Run.run(args)
                0
              catch
                :exit, {:shutdown, status} -> status
              end

            send(self(), {:status, status})
          end)

        send(self(), {:stdout, stdout})
      end)

    assert_received {:status, status}
    assert_received {:stdout, stdout}
    %{status: status, stdout: stdout, stderr: stderr}
  end

  test "runs a WASI command with its arguments" do
    assert %{status: 0, stdout: stdout} = run([Wasmex.WasiTool.path(), "--", "args", "a b"])
    assert stdout == "argc=3\nargv[0]=#{Wasmex.WasiTool.path()}\nargv[1]=args\nargv[2]=a b\n"
  end

  test "passes --env and --dir, and prints stderr" do
    assert %{status: 0, stdout: "A=1\nB=two=2\n"} =
             run([Wasmex.WasiTool.path(), "--env", "A=1", "--env", "B=two=2", "--", "env"])
  end

  test "preopens --dir HOST::GUEST", %{tmp_dir: dir} do
    File.write!(Path.join(dir, "f.txt"), "from the host")

    assert %{status: 0, stdout: "from the host"} =
             run([Wasmex.WasiTool.path(), "--dir", "#{dir}::/work", "--", "cat", "/work/f.txt"])

    assert %{status: 2, stderr: "error: " <> _} =
             run([Wasmex.WasiTool.path(), "--", "cat", "/work/f.txt"])
  end

  test "exits with the guest's exit code" do
    assert %{status: 7} = run([Wasmex.WasiTool.path(), "--", "exit", "7"])
    assert %{status: 64, stderr: "usage: " <> _} = run([Wasmex.WasiTool.path()])
  end

  test "prints the fuel used with --fuel, and runs out" do
    assert %{status: 0, stdout: "slept\n", stderr: stderr} =
             run([Wasmex.WasiTool.path(), "--fuel", "10000000", "--", "sleep", "1"])

    assert [_, used] = Regex.run(~r/fuel used: (\d+)/, stderr)
    assert String.to_integer(used) > 0

    assert %{status: 1, stderr: stderr} =
             run([Wasmex.WasiTool.path(), "--fuel", "100", "--", "args"])

    assert stderr =~ ~r/\Afuel used: \d+\nerror: all fuel consumed by WebAssembly\n\z/
  end

  test "invokes an export with --invoke", %{tmp_dir: dir} do
    {:ok, wasm} = Wasmex.Wat.to_wasm(~S[(module (func (export "add") (param i32 i32) (result i32)
        (i32.add (local.get 0) (local.get 1))) (func (export "half") (param f64) (result f64)
        (f64.div (local.get 0) (f64.const 2))))])

    path = Path.join(dir, "math.wasm")
    File.write!(path, wasm)
    assert %{status: 0, stdout: "5\n"} = run([path, "--invoke", "add", "2", "3"])
    assert %{status: 0, stdout: "1.25\n"} = run([path, "--invoke", "half", "2.5"])

    assert %{status: 1, stderr: "error: exported function `nope` not found\n"} =
             run([path, "--invoke", "nope"])
  end

  test "sets the shell's exit status end to end", %{tmp_dir: dir} do
    File.write!(Path.join(dir, "f.txt"), "hi")

    {output, status} =
      System.cmd(
        "mix",
        [
          "wasmex.run",
          Wasmex.WasiTool.path(),
          "--dir",
          "#{dir}::/d",
          "--env",
          "K=V",
          "--",
          "cat",
          "/d/f.txt"
        ],
        env: [{"MIX_ENV", "test"}],
        stderr_to_stdout: true
      )

    assert {output, status} == {"hi", 0}

    {_output, status} =
      System.cmd("mix", ["wasmex.run", Wasmex.WasiTool.path(), "--", "exit", "3"],
        env: [{"MIX_ENV", "test"}],
        stderr_to_stdout: true
      )

    assert status == 3
  end
end
