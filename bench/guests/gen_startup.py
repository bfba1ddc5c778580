#!/usr/bin/env python3
"""Generates the C sources of a startup benchmark guest (startup_100k, startup_big).

The output is a set of C files with many distinct functions, all of signature
`unsigned f_N(unsigned, unsigned)`: straight-line arithmetic (32- and 64-bit), loops
with small bounded trip counts, switch statements (compiled to br_table), if/else
chains, lookups in constant tables (the module's data segments), updates of a global
state array, and calls to other generated functions. Function i has level i % LEVELS
and only calls functions of level (i % LEVELS) - 1, so the call graph is acyclic and
a call of any function executes at most 1 + 2 + 4 + ... + 2^(LEVELS-1) generated
functions. Every function is stored in a function-pointer table (the module's element
segment), so the linker keeps all of them, and `entry(i32) -> i32` calls four fixed
top-level functions plus four chosen through the table from its argument. entry's
result depends only on its argument (the global state is written but never read back
into a result).

The output depends only on the arguments: the generator uses its own PRNG (splitmix64)
rather than Python's `random`, and writes files in a fixed order.

Usage: gen_startup.py OUT_DIR --functions N --files F --tables T --table-words W [--seed S]
"""

import argparse
import os

LEVELS = 4
MASK64 = (1 << 64) - 1


