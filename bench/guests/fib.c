/* fib.wasm: naive doubly recursive Fibonacci, a call-heavy micro benchmark.
 *
 * Built with -fno-optimize-sibling-calls so that clang's tail-recursion pass does
 * not turn the second call into a loop: both recursive calls stay real calls, and
 * fib(n) makes fib(n+1)*2-1 calls in total (fib(20): 21891 calls, fib(25): 242785,
 * fib(30): 2692537). */

__attribute__((export_name("fib")))
int fib(int n) {
  if (n < 2) return n;
  return fib(n - 1) + fib(n - 2);
}
