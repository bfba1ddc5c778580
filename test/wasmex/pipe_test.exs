defmodule Wasmex.PipeTest do
  use ExUnit.Case, async: true
  doctest Wasmex.Pipe

  describe "new/0, size/1, seek/2, read/1 and write/2" do
    test "share one position" do
      {:ok, pipe} = Wasmex.Pipe.new()
      assert Wasmex.Pipe.size(pipe) == 0
      assert Wasmex.Pipe.write(pipe, "123") == {:ok, 3}
      assert Wasmex.Pipe.size(pipe) == 3
      assert Wasmex.Pipe.read(pipe) == ""
      assert Wasmex.Pipe.seek(pipe, 1) == :ok
      # Seeking does not change the size.
      assert Wasmex.Pipe.size(pipe) == 3
      assert Wasmex.Pipe.read(pipe) == "23"
      assert Wasmex.Pipe.read(pipe) == ""
    end

    test "are binary-safe" do
      {:ok, pipe} = Wasmex.Pipe.new()
      bytes = :crypto.strong_rand_bytes(100_000)
      assert Wasmex.Pipe.write(pipe, bytes) == {:ok, 100_000}
      :ok = Wasmex.Pipe.seek(pipe, 0)
      assert Wasmex.Pipe.read(pipe) == bytes
    end

    test "a write past the end fills the gap with zeros" do
      {:ok, pipe} = Wasmex.Pipe.new()
      :ok = Wasmex.Pipe.seek(pipe, 3)
      {:ok, 1} = Wasmex.Pipe.write(pipe, "x")
      :ok = Wasmex.Pipe.seek(pipe, 0)
      assert Wasmex.Pipe.read(pipe) == <<0, 0, 0, ?x>>
    end

    test "reject bad arguments" do
      {:ok, pipe} = Wasmex.Pipe.new()
      assert_raise ArgumentError, fn -> Wasmex.Pipe.seek(pipe, -1) end
      assert_raise ArgumentError, fn -> Wasmex.Pipe.write(pipe, 'chars') end
      assert_raise ArgumentError, fn -> Wasmex.Pipe.read(:pipe) end
    end
  end

  describe "read/1 and write/2 of more than a MiB" do
    test "run on a dirty scheduler" do
      {:ok, pipe} = Wasmex.Pipe.new()
      big = :binary.copy("z", 1024 * 1024 + 1)
      twins = [pipe_write_binary_nif: 2, pipe_write_binary_dirty_nif: 2]

      assert {{:ok, 1_048_577}, [:pipe_write_binary_nif, :pipe_write_binary_dirty_nif]} =
               Wasmex.TestProcesses.native_calls(fn -> Wasmex.Pipe.write(pipe, big) end, twins)

      :ok = Wasmex.Pipe.seek(pipe, 0)
      twins = [pipe_read_binary_nif: 1, pipe_read_binary_dirty_nif: 1]

      assert {^big, [:pipe_read_binary_nif, :pipe_read_binary_dirty_nif]} =
               Wasmex.TestProcesses.native_calls(fn -> Wasmex.Pipe.read(pipe) end, twins)

      assert {"", [:pipe_read_binary_nif]} =
               Wasmex.TestProcesses.native_calls(fn -> Wasmex.Pipe.read(pipe) end, twins)
    end
  end
end