class Rng:
    """splitmix64, so the output does not depend on the Python version."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n

    def between(self, lo, hi):
        return lo + self.below(hi - lo + 1)

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def u32(self):
        return self.next() & 0xFFFFFFFF


BINOPS = ["+", "-", "*", "^", "&", "|"]
VARS = ["a", "b", "c"]


class FunctionWriter:
    def __init__(self, rng, index, n_functions, tables):
        self.rng = rng
        self.index = index
        self.n_functions = n_functions
        self.tables = tables  # (name, length, writable) of the tables in this file
        self.level = index % LEVELS
        self.calls_left = 2 if self.level > 0 else 0
        self.lines = []
        self.callees = set()
        self.loop_depth = 0

    def const(self):
        r = self.rng
        kind = r.below(4)
        if kind == 0:
            return f"{r.between(1, 255)}u"
        if kind == 1:
            return f"{r.between(1, 65535)}u"
        return f"0x{r.u32() | 1:08x}u"

    def var(self):
        return self.rng.pick(VARS)

    def operand(self):
        r = self.rng
        k = r.below(5)
        if k == 0:
            return self.const()
        if k == 1:
            return f"({self.var()} >> {r.between(1, 31)})"
        if k == 2:
            return f"({self.var()} << {r.between(1, 31)})"
        return self.var()

    def expr(self, depth=0):
        r = self.rng
        if depth >= 2 or r.below(3) == 0:
            return self.operand()
        return f"({self.expr(depth + 1)} {r.pick(BINOPS)} {self.expr(depth + 1)})"

    def callee(self):
        """A function one level down, anywhere in the module."""
        r = self.rng
        target_level = self.level - 1
        slots = (self.n_functions - target_level + LEVELS - 1) // LEVELS
        j = r.below(slots) * LEVELS + target_level
        self.callees.add(j)
        return j

    def emit(self, indent, text):
        self.lines.append("  " * indent + text)

    def statement(self, indent):
        r = self.rng
        kind = r.below(100)
        if kind < 30:
            v = self.var()
            e = self.expr()
            if e == v:
                e = f"{v} + {self.const()}"
            self.emit(indent, f"{v} = {e};")
        elif kind < 40:
            v = self.var()
            self.emit(indent, f"{v} ^= (unsigned)(((unsigned long long){self.var()} * {self.const()}ll) >> {r.between(16, 40)});")
        elif kind < 52 and self.loop_depth < 2:
            i = f"i{self.loop_depth}"
            bound = f"({self.var()} & {r.pick([3, 7, 15])}u) + {r.between(1, 4)}u"
            self.emit(indent, f"for (unsigned {i} = 0; {i} < {bound}; {i}++) {{")
            self.loop_depth += 1
            self.emit(indent + 1, f"{self.var()} += {i} * {self.const()};")
            for _ in range(r.between(1, 3)):
                self.statement(indent + 1)
            self.loop_depth -= 1
            self.emit(indent, "}")
        elif kind < 64:
            cases = r.between(4, 12)
            self.emit(indent, f"switch ({self.var()} % {cases}u) {{")
            for c in range(cases):
                self.emit(indent + 1, f"case {c}u: {self.var()} {r.pick(['+=', '-=', '^=', '*='])} {self.expr(1)}; break;")
            self.emit(indent + 1, f"default: {self.var()} = {self.const()}; break;")
            self.emit(indent, "}")
        elif kind < 74:
            cmp = r.pick(["<", ">", "==", "!="])
            lhs = self.var()
            rhs = self.operand()
            if rhs == lhs:
                rhs = self.const()
            self.emit(indent, f"if ({lhs} {cmp} {rhs}) {{")
            self.statement(indent + 1)
            self.emit(indent, "} else {")
            self.statement(indent + 1)
            self.emit(indent, "}")
        elif kind < 84 and self.tables:
            name, length, writable = r.pick(self.tables)
            if writable:
                self.emit(indent, f"{name}[{self.var()} % {length}u] ^= {self.var()};")
            else:
                self.emit(indent, f"{self.var()} += {name}[{self.var()} % {length}u];")
        elif kind < 90:
            self.emit(indent, f"g_state[{self.var()} & 63u] += {self.var()};")
        elif kind < 100 and self.calls_left > 0 and self.loop_depth == 0:
            self.calls_left -= 1
            self.emit(indent, f"{self.var()} += f_{self.callee()}({self.expr(1)}, {self.var()});")
        else:
            self.emit(indent, f"{self.var()} = {self.var()} * {self.const()} + {self.const()};")

    def write(self):
        r = self.rng
        self.emit(0, f"unsigned f_{self.index}(unsigned a, unsigned b) {{")
        self.emit(1, f"unsigned c = a ^ {self.const()};")
        for _ in range(r.between(4, 12)):
            self.statement(1)
        # level > 0 functions make at least one call, so the call graph has depth
        while self.calls_left > 1:
            self.calls_left -= 1
            self.emit(1, f"{self.var()} ^= f_{self.callee()}({self.var()}, {self.const()});")
        self.emit(1, f"return a ^ (b << {r.between(1, 7)}) ^ (c >> {r.between(1, 7)});")
        self.emit(0, "}")
        return "\n".join(self.lines) + "\n"


HEADER = """/* Generated by bench/guests/gen_startup.py; do not edit. */
extern unsigned g_state[64];
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--functions", type=int, required=True)
    ap.add_argument("--files", type=int, required=True)
    ap.add_argument("--tables", type=int, default=0, help="data tables per file, alternately read-only and writable")
    ap.add_argument("--table-words", type=int, default=64, help="largest table length (u32 words)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    n = args.functions
    os.makedirs(args.out_dir, exist_ok=True)
    rng = Rng(args.seed)
    per_file = (n + args.files - 1) // args.files

    for f in range(args.files):
        lo, hi = f * per_file, min(n, (f + 1) * per_file)
        out = [HEADER]
        tables = []
        for t in range(args.tables):
            length = rng.between(max(8, args.table_words // 4), args.table_words)
            name = f"tbl_{f}_{t}"
            # even tables: read-only lookup tables (.rodata); odd tables: initialised
            # writable arrays (.data) that functions only write, like g_state, so
            # results never depend on earlier calls
            writable = t % 2 == 1
            qual = "unsigned" if writable else "static const unsigned"
            words = [f"0x{rng.u32():08x}u" for _ in range(length)]
            rows = [", ".join(words[k:k + 8]) for k in range(0, length, 8)]
            out.append(f"{qual} {name}[{length}] = {{\n  " + ",\n  ".join(rows) + "\n};\n")
            tables.append((name, length, writable))
        bodies = []
        callees = set()
        for i in range(lo, hi):
            w = FunctionWriter(rng, i, n, tables)
            bodies.append(w.write())
            callees |= w.callees
        out.insert(1, "".join(f"unsigned f_{j}(unsigned, unsigned);\n" for j in sorted(callees)))
        out += bodies
        with open(os.path.join(args.out_dir, f"part_{f:03d}.c"), "w") as fh:
            fh.write("\n".join(out))

    top = [i for i in range(n) if i % LEVELS == LEVELS - 1]
    fixed = [top[rng.below(len(top))] for _ in range(4)]
    mults = [rng.u32() | 1 for _ in range(4)]
    entry = [HEADER, "".join(f"unsigned f_{i}(unsigned, unsigned);\n" for i in range(n))]
    entry.append("unsigned g_state[64];\n")
    entry.append("typedef unsigned (*fn_t)(unsigned, unsigned);\n")
    entry.append(f"#define N_FUNCTIONS {n}u\n")
    entry.append("static fn_t const all_functions[N_FUNCTIONS] = {\n" +
                 "".join(f"  f_{i},\n" for i in range(n)) + "};\n")
    body = [
        '__attribute__((export_name("entry")))',
        "int entry(int x) {",
        "  unsigned a = (unsigned)x, acc = 0x9e3779b9u;",
    ]
    for k, fidx in enumerate(fixed):
        body.append(f"  acc = acc * 31u + f_{fidx}(a + {k}u, acc);")
    for k, m in enumerate(mults):
        body.append(f"  acc = acc * 31u + all_functions[(a * 0x{m:08x}u + acc) % N_FUNCTIONS](a ^ acc, {k}u);")
    body += ["  return (int)acc;", "}"]
    entry.append("\n".join(body) + "\n")
    with open(os.path.join(args.out_dir, "entry.c"), "w") as fh:
        fh.write("\n".join(entry))


if __name__ == "__main__":
    main()
