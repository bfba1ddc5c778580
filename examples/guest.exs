# The guest the examples share: a small module in WAT with `add`, a bump allocator,
# `upcase` (in place), `process` (sums bytes; traps on an empty input or past the end of
# memory) and `expensive_op` (a long loop), plus an Elixir import `env.log`.
defmodule Examples.Guest do
  def wat do
    ~S"""
    (module $demo
      (import "env" "log" (func $log (param i32 i32)))
      (memory (export "memory") 1)
      (global $heap (mut i32) (i32.const 1024))
      (data (i32.const 16) "hello from the guest")
      (func (export "add") (param i32 i32) (result i32)
        (i32.add (local.get 0) (local.get 1)))
      (func (export "allocate") (param $size i32) (result i32)
        (local $ptr i32)
        (local.set $ptr (global.get $heap))
        (global.set $heap (i32.add (local.get $ptr) (local.get $size)))
        (local.get $ptr))
      (func (export "greet") (call $log (i32.const 16) (i32.const 20)))
      (func (export "upcase") (param $ptr i32) (param $len i32)
        (local $i i32) (local $c i32)
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
            (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
            (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
              (then (i32.store8 (i32.add (local.get $ptr) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next))))
      (func (export "process") (param $ptr i32) (param $len i32) (result i32)
        (local $sum i32) (local $i i32)
        (if (i32.eqz (local.get $len)) (then unreachable))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
            (local.set $sum (i32.add (local.get $sum) (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next)))
        (local.get $sum))
      (func (export "expensive_op") (result i32)
        (local $i i32)
        (loop $next
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $next (i32.lt_u (local.get $i) (i32.const 0x7fffffff))))
        (local.get $i)))
    """
  end

  # The guest's `env.log`: prints the string the guest points at.
  def imports do
    %{
      "env" => %{
        "log" =>
          {:fn, [:i32, :i32], [],
           fn context ->
             [ptr, len] = context.params
             {:ok, text} = Wasmex.Memory.read_binary(context.store, context.memory, ptr, len)
             IO.puts("  guest says: #{text}")
             []
           end}
      }
    }
  end

  def bytes do
    {:ok, wasm} = Wasmex.Wat.to_wasm(wat())
    wasm
  end
end
