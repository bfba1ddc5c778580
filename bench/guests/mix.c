/* mix.wasm: a CoreMark-like mixed integer workload, written from scratch for this
 * project (it shares only the idea of CoreMark's kernels, no code). No imports.
 *
 * Export: run(iterations) -> i32, the final CRC-16 (0..65535). run starts from the
 * same state every time, so equal arguments give equal results; iteration k is seeded
 * with k, and its CRC is chained into the next iteration's.
 *
 * One iteration does, in order:
 *   1. linked lists (LIST_ROUNDS times): build a 100-node list with pseudo-random keys,
 *      reverse it, look up 100 keys by linear search, merge-sort it by key and then
 *      back by insertion order (comparators called through function pointers), and
 *      fold the keys seen into a checksum;
 *   2. matrices (MAT_ROUNDS times): C = A * B on 16x16 int32 matrices, accumulate C
 *      into an accumulator matrix, then feed C back into A (masked to keep it small);
 *   3. a tokenizer state machine (TEXT_ROUNDS times): write TEXT_LEN bytes of random
 *      tokens (decimal, negative, hex, decimal fraction/exponent numbers and malformed
 *      words, separated by spaces, commas and newlines), then scan them byte by byte
 *      with a switch-based state machine that classifies tokens and parses the
 *      integer ones;
 *   4. CRC-16/CCITT (bitwise, polynomial 0x1021) over the 32-bit results of 1-3, the
 *      accumulator matrix and the parsed numbers.
 *
 * Cost: about 3.46 million executed wasm operators per iteration (measured with
 * wasmtime's fuel, which counts executed operators, local.get/set included; see
 * README.md): about 1.1 M each in the lists, the matrices and the tokenizer (text
 * generation, scanning, CRC of the parsed numbers), 0.1 M in the other CRCs. That
 * is about 1.2 ms per iteration at 3 million simple operations per millisecond;
 * wasmi 2.0 took about 2 ms per iteration when measured.
 */

typedef unsigned int u32;
typedef int i32;
typedef unsigned short u16;
typedef unsigned char u8;

#define LIST_NODES 100
#define LIST_ROUNDS 8
#define N 16
#define MAT_ROUNDS 24
#define TEXT_LEN 4096
#define TEXT_ROUNDS 2
#define MAX_NUMBERS 4096
#define MAX_RESULTS 256

/* ---- pseudo-random numbers (LCG, mod 2^32) ---- */

static u32 rng_state;

static u32 rng(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state ^ (rng_state >> 15);
}

/* ---- results collected for the CRC ---- */

static u32 results[MAX_RESULTS];
static u32 n_results;

static void emit(u32 v) {
  if (n_results < MAX_RESULTS) results[n_results++] = v;
}

/* ---- 1. linked lists ---- */

struct node {
  i32 key;
  i32 order;
  struct node *next;
};

static struct node pool[LIST_NODES];

static struct node *list_build(void) {
  struct node *head = 0;
  for (int i = LIST_NODES - 1; i >= 0; i--) {
    pool[i].key = (i32)(rng() % 2000u) - 1000;
    pool[i].order = i;
    pool[i].next = head;
    head = &pool[i];
  }
  return head;
}

static struct node *list_reverse(struct node *head) {
  struct node *prev = 0;
  while (head) {
    struct node *next = head->next;
    head->next = prev;
    prev = head;
    head = next;
  }
  return prev;
}

static struct node *list_find(struct node *head, i32 key) {
  while (head && head->key != key) head = head->next;
  return head;
}

typedef int (*node_cmp)(const struct node *, const struct node *);

static int cmp_key(const struct node *a, const struct node *b) {
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  return a->order - b->order;
}

static int cmp_order(const struct node *a, const struct node *b) {
  return a->order - b->order;
}

static struct node *list_merge(struct node *a, struct node *b, node_cmp cmp) {
  struct node head;
  struct node *tail = &head;
  while (a && b) {
    if (cmp(a, b) <= 0) {
      tail->next = a;
      a = a->next;
    } else {
      tail->next = b;
      b = b->next;
    }
    tail = tail->next;
  }
  tail->next = a ? a : b;
  return head.next;
}

static struct node *list_sort(struct node *head, node_cmp cmp) {
  if (!head || !head->next) return head;
  /* split in halves with a slow and a fast pointer */
  struct node *slow = head, *fast = head->next;
  while (fast && fast->next) {
    slow = slow->next;
    fast = fast->next->next;
  }
  struct node *second = slow->next;
  slow->next = 0;
  return list_merge(list_sort(head, cmp), list_sort(second, cmp), cmp);
}

