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

  describe "new/1" do
    test "bounds the pipe by its capacity" do
      {:ok, pipe} = Wasmex.Pipe.new(capacity: 10)
      assert Wasmex.Pipe.write(pipe, "0123456789") == {:ok, 10}

      assert Wasmex.Pipe.write(pipe, "x") ==
               {:error, "the pipe is full: 1 bytes do not fit in its capacity of 10 bytes"}

      :ok = Wasmex.Pipe.seek(pipe, 5)
      assert Wasmex.Pipe.write(pipe, "abcde") == {:ok, 5}
      :ok = Wasmex.Pipe.seek(pipe, 0)
      assert Wasmex.Pipe.read(pipe) == "01234abcde"

      assert_raise ArgumentError, ~r/at most the pipe's capacity \(10\)/, fn ->
        Wasmex.Pipe.seek(pipe, 11)
      end
    end

    test "rejects a bad capacity" do
      for options <- [
            [capacity: -1],
            [capacity: :big],
            [capacity: 2 ** 32 + 1],
            [capacity: 2 ** 64],
            [size: 1],
            :capacity
          ] do
        assert_raise ArgumentError, fn -> Wasmex.Pipe.new(options) end
      end
    end

    test "a write past a far seek allocates nothing for the gap" do
      {:ok, pipe} = Wasmex.Pipe.new(capacity: 2 ** 32)
      :ok = Wasmex.Pipe.seek(pipe, 2 ** 32 - 1)
      assert Wasmex.Pipe.write(pipe, "x") == {:ok, 1}
      assert Wasmex.Pipe.size(pipe) == 2 ** 32
      :ok = Wasmex.Pipe.seek(pipe, 2 ** 32 - 3)
      assert Wasmex.Pipe.read(pipe) == <<0, 0, ?x>>
    end

    test "copies large contents on a dirty scheduler, whole" do
      {:ok, pipe} = Wasmex.Pipe.new()
      bytes = :crypto.strong_rand_bytes(3_000_000)
      assert Wasmex.Pipe.write(pipe, bytes) == {:ok, 3_000_000}
      :ok = Wasmex.Pipe.seek(pipe, 1)
      assert Wasmex.Pipe.read(pipe) == binary_part(bytes, 1, 2_999_999)
    end
  end
end
