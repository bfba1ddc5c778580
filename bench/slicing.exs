# W10: the cost of fuel slicing. The compute guests run with slices forced to 10,000 fuel
# (about 3 µs of guest code each) and with one slice as big as the whole call; the ratio
# of their run times is the overhead of suspending and resuming. Run with
# `mix run bench/slicing.exs`.
Code.require_file("harness.exs", __DIR__)

defmodule Bench.Slicing do
  @guests ~S[(module
    (memory (export "memory") 2)
    (func $fib (export "fib") (param $n i32) (result i32)
      (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
        (then (local.get $n))
        (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                       (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
    ;; FNV-1a over the first 64 KiB, `rounds` times.
    (func (export "hash") (param $rounds i32) (result i32)
      (local $h i32) (local $i i32)
      (local.set $h (i32.const 0x811c9dc5))
      (block $done
        (loop $round
          (br_if $done (i32.eqz (local.get $rounds)))
          (local.set $i (i32.const 0))
          (block $end
            (loop $byte
              (br_if $end (i32.ge_u (local.get $i) (i32.const 65536)))
              (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $i)))
                                     (i32.const 0x01000193)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $byte)))
          (local.set $rounds (i32.sub (local.get $rounds) (i32.const 1)))
          (br $round)))
      (local.get $h)))]

  def guests, do: [{"fib", [27]}, {"hash", [60]}]

  def instance do
    {:ok, store} = Wasmex.Store.new()
    {:ok, module} = Wasmex.Module.compile(store, @guests)
    {:ok, instance} = Wasmex.Instance.new(store, module, %{})
    {store, instance}
  end

  # Wall times (ms) of `reps` calls alternating between one huge slice and 10k-fuel
  # slices, so that both see the same machine (shared machines drift).
  def time({store, instance}, {name, args}, reps \\ 9) do
    {:ok, _} = Wasmex.Instance.call_function(store, instance, name, args)

    samples =
      for _ <- 1..reps, slice <- [1_000_000_000_000, 10_000] do
        :ok = Wasmex.Native.store_set_slice(store.resource, slice)

        {us, {:ok, _}} =
          :timer.tc(fn -> Wasmex.Instance.call_function(store, instance, name, args) end)

        {slice, us / 1000}
      end

    {whole, sliced} = Enum.split_with(samples, fn {slice, _} -> slice > 10_000 end)

    {whole |> Enum.map(&elem(&1, 1)) |> Bench.stats(),
     sliced |> Enum.map(&elem(&1, 1)) |> Bench.stats()}
  end
end

target = Bench.Slicing.instance()

rows =
  for {name, _} = guest <- Bench.Slicing.guests() do
    {whole, sliced} = Bench.Slicing.time(target, guest)
    ratio = Float.round(sliced.median / whole.median, 3)

    [
      {"W10", "#{name}: one slice", whole, "ms", "-", true},
      {"W10", "#{name}: 10k-fuel slices", sliced, "ms", "-", true},
      {"W10", "#{name}: ratio sliced / whole", ratio, "x", "≤ 1.05", ratio <= 1.05}
    ]
  end
  |> List.flatten()

Bench.table(rows)
IO.puts("\nwrote " <> Bench.write_results("slicing", rows))
