;; Guests for fuel determinism: every instruction class whose fuel depends on its operands
;; (bulk memory and table instructions, memory.grow, table.grow), plus calls and host calls.
;; Sizes vary from tiny to larger than a 10,000-fuel slice, so that slices end inside and
;; around each instruction. Every export returns a hash of everything it did, including a
;; count of the bulk instructions it executed: an instruction run twice or skipped after
;; a slice boundary changes the result.
;;
;; Used by tests/determinism.rs and examples/fuel_table.rs (the cross-architecture table).
(module
  (import "env" "twice" (func $twice (param i32) (result i32)))
  (type $pick (func (param i32 i32 i32) (result i32)))
  (memory $m 1 128)
  (table $t 0 funcref)
  (table $u 0 funcref)
  (global $ops (mut i64) (i64.const 0))
  (elem $e func $a $b $c $a $c $b $b $a $c $c $b $a $a $a $b $c
                $c $c $a $b $a $b $c $a $b $b $c $a $c $a $b $c
                $a $b $c $c $b $a $a $c $b $b $a $c $c $a $b $a)
  (data $d "Where the bee sucks, there suck I: in a cowslip's bell I lie; there I couch when owls do cry. On the bat's back I do fly after summer merrily. Merrily, merrily shall I live now under the blossom that hangs on the bough. Full fathom five thy father lies.")

  (func $a (type $pick) (i32.add (local.get 0) (i32.mul (local.get 1) (local.get 2))))
  (func $b (type $pick) (i32.xor (local.get 0) (i32.sub (local.get 1) (local.get 2))))
  (func $c (type $pick) (i32.rotl (local.get 0) (i32.add (local.get 1) (local.get 2))))

  (func $count (global.set $ops (i64.add (global.get $ops) (i64.const 1))))

  ;; FNV-style mixing of one value into a hash.
  (func $mix (param $h i64) (param $v i64) (result i64)
    (i64.mul (i64.xor (local.get $h) (local.get $v)) (i64.const 0x100000001b3)))

  ;; A hash of the whole linear memory, sampled every 1021 bytes, and of its size.
  (func $memory_hash (result i64)
    (local $p i32) (local $h i64) (local $end i32)
    (local.set $h (i64.extend_i32_u (memory.size)))
    (local.set $end (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 8)))
    (loop $l
      (local.set $h (call $mix (local.get $h) (i64.load (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 1021)))
      (br_if $l (i32.lt_u (local.get $p) (local.get $end))))
    (local.get $h))

  ;; A hash of table $t (sampled every 97 elements: calls the functions there) and of the
  ;; sizes of both tables.
  (func $table_hash (result i64)
    (local $i i32) (local $h i64)
    (local.set $h (call $mix (i64.extend_i32_u (table.size $t)) (i64.extend_i32_u (table.size $u))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (table.size $t)))
        (local.set $h
          (call $mix (local.get $h)
            (if (result i64) (ref.is_null (table.get $t (local.get $i)))
              (then (i64.const -1))
              (else (i64.extend_i32_u
                (call_indirect $t (type $pick)
                  (local.get $i) (i32.const 3) (i32.const 5) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 97)))
        (br $l)))
    (local.get $h))

  ;; memory.grow, memory.fill, memory.copy (overlapping) and memory.init, `rounds` times.
  (func (export "memory") (param $rounds i32) (result i64)
    (local $i i32) (local $dst i32) (local $len i32) (local $room i32)
    ;; Grow to 64 pages in steps of 1 to 15 pages (1,024 fuel a page).
    (block $grown
      (loop $grow
        (br_if $grown (i32.ge_u (memory.size) (i32.const 64)))
        (drop (memory.grow (i32.add (i32.const 1) (i32.rem_u (memory.size) (i32.const 15)))))
        (call $count)
        (br $grow)))
    ;; Room for a 512 KiB operation anywhere below `room`.
    (local.set $room (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 524288)))
    (loop $l
      (local.set $dst (i32.rem_u (i32.mul (local.get $i) (i32.const 40503)) (local.get $room)))
      (local.set $len (i32.add (i32.rem_u (i32.mul (local.get $i) (i32.const 7919)) (i32.const 524288))
                               (i32.const 1)))
      (memory.fill (local.get $dst) (local.get $i) (local.get $len))
      (call $count)
      (memory.copy
        (i32.rem_u (i32.add (local.get $dst) (i32.div_u (local.get $len) (i32.const 3))) (local.get $room))
        (local.get $dst)
        (local.get $len))
      (call $count)
      (memory.init $d
        (i32.rem_u (i32.mul (local.get $i) (i32.const 65537)) (local.get $room))
        (i32.rem_u (local.get $i) (i32.const 180))
        (i32.rem_u (local.get $i) (i32.const 56)))
      (call $count)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $rounds))))
    (call $mix (call $memory_hash) (global.get $ops)))

  ;; table.grow (one of 200,000 elements: 12,500 fuel), table.fill, table.copy and
  ;; table.init, `rounds` times.
  (func (export "table") (param $rounds i32) (result i64)
    (local $i i32) (local $n i32) (local $dst i32)
    (drop (table.grow $t (ref.null func) (i32.const 200000)))
    (drop (table.grow $u (ref.func $c) (i32.const 1000)))
    (loop $l
      (local.set $n (i32.add (i32.rem_u (i32.mul (local.get $i) (i32.const 37)) (i32.const 300))
                             (i32.const 16)))
      (drop (table.grow $t (ref.func $a) (local.get $n)))
      (drop (table.grow $u (ref.null func) (local.get $n)))
      (call $count)
      (local.set $dst (i32.rem_u (i32.mul (local.get $i) (i32.const 7717)) (i32.const 150000)))
      (table.fill $t (local.get $dst) (ref.func $b)
        (i32.rem_u (i32.mul (local.get $i) (i32.const 15013)) (i32.const 50000)))
      (call $count)
      (table.copy $t $u
        (i32.rem_u (i32.mul (local.get $i) (i32.const 3001)) (i32.const 190000))
        (i32.rem_u (local.get $i) (i32.const 500))
        (i32.rem_u (i32.mul (local.get $i) (i32.const 13)) (i32.const 1000)))
      (table.copy $t $t
        (i32.rem_u (i32.mul (local.get $i) (i32.const 101)) (i32.const 100000))
        (local.get $dst)
        (i32.rem_u (i32.mul (local.get $i) (i32.const 9973)) (i32.const 50000)))
      (call $count)
      (table.init $t $e
        (i32.rem_u (i32.mul (local.get $i) (i32.const 911)) (i32.const 199000))
        (i32.rem_u (local.get $i) (i32.const 16))
        (i32.rem_u (local.get $i) (i32.const 32)))
      (call $count)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $rounds))))
    (call $mix (call $table_hash) (global.get $ops)))

  ;; Calls with many parameters and results, indirect calls, recursion and tail calls.
  (func $wide (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
              (result i64 i64 i64 i64)
    (i64.add (local.get 0) (local.get 11))
    (i64.xor (local.get 1) (local.get 10))
    (i64.mul (local.get 2) (local.get 9))
    (i64.sub (i64.add (local.get 3) (local.get 8))
             (i64.add (local.get 4) (i64.add (local.get 5) (i64.add (local.get 6) (local.get 7))))))
  (func $depth (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 1))
      (else (i32.add (local.get $n) (call $depth (i32.sub (local.get $n) (i32.const 1)))))))
  (func $countdown (param $n i32) (param $acc i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (local.get $acc))
      (else (return_call $countdown (i32.sub (local.get $n) (i32.const 1))
                                    (i32.add (local.get $acc) (local.get $n))))))
  (func (export "calls") (param $rounds i32) (result i64)
    (local $i i32) (local $h i64) (local $x i64)
    (drop (table.grow $t (ref.func $a) (i32.const 3)))
    (table.set $t (i32.const 0) (ref.func $a))
    (table.set $t (i32.const 1) (ref.func $b))
    (table.set $t (i32.const 2) (ref.func $c))
    (loop $l
      (local.set $x (i64.extend_i32_u (local.get $i)))
      (call $wide (local.get $x) (i64.const 1) (i64.const 2) (local.get $x) (i64.const 4) (i64.const 5)
                  (i64.const 6) (local.get $x) (i64.const 8) (i64.const 9) (local.get $x) (i64.const 11))
      (local.set $h (call $mix (local.get $h)))
      (local.set $h (call $mix (local.get $h)))
      (local.set $h (call $mix (local.get $h)))
      (local.set $h (call $mix (local.get $h)))
      (local.set $h (call $mix (local.get $h) (i64.extend_i32_u
        (call_indirect $t (type $pick) (local.get $i) (i32.const 7) (i32.const 2)
                       (i32.rem_u (local.get $i) (i32.const 3))))))
      (local.set $h (call $mix (local.get $h) (i64.extend_i32_u
        (call $depth (i32.rem_u (local.get $i) (i32.const 200))))))
      (local.set $h (call $mix (local.get $h) (i64.extend_i32_u
        (call $countdown (i32.rem_u (local.get $i) (i32.const 1000)) (i32.const 0)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $rounds))))
    (local.get $h))

  ;; Calls of the host's `twice`, `rounds` times.
  (func (export "host") (param $rounds i32) (result i64)
    (local $i i32) (local $h i64)
    (loop $l
      (local.set $h (call $mix (local.get $h) (i64.extend_i32_u (call $twice (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $rounds))))
    (local.get $h)))
