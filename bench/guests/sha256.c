/* sha256.wasm: SHA-256 (FIPS 180-4) over a 1 MiB static buffer, no imports.
 * Written from the standard's description for this project; public domain.
 *
 * Exports:
 *   buffer() -> i32            address of the 1 MiB (1048576-byte) input buffer
 *   fill(len, seed)            writes len bytes (clamped to 0..1048576) of the buffer
 *                              with the byte PRNG below
 *   sha256(len) -> i32         hashes the first len bytes (clamped likewise), stores the
 *                              32-byte digest in a static area and returns its address
 *   digest_word(i) -> i32      i-th (0..7) big-endian 32-bit word of the last digest
 *                              (as a signed i32); 0 for i outside 0..7
 *
 * fill's PRNG, easy to reproduce elsewhere (all arithmetic mod 2^32):
 *   x = seed; for each byte k: x = x * 1103515245 + 12345; byte[k] = x >> 24
 */

typedef unsigned int u32;
typedef unsigned char u8;

#define BUF_SIZE (1u << 20)

static u8 input[BUF_SIZE];
static u8 digest[32];

static const u32 K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static u32 clamp_len(int len) {
  if (len < 0) return 0;
  if ((u32)len > BUF_SIZE) return BUF_SIZE;
  return (u32)len;
}

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void compress(u32 h[8], const u8 *block) {
  u32 w[64];
  for (int t = 0; t < 16; t++) {
    const u8 *p = block + 4 * t;
    w[t] = ((u32)p[0] << 24) | ((u32)p[1] << 16) | ((u32)p[2] << 8) | (u32)p[3];
  }
  for (int t = 16; t < 64; t++) {
    u32 s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
    u32 s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  u32 a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int t = 0; t < 64; t++) {
    u32 S1 = ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25);
    u32 ch = (e & f) ^ (~e & g);
    u32 t1 = hh + S1 + ch + K[t] + w[t];
    u32 S0 = ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22);
    u32 maj = (a & b) ^ (a & c) ^ (b & c);
    u32 t2 = S0 + maj;
    hh = g; g = f; f = e; e = d + t1;
    d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d;
  h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

__attribute__((export_name("buffer")))
int buffer(void) { return (int)(unsigned long)input; }

__attribute__((export_name("fill")))
void fill(int len, int seed) {
  u32 n = clamp_len(len);
  u32 x = (u32)seed;
  for (u32 k = 0; k < n; k++) {
    x = x * 1103515245u + 12345u;
    input[k] = (u8)(x >> 24);
  }
}

__attribute__((export_name("sha256")))
int sha256(int len) {
  u32 n = clamp_len(len);
  u32 h[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  };
  u32 full = n & ~63u;
  for (u32 off = 0; off < full; off += 64) compress(h, input + off);

  /* Padding: the remaining 0..63 bytes, 0x80, zeros, then the 64-bit bit length;
   * one block if the remainder is at most 55 bytes, two otherwise. */
  u8 tail[128];
  u32 rest = n - full;
  for (u32 i = 0; i < rest; i++) tail[i] = input[full + i];
  tail[rest] = 0x80;
  u32 tail_len = rest < 56 ? 64 : 128;
  for (u32 i = rest + 1; i < tail_len - 8; i++) tail[i] = 0;
  unsigned long long bits = (unsigned long long)n * 8;
  for (int i = 0; i < 8; i++) tail[tail_len - 1 - i] = (u8)(bits >> (8 * i));
  compress(h, tail);
  if (tail_len == 128) compress(h, tail + 64);

  for (int i = 0; i < 8; i++) {
    digest[4 * i] = (u8)(h[i] >> 24);
    digest[4 * i + 1] = (u8)(h[i] >> 16);
    digest[4 * i + 2] = (u8)(h[i] >> 8);
    digest[4 * i + 3] = (u8)h[i];
  }
  return (int)(unsigned long)digest;
}

__attribute__((export_name("digest_word")))
int digest_word(int i) {
  if (i < 0 || i > 7) return 0;
  return (int)(((u32)digest[4 * i] << 24) | ((u32)digest[4 * i + 1] << 16) |
               ((u32)digest[4 * i + 2] << 8) | (u32)digest[4 * i + 3]);
}