static u32 list_fold(const struct node *head) {
  u32 h = 0x811c9dc5u;
  u32 len = 0;
  for (; head; head = head->next) {
    h = (h ^ (u32)head->key) * 16777619u;
    h = (h ^ (u32)head->order) * 16777619u;
    len++;
  }
  return h + len;
}

static void bench_list(void) {
  for (int round = 0; round < LIST_ROUNDS; round++) {
    struct node *head = list_build();
    head = list_reverse(head);
    u32 found = 0, found_sum = 0;
    for (int q = 0; q < LIST_NODES; q++) {
      /* half the keys are taken from the list, half are random (mostly missing) */
      i32 key = (q & 1) ? pool[(q * 37) % LIST_NODES].key : (i32)(rng() % 2000u) - 1000;
      struct node *n = list_find(head, key);
      if (n) {
        found++;
        found_sum += (u32)n->order;
      }
    }
    head = list_sort(head, cmp_key);
    u32 sorted = list_fold(head);
    head = list_sort(head, cmp_order);
    u32 restored = list_fold(head);
    emit(found ^ (found_sum << 8));
    emit(sorted);
    emit(restored);
  }
}

/* ---- 2. matrices ---- */

static i32 mat_a[N][N], mat_b[N][N], mat_c[N][N], mat_acc[N][N];

static void mat_init(void) {
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      mat_a[i][j] = (i32)(rng() & 0xff) - 128;
      mat_b[i][j] = (i32)(rng() & 0xff) - 128;
      mat_acc[i][j] = 0;
    }
}

static void mat_mul(void) {
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      i32 s = 0;
      for (int k = 0; k < N; k++) s += mat_a[i][k] * mat_b[k][j];
      mat_c[i][j] = s;
    }
}

static void bench_matrix(void) {
  mat_init();
  for (int round = 0; round < MAT_ROUNDS; round++) {
    mat_mul();
    u32 x = 0;
    i32 max = mat_c[0][0];
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) {
        i32 v = mat_c[i][j];
        mat_acc[i][j] += v;
        x = (x << 1 | x >> 31) ^ (u32)v;
        if (v > max) max = v;
        mat_a[i][j] = ((v >> 6) & 0xff) - 128 + round;
      }
    emit(x);
    emit((u32)max);
  }
}

/* ---- 3. tokenizer state machine ---- */

static u8 text[TEXT_LEN];
static i32 numbers[MAX_NUMBERS];
static u32 n_numbers;

