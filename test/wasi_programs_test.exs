defmodule Wasmex.WasiProgramsTest do
  # A real WASI program, built from C with clang and wasi-libc
  # (test/fixtures/wasi/wasi_tool.c), through every part of WASI the library wires up.
  use ExUnit.Case, async: true

  alias Wasmex.WasiTool
  alias Wasmex.Wasi.{PreopenOptions, WasiOptions}

  @moduletag :tmp_dir

  test "prints its arguments" do
    assert %{result: {:ok, []}, stdout: stdout} = WasiTool.run(["args", "two words", "ünïcödé"])

    assert stdout ==
             "argc=4\nargv[0]=wasi_tool\nargv[1]=args\nargv[2]=two words\nargv[3]=ünïcödé\n"
  end

  test "prints its environment, and nothing of the host's" do
    options = %WasiOptions{env: %{"LOG_LEVEL" => "info", "APP_ENV" => "production"}}
    assert %{result: {:ok, []}, stdout: stdout} = WasiTool.run(["env"], options)
    assert stdout == "APP_ENV=production\nLOG_LEVEL=info\n"
  end

  test "lists, reads, writes, appends, makes and removes files in a preopened directory",
       %{tmp_dir: dir} do
    File.write!(Path.join(dir, "hello.txt"), "hi")
    File.mkdir!(Path.join(dir, "sub"))
    options = %WasiOptions{preopen: [%PreopenOptions{path: dir, alias: "/data"}]}
    run = &WasiTool.run(&1, options)

    assert %{result: {:ok, []}, stdout: "hello.txt\nsub/\n"} = run.(["ls", "/data"])
    assert %{result: {:ok, []}, stdout: "hi"} = run.(["cat", "/data/hello.txt"])

    assert %{result: {:ok, []}, stdout: "wrote 5 bytes\n"} =
             run.(["write", "/data/sub/new.txt", "fresh"])

    assert File.read!(Path.join(dir, "sub/new.txt")) == "fresh"
    assert %{result: {:ok, []}} = run.(["append", "/data/sub/new.txt", "er"])
    assert File.read!(Path.join(dir, "sub/new.txt")) == "fresher"
    assert %{result: {:ok, []}, stdout: "ok\n"} = run.(["mkdir", "/data/made"])
    assert File.dir?(Path.join(dir, "made"))
    assert %{result: {:ok, []}, stdout: "ok\n"} = run.(["rm", "/data/sub/new.txt"])
    refute File.exists?(Path.join(dir, "sub/new.txt"))
  end

  test "sees a preopen under its host path when it has no alias", %{tmp_dir: dir} do
    File.write!(Path.join(dir, "f"), "same path")
    options = %WasiOptions{preopen: [%PreopenOptions{path: dir}]}

    assert %{result: {:ok, []}, stdout: "same path"} =
             WasiTool.run(["cat", Path.join(dir, "f")], options)
  end

  test "cannot reach anything outside its preopened directories", %{tmp_dir: dir} do
    inside = Path.join(dir, "inside")
    File.mkdir!(inside)
    File.write!(Path.join(dir, "secret.txt"), "secret")
    options = %WasiOptions{preopen: [%PreopenOptions{path: inside, alias: "/data"}]}

    for path <- [
          "/data/../secret.txt",
          "/data/../../../../etc/passwd",
          Path.join(dir, "secret.txt"),
          "/etc/passwd",
          "secret.txt"
        ] do
      assert %{
               result: {:error, "Exited with i32 exit status 2"},
               stdout: "",
               stderr: "error: " <> _
             } = WasiTool.run(["cat", path], options),
             "#{path} was reachable"
    end

    assert %{result: {:error, "Exited with i32 exit status 2"}} =
             WasiTool.run(["ls", "/data/.."], options)

    assert %{result: {:error, "Exited with i32 exit status 2"}} =
             WasiTool.run(["write", "/data/../escaped", "x"], options)

    refute File.exists?(Path.join(dir, "escaped"))
    # Without preopens it reaches nothing at all.
    assert %{result: {:error, "Exited with i32 exit status 2"}} = WasiTool.run(["ls", "/"])
  end

  test "echoes stdin to stdout, binary-safe" do
    input = :crypto.strong_rand_bytes(200_000) <> "end"

    assert %{result: {:ok, []}, stdout: ^input} =
             WasiTool.run(["echo"], %WasiOptions{}, %{}, input)
  end

  test "reads an empty stdin as end of input, without blocking" do
    assert %{result: {:ok, []}, stdout: "0 bytes\n"} = WasiTool.run(["count-stdin"])
  end

  test "exits with its exit code: 0 is success" do
    assert %{result: {:ok, []}} = WasiTool.run(["exit", "0"])
    assert %{result: {:error, "Exited with i32 exit status 1"}} = WasiTool.run(["exit", "1"])
    assert %{result: {:error, "Exited with i32 exit status 125"}} = WasiTool.run(["exit", "125"])

    assert %{result: {:error, "Exited with i32 exit status 64"}, stderr: "usage: " <> _} =
             WasiTool.run(["nope"])
  end

  test "writes large outputs whole" do
    for size <- [0, 1, 26, 65_520, 65_521, 1_000_003] do
      expected = for i <- 0..(size - 1)//1, into: "", do: <<?a + rem(i, 26)>>
      assert %{result: {:ok, []}, stdout: ^expected} = WasiTool.run(["bigout", "#{size}"])
    end
  end

  test "writes stderr apart from stdout" do
    assert %{result: {:ok, []}, stdout: "", stderr: "oops\n"} = WasiTool.run(["stderr", "oops"])
  end

  test "reads the clocks and randomness, which Elixir imports can replace" do
    assert %{result: {:ok, []}, stdout: stdout} = WasiTool.run(["time"])
    assert [_, realtime] = Regex.run(~r/realtime=(\d+)/, stdout)
    assert abs(String.to_integer(realtime) - System.os_time(:second)) < 60

    fixed_clock = fn context, _clock, _precision, time_ptr ->
      :ok =
        Wasmex.Memory.write_binary(
          context.store,
          context.memory,
          time_ptr,
          <<42_000_000_000::little-64>>
        )

      0
    end

    fixed_random = fn context, buffer, length ->
      :ok =
        Wasmex.Memory.write_binary(
          context.store,
          context.memory,
          buffer,
          :binary.copy(<<4>>, length)
        )

      0
    end

    imports = %{
      "wasi_snapshot_preview1" => %{
        "clock_time_get" => {:fn, [:i32, :i64, :i32], [:i32], fixed_clock},
        "random_get" => {:fn, [:i32, :i32], [:i32], fixed_random}
      }
    }

    assert %{result: {:ok, []}, stdout: "realtime=42\nmonotonic=42000000000\n"} =
             WasiTool.run(["time"], %WasiOptions{}, imports)

    assert %{result: {:ok, []}, stdout: "random=4,4,4,4\n"} =
             WasiTool.run(["random"], %WasiOptions{}, imports)
  end

  test "sleeps without blocking a scheduler" do
    started = System.monotonic_time(:millisecond)
    assert %{result: {:ok, []}, stdout: "slept\n"} = WasiTool.run(["sleep", "120"])
    assert System.monotonic_time(:millisecond) - started >= 120
  end

  test "streams its output to a process while it runs" do
    tag = make_ref()
    options = %WasiOptions{args: ["wasi_tool", "stream", "5", "30"], stdout: {:send, self(), tag}}
    {:ok, store} = Wasmex.Store.new_wasi(options)
    {:ok, module} = Wasmex.Module.compile(store, WasiTool.bytes())
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    task = Task.async(fn -> Wasmex.Instance.call_function(store, instance, "_start", []) end)

    # The first lines arrive while the program still runs (it sleeps 30 ms between lines).
    assert_receive {:wasi_stdout, ^tag, "line 1\n"}, 1_000
    assert Task.yield(task, 0) == nil
    assert Task.await(task) == {:ok, []}

    rest = for _ <- 2..5, do: receive(do: ({:wasi_stdout, ^tag, chunk} -> chunk))
    assert Enum.join(rest) == "line 2\nline 3\nline 4\nline 5\n"
  end
end
