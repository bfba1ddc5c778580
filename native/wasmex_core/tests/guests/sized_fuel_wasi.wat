;; A WASI guest for fuel determinism: `fd_write` of 1 to 8 iovecs a round, a short sleep
;; (`poll_oneoff` on a relative clock) every 50 rounds, and `args_sizes_get`. Returns a
;; hash of what the calls returned; what it wrote goes to standard output.
;;
;; Used by tests/determinism.rs and examples/fuel_table.rs.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "Come unto these yellow sands, and then take hands: curtsied when you have and kiss'd the wild waves whist, foot it featly here and there; and, sweet sprites, the burthen bear.")

  (func $mix (param $h i64) (param $v i64) (result i64)
    (i64.mul (i64.xor (local.get $h) (local.get $v)) (i64.const 0x100000001b3)))

  (func (export "wasi") (param $rounds i32) (result i64)
    (local $i i32) (local $k i32) (local $n i32) (local $h i64)
    (loop $l
      ;; Iovecs at 256: (1024 + k * 13 % 150, k * 7 % 50) for k < n.
      (local.set $n (i32.add (i32.const 1) (i32.rem_u (local.get $i) (i32.const 8))))
      (local.set $k (i32.const 0))
      (loop $iov
        (i32.store (i32.add (i32.const 256) (i32.shl (local.get $k) (i32.const 3)))
          (i32.add (i32.const 1024)
            (i32.rem_u (i32.mul (i32.add (local.get $k) (local.get $i)) (i32.const 13)) (i32.const 150))))
        (i32.store (i32.add (i32.const 260) (i32.shl (local.get $k) (i32.const 3)))
          (i32.rem_u (i32.mul (i32.add (local.get $k) (local.get $i)) (i32.const 7)) (i32.const 50)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $iov (i32.lt_u (local.get $k) (local.get $n))))
      (local.set $h (call $mix (local.get $h)
        (i64.extend_i32_u (call $fd_write (i32.const 1) (i32.const 256) (local.get $n) (i32.const 512)))))
      (local.set $h (call $mix (local.get $h) (i64.load32_u (i32.const 512))))
      ;; Every 50 rounds, sleep 1 µs: one clock subscription at 600, its event at 700.
      (if (i32.eqz (i32.rem_u (local.get $i) (i32.const 50)))
        (then
          (i64.store (i32.const 600) (i64.extend_i32_u (local.get $i)))   ;; userdata
          (i32.store8 (i32.const 608) (i32.const 0))                      ;; clock
          (i32.store (i32.const 616) (i32.const 1))                       ;; monotonic
          (i64.store (i32.const 624) (i64.const 1000))                    ;; 1,000 ns
          (i64.store (i32.const 632) (i64.const 0))                       ;; precision
          (i32.store16 (i32.const 640) (i32.const 0))                     ;; relative
          (local.set $h (call $mix (local.get $h) (i64.extend_i32_u
            (call $poll_oneoff (i32.const 600) (i32.const 700) (i32.const 1) (i32.const 800)))))
          (local.set $h (call $mix (local.get $h) (i64.load (i32.const 700))))
          (local.set $h (call $mix (local.get $h) (i64.load32_u (i32.const 800))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $rounds))))
    (local.set $h (call $mix (local.get $h)
      (i64.extend_i32_u (call $args_sizes_get (i32.const 900) (i32.const 904)))))
    (call $mix (local.get $h) (i64.load (i32.const 900)))))
