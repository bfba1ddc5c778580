defmodule Wasmex.Fixtures do
  @moduledoc false
  # WAT guests shared by the tests. Each is compiled at test time by Wasmex itself, so
  # the suite needs no wasm toolchain. Guests the plain-Rust engine tests
  # (native/wasmex_core/tests) use too are files in test/fixtures/wat/, read by both.

  @doc "The WAT of `test/fixtures/wat/<name>`."
  def fixture_wat(name), do: File.read!(Path.join([__DIR__, "../fixtures/wat", name]))

  @doc "The guest of the usage examples: add, a bump allocator, and `process`."
  def example_wat do
    ~S"""
    (module $example
      (memory (export "memory") 1)
      (global $heap (mut i32) (i32.const 1024))

      (func (export "add") (param i32 i32) (result i32)
        (i32.add (local.get 0) (local.get 1)))

      ;; A bump allocator: returns the next free address (8-byte aligned).
      (func (export "allocate") (param $size i32) (result i32)
        (local $ptr i32)
        (local.set $ptr (global.get $heap))
        (global.set $heap
          (i32.and (i32.add (i32.add (local.get $ptr) (local.get $size)) (i32.const 7))
                   (i32.const -8)))
        (local.get $ptr))

      ;; Sums the bytes of [ptr, ptr + len): traps `unreachable` on len 0 and out of
      ;; bounds past the memory; uses fuel in proportion to len.
      (func (export "process") (param $ptr i32) (param $len i32) (result i32)
        (local $sum i32) (local $i i32)
        (if (i32.eqz (local.get $len)) (then unreachable))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
            (local.set $sum
              (i32.add (local.get $sum)
                       (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next)))
        (local.get $sum))

      ;; Upper-cases [ptr, ptr + len) in place.
      (func (export "upcase") (param $ptr i32) (param $len i32)
        (local $i i32) (local $c i32)
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
            (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
            (if (i32.and (i32.ge_u (local.get $c) (i32.const 97))
                         (i32.le_u (local.get $c) (i32.const 122)))
              (then (i32.store8 (i32.add (local.get $ptr) (local.get $i))
                                (i32.sub (local.get $c) (i32.const 32)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next))))

      ;; Spins for a long time: 2^31 iterations.
      (func (export "expensive_op") (result i32)
        (local $i i32)
        (loop $next
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $next (i32.lt_u (local.get $i) (i32.const 0x7fffffff))))
        (local.get $i)))
    """
  end

  @doc "A guest calling the `host_log` and `host_random` imports of the usage snippets."
  def host_callbacks_wat do
    ~S"""
    (module
      (import "env" "host_log" (func $log (param i32 i32)))
      (import "env" "host_random" (func $random (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "hello from wasm")
      (func (export "greet") (call $log (i32.const 16) (i32.const 15)))
      (func (export "roll") (result i32) (call $random)))
    """
  end

  @doc "Echo functions for every value type, and multi-value."
  def types_wat do
    ~S"""
    (module
      (func (export "i32") (param i32) (result i32) (local.get 0))
      (func (export "i64") (param i64) (result i64) (local.get 0))
      (func (export "f32") (param f32) (result f32) (local.get 0))
      (func (export "f64") (param f64) (result f64) (local.get 0))
      (func (export "v128") (param v128) (result v128) (local.get 0))
      (func (export "swap") (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
      (func (export "mixed") (param i32 i64 f32 f64) (result f64)
        (f64.add
          (f64.add (f64.convert_i32_s (local.get 0)) (f64.convert_i64_s (local.get 1)))
          (f64.add (f64.promote_f32 (local.get 2)) (local.get 3))))
      (func (export "void"))
      (func (export "nan32") (result f32) (f32.div (f32.const 0) (f32.const 0)))
      (func (export "nan64") (result f64) (f64.const nan))
      (func (export "inf") (result f64) (f64.div (f64.const 1) (f64.const 0)))
      (func (export "neg_inf") (result f32) (f32.const -inf))
      (func (export "is_nan") (param f64) (result i32) (f64.ne (local.get 0) (local.get 0)))
      (func (export "null_ref") (result funcref) (ref.null func)))
    """
  end

  @doc "A function for each trap."
  def traps_wat do
    ~S"""
    (module
      (type $i32_to_i32 (func (param i32) (result i32)))
      (memory (export "memory") 1)
      (table 2 funcref)
      (elem (i32.const 0) $takes_nothing)
      (func $takes_nothing)
      (func (export "unreachable") unreachable)
      (func (export "out_of_bounds") (result i32) (i32.load (i32.const 70000)))
      (func (export "divide_by_zero") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
      (func (export "overflow") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
      (func (export "bad_conversion") (result i32) (i32.trunc_f32_s (f32.const nan)))
      (func (export "signature_mismatch") (result i32)
        (call_indirect (type $i32_to_i32) (i32.const 1) (i32.const 0)))
      (func (export "null_element")
        (call_indirect (i32.const 1)))
      (func (export "table_out_of_bounds")
        (call_indirect (i32.const 5)))
      (func $recurse (export "recurse") (param i32) (result i32)
        (call $recurse (i32.add (local.get 0) (i32.const 1)))))
    """
  end

  @doc "Globals of each kind."
  def globals_wat do
    ~S"""
    (module
      (global (export "meaning_of_life") i32 (i32.const 42))
      (global (export "count_32") (mut i32) (i32.const -32))
      (global (export "count_64") (mut i64) (i64.const -64))
      (global (export "bad_pi_32") (mut f32) (f32.const 3.14))
      (global (export "bad_pi_64") (mut f64) (f64.const 3.14))
      (global (export "vector") (mut v128) (v128.const i64x2 1 2)))
    """
  end

  @doc "An endless loop and a counter."
  def loop_wat do
    ~S"""
    (module
      (func (export "spin") (loop (br 0)))
      (func (export "count") (param $n i32) (result i32)
        (local $i i32)
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next)))
        (local.get $i)))
    """
  end

  @doc """
  A guest that calls `env.gate` (an Elixir import) and then either returns (`gated`) or
  spins forever (`gated_spin`); `count` is a loop of n iterations.
  """
  def gate_wat do
    ~S"""
    (module
      (import "env" "gate" (func $gate))
      (func (export "gated") (result i32) (call $gate) (i32.const 1))
      (func (export "gated_spin") (call $gate) (loop (br 0)))
      (func (export "count") (param $n i32) (result i32)
        (local $i i32)
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next)))
        (local.get $i)))
    """
  end

  @doc """
  Imports for `gate_wat/0`: the gate tells `test` `{:in_gate, pid}` from inside the call,
  then, unless `wait` is false, blocks until the process is sent `:open`.
  """
  def gate_imports(test, wait \\ true) do
    gate = fn _context ->
      send(test, {:in_gate, self()})
      if wait, do: receive(do: (:open -> :ok))
      []
    end

    %{"env" => %{"gate" => {:fn, [], [], gate}}}
  end

  @doc "Compiles `wat` in a new store and instantiates it with `imports`."
  def instantiate(wat, imports \\ %{}, store_options \\ nil) do
    {:ok, store} = Wasmex.Store.new(store_options)
    {:ok, module} = Wasmex.Module.compile(store, wat)
    {:ok, instance} = Wasmex.Instance.new(store, module, imports)
    %{store: store, module: module, instance: instance}
  end
end
