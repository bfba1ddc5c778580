defmodule Wasmex.WasiProgramsTest do
  # Real WASI programs, built from C with clang and wasi-libc (test/fixtures/wasi/): wasi_tool.c
  # through every part of WASI the library wires up, wasi_checks.c through what the sandbox
  # must get right.
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

  describe "a program opening special files" do
    test "gets ENOTSUP at once for a FIFO, a link to one, or a device", %{tmp_dir: dir} do
      fifo = Path.join(dir, "fifo")
      {_, 0} = System.cmd("mkfifo", [fifo])
      File.ln_s!("fifo", Path.join(dir, "link"))

      options = %WasiOptions{
        preopen: [
          %PreopenOptions{path: dir, alias: "/data"},
          %PreopenOptions{path: "/dev", alias: "/dev"}
        ]
      }

      runs =
        for command <- ["open", "open-write"],
            path <- ["/data/fifo", "/data/link", "/dev/null"],
            do: [command, path]

      results = without_blocking_on(fifo, fn -> Enum.map(runs, &WasiTool.checks(&1, options)) end)

      for {run, result} <- Enum.zip(runs, results) do
        assert %{
                 result: {:error, "Exited with i32 exit status 2"},
                 stderr: "error: Not supported\n"
               } = result,
               inspect(run)
      end
    end
  end

  # A regression blocks the guest's scheduler thread in open(2) until the FIFO's other end
  # opens: then this opens it (read-write, which never blocks), so that the test fails
  # instead of hanging the suite.
  defp without_blocking_on(fifo, fun) do
    task = Task.async(fun)

    case Task.yield(task, 10_000) do
      {:ok, result} ->
        result

      nil ->
        spawn(fn -> File.open(fifo, [:read, :write]) end)
        Task.shutdown(task, :brutal_kill)
        flunk("opening a FIFO blocked")
    end
  end

  test "gets EMFILE past its store's fd limit", %{tmp_dir: dir} do
    File.write!(Path.join(dir, "f"), "x")
    options = %WasiOptions{preopen: [%PreopenOptions{path: dir, alias: "/data"}]}

    # 256 by default, stdio and the preopened directory included.
    assert %{result: {:ok, []}, stdout: "opened 252: No file descriptors available\n"} =
             WasiTool.checks(["open-many", "/data/f"], options)

    assert %{result: {:ok, []}, stdout: "opened 6: No file descriptors available\n"} =
             WasiTool.checks(["open-many", "/data/f"], %{options | fd_limit: 10})
  end

  test "polls stdin and stdout at once, without waiting for the poll's timeout" do
    {microseconds, result} =
      :timer.tc(fn -> WasiTool.checks(["poll-stdin", "10000"], %WasiOptions{}, "hello") end)

    assert %{result: {:ok, []}, stdout: "poll=1 in\nread 5 bytes\n"} = result
    assert microseconds < 5_000_000

    # An empty stdin is at its end: readable, with a hangup.
    assert %{stdout: "poll=1 in hup\nread 0 bytes\n"} = WasiTool.checks(["poll-stdin", "10000"])
    assert %{result: {:ok, []}, stdout: "poll=2 out out\n"} = WasiTool.checks(["poll-out"])
  end

  test "loses the rights it drops", %{tmp_dir: dir} do
    options = %WasiOptions{preopen: [%PreopenOptions{path: dir, alias: "/data"}]}

    # wasi-libc reports ENOTCAPABLE from read() and write() as EBADF.
    assert %{result: {:ok, []}, stdout: stdout} = WasiTool.checks(["rights", "/data/r"], options)

    assert stdout ==
             "before: read write seek\ndrop: Success\nafter: seek\n" <>
               "read: Bad file descriptor\nwrite: Bad file descriptor\n" <>
               "regrant: Capabilities insufficient\n"
  end

  test "gets ENOTSOCK from shutdown() of a file" do
    assert %{result: {:ok, []}, stdout: "shutdown: Not a socket\n"} =
             WasiTool.checks(["shutdown"])
  end

  test "opens with O_CREAT | O_TRUNC | O_WRONLY | O_APPEND", %{tmp_dir: dir} do
    File.write!(Path.join(dir, "f"), "old content")
    options = %WasiOptions{preopen: [%PreopenOptions{path: dir, alias: "/data"}]}
    # Truncated, then both writes appended (the seek to 0 between them does not matter).
    assert %{result: {:ok, []}, stdout: "size=4\n"} =
             WasiTool.checks(["append-trunc", "/data/f"], options)

    assert File.read!(Path.join(dir, "f")) == "abcd"
  end

  describe "a deterministic run" do
    @clock_start 1_704_067_200_000_000_000

    # `wasi_checks det` in a fresh store, on a fresh copy of the same files; `slice` forces
    # the fuel of every slice (its listing is read as host work, between slices).
    defp det_run(dir, seed, slice \\ nil) do
      work = Path.join(dir, "run-#{System.unique_integer([:positive])}")
      File.mkdir_p!(Path.join(work, "sub"))
      File.write!(Path.join(work, "b.txt"), "bee")
      File.write!(Path.join(work, "a.txt"), "ay")
      {:ok, stdout} = Wasmex.Pipe.new()

      options = %WasiOptions{
        args: ["wasi_checks", "det", "/data"],
        preopen: [%PreopenOptions{path: work, alias: "/data"}],
        stdout: stdout,
        deterministic: true,
        clock_start: @clock_start,
        random_seed: seed
      }

      fuel = 10_000_000_000
      {:ok, store} = Wasmex.Store.new_wasi(options, %{fuel: fuel})
      if slice, do: :ok = Wasmex.Native.hook_set_slice(store.resource, slice)
      {:ok, module} = Wasmex.Module.compile(store, WasiTool.checks_bytes())
      {:ok, instance} = Wasmex.Instance.new(store, module, %{})

      {microseconds, result} =
        :timer.tc(fn -> Wasmex.Instance.call_function(store, instance, "_start", []) end)

      assert result == {:ok, []}
      {:ok, left} = Wasmex.StoreOrCaller.get_fuel(store)
      :ok = Wasmex.Pipe.seek(stdout, 0)

      %{
        stdout: Wasmex.Pipe.read(stdout),
        written: File.read!(Path.join(work, "out.txt")),
        fuel: fuel - left,
        microseconds: microseconds
      }
    end

    test "prints the same times, random bytes, listing and file metadata every time", %{
      tmp_dir: dir
    } do
      first = det_run(dir, 42)

      # Whatever the slicing.
      for slice <- [nil, 10_000, 100_000_000] do
        again = det_run(dir, 42, slice)
        assert Map.delete(again, :microseconds) == Map.delete(first, :microseconds)
      end

      [_, realtime, monotonic] = Regex.run(~r/^realtime=(\d+) monotonic=(\d+)\n/, first.stdout)
      # The clocks start at clock_start (realtime) and 0, and count fuel (the two readings
      # are a few instructions apart).
      {realtime, monotonic} = {String.to_integer(realtime), String.to_integer(monotonic)}
      assert abs(realtime - @clock_start - monotonic) < 1_000
      assert monotonic in 1..first.fuel
      assert first.stdout =~ "\nresolution=1\n"

      # The program slept 1.5 s of virtual time, and no real time.
      [_, later] = Regex.run(~r/after sleep: realtime=(\d+)/, first.stdout)
      assert String.to_integer(later) - realtime >= 1_500_000_000
      assert first.microseconds < 1_500_000

      # Names in order, stable inode numbers, timestamps at clock_start.
      assert first.stdout =~ "listing: .(1) ..(1) a.txt(2) b.txt(3) out.txt(4) sub(5)\n"
      assert first.stdout =~ "stat .: dev=1 ino=1 nlink=1 size=0 mtime=1704067200.000000000\n"
      assert first.stdout =~ "stat a.txt: dev=1 ino=2 nlink=1 size=2 mtime=1704067200.000000000\n"
      assert first.written =~ ~r/^written at \d+\n$/

      # Another seed, other random bytes.
      random = &Regex.run(~r/random=([0-9a-f]+)/, &1.stdout)
      assert random.(det_run(dir, 43)) != random.(first)
    end

    test "in the README runs as written, twice with the same result" do
      readme = File.read!(Path.expand("../README.md", __DIR__))
      [_, section] = String.split(readme, "#### Deterministic runs\n", parts: 2)
      [_, code] = Regex.run(~r/```elixir\n(.*?)```/s, section)
      assert {true, _binding} = Code.eval_string(code)
    end

    test "needs a random seed" do
      assert Wasmex.Store.new_wasi(%WasiOptions{deterministic: true}) ==
               {:error,
                "a deterministic WASI store needs `random_seed:` (a non-negative integer)"}
    end
  end
end
