;; BatchNorm's four passes as WebAssembly SIMD loops over the wasm engine's own memory (the
;; module imports tfjs's memory, so tensors are read and written where they are, no copies).
;; Tensors are [rows, c] float32 (NHWC with rows = n*h*w), c a multiple of 4; the channel sums
;; are accumulated in float64. Called by batchnorm-fused.ts; assembled by scripts/build-wasm.mjs
;; into batchnorm-simd-module.ts (once with a plain memory for the single-threaded build, once
;; with a shared memory for the threaded one: the MEMORY line below is replaced).
(module
  (import "env" "memory" MEMORY)

  ;; acc[0..c) = sum of x over rows, acc[c..2c) = sum of x * x (float64).
  (func (export "stats") (param $x i32) (param $rows i32) (param $c i32) (param $acc i32)
    (local $p i32) (local $end i32) (local $a i32) (local $aEnd i32) (local $sq i32) (local $v v128) (local $lo v128) (local $hi v128)
    (local.set $sq (i32.shl (local.get $c) (i32.const 3)))
    (memory.fill (local.get $acc) (i32.const 0) (i32.shl (local.get $sq) (i32.const 1)))
    (local.set $p (local.get $x))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.mul (local.get $rows) (local.get $c)) (i32.const 2))))
    (local.set $aEnd (i32.add (local.get $acc) (local.get $sq)))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $a (local.get $acc))
        (loop $channels
          (local.set $v (v128.load (local.get $p)))
          (local.set $lo (f64x2.promote_low_f32x4 (local.get $v)))
          (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
          (v128.store (local.get $a) (f64x2.add (v128.load (local.get $a)) (local.get $lo)))
          (v128.store offset=16 (local.get $a) (f64x2.add (v128.load offset=16 (local.get $a)) (local.get $hi)))
          (v128.store (i32.add (local.get $a) (local.get $sq))
            (f64x2.add (v128.load (i32.add (local.get $a) (local.get $sq))) (f64x2.mul (local.get $lo) (local.get $lo))))
          (v128.store offset=16 (i32.add (local.get $a) (local.get $sq))
            (f64x2.add (v128.load offset=16 (i32.add (local.get $a) (local.get $sq))) (f64x2.mul (local.get $hi) (local.get $hi))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (local.set $a (i32.add (local.get $a) (i32.const 32)))
          (br_if $channels (i32.lt_u (local.get $a) (local.get $aEnd))))
        (br $row))))

  ;; y = x * scale + shift (+ residual when $residual is not 0; then max(y, 0) when $relu is not 0),
  ;; per channel (scale, shift: float32 [c]).
  (func (export "apply") (param $x i32) (param $y i32) (param $rows i32) (param $c i32) (param $scale i32) (param $shift i32) (param $residual i32) (param $relu i32)
    (local $p i32) (local $q i32) (local $end i32) (local $k i32) (local $cb i32) (local $v v128)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $p (local.get $x))
    (local.set $q (local.get $y))
    (local.set $end (i32.add (local.get $x) (i32.mul (local.get $rows) (local.get $cb))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $k (i32.const 0))
        (loop $channels
          (local.set $v
            (f32x4.add
              (f32x4.mul (v128.load (local.get $p)) (v128.load (i32.add (local.get $scale) (local.get $k))))
              (v128.load (i32.add (local.get $shift) (local.get $k)))))
          (if (local.get $residual)
            (then
              (local.set $v (f32x4.add (local.get $v) (v128.load (local.get $residual))))
              (local.set $residual (i32.add (local.get $residual) (i32.const 16)))))
          (if (local.get $relu)
            (then (local.set $v (f32x4.max (local.get $v) (v128.const f32x4 0 0 0 0)))))
          (v128.store (local.get $q) (local.get $v))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $channels (i32.lt_u (local.get $k) (local.get $cb))))
        (br $row))))

  ;; acc[0..c) = sum of dy, acc[c..2c) = sum of dy * (x - mean) (float64; mean: float32 [c]). With
  ;; $y not 0 (a ReLU after the BatchNorm), dy counts only where y > 0.
  (func (export "gradSums") (param $dy i32) (param $x i32) (param $mean i32) (param $rows i32) (param $c i32) (param $acc i32) (param $y i32)
    (local $p i32) (local $q i32) (local $end i32) (local $k i32) (local $a i32) (local $cb i32) (local $sq i32)
    (local $d v128) (local $dxc v128)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $sq (i32.shl (local.get $c) (i32.const 3)))
    (memory.fill (local.get $acc) (i32.const 0) (i32.shl (local.get $sq) (i32.const 1)))
    (local.set $p (local.get $dy))
    (local.set $q (local.get $x))
    (local.set $end (i32.add (local.get $dy) (i32.mul (local.get $rows) (local.get $cb))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $k (i32.const 0))
        (local.set $a (local.get $acc))
        (loop $channels
          (local.set $d (v128.load (local.get $p)))
          (if (local.get $y)
            (then
              (local.set $d (v128.and (local.get $d) (f32x4.gt (v128.load (local.get $y)) (v128.const f32x4 0 0 0 0))))
              (local.set $y (i32.add (local.get $y) (i32.const 16)))))
          (local.set $dxc (f32x4.mul (local.get $d) (f32x4.sub (v128.load (local.get $q)) (v128.load (i32.add (local.get $mean) (local.get $k))))))
          (v128.store (local.get $a) (f64x2.add (v128.load (local.get $a)) (f64x2.promote_low_f32x4 (local.get $d))))
          (v128.store offset=16 (local.get $a)
            (f64x2.add (v128.load offset=16 (local.get $a)) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d)))))
          (v128.store (i32.add (local.get $a) (local.get $sq))
            (f64x2.add (v128.load (i32.add (local.get $a) (local.get $sq))) (f64x2.promote_low_f32x4 (local.get $dxc))))
          (v128.store offset=16 (i32.add (local.get $a) (local.get $sq))
            (f64x2.add (v128.load offset=16 (i32.add (local.get $a) (local.get $sq)))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $dxc) (local.get $dxc)))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (local.set $a (i32.add (local.get $a) (i32.const 32)))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $channels (i32.lt_u (local.get $k) (local.get $cb))))
        (br $row))))

  ;; dx = a * dy - b - k * (x - mean), per channel (a, b, k, mean: float32 [c]). With $y not 0 (a
  ;; ReLU after the BatchNorm), dy counts only where y > 0; with $dres not 0 that masked dy is also
  ;; written there (the gradient of a residual added before the ReLU).
  (func (export "gradInput") (param $dy i32) (param $x i32) (param $dx i32) (param $rows i32) (param $c i32) (param $mean i32) (param $a i32) (param $b i32) (param $kk i32) (param $y i32) (param $dres i32)
    (local $p i32) (local $q i32) (local $r i32) (local $end i32) (local $k i32) (local $cb i32) (local $d v128)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $p (local.get $dy))
    (local.set $q (local.get $x))
    (local.set $r (local.get $dx))
    (local.set $end (i32.add (local.get $dy) (i32.mul (local.get $rows) (local.get $cb))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $k (i32.const 0))
        (loop $channels
          (local.set $d (v128.load (local.get $p)))
          (if (local.get $y)
            (then
              (local.set $d (v128.and (local.get $d) (f32x4.gt (v128.load (local.get $y)) (v128.const f32x4 0 0 0 0))))
              (local.set $y (i32.add (local.get $y) (i32.const 16)))))
          (if (local.get $dres)
            (then
              (v128.store (local.get $dres) (local.get $d))
              (local.set $dres (i32.add (local.get $dres) (i32.const 16)))))
          (v128.store (local.get $r)
            (f32x4.sub
              (f32x4.sub
                (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $k))) (local.get $d))
                (v128.load (i32.add (local.get $b) (local.get $k))))
              (f32x4.mul
                (v128.load (i32.add (local.get $kk) (local.get $k)))
                (f32x4.sub (v128.load (local.get $q)) (v128.load (i32.add (local.get $mean) (local.get $k)))))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (local.set $r (i32.add (local.get $r) (i32.const 16)))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $channels (i32.lt_u (local.get $k) (local.get $cb))))
        (br $row))))
)
