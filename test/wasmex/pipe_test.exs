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
end