static u32 put_uint(u32 pos, u32 v, u32 base) {
  u8 digits[12];
  u32 n = 0;
  do {
    u32 d = v % base;
    digits[n++] = (u8)(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v);
  while (n && pos < TEXT_LEN) text[pos++] = digits[--n];
  return pos;
}

static void text_generate(void) {
  u32 pos = 0;
  while (pos + 24 < TEXT_LEN) {
    u32 r = rng();
    switch ((r >> 8) % 6) {
      case 0: /* decimal */
        pos = put_uint(pos, rng() % 100000u, 10);
        break;
      case 1: /* negative decimal */
        text[pos++] = '-';
        pos = put_uint(pos, rng() % 5000u, 10);
        break;
      case 2: /* hex */
        text[pos++] = '0';
        text[pos++] = 'x';
        pos = put_uint(pos, rng() & 0xfffffu, 16);
        break;
      case 3: /* fraction with optional exponent */
        pos = put_uint(pos, rng() % 1000u, 10);
        text[pos++] = '.';
        pos = put_uint(pos, rng() % 10000u, 10);
        if (r & 1) {
          text[pos++] = 'e';
          if (r & 2) text[pos++] = '-';
          pos = put_uint(pos, rng() % 40u, 10);
        }
        break;
      case 4: /* malformed: digits then letters */
        pos = put_uint(pos, rng() % 100u, 10);
        text[pos++] = (u8)('g' + (r & 7));
        text[pos++] = (u8)('a' + ((r >> 3) & 15));
        break;
      default: /* a word */
        for (u32 k = 0, n = 2 + (r & 3); k < n; k++) text[pos++] = (u8)('a' + (rng() % 26u));
        break;
    }
    u32 sep = r >> 28;
    text[pos++] = sep < 10 ? ' ' : sep < 14 ? ',' : '\n';
  }
  while (pos < TEXT_LEN) text[pos++] = ' ';
}

enum state {
  S_START, S_SIGN, S_ZERO, S_INT, S_HEX_MARK, S_HEX, S_FRAC_MARK, S_FRAC,
  S_EXP_MARK, S_EXP_SIGN, S_EXP, S_WORD, S_BAD
};

enum cls { C_INT, C_HEX, C_REAL, C_WORD, C_BAD, C_COUNT };

static u32 is_digit(u8 c) { return (u32)(c - '0') < 10; }
static u32 hex_value(u8 c) {
  if (is_digit(c)) return c - '0';
  if ((u32)(c - 'a') < 6) return c - 'a' + 10;
  return 16;
}

static void bench_tokenizer(void) {
  for (int round = 0; round < TEXT_ROUNDS; round++) {
    text_generate();
    u32 counts[C_COUNT] = {0, 0, 0, 0, 0};
    u32 lines = 0, frac_digits = 0;
    enum state st = S_START;
    i32 value = 0;
    i32 sign = 1;
    for (u32 i = 0; i < TEXT_LEN; i++) {
      u8 c = text[i];
      int sep = c == ' ' || c == ',' || c == '\n';
      if (c == '\n') lines++;
      if (sep) {
        enum cls k;
        switch (st) {
          case S_START: continue;
          case S_ZERO:
          case S_INT: k = C_INT; break;
          case S_HEX: k = C_HEX; break;
          case S_FRAC:
          case S_EXP: k = C_REAL; break;
          case S_WORD: k = C_WORD; break;
          default: k = C_BAD; break;
        }
        counts[k]++;
        if ((k == C_INT || k == C_HEX) && n_numbers < MAX_NUMBERS) numbers[n_numbers++] = sign * value;
        st = S_START;
        value = 0;
        sign = 1;
        continue;
      }
      switch (st) {
        case S_START:
          if (c == '-') { st = S_SIGN; sign = -1; }
          else if (c == '0') st = S_ZERO;
          else if (is_digit(c)) { st = S_INT; value = c - '0'; }
          else if ((u32)(c - 'a') < 26) st = S_WORD;
          else st = S_BAD;
          break;
        case S_SIGN:
          if (is_digit(c)) { st = S_INT; value = c - '0'; }
          else st = S_BAD;
          break;
        case S_ZERO:
          if (c == 'x') st = S_HEX_MARK;
          else if (c == '.') st = S_FRAC_MARK;
          else if (is_digit(c)) { st = S_INT; value = c - '0'; }
          else st = S_BAD;
          break;
        case S_INT:
          if (is_digit(c)) value = value * 10 + (c - '0');
          else if (c == '.') st = S_FRAC_MARK;
          else st = S_BAD;
          break;
        case S_HEX_MARK:
        case S_HEX: {
          u32 h = hex_value(c);
          if (h < 16) { st = S_HEX; value = (i32)((u32)value << 4 | h); }
          else st = S_BAD;
          break;
        }
        case S_FRAC_MARK:
        case S_FRAC:
          if (is_digit(c)) { st = S_FRAC; frac_digits++; }
          else if (c == 'e' && st == S_FRAC) st = S_EXP_MARK;
          else st = S_BAD;
          break;
        case S_EXP_MARK:
          if (c == '-') st = S_EXP_SIGN;
          else if (is_digit(c)) st = S_EXP;
          else st = S_BAD;
          break;
        case S_EXP_SIGN:
        case S_EXP:
          st = is_digit(c) ? S_EXP : S_BAD;
          break;
        case S_WORD:
          if ((u32)(c - 'a') >= 26) st = S_BAD;
          break;
        case S_BAD:
          break;
      }
    }
    for (int k = 0; k < C_COUNT; k++) emit(counts[k]);
    emit(lines ^ (frac_digits << 12));
  }
}

/* ---- 4. CRC-16/CCITT ---- */

static u16 crc16_byte(u16 crc, u8 b) {
  crc ^= (u16)b << 8;
  for (int k = 0; k < 8; k++) crc = (crc & 0x8000) ? (u16)((crc << 1) ^ 0x1021) : (u16)(crc << 1);
  return crc;
}

static u16 crc16_words(u16 crc, const u32 *w, u32 n) {
  for (u32 i = 0; i < n; i++) {
    crc = crc16_byte(crc, (u8)w[i]);
    crc = crc16_byte(crc, (u8)(w[i] >> 8));
    crc = crc16_byte(crc, (u8)(w[i] >> 16));
    crc = crc16_byte(crc, (u8)(w[i] >> 24));
  }
  return crc;
}

__attribute__((export_name("run")))
int run(int iterations) {
  u16 crc = 0xffff;
  for (int it = 0; it < iterations; it++) {
    rng_state = (u32)it * 2654435761u ^ crc;
    n_results = 0;
    n_numbers = 0;
    bench_list();
    bench_matrix();
    bench_tokenizer();
    crc = crc16_words(crc, results, n_results);
    crc = crc16_words(crc, (const u32 *)mat_acc, N * N);
    crc = crc16_words(crc, (const u32 *)numbers, n_numbers);
  }
  return crc;
}
