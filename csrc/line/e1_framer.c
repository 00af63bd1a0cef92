/*
 * E1 framer and line interface, bit true: HDB3 (G.703 annex A), basic
 * frame and CRC-4 multiframe (G.704 2.3), frame and multiframe alignment
 * (G.706 4), TS16 CAS multiframe (G.704 5.1.3, G.732 5), LOS and AIS
 * (G.775), controlled slips in the receive elastic store (G.822).
 *
 * Speed matters (dozens of spans at many times real time on one core), so
 * nothing here walks the line bit by bit in the steady state:
 *
 * - HDB3 works on 64-bit words. The encoder finds the four-zero runs with
 *   shifted ANDs, decides B00V or 000V per substitution, and assigns
 *   alternate polarities with a prefix XOR. e1_framer_tx_group runs the same
 *   word code on four spans at once, one in each 64-bit lane of a vector
 *   (AVX2, or SSE2 pairs), as one span's steps depend on each other too much
 *   to fill the CPU and its branch follows the data. The decoder finds violations
 *   with one addition (the carry chain carries "the last mark was
 *   positive" across the spaces) and keeps the ones that form a B00V/000V
 *   pattern; the others are counted as bipolar violations and decoded as
 *   the ones they most likely were. e1_framer_rx_group decodes four spans
 *   at once the same way, with the G.775 monitor reduced to the AIS count
 *   while a line is live (no LOS, no word all spaces: no LOS run can start),
 *   and a lane that is not, block by block, word by word as rx_tick does.
 * - CRC-4 uses that x^4 + x + 1 is primitive: x^15 = 1 mod G, so a block
 *   folds into a 15-bit residue by XOR (bit i goes to i mod 15) and only
 *   the end of a sub-multiframe needs a reduction.
 * - Once aligned, the receiver takes each frame at the known bit offset
 *   with four 64-bit loads and shifts and checks the FAS there; only out
 *   of alignment does it search, 64 candidate offsets per step.
 */
#include <stdlib.h>
#include <string.h>

#include "line/e1_framer.h"

#define FRAME_BITS          256

/* G.704 2.3.2: FAS x0011011 in TS0 of even frames (bits 2..8) */
#define FAS_WORD            0x1B
/* G.704 2.3.2: NFAS: bit 2 = 1, bit 3 = A (remote alarm), bits 4..8 Sa4..Sa8 */
#define NFAS_BIT2           0x40
#define NFAS_A              0x20
#define NFAS_SA             0x1F
/* G.704 2.3.3.2: CRC-4 multiframe alignment signal 001011 in bit 1 of the
 * NFAS of frames 1, 3, 5, 7, 9, 11 */
#define MFAS_CRC4           0x0B
/* G.704 5.1.3.2: TS16 of CAS frame 0 is 0000 x y x x */
#define CAS_MFAS_X          0x0B
#define CAS_MFAS_Y          0x04

/* G.706 4.1.1: three consecutive incorrect FAS lose frame alignment */
#define FAS_LOSS_COUNT      3
/* G.706 4.2: two CRC-4 MFAS within 8 ms (64 frames) */
#define MF_FIND_FRAMES      64
/* G.706 4.2: no CRC-4 multiframe within 8 ms of frame alignment: the FAS
 * was spurious, search again */
#define MF_SPURIOUS_FRAMES  64
/* G.706 annex B: no CRC-4 multiframe within 400 ms: the far end is taken
 * to be non-CRC-4 equipment */
#define MF_INTERWORK_FRAMES 3200
/* Not specified by G.706; our rule: CRC-4 multiframe alignment is lost
 * when the MFAS is received in error in 4 consecutive multiframes. */
#define MF_LOSS_COUNT       4
/* G.706 4.3.2: >= 915 errored CRC-4 blocks out of 1000 lose frame alignment */
#define CRC_WINDOW          1000
#define CRC_FALSE_ALIGN     915
/* G.732 5.2: two consecutive CAS MFAS in error lose CAS multiframe alignment */
#define CAS_LOSS_COUNT      2
/* G.775: LOS after N consecutive spaces, 10 <= N <= 255 */
#define LOS_ZEROS           128
/* G.775: LOS clears on a pulse density of at least 12.5 % over N bits */
#define LOS_CLEAR_MARKS     (LOS_ZEROS / 8)
/* G.775: AIS is fewer than 3 zeros in each of two consecutive 512-bit periods */
#define AIS_PERIOD          512
#define AIS_ZEROS           3
/* Our integration of the received A bit: this many equal NFAS in a row */
#define RAI_COUNT           2

/* Receive bit buffer: decoded bytes in transmission order, bit 7 first.
 * One span by itself decodes at most RXBUF_BYTES ahead; e1_framer_rx_group
 * decodes a whole tick ahead, so the buffer holds RXBUF_GROUP_BYTES: a tick
 * of 20 ms (5120 bytes) or 30 ms and what the deframer keeps of the last. */
#define RXBUF_BYTES         2048
#define RXBUF_GROUP_BYTES   8192
#define RXBUF_SLACK         16
/* words of four spans decoded side by side between checks of the lanes */
#define RXG_BLOCK_WORDS     32
/* rails decoded per block in e1_framer_rx_line */
#define RX_BLOCK_WORDS      32

#define ALL1                0xFFFFFFFFFFFFFFFFULL

/* The line coder's two hot loops are built twice on x86-64 with GCC, for the
 * baseline and for x86-64-v3 (AVX2, BMI2), and the loader picks the one this
 * CPU runs (an ifunc): the word-wise HDB3 code gains some 15% from the wider
 * instruction set, and the extension still runs on any x86-64. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define E1_HOT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define E1_HOT_CLONES
#endif

/* G.775 LOS and AIS on the line; the receiver works on a copy of it in
 * locals per block, as the decoded bytes it stores could alias it. */
typedef struct {
    int los;
    uint32_t los_run;       /* consecutive spaces */
    int los_period_bits, los_period_marks, los_period_hit;
    uint32_t los_events;    /* LOS declared, to add to the counters */
    int ais;
    int ais_period_bits, ais_period_zeros;
    int ais_prev_low;       /* previous 512-bit period had < 3 zeros */
} e1_line_mon_t;

struct e1_framer_s {
    e1_config_t cfg;
    int allocated;

    /* ---- transmit ---- */
    e1_hdb3_enc_t enc;
    int simd;               /* SIMD_*: how e1_framer_tx_group and _rx_group work four spans at once */
    int tx_fn;              /* frame number mod 16 (CRC-4 and CAS multiframes) */
    uint32_t tx_crc_acc;    /* 15-bit CRC-4 residue of the current sub-multiframe */
    int tx_crc;             /* C1..C4 to send in the current sub-multiframe */
    int tx_e_pending;       /* errored received SMFs still to report in E bits */
    int tx_ais;
    int tx_rai;
    uint8_t cas_tx[E1_CAS_CHANNELS + 1];

    /* ---- receive: line ---- */
    e1_hdb3_dec_t dec;
    int brev;               /* BREV_*: how to put rails in time order */
    e1_line_mon_t mon;

    uint8_t *rxbuf;         /* RXBUF_GROUP_BYTES + RXBUF_SLACK */
    int rx_len;             /* decoded bytes in rxbuf */

    /* ---- receive: frame alignment ---- */
    int aligned;
    int64_t pos;            /* aligned: bit offset in rxbuf of the next frame */
    int64_t search_pos;     /* not aligned: first candidate bit offset */
    int fas_next;           /* next frame should carry the FAS */
    int fas_bad;
    uint32_t rx_fn;         /* frames since frame alignment */
    int rai, rai_run, rai_last;

    /* ---- receive: CRC-4 multiframe ---- */
    int mf_aligned;
    int mf_interwork;       /* G.706 annex B: given up on the CRC-4 multiframe */
    int mf_idx;             /* index in the multiframe of the next frame */
    uint32_t mf_wait;       /* frames aligned without CRC-4 MF since alignment */
    uint32_t mf_total;      /* the same, across spurious re-searches */
    uint32_t si_hist;       /* Si bits of the last NFAS frames */
    uint32_t mf_last[16];   /* rx_fn + 1 of the last MFAS seen at each phase */
    int mf_bad;
    int mfas_err;
    uint32_t crc_acc;       /* 15-bit residue of the SMF being received */
    int crc_acc_valid;
    int crc_prev;           /* CRC-4 of the previous SMF */
    int crc_prev_valid;
    int c_bits;             /* C bits received in this SMF */
    int smf_n, smf_err;     /* G.706 4.3.2 window */

    /* ---- receive: CAS multiframe ---- */
    int cas_aligned;
    int cas_idx;
    int cas_bad;
    int cas_zero_run;
    int cas_prev_ts16;
    int rmai;
    uint8_t cas_rx[E1_CAS_CHANNELS + 1];

    /* ---- elastic store ---- */
    uint8_t *store;         /* elastic_frames * 32 */
    int st_cap, st_rd, st_fill;
    int st_centre;          /* re-centre at the next read */
    uint8_t last_frame[E1_FRAME_BYTES];

    e1_counters_t cnt;
};

/* ------------------------------------------------------------------------ */
/* Word helpers                                                             */

static inline uint64_t load_le64(const uint8_t *b)
{
    uint64_t v;
    memcpy(&v, b, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void store_le64(uint8_t *b, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(b, &v, 8);
}

/* bit 7 of b[0] at bit 63: the line's first bit in time at the top */
static inline uint64_t load_be64(const uint8_t *b)
{
    return __builtin_bswap64(load_le64(b));
}

static inline void store_be64(uint8_t *b, uint64_t v)
{
    store_le64(b, __builtin_bswap64(v));
}

/* k (1..8) bytes into the top of a word, bit 7 of b[0] at bit 63 */
static inline uint64_t load_be_part(const uint8_t *b, int k)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < k; i++)
        v |= (uint64_t) b[i] << (56 - 8 * i);
    return v;
}

static inline void store_be_part(uint8_t *b, uint64_t v, int k)
{
    int i;
    for (i = 0; i < k; i++)
        b[i] = (uint8_t) (v >> (56 - 8 * i));
}

/* Reverse the bits within each byte: a byte string loaded little-endian
 * then has its first bit in time at bit 0 of the word, which is rev64 of
 * the big-endian load without the two byte swaps that cancel. */
static inline uint64_t brev8_64(uint64_t x)
{
    x = ((x >> 1) & 0x5555555555555555ULL) | ((x & 0x5555555555555555ULL) << 1);
    x = ((x >> 2) & 0x3333333333333333ULL) | ((x & 0x3333333333333333ULL) << 2);
    x = ((x >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((x & 0x0F0F0F0F0F0F0F0FULL) << 4);
    return x;
}

/* Reverse the bits of a word: transmission order then runs from bit 0 up,
 * which lets an addition carry "the last mark" forward in time. */
static inline uint64_t rev64(uint64_t x)
{
    return brev8_64(__builtin_bswap64(x));
}

/* Bulk bit reversal within bytes of nwords words, src to dst (may be the
 * same): the receiver turns whole blocks of rails into time order at once
 * and its decoded block back, instead of three swap steps per word each way.
 * The portable loop is the reference; on x86-64 SSE2 (always there) does
 * two words a step and GFNI one instruction per two words. */
#define BREV_PORTABLE   0
#define BREV_SSE2       1
#define BREV_GFNI       2

static void brev8_words_portable(uint8_t *dst, const uint8_t *src, int nwords)
{
    int i;

    for (i = 0; i < nwords; i++)
        store_le64(dst + 8 * i, brev8_64(load_le64(src + 8 * i)));
}

#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#include <immintrin.h>

/* Two words as two 8-byte loads: what the caller has just stored word by
 * word then forwards from the store buffer, where one 16-byte load would
 * stall until the stores retire. */
static inline __m128i load2_64(const uint8_t *b)
{
    return _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *) b), _mm_loadl_epi64((const __m128i *) (b + 8)));
}

static void brev8_words_sse2(uint8_t *dst, const uint8_t *src, int nwords)
{
    const __m128i m1 = _mm_set1_epi8(0x55), m2 = _mm_set1_epi8(0x33), m4 = _mm_set1_epi8(0x0F);
    int i;

    for (i = 0; i + 2 <= nwords; i += 2) {
        __m128i x = load2_64(src + 8 * i);
        x = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(x, 1), m1), _mm_slli_epi16(_mm_and_si128(x, m1), 1));
        x = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(x, 2), m2), _mm_slli_epi16(_mm_and_si128(x, m2), 2));
        x = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(x, 4), m4), _mm_slli_epi16(_mm_and_si128(x, m4), 4));
        _mm_storeu_si128((__m128i *) (dst + 8 * i), x);
    }
    if (i < nwords)
        store_le64(dst + 8 * i, brev8_64(load_le64(src + 8 * i)));
}

/* the affine map whose matrix is the bit reversal of a byte */
__attribute__((target("gfni,sse2")))
static void brev8_words_gfni(uint8_t *dst, const uint8_t *src, int nwords)
{
    const __m128i rev = _mm_set1_epi64x(0x8040201008040201LL);
    int i;

    for (i = 0; i + 2 <= nwords; i += 2) {
        __m128i x = load2_64(src + 8 * i);
        _mm_storeu_si128((__m128i *) (dst + 8 * i), _mm_gf2p8affine_epi64_epi8(x, rev, 0));
    }
    if (i < nwords)
        store_le64(dst + 8 * i, brev8_64(load_le64(src + 8 * i)));
}
#endif

static int brev8_best(void)
{
#if defined(__x86_64__) && defined(__SSE2__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("gfni"))
        return BREV_GFNI;
    return BREV_SSE2;
#else
    return BREV_PORTABLE;
#endif
}

/* E1_FRAMER_BREV=portable or sse2 in the environment caps the choice, so
 * that tests can run every path on one machine. */
static int brev8_choose(void)
{
    const char *cap = getenv("E1_FRAMER_BREV");
    int best = brev8_best();

    if (cap != NULL && strcmp(cap, "portable") == 0)
        return BREV_PORTABLE;
    if (cap != NULL && strcmp(cap, "sse2") == 0 && best > BREV_SSE2)
        return BREV_SSE2;
    return best;
}

static inline void brev8_words(int kind, uint8_t *dst, const uint8_t *src, int nwords)
{
#if defined(__x86_64__) && defined(__SSE2__)
    if (kind == BREV_GFNI) {
        brev8_words_gfni(dst, src, nwords);
        return;
    }
    if (kind == BREV_SSE2) {
        brev8_words_sse2(dst, src, nwords);
        return;
    }
#endif
    (void) kind;
    brev8_words_portable(dst, src, nwords);
}

/* The four-span HDB3 coder (e1_framer_tx_group) and decoder (_rx_group) are
 * each one source built for the baseline (SSE2) and for AVX2, the decoder
 * also for AVX2 with GFNI (its bit reversals); E1_FRAMER_SIMD=sse2 or avx2
 * in the environment caps the choice, so that tests can run each path on
 * one machine. */
#define SIMD_BASE       0
#define SIMD_AVX2       1
#define SIMD_AVX2_GFNI  2

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define E1_SIMD_AVX2    1
#endif

static int simd_choose(void)
{
    const char *cap = getenv("E1_FRAMER_SIMD");

    if (cap != NULL && strcmp(cap, "sse2") == 0)
        return SIMD_BASE;
#ifdef E1_SIMD_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("gfni")
        && !(cap != NULL && strcmp(cap, "avx2") == 0))
        return SIMD_AVX2_GFNI;
    if (__builtin_cpu_supports("avx2"))
        return SIMD_AVX2;
#endif
    return SIMD_BASE;
}

static inline uint64_t top_mask(int nb)
{
    return nb >= 64 ? ALL1 : ~(ALL1 >> nb);
}

static inline uint64_t low_mask(int nb)
{
    return nb >= 64 ? ALL1 : ((1ULL << nb) - 1);
}

/* ------------------------------------------------------------------------ */
/* HDB3 encoder (G.703 annex A)                                             */
/*
 * Binary 1s are marks of alternate polarity (AMI). Each run of four 0s is
 * replaced by 000V or B00V: V repeats the polarity of the mark before it
 * (a bipolar violation); B is a normal alternating mark, used when the
 * number of marks since the last V is even, so successive Vs alternate.
 *
 * The encoder state: polarity of the last mark (1 = positive), parity of
 * the marks since the last V, zeros at the end of the input not yet in a
 * substitution (0..3), and the last 3 input bits with their V flags: a V
 * in the next word may turn one of them into a B, hence the 3-bit delay.
 */
/* The steps both encoders share, written once for a 64-bit word or a vector of
 * them (GCC vector extensions take the same operators), bit 63 first in time.
 *
 * HDB3_V_MARKS: a V where a zero run, counted from the last 1 or V, reaches 4,
 * 8, 12... (G.703: each block of 4 zeros is replaced); z4 marks the 4th zero of
 * each run of at least 4 ending there, zzK the bits ending K zeros. */
#define HDB3_V_MARKS(vm, z4, zz4, zz8, zz16, zz32)  \
    do {                                            \
        (vm) = (z4) & ~((z4) >> 1);                 \
        (vm) |= ((vm) >> 4) & (zz4);                \
        (vm) |= ((vm) >> 8) & (zz8);                \
        (vm) |= ((vm) >> 16) & (zz16);              \
        (vm) |= ((vm) >> 32) & (zz32);              \
    } while (0)

/* HDB3_AT_LAST_V: val, the bit of x at the latest V at or before each bit,
 * and has, whether there is one (a forward fill in six doubling steps). */
#define HDB3_AT_LAST_V(val, has, x, vm)             \
    do {                                            \
        (val) = (x) & (vm);                         \
        (has) = (vm);                               \
        (val) |= ((val) >> 1) & ~(has);             \
        (has) |= (has) >> 1;                        \
        (val) |= ((val) >> 2) & ~(has);             \
        (has) |= (has) >> 2;                        \
        (val) |= ((val) >> 4) & ~(has);             \
        (has) |= (has) >> 4;                        \
        (val) |= ((val) >> 8) & ~(has);             \
        (has) |= (has) >> 8;                        \
        (val) |= ((val) >> 16) & ~(has);            \
        (has) |= (has) >> 16;                       \
        (val) |= ((val) >> 32) & ~(has);            \
        (has) |= (has) >> 32;                       \
    } while (0)

/* The decoders' shared steps (reversed words, bit 0 first in time).
 *
 * HDB3_VIOLATIONS: the marks whose last mark before them had the same
 * polarity; the carry into bit t of one addition is "the last mark before t
 * was positive" (a = p | u: a positive mark sets it, a space passes it on). */
#define HDB3_VIOLATIONS(viol, a, sum, carry, p, n, u, cin)  \
    do {                                                    \
        (a) = (p) | (u);                                    \
        (sum) = (a) + (p) + (cin);                          \
        (carry) = (sum) ^ (a) ^ (p);                        \
        (viol) = ((p) & (carry)) | ((n) & ~(carry));        \
    } while (0)

/* HDB3_SUBSTITUTIONS: the violations that are a B00V/000V substitution:
 * spaces at t-1 and t-2, a space or a mark that was no violation (the B) at
 * t-3, and a mark at t-4 (the zero run the encoder replaced started at t-3,
 * so t-4 was a 1 or the previous V); sh and nh carry the spaces and
 * non-violations of the previous word's last bits, u4 the spaces that count
 * as a code's zero run. */
#define HDB3_SUBSTITUTIONS(ok, viol, u, u4, nv, sh, nh)                          \
    ((ok) = (viol) & (((u) << 1) | ((sh) >> 3)) & (((u) << 2) | ((sh) >> 2))      \
            & (((nv) << 3) | (nh)) & ~(((u4) << 4) | (sh)))

#define ENC_POL(st)     ((st) & 1)
#define ENC_PAR(st)     (((st) >> 1) & 1)
#define ENC_ZRUN(st)    (((st) >> 2) & 3)

static inline __attribute__((always_inline)) void hdb3_encode_word(e1_hdb3_enc_t *e, uint64_t w, int nb, uint64_t *po, uint64_t *no)
{
    uint64_t valid = top_mask(nb);
    uint64_t ones = w & valid;
    uint64_t z = ~w & valid;
    int st = e->state;
    int zrun = ENC_ZRUN(st);
    int par = ENC_PAR(st);
    uint64_t c = (1ULL << zrun) - 1;   /* bit 0: the bit before this word */
    uint64_t z4, vm = 0, bm = 0, m, v, p, sgn;
    uint32_t bprev = 0;
    int newz;
    uint64_t ev;

    /* bit b marks the 4th zero of a run of at least 4 ending there */
    z4 = z & ((z >> 1) | (c << 63)) & ((z >> 2) | (c << 62)) & ((z >> 3) | (c << 61));
    if (z4) {
        /* V where the run, counted from the last 1 or V, reaches 4, 8, 12...
         * (G.703: each block of 4 zeros is replaced) */
        uint64_t zz4 = z & (z >> 1) & (z >> 2) & (z >> 3);
        uint64_t zz8 = zz4 & (zz4 >> 4), zz16 = zz8 & (zz8 >> 8), zz32 = zz16 & (zz16 >> 16);
        uint64_t po, val, has, lfull, lprev, parm = par ? ALL1 : 0;

        HDB3_V_MARKS(vm, z4, zz4, zz8, zz16, zz32);
        /* B00V when the marks since the previous V are even: prefix parity
         * of the 1s, and its value at the latest V carried forward */
        po = ones;
        po ^= po >> 1;
        po ^= po >> 2;
        po ^= po >> 4;
        po ^= po >> 8;
        po ^= po >> 16;
        po ^= po >> 32;
        HDB3_AT_LAST_V(val, has, po, vm);
        lfull = val | (~has & parm);
        lprev = (lfull >> 1) | (parm << 63);
        {
            uint64_t bv = vm & ~(po ^ lprev);
            bm = bv << 3;
            bprev = (uint32_t) (bv >> 61);
        }
        par = (int) (((po ^ lfull) >> (64 - nb)) & 1);
    } else {
        par ^= __builtin_parityll(ones);
    }
    ev = ones | vm;
    if (ev)
        newz = __builtin_ctzll(ev) - (64 - nb);
    else
        newz = zrun + nb;

    /* output: input bits -3 .. nb-4 of this word */
    m = ((uint64_t) ((e->hold & 7) | bprev) << 61) | ((ones | bm) >> 3);
    v = ((uint64_t) ((e->hold >> 3) & 7) << 61) | (vm >> 3);
    m &= valid;
    v &= valid;
    /* prefix parity of the alternating marks; a V takes the polarity of the
     * last mark before it, which is what the prefix says at its position */
    p = m;
    p ^= p >> 1;
    p ^= p >> 2;
    p ^= p >> 4;
    p ^= p >> 8;
    p ^= p >> 16;
    p ^= p >> 32;
    sgn = p ^ (ENC_POL(st) ? ALL1 : 0);
    *po = (m | v) & sgn;
    *no = (m | v) & ~sgn;
    e->state = (int) ((sgn >> (64 - nb)) & 1) | (par << 1) | ((newz & 3) << 2);
    e->hold = (uint32_t) (((ones >> (64 - nb)) & 7) | (((vm >> (64 - nb)) & 7) << 3));
}

void e1_hdb3_enc_init(e1_hdb3_enc_t *e)
{
    /* as if the last mark was negative (the first one goes out positive)
     * and the 3 bits of delay in front of the data were 0s */
    e->state = 3 << 2;
    e->hold = 0;
}

int e1_hdb3_encoder_delay(void)
{
    return 3;
}

void e1_hdb3_encode(e1_hdb3_enc_t *e, const uint8_t *in, int nbytes, uint8_t *p, uint8_t *n)
{
    uint64_t po, no;
    int i = 0;

    for (; i + 8 <= nbytes; i += 8) {
        hdb3_encode_word(e, load_be64(in + i), 64, &po, &no);
        store_be64(p + i, po);
        store_be64(n + i, no);
    }
    if (i < nbytes) {
        int k = nbytes - i;
        hdb3_encode_word(e, load_be_part(in + i, k), 8 * k, &po, &no);
        store_be_part(p + i, po, k);
        store_be_part(n + i, no, k);
    }
}

/* The same code on four lines at once, one in each 64-bit lane of a vector
 * (GCC vector extensions: AVX2 where the CPU has it, pairs of SSE2 operations
 * elsewhere): spans are independent, and the word code above is too long a
 * chain of dependent steps for one line to fill the CPU. Whole words only.
 * The only branch is "a four-zero run in some lane": it takes the same way
 * word after word on idle channels and on busy ones alike, where the
 * one-line code's branch follows the data. The state as masks per lane: */
typedef uint64_t e1_u64x4_t __attribute__((vector_size(32)));

typedef struct {
    e1_u64x4_t c;       /* the zeros before this word not yet in a substitution, as (1 << n) - 1 */
    e1_u64x4_t par;     /* all ones: the marks since the last V are odd */
    e1_u64x4_t pol;     /* all ones: the last mark was positive */
    e1_u64x4_t hm, hv;  /* the last 3 input bits and their V flags, at bits 61..63 */
} hdb3_enc4_t;

/* (vectors go by pointer: by value the ABI differs between AVX and SSE builds) */
static inline __attribute__((always_inline)) void u64x4_prefix_xor(e1_u64x4_t *r, const e1_u64x4_t *v)
{
    e1_u64x4_t x = *v;

    x ^= x >> 1;
    x ^= x >> 2;
    x ^= x >> 4;
    x ^= x >> 8;
    x ^= x >> 16;
    x ^= x >> 32;
    *r = x;
}

static inline __attribute__((always_inline)) int u64x4_any(const e1_u64x4_t *x)
{
    return ((*x)[0] | (*x)[1] | (*x)[2] | (*x)[3]) != 0;
}

static void hdb3_enc4_load(hdb3_enc4_t *v, const e1_hdb3_enc_t *const e[4])
{
    int l;

    for (l = 0; l < 4; l++) {
        int st = e[l]->state;
        v->c[l] = (1ULL << ENC_ZRUN(st)) - 1;
        v->par[l] = ENC_PAR(st) ? ALL1 : 0;
        v->pol[l] = ENC_POL(st) ? ALL1 : 0;
        v->hm[l] = (uint64_t) (e[l]->hold & 7) << 61;
        v->hv[l] = (uint64_t) ((e[l]->hold >> 3) & 7) << 61;
    }
}

static void hdb3_enc4_store(const hdb3_enc4_t *v, e1_hdb3_enc_t *const e[4])
{
    int l;

    for (l = 0; l < 4; l++) {
        e[l]->state = (int) (v->pol[l] & 1) | (int) ((v->par[l] & 1) << 1) | (__builtin_popcountll(v->c[l]) << 2);
        e[l]->hold = (uint32_t) ((v->hm[l] >> 61) | ((v->hv[l] >> 61) << 3));
    }
}

/* Four words of each lane, x[j] holding word j of the four lanes, stored as
 * one frame to each dst[lane] + off (big-endian words, the line's first bit
 * in the top bit of the first byte). wide: by a 4x4 transpose and a byte
 * shuffle per lane, as AVX2 does them in one instruction each; else word by
 * word (SSE2 has no byte shuffle). */
typedef uint8_t e1_u8x32_t __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) void u64x4_store_frame(uint8_t *const *dst, size_t off,
                                                                    const e1_u64x4_t *x, int wide)
{
#ifdef E1_SIMD_AVX2
    if (wide) {
        const e1_u64x4_t lo = { 0, 4, 2, 6 }, hi = { 1, 5, 3, 7 }, h0 = { 0, 1, 4, 5 }, h1 = { 2, 3, 6, 7 };
        const e1_u8x32_t bswap = { 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8,
                                   23, 22, 21, 20, 19, 18, 17, 16, 31, 30, 29, 28, 27, 26, 25, 24 };
        e1_u64x4_t a = __builtin_shuffle(x[0], x[1], lo), b = __builtin_shuffle(x[0], x[1], hi);
        e1_u64x4_t c = __builtin_shuffle(x[2], x[3], lo), d = __builtin_shuffle(x[2], x[3], hi);
        e1_u8x32_t r0 = __builtin_shuffle((e1_u8x32_t) __builtin_shuffle(a, c, h0), bswap);
        e1_u8x32_t r1 = __builtin_shuffle((e1_u8x32_t) __builtin_shuffle(b, d, h0), bswap);
        e1_u8x32_t r2 = __builtin_shuffle((e1_u8x32_t) __builtin_shuffle(a, c, h1), bswap);
        e1_u8x32_t r3 = __builtin_shuffle((e1_u8x32_t) __builtin_shuffle(b, d, h1), bswap);
        memcpy(dst[0] + off, &r0, 32);
        memcpy(dst[1] + off, &r1, 32);
        memcpy(dst[2] + off, &r2, 32);
        memcpy(dst[3] + off, &r3, 32);
        return;
    }
#endif
    {
        int l, j;
        (void) wide;
        for (l = 0; l < 4; l++)
            for (j = 0; j < 4; j++)
                store_be64(dst[l] + off + 8 * j, x[j][l]);
    }
}

/* hdb3_encode_word with nb = 64 in each lane. Two simplifications: no word
 * ends in four zeros outside a substitution, so the zeros at its end are
 * below the lowest mark or V; and a B falls 3 bits before its V in time,
 * which the 3-bit delay of the output brings back to the V's own bit. */
static inline __attribute__((always_inline)) void hdb3_encode_word4(hdb3_enc4_t *e, const e1_u64x4_t *in,
                                                                    e1_u64x4_t *po, e1_u64x4_t *no)
{
    const e1_u64x4_t zero = { 0, 0, 0, 0 };
    e1_u64x4_t w = *in, z = ~w, z1 = z >> 1, z2 = z >> 2, z3 = z >> 3, c = e->c;
    e1_u64x4_t z4 = z & (z1 | (c << 63)) & (z2 | (c << 62)) & (z3 | (c << 61));
    e1_u64x4_t ones_par, vm = zero, bv = zero, m, v, sgn, ev;

    u64x4_prefix_xor(&ones_par, &w);
    if (u64x4_any(&z4)) {
        e1_u64x4_t zz4 = z & z1 & z2 & z3, zz8 = zz4 & (zz4 >> 4), zz16 = zz8 & (zz8 >> 8);
        e1_u64x4_t zz32 = zz16 & (zz16 >> 16);
        e1_u64x4_t val, has, lfull;

        HDB3_V_MARKS(vm, z4, zz4, zz8, zz16, zz32);
        HDB3_AT_LAST_V(val, has, ones_par, vm);
        lfull = val | (~has & e->par);
        bv = vm & ~(ones_par ^ ((lfull >> 1) | (e->par << 63)));
        e->par = -((ones_par ^ lfull) & 1);
    } else {
        e->par ^= -(ones_par & 1);
    }
    ev = w | vm;
    e->c = ~ev & (ev - 1);
    m = e->hm | (w >> 3) | bv;
    v = e->hv | (vm >> 3);
    e->hm = w << 61;
    e->hv = vm << 61;
    u64x4_prefix_xor(&sgn, &m);
    sgn ^= e->pol;
    e->pol = -(sgn & 1);
    *po = (m | v) & sgn;
    *no = (m | v) & ~sgn;
}

/* ------------------------------------------------------------------------ */
/* HDB3 decoder                                                             */
/*
 * Works in reversed words (bit 0 first in time). A mark is a violation
 * when the last mark before it had the same polarity. A violation is an
 * HDB3 substitution when the two positions before it are spaces, the
 * third is a space (000V) or a mark that was not itself a violation
 * (B00V), and the fourth is a mark; the V and its B then decode as 0s. Any other violation is a
 * line error: counted as a BPV and decoded as the 1 it is most likely to
 * be, so one bad symbol costs about one bit.
 *
 * State: polarity of the last mark, whether a mark was seen at all, which
 * of the last 4 positions were spaces and which of the last 3 were not
 * violations; hold keeps their decoded bits (a V in the next word can
 * clear the one 3 back), hence the 3-bit delay.
 */
#define DEC_LASTPOS(st) ((st) & 1)
#define DEC_SEEN(st)    (((st) >> 1) & 1)
#define DEC_SEEN_BIT    2   /* cleared when the line goes quiet: start afresh */
#define DEC_SPACES(st)  (((st) >> 2) & 15)  /* bit 0: position -4 .. bit 3: -1 */
#define DEC_NOVIOL(st)  (((st) >> 6) & 7)   /* bit 0: position -3 .. bit 2: -1 */

typedef struct {
    uint64_t out;       /* decoded bits, reversed order, positions -3 .. nb-4 */
    uint64_t marks;     /* marks in this word, reversed order */
    int bpv;
} dec_result_t;

static inline __attribute__((always_inline)) void hdb3_decode_word(e1_hdb3_dec_t *d, uint64_t pw, uint64_t nw, int nb,
                                    dec_result_t *r)
{
    uint64_t valid = low_mask(nb);
    uint64_t x, u, a, sum, carry, viol, nv, ok, e, clear;
    int st = d->state;
    uint64_t cin = (uint64_t) DEC_LASTPOS(st);
    uint64_t sh = (uint64_t) DEC_SPACES(st);
    uint64_t nh = (uint64_t) DEC_NOVIOL(st);
    int lastpos = DEC_LASTPOS(st), seen = DEC_SEEN(st);
    uint64_t u4;

    pw &= valid;
    nw &= valid & ~pw;          /* a pulse on both rails counts as positive */
    x = pw | nw;
    u = ~x & valid;
    u4 = u;
    if (x) {
        if (!seen) {
            /* the first mark ever is no violation whatever its polarity,
             * and what came before it is no zero run of the code */
            int first = __builtin_ctzll(x);
            cin = !((pw >> first) & 1);
            u4 &= ~low_mask(first);
            seen = 1;
        }
        lastpos = (int) ((pw >> (63 - __builtin_clzll(x))) & 1);
    } else if (!seen) {
        u4 = 0;
    }
    HDB3_VIOLATIONS(viol, a, sum, carry, pw, nw, u, cin);
    nv = ~viol & valid;
    HDB3_SUBSTITUTIONS(ok, viol, u, u4, nv, sh, nh);
    r->bpv = (viol & ~ok) ? __builtin_popcountll(viol & ~ok) : 0;
    e = (x << 3) | d->hold;
    clear = ok | (ok << 3);
    r->out = e & ~clear & valid;
    r->marks = x;
    d->hold = (uint32_t) ((x >> (nb - 3)) & 7 & ~(ok >> (nb - 3)));
    d->state = lastpos | (seen << 1) | (int) (((u4 >> (nb - 4)) & 15) << 2)
               | (int) (((nv >> (nb - 3)) & 7) << 6);
}

void e1_hdb3_dec_init(e1_hdb3_dec_t *d)
{
    d->state = 0;
    d->hold = 0;
    d->bpv = 0;
}

int e1_hdb3_decoder_delay(void)
{
    return 3;
}

void e1_hdb3_decode(e1_hdb3_dec_t *d, const uint8_t *p, const uint8_t *n, int nbytes, uint8_t *out)
{
    dec_result_t r;
    int i = 0;

    for (; i + 8 <= nbytes; i += 8) {
        hdb3_decode_word(d, brev8_64(load_le64(p + i)), brev8_64(load_le64(n + i)), 64, &r);
        d->bpv += r.bpv;
        store_le64(out + i, brev8_64(r.out));
    }
    if (i < nbytes) {
        int k = nbytes - i;
        hdb3_decode_word(d, rev64(load_be_part(p + i, k)), rev64(load_be_part(n + i, k)), 8 * k, &r);
        d->bpv += r.bpv;
        store_be_part(out + i, rev64(r.out), k);
    }
}

/* The decoder on four lines at once, one in each lane (as hdb3_encode_word4),
 * whole words only, for lines that are live: the decoder has seen a mark
 * (DEC_SEEN) and holds no run of 64 spaces, there is no LOS, and no word is
 * all spaces. A LOS run (LOS_ZEROS > 2 * 63) then cannot start and the LOS
 * period only counts bits, so the monitor is left with the AIS count, and
 * the polarity of the last mark is the carry out of the addition, not a bit
 * scan. The caller checks the first conditions before a block and the last
 * after it (`quiet`), and runs the scalar code on a lane that fails. */
typedef int64_t e1_i64x4_t __attribute__((vector_size(32)));
/* four words anywhere in memory (little-endian loads and stores), aliasing anything */
typedef uint64_t e1_u64x4u_t __attribute__((vector_size(32), aligned(1), may_alias));

typedef struct {
    e1_u64x4_t cin;             /* 1: the last mark was positive */
    e1_u64x4_t sh, nh, hold;    /* DEC_SPACES, DEC_NOVIOL and hold, as in e1_hdb3_dec_t */
    e1_i64x4_t ais_bits, ais_zeros;
    e1_i64x4_t ais, ais_low;    /* all ones: AIS; the previous period had < 3 zeros */
} hdb3_dec4_t;

static inline __attribute__((always_inline)) void u64x4_brev8(e1_u64x4_t *v)
{
    e1_u64x4_t x = *v;

    x = ((x >> 1) & 0x5555555555555555ULL) | ((x & 0x5555555555555555ULL) << 1);
    x = ((x >> 2) & 0x3333333333333333ULL) | ((x & 0x3333333333333333ULL) << 2);
    x = ((x >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((x & 0x0F0F0F0F0F0F0F0FULL) << 4);
    *v = x;
}

#ifdef E1_SIMD_AVX2
typedef char e1_i8x32_t __attribute__((vector_size(32)));

/* (the builtin, not the intrinsic: it expands in the caller built for GFNI;
 * always inlined there, so the ABI of an AVX value out of it never applies) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
static inline __attribute__((always_inline)) void u64x4_brev8_gfni(e1_u64x4_t *v)
{
    const e1_u64x4_t rev = { 0x8040201008040201ULL, 0x8040201008040201ULL, 0x8040201008040201ULL,
                             0x8040201008040201ULL };

    *v = (e1_u64x4_t) __builtin_ia32_vgf2p8affineqb_v32qi((e1_i8x32_t) *v, (e1_i8x32_t) rev, 0);
}
#pragma GCC diagnostic pop
#endif

/* 4x4 transpose of words: x[j][l] and x[l][j] trade places (four words of
 * each of four lines to a word of each line in four vectors, and back) */
static inline __attribute__((always_inline)) void u64x4_transpose(e1_u64x4_t *x)
{
    const e1_u64x4_t lo = { 0, 4, 2, 6 }, hi = { 1, 5, 3, 7 }, h0 = { 0, 1, 4, 5 }, h1 = { 2, 3, 6, 7 };
    e1_u64x4_t a = __builtin_shuffle(x[0], x[1], lo), b = __builtin_shuffle(x[0], x[1], hi);
    e1_u64x4_t c = __builtin_shuffle(x[2], x[3], lo), d = __builtin_shuffle(x[2], x[3], hi);

    x[0] = __builtin_shuffle(a, c, h0);
    x[1] = __builtin_shuffle(b, d, h0);
    x[2] = __builtin_shuffle(a, c, h1);
    x[3] = __builtin_shuffle(b, d, h1);
}

/* hdb3_decode_word with nb = 64 and DEC_SEEN in each lane; the BPVs come
 * out as a mask (`bad`), as they are rare. */
static inline __attribute__((always_inline)) void hdb3_decode_word4(hdb3_dec4_t *d, const e1_u64x4_t *pw,
                                                                    const e1_u64x4_t *nw, e1_u64x4_t *out,
                                                                    e1_u64x4_t *bad, e1_u64x4_t *x_out)
{
    e1_u64x4_t p = *pw, n = *nw & ~p, x = p | n, u = ~x, a, sum, carry, viol, nv, ok;

    HDB3_VIOLATIONS(viol, a, sum, carry, p, n, u, d->cin);
    nv = ~viol;
    HDB3_SUBSTITUTIONS(ok, viol, u, u, nv, d->sh, d->nh);

    *bad = viol & ~ok;
    *out = ((x << 3) | d->hold) & ~(ok | (ok << 3));
    *x_out = x;
    d->hold = (x >> 61) & ~(ok >> 61);
    /* carry out of bit 63: the last mark of the word was positive */
    d->cin = ((a & p) | ((a | p) & ~sum)) >> 63;
    d->sh = u >> 60;
    d->nh = nv >> 61;
}

/* rx_line_monitor's AIS part on a decoded word in each lane */
static inline __attribute__((always_inline)) void ais_word4(hdb3_dec4_t *d, const e1_u64x4_t *out)
{
    e1_u64x4_t z = ~*out, z1 = z & (z - 1), z2 = z1 & (z1 - 1);
    /* min(3, zeros in the word): comparisons give -1 for true */
    e1_i64x4_t c = -((e1_i64x4_t) (z != 0) + (e1_i64x4_t) (z1 != 0) + (e1_i64x4_t) (z2 != 0));
    e1_i64x4_t end, low;

    d->ais_zeros += c & (e1_i64x4_t) (d->ais_zeros < AIS_ZEROS);
    d->ais_bits += 64;
    end = (e1_i64x4_t) (d->ais_bits >= AIS_PERIOD);
    low = (e1_i64x4_t) (d->ais_zeros < AIS_ZEROS);
    /* two low periods set AIS, two others clear it */
    d->ais = (d->ais & ~end) | (end & ((low & d->ais_low) | (d->ais & (low | d->ais_low))));
    d->ais_low = (d->ais_low & ~end) | (low & end);
    d->ais_bits &= ~end;
    d->ais_zeros &= ~end;
}

/* ------------------------------------------------------------------------ */
/* CRC-4 (G.704 2.3.3.5.2): the block times x^4 divided by x^4 + x + 1      */

/* (crc xor nibble) * x^4 mod G: four bits at a time */
static const uint8_t crc4_nib[16] = {
    0x0, 0x3, 0x6, 0x5, 0xC, 0xF, 0xA, 0x9, 0xB, 0x8, 0xD, 0xE, 0x7, 0x4, 0x1, 0x2
};

int e1_crc4(int crc, const uint8_t *data, int nbytes)
{
    int i;

    crc &= 0xF;
    for (i = 0; i < nbytes; i++) {
        crc = crc4_nib[crc ^ (data[i] >> 4)];
        crc = crc4_nib[crc ^ (data[i] & 0xF)];
    }
    return crc;
}

/* Residue of one frame (four words, bit 63 of w0 first) in the 15-bit
 * ring: bit e is the coefficient of x^e, counting from the frame's last bit. */
static inline uint32_t crc4_fold_frame(uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3)
{
    /* 2^64 = 2^4, 2^128 = 2^8, 2^192 = 2^12 in the ring; what a shift
     * pushes past bit 63 comes back at bit 4 (2^64 = 2^4) */
    uint64_t t = w3 ^ (w2 << 4) ^ ((w2 >> 60) << 4) ^ (w1 << 8) ^ ((w1 >> 56) << 4)
                 ^ (w0 << 12) ^ ((w0 >> 52) << 4);
    uint64_t r = (t & 0x7FFF) ^ ((t >> 15) & 0x7FFF) ^ ((t >> 30) & 0x7FFF) ^ ((t >> 45) & 0x7FFF)
                 ^ (t >> 60);
    return (uint32_t) r;
}

static inline uint32_t rot15(uint32_t r, int k)
{
    return ((r << k) | (r >> (15 - k))) & 0x7FFF;
}

/* Horner step: the block so far moves up 256 bits (x^256 = x) and the new frame is added */
static inline uint32_t crc4_add_frame(uint32_t acc, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3)
{
    return rot15(acc, 1) ^ crc4_fold_frame(w0, w1, w2, w3);
}

/* The CRC-4 of a block with residue acc: acc * x^4 reduced. Folding
 * x^4 = x + 1 four times takes degree 14 below 4, without a branch per bit
 * (the residue is data, so those branches were mispredicted). */
static inline int crc4_finish(uint32_t acc)
{
    uint32_t r = rot15(acc, 4);
    int i;

    for (i = 0; i < 4; i++)
        r = (r & 0xF) ^ (r >> 4) ^ ((r >> 4) << 1);
    return (int) r;
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */

int e1_framer_size(void)
{
    return (int) sizeof(e1_framer_t);
}

static void rx_lose_alignment(e1_framer_t *s, int64_t from);

e1_framer_t *e1_framer_init(e1_framer_t *s, const e1_config_t *cfg)
{
    int allocated = 0;
    uint8_t *rxbuf, *store;
    int i;

    if (cfg == NULL || cfg->elastic_frames < 2 || cfg->elastic_frames > (1 << 20)
        || (cfg->crc4 != 0 && cfg->crc4 != 1) || (cfg->cas != 0 && cfg->cas != 1))
        return NULL;
    rxbuf = calloc(1, RXBUF_GROUP_BYTES + RXBUF_SLACK);
    store = malloc((size_t) cfg->elastic_frames * E1_FRAME_BYTES);
    if (s == NULL) {
        s = malloc(sizeof(*s));
        allocated = 1;
    }
    if (s == NULL || rxbuf == NULL || store == NULL) {
        free(rxbuf);
        free(store);
        if (allocated)
            free(s);
        return NULL;
    }
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->allocated = allocated;
    s->rxbuf = rxbuf;
    s->store = store;
    s->st_cap = cfg->elastic_frames;
    s->brev = brev8_choose();
    s->simd = simd_choose();
    memset(s->store, 0xFF, (size_t) s->st_cap * E1_FRAME_BYTES);
    memset(s->last_frame, 0xFF, E1_FRAME_BYTES);
    e1_hdb3_enc_init(&s->enc);
    e1_hdb3_dec_init(&s->dec);
    /* G.704 5.1.3.2: abcd of an idle or unused channel: 1101 */
    for (i = 0; i <= E1_CAS_CHANNELS; i++) {
        s->cas_tx[i] = 0xD;
        s->cas_rx[i] = 0xF;
    }
    s->cas_prev_ts16 = 0;
    rx_lose_alignment(s, 0);
    return s;
}

void e1_framer_release(e1_framer_t *s)
{
    if (s == NULL)
        return;
    free(s->rxbuf);
    free(s->store);
    s->rxbuf = NULL;
    s->store = NULL;
}

void e1_framer_free(e1_framer_t *s)
{
    if (s == NULL)
        return;
    e1_framer_release(s);
    if (s->allocated)
        free(s);
}

/* ------------------------------------------------------------------------ */
/* Transmit                                                                 */

void e1_framer_set_tx_ais(e1_framer_t *s, int on)
{
    s->tx_ais = on != 0;
}

void e1_framer_set_tx_rai(e1_framer_t *s, int on)
{
    s->tx_rai = on != 0;
}

void e1_framer_set_cas_tx(e1_framer_t *s, int channel, int abcd)
{
    if (channel < 1 || channel > E1_CAS_CHANNELS || abcd < 0 || abcd > 15)
        return;
    s->cas_tx[channel] = (uint8_t) abcd;
}

static inline __attribute__((always_inline)) void tx_word(e1_hdb3_enc_t *enc, uint64_t w, uint8_t *p,
                                                          uint8_t *n)
{
    uint64_t po, no;
    hdb3_encode_word(enc, w, 64, &po, &no);
    store_be64(p, po);
    store_be64(n, no);
}

/* The A bit of a tx call's NFAS: RAI forced, or what the receiver sees, fixed for the call */
static inline int tx_alarm_a(const e1_framer_t *s)
{
    return s->tx_rai || (e1_framer_alarms(s) & (E1_ALARM_LOS | E1_ALARM_LOF | E1_ALARM_AIS));
}

/* The four words of the next frame, TS0 (and TS16 with CAS) built and the
 * CRC-4 and E bits moved on; all ones under AIS. */
static inline __attribute__((always_inline)) void tx_frame_words(e1_framer_t *s, const uint8_t *ts, int alarm_a,
                                                                 int y, uint64_t w[4])
{
    int crc4 = s->cfg.crc4;
    int fn = s->tx_fn;
    int ts0, si;

    s->tx_fn = (fn + 1) & 15;
    if (s->tx_ais) {
        /* G.775: AIS is an unframed all-ones signal */
        w[0] = w[1] = w[2] = w[3] = ALL1;
        return;
    }
    w[0] = load_be64(ts);
    w[1] = load_be64(ts + 8);
    w[2] = load_be64(ts + 16);
    w[3] = load_be64(ts + 24);
    if (s->cfg.cas) {
        int t16;
        if ((fn & 15) == 0)
            t16 = CAS_MFAS_X | (y ? CAS_MFAS_Y : 0);   /* G.704 5.1.3.2: 0000 x y x x */
        else
            t16 = (s->cas_tx[fn] << 4) | s->cas_tx[fn + 15];
        w[2] = (w[2] & 0x00FFFFFFFFFFFFFFULL) | ((uint64_t) t16 << 56);
    }
    if ((fn & 1) == 0) {
        ts0 = FAS_WORD;
        /* G.704 2.3.3.5.2: C1..C4 of the previous SMF in frames 0, 2, 4, 6 of this one */
        si = crc4 ? (s->tx_crc >> (3 - ((fn >> 1) & 3))) & 1 : 1;
    } else {
        ts0 = NFAS_BIT2 | NFAS_SA | (alarm_a ? NFAS_A : 0);
        if (!crc4) {
            si = 1;
        } else if (fn < 13) {
            si = (MFAS_CRC4 >> (5 - (fn >> 1))) & 1;
        } else {
            /* G.704 2.3.3.4: E = 0 reports a received errored SMF */
            if (s->tx_e_pending > 0) {
                si = 0;
                s->tx_e_pending--;
            } else {
                si = 1;
            }
        }
    }
    if (fn & 1)
        ts0 |= si << 7;
    w[0] = (w[0] & 0x00FFFFFFFFFFFFFFULL) | ((uint64_t) ts0 << 56);
    if (crc4) {
        /* computed with the C bits at 0 (G.704 2.3.3.5.2) */
        s->tx_crc_acc = crc4_add_frame(s->tx_crc_acc, w[0], w[1], w[2], w[3]);
        if ((fn & 7) == 7) {
            s->tx_crc = crc4_finish(s->tx_crc_acc);
            s->tx_crc_acc = 0;
        }
    }
    if (!(fn & 1))
        w[0] |= (uint64_t) si << 63;
}

E1_HOT_CLONES
void e1_framer_tx(e1_framer_t *s, const uint8_t *ts, int nframes, uint8_t *p, uint8_t *n)
{
    int alarm_a = tx_alarm_a(s);
    int y = s->cfg.cas && !s->cas_aligned;
    e1_hdb3_enc_t enc = s->enc;
    int f;

    for (f = 0; f < nframes; f++, ts += E1_FRAME_BYTES, p += E1_FRAME_BYTES, n += E1_FRAME_BYTES) {
        uint64_t w[4];

        tx_frame_words(s, ts, alarm_a, y, w);
        tx_word(&enc, w[0], p, n);
        tx_word(&enc, w[1], p + 8, n + 8);
        tx_word(&enc, w[2], p + 16, n + 16);
        tx_word(&enc, w[3], p + 24, n + 24);
    }
    s->enc = enc;
}

/* Frames composed per step of e1_framer_tx_group: 4 spans' words on the stack */
#define TXG_FRAMES          16

/* e1_framer_tx for four framers, their words HDB3-coded side by side in the
 * lanes of a vector. */
static inline __attribute__((always_inline)) void tx_group4(e1_framer_t *const *s, const uint8_t *const *ts,
                                                            int nframes, uint8_t *const *p, uint8_t *const *n,
                                                            int wide)
{
    e1_u64x4_t w[4 * TXG_FRAMES];
    const e1_hdb3_enc_t *ein[4] = { &s[0]->enc, &s[1]->enc, &s[2]->enc, &s[3]->enc };
    e1_hdb3_enc_t *eout[4] = { &s[0]->enc, &s[1]->enc, &s[2]->enc, &s[3]->enc };
    hdb3_enc4_t enc;
    int alarm_a[4], y[4];
    int l, f, k;

    for (l = 0; l < 4; l++) {
        alarm_a[l] = tx_alarm_a(s[l]);
        y[l] = s[l]->cfg.cas && !s[l]->cas_aligned;
    }
    hdb3_enc4_load(&enc, ein);
    for (f = 0; f < nframes; f += TXG_FRAMES) {
        int nf = nframes - f < TXG_FRAMES ? nframes - f : TXG_FRAMES;
        size_t off = (size_t) f * E1_FRAME_BYTES;

        for (l = 0; l < 4; l++) {
            for (k = 0; k < nf; k++) {
                uint64_t fw[4];
                tx_frame_words(s[l], ts[l] + off + (size_t) k * E1_FRAME_BYTES, alarm_a[l], y[l], fw);
                w[4 * k][l] = fw[0];
                w[4 * k + 1][l] = fw[1];
                w[4 * k + 2][l] = fw[2];
                w[4 * k + 3][l] = fw[3];
            }
        }
        for (k = 0; k < nf; k++) {
            e1_u64x4_t po[4], no[4];
            hdb3_encode_word4(&enc, &w[4 * k], &po[0], &no[0]);
            hdb3_encode_word4(&enc, &w[4 * k + 1], &po[1], &no[1]);
            hdb3_encode_word4(&enc, &w[4 * k + 2], &po[2], &no[2]);
            hdb3_encode_word4(&enc, &w[4 * k + 3], &po[3], &no[3]);
            u64x4_store_frame(p, off + (size_t) k * E1_FRAME_BYTES, po, wide);
            u64x4_store_frame(n, off + (size_t) k * E1_FRAME_BYTES, no, wide);
        }
    }
    hdb3_enc4_store(&enc, eout);
}

#ifdef E1_SIMD_AVX2
__attribute__((target("avx2")))
static void tx_group4_avx2(e1_framer_t *const *s, const uint8_t *const *ts, int nframes, uint8_t *const *p,
                           uint8_t *const *n)
{
    tx_group4(s, ts, nframes, p, n, 1);
}
#endif

static void tx_group4_base(e1_framer_t *const *s, const uint8_t *const *ts, int nframes, uint8_t *const *p,
                           uint8_t *const *n)
{
    tx_group4(s, ts, nframes, p, n, 0);
}

void e1_framer_tx_group(e1_framer_t *const *s, int count, const uint8_t *const *ts, int nframes,
                        uint8_t *const *p, uint8_t *const *n)
{
    int i = 0;

    if (nframes <= 0)
        return;
    for (; i + 4 <= count; i += 4) {
#ifdef E1_SIMD_AVX2
        if (s[i]->simd >= SIMD_AVX2) {
            tx_group4_avx2(s + i, ts + i, nframes, p + i, n + i);
            continue;
        }
#endif
        tx_group4_base(s + i, ts + i, nframes, p + i, n + i);
    }
    for (; i < count; i++)
        e1_framer_tx(s[i], ts[i], nframes, p[i], n[i]);
}

/* ------------------------------------------------------------------------ */
/* Elastic store (G.822 controlled slips)                                   */

static void store_flush(e1_framer_t *s)
{
    s->st_rd = 0;
    s->st_fill = 0;
    s->st_centre = 1;
}

static inline void store_put(e1_framer_t *s, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3)
{
    int wr;
    uint8_t *d;

    if (s->st_fill == s->st_cap) {
        /* full: the oldest frame is dropped */
        s->st_rd = s->st_rd + 1 == s->st_cap ? 0 : s->st_rd + 1;
        s->st_fill--;
        if (!s->st_centre)
            s->cnt.slips++;
    }
    wr = s->st_rd + s->st_fill;
    if (wr >= s->st_cap)
        wr -= s->st_cap;
    d = s->store + (size_t) wr * E1_FRAME_BYTES;
    store_be64(d, w0);
    store_be64(d + 8, w1);
    store_be64(d + 16, w2);
    store_be64(d + 24, w3);
    s->st_fill++;
}

/* Start the store at half its spare room beyond one read, so that bursts
 * of writes and reads of about nframes each, in either order, keep it
 * off both ends. */
static void store_centre(e1_framer_t *s, int nframes)
{
    int want = nframes + (s->st_cap - nframes) / 2;

    if (nframes >= s->st_cap)
        want = s->st_cap;
    while (s->st_fill > want) {
        s->st_rd = s->st_rd + 1 == s->st_cap ? 0 : s->st_rd + 1;
        s->st_fill--;
    }
    while (s->st_fill < want) {
        /* idle frames in front of the first real one */
        s->st_rd = s->st_rd == 0 ? s->st_cap - 1 : s->st_rd - 1;
        memset(s->store + (size_t) s->st_rd * E1_FRAME_BYTES, 0xFF, E1_FRAME_BYTES);
        s->st_fill++;
    }
    s->st_centre = 0;
}

void e1_framer_read(e1_framer_t *s, uint8_t *ts, int nframes)
{
    int f;

    if (nframes <= 0)
        return;
    if (!s->aligned) {
        memset(ts, 0xFF, (size_t) nframes * E1_FRAME_BYTES);
        return;
    }
    if (s->st_centre)
        store_centre(s, nframes);
    for (f = 0; f < nframes; f++, ts += E1_FRAME_BYTES) {
        if (s->st_fill == 0) {
            /* empty: the last frame is repeated */
            memcpy(ts, s->last_frame, E1_FRAME_BYTES);
            s->cnt.slips++;
            continue;
        }
        memcpy(ts, s->store + (size_t) s->st_rd * E1_FRAME_BYTES, E1_FRAME_BYTES);
        s->st_rd = s->st_rd + 1 == s->st_cap ? 0 : s->st_rd + 1;
        s->st_fill--;
    }
    memcpy(s->last_frame, ts - E1_FRAME_BYTES, E1_FRAME_BYTES);
}

/* ------------------------------------------------------------------------ */
/* Receive: alignment                                                       */

static void rx_mf_reset(e1_framer_t *s)
{
    s->mf_aligned = 0;
    s->mf_wait = 0;
    s->si_hist = 0;
    memset(s->mf_last, 0, sizeof(s->mf_last));
    s->mf_bad = 0;
    s->crc_acc_valid = 0;
    s->crc_prev_valid = 0;
}

/* Out of frame: search from bit offset `from` of rxbuf. */
static void rx_lose_alignment(e1_framer_t *s, int64_t from)
{
    s->aligned = 0;
    s->search_pos = from;
    s->fas_bad = 0;
    s->rai = 0;
    s->rai_run = 0;
    rx_mf_reset(s);
    s->cas_aligned = 0;
    s->cas_bad = 0;
    s->rmai = 0;
    store_flush(s);
}

static void rx_gain_alignment(e1_framer_t *s, int64_t at)
{
    s->aligned = 1;
    s->pos = at;
    s->fas_next = 1;
    s->fas_bad = 0;
    s->rx_fn = 0;
    s->rai_run = 0;
    s->rai_last = 0;
    s->smf_n = 0;
    s->smf_err = 0;
    s->cas_prev_ts16 = 0;
    s->cas_zero_run = 0;
    rx_mf_reset(s);
    store_flush(s);
}

/* Bits start .. start+63 of rxbuf as a word, bit `start` at bit 63. */
static inline uint64_t rx_bits64(const e1_framer_t *s, int64_t start)
{
    const uint8_t *b = s->rxbuf + (start >> 3);
    int sh = (int) (start & 7);
    return (load_be64(b) << sh) | (b[8] >> (8 - sh));
}

/* For the 64 candidate frame starts c = base .. base+63 (bit 63 of the
 * result is c = base): FAS bits 2..8 match at c. Needs bytes up to
 * base/8 + 17. */
static inline uint64_t fas_candidates(const e1_framer_t *s, int64_t base)
{
    uint64_t hi = rx_bits64(s, base), lo = rx_bits64(s, base + 64);
    uint64_t m = ALL1;
    int j;

    for (j = 0; j < 7; j++) {
        /* bit (j+2) of the frame, i.e. offset j+1 from c */
        int sh = j + 1;
        uint64_t b = (hi << sh) | (lo >> (64 - sh));
        m &= (FAS_WORD >> (6 - j)) & 1 ? b : ~b;
    }
    return m;
}

/* G.706 4.1.2: the FAS, then bit 2 = 1 in the next frame, then the FAS
 * again. All 64 offsets of a window are tried at once; the earliest that
 * passes wins. Returns 1 when aligned. */
static int rx_search(e1_framer_t *s, int lim)
{
    for (;;) {
        int64_t base = s->search_pos & ~(int64_t) 7;
        uint64_t m;

        if ((base >> 3) + 2 * E1_FRAME_BYTES + 17 + 1 > lim)
            return 0;
        m = fas_candidates(s, base);
        m &= ALL1 >> (s->search_pos - base);
        if (m) {
            m &= rx_bits64(s, base + FRAME_BITS + 1);           /* NFAS bit 2 */
            if (m)
                m &= fas_candidates(s, base + 2 * FRAME_BITS);
        }
        if (m) {
            rx_gain_alignment(s, base + __builtin_clzll(m));
            return 1;
        }
        s->search_pos = base + 64;
    }
}

/* ------------------------------------------------------------------------ */
/* Receive: one aligned frame                                               */

static void rx_crc4(e1_framer_t *s, int ts0, int fas, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3)
{
    int si = ts0 >> 7;

    if (!s->mf_aligned) {
        if (!fas) {
            /* G.706 4.2: two MFAS 001011 at the same phase within 8 ms */
            s->si_hist = ((s->si_hist << 1) | (uint32_t) si) & 0x3F;
            if (s->si_hist == MFAS_CRC4) {
                int ph = (int) (s->rx_fn & 15);
                if (s->mf_last[ph] && s->rx_fn + 1 - s->mf_last[ph] <= MF_FIND_FRAMES) {
                    s->mf_aligned = 1;
                    s->mf_interwork = 0;
                    s->mf_idx = 12;
                    s->mf_bad = 0;
                    s->mfas_err = 0;
                    s->mf_total = 0;
                    s->crc_acc_valid = 0;
                    s->crc_prev_valid = 0;
                    return;
                }
                s->mf_last[ph] = s->rx_fn + 1;
            }
        }
        s->mf_wait++;
        s->mf_total++;
        if (!s->mf_interwork) {
            if (s->mf_total >= MF_INTERWORK_FRAMES) {
                s->mf_interwork = 1;
            } else if (s->mf_wait >= MF_SPURIOUS_FRAMES) {
                /* G.706 4.2: spurious FAS; search again just after it */
                rx_lose_alignment(s, s->pos + 1);
            }
        }
        return;
    }

    {
        int idx = s->mf_idx;
        s->mf_idx = (idx + 1) & 15;
        if ((idx & 7) == 0) {
            s->crc_acc = 0;
            s->crc_acc_valid = 1;
            s->c_bits = 0;
        }
        if (fas)
            w0 &= ~(1ULL << 63);     /* C bits count as 0 */
        s->crc_acc = crc4_add_frame(s->crc_acc, w0, w1, w2, w3);
        if (fas) {
            s->c_bits = (s->c_bits << 1) | si;
            if ((idx & 7) == 6 && s->crc_prev_valid) {
                s->smf_n++;
                if (s->c_bits != s->crc_prev) {
                    s->cnt.crc4_errors++;
                    s->smf_err++;
                    if (s->tx_e_pending < 255)
                        s->tx_e_pending++;
                }
                if (s->smf_n >= CRC_WINDOW) {
                    int bad = s->smf_err >= CRC_FALSE_ALIGN;
                    s->smf_n = 0;
                    s->smf_err = 0;
                    if (bad) {
                        /* G.706 4.3.2: false frame alignment */
                        s->cnt.lof_events++;
                        rx_lose_alignment(s, s->pos + 1);
                        return;
                    }
                }
            }
        } else if (idx < 12) {
            if (si != ((MFAS_CRC4 >> (5 - (idx >> 1))) & 1))
                s->mfas_err = 1;
            if (idx == 11) {
                if (s->mfas_err) {
                    if (++s->mf_bad >= MF_LOSS_COUNT) {
                        rx_mf_reset(s);
                        return;
                    }
                } else {
                    s->mf_bad = 0;
                }
                s->mfas_err = 0;
            }
        } else if (si == 0) {
            /* E bits of frames 13 and 15 (G.704 2.3.3.4) */
            s->cnt.ebit_errors++;
        }
        if ((idx & 7) == 7) {
            s->crc_prev = crc4_finish(s->crc_acc);
            s->crc_prev_valid = s->crc_acc_valid;
        }
    }
}

static void rx_cas(e1_framer_t *s, int t16)
{
    if (t16 == 0) {
        /* G.732 5.2: TS16 all 0 for a whole multiframe */
        if (++s->cas_zero_run >= 16 && s->cas_aligned) {
            s->cas_aligned = 0;
            s->rmai = 0;
        }
    } else {
        s->cas_zero_run = 0;
    }
    if (!s->cas_aligned) {
        /* G.732 5.2: the first MFAS after a TS16 with a 1 in it */
        if ((t16 & 0xF0) == 0 && s->cas_prev_ts16 != 0) {
            s->cas_aligned = 1;
            s->cas_idx = 0;
            s->cas_bad = 0;
        }
    }
    s->cas_prev_ts16 = t16;
    if (!s->cas_aligned)
        return;
    if (s->cas_idx == 0) {
        if ((t16 & 0xF0) != 0) {
            if (++s->cas_bad >= CAS_LOSS_COUNT) {
                s->cas_aligned = 0;
                s->rmai = 0;
                return;
            }
        } else {
            s->cas_bad = 0;
            s->rmai = (t16 & CAS_MFAS_Y) != 0;
        }
    } else {
        s->cas_rx[s->cas_idx] = (uint8_t) (t16 >> 4);
        s->cas_rx[s->cas_idx + 15] = (uint8_t) (t16 & 0xF);
    }
    s->cas_idx = (s->cas_idx + 1) & 15;
}

/* Returns 0 when the frame cost us the alignment. */
static inline int rx_frame(e1_framer_t *s, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3)
{
    int ts0 = (int) (w0 >> 56);
    int fas = s->fas_next;

    s->fas_next = !fas;
    if (fas) {
        if ((ts0 & 0x7F) != FAS_WORD) {
            s->cnt.fas_errors++;
            if (++s->fas_bad >= FAS_LOSS_COUNT) {
                /* G.706 4.1.1 */
                s->cnt.lof_events++;
                rx_lose_alignment(s, s->pos);
                return 0;
            }
        } else {
            s->fas_bad = 0;
        }
    } else {
        int a = (ts0 & NFAS_A) != 0;
        if (a == s->rai_last) {
            if (++s->rai_run >= RAI_COUNT)
                s->rai = a;
        } else {
            s->rai_last = a;
            s->rai_run = 1;
        }
    }
    store_put(s, w0, w1, w2, w3);
    s->cnt.frames_rx++;
    if (s->cfg.cas)
        rx_cas(s, (int) (w2 >> 56));
    if (s->cfg.crc4) {
        rx_crc4(s, ts0, fas, w0, w1, w2, w3);
        if (!s->aligned)
            return 0;
    }
    s->rx_fn++;
    return 1;
}

/* Deframe what rxbuf holds up to byte lim (the rest is line not yet "arrived"). */
static void rx_frames(e1_framer_t *s, int lim)
{
    for (;;) {
        if (!s->aligned && !rx_search(s, lim))
            break;
        while (s->aligned) {
            int64_t byte = s->pos >> 3;
            const uint8_t *b;
            int sh;
            uint64_t w0, w1, w2, w3;

            if (byte + E1_FRAME_BYTES + 1 > lim)
                break;
            b = s->rxbuf + byte;
            sh = (int) (s->pos & 7);
            w0 = (load_be64(b) << sh) | (b[8] >> (8 - sh));
            w1 = (load_be64(b + 8) << sh) | (b[16] >> (8 - sh));
            w2 = (load_be64(b + 16) << sh) | (b[24] >> (8 - sh));
            w3 = (load_be64(b + 24) << sh) | (b[32] >> (8 - sh));
            if (!rx_frame(s, w0, w1, w2, w3))
                break;
            s->pos += FRAME_BITS;
        }
        if (s->aligned)
            break;
    }
}

/* Drop the bytes of rxbuf that deframing is done with (offsets only: no bit changes meaning). */
static void rx_compact(e1_framer_t *s)
{
    int64_t keep = (s->aligned ? s->pos : s->search_pos) >> 3;

    if (keep > s->rx_len)
        keep = s->rx_len;
    if (keep > 0) {
        memmove(s->rxbuf, s->rxbuf + keep, (size_t) (s->rx_len - keep));
        s->rx_len -= (int) keep;
        s->pos -= keep * 8;
        s->search_pos -= keep * 8;
        if (s->search_pos < 0)
            s->search_pos = 0;
    }
}

static void rx_process(e1_framer_t *s)
{
    rx_frames(s, s->rx_len);
    rx_compact(s);
}

/* ------------------------------------------------------------------------ */
/* Receive: line                                                            */

static void rx_los_run(e1_line_mon_t *s)
{
    s->los_period_hit = 1;
    if (!s->los) {
        s->los = 1;
        s->los_events++;
    }
}

/* G.775 LOS and AIS on one decoded word of nb bits. Returns 1 when the
 * line has been quiet for LOS_ZEROS bits. */
static inline __attribute__((always_inline)) int rx_line_monitor(e1_line_mon_t *s, const dec_result_t *r, int nb)
{
    uint64_t x = r->marks;

    /* LOS: LOS_ZEROS consecutive spaces (more than a word, so only runs
     * across word edges matter) */
    if (x == 0) {
        s->los_run += (uint32_t) nb;
        if (s->los_run >= LOS_ZEROS)
            rx_los_run(s);
    } else {
        s->los_run += (uint32_t) __builtin_ctzll(x);
        if (s->los_run >= LOS_ZEROS)
            rx_los_run(s);
        s->los_run = (uint32_t) (nb - 1 - (63 - __builtin_clzll(x)));
    }
    s->los_period_bits += nb;
    if (s->los)
        s->los_period_marks += __builtin_popcountll(x);
    if (s->los_period_bits >= LOS_ZEROS) {
        if (s->los && !s->los_period_hit && s->los_period_marks >= LOS_CLEAR_MARKS)
            s->los = 0;
        s->los_period_bits = 0;
        s->los_period_marks = 0;
        s->los_period_hit = 0;
    }

    /* AIS: zeros of the decoded signal per 512-bit period */
    if (s->ais_period_zeros < AIS_ZEROS) {
        /* only whether there are fewer than 3 matters */
        uint64_t z = ~r->out & low_mask(nb);
        int c = 0;
        if (z) {
            z &= z - 1;
            c = 1;
            if (z) {
                z &= z - 1;
                c = z ? 3 : 2;
            }
        }
        s->ais_period_zeros += c;
    }
    s->ais_period_bits += nb;
    if (s->ais_period_bits >= AIS_PERIOD) {
        int low = s->ais_period_zeros < AIS_ZEROS;
        if (low && s->ais_prev_low)
            s->ais = 1;
        else if (!low && !s->ais_prev_low)
            s->ais = 0;
        s->ais_prev_low = low;
        s->ais_period_bits = 0;
        s->ais_period_zeros = 0;
    }
    return s->los_run >= LOS_ZEROS;
}

/* HDB3-decode nbytes (at most the room left in rxbuf) onto the end of rxbuf,
 * watching the line for LOS and AIS. */
E1_HOT_CLONES
static void rx_decode(e1_framer_t *s, const uint8_t *p, const uint8_t *n, int take)
{
    uint64_t tp[RX_BLOCK_WORDS], tn[RX_BLOCK_WORDS];
    int j;
    e1_hdb3_dec_t dec = s->dec;
    e1_line_mon_t mon = s->mon;
    uint32_t bpv = 0;

    for (j = 0; j < take; j += RX_BLOCK_WORDS * 8) {
        int blk = take - j < RX_BLOCK_WORDS * 8 ? take - j : RX_BLOCK_WORDS * 8;
        int full = blk >> 3, k = blk & 7, nw = full + (k != 0), w;
        uint8_t *out = s->rxbuf + s->rx_len + j;
        dec_result_t r;

        /* the rails in time order (bit 0 first), a partial word zero-padded */
        brev8_words(s->brev, (uint8_t *) tp, p + j, full);
        brev8_words(s->brev, (uint8_t *) tn, n + j, full);
        if (k) {
            uint8_t bp[8] = { 0 }, bn[8] = { 0 };
            memcpy(bp, p + j + 8 * full, (size_t) k);
            memcpy(bn, n + j + 8 * full, (size_t) k);
            tp[full] = brev8_64(load_le64(bp));
            tn[full] = brev8_64(load_le64(bn));
        }
        for (w = 0; w < nw; w++) {
            int nb = w < full ? 64 : 8 * k;
            hdb3_decode_word(&dec, tp[w], tn[w], nb, &r);
            bpv += (uint32_t) r.bpv;
            if (rx_line_monitor(&mon, &r, nb))
                dec.state &= ~DEC_SEEN_BIT;
            tp[w] = r.out;
        }
        /* the bytes past a partial word land in RXBUF_SLACK and are never read */
        brev8_words(s->brev, out, (const uint8_t *) tp, nw);
    }
    s->dec = dec;
    s->cnt.bpv += bpv;
    s->cnt.los_events += mon.los_events;
    mon.los_events = 0;
    s->mon = mon;
    s->rx_len += take;
}

void e1_framer_rx_line(e1_framer_t *s, const uint8_t *p, const uint8_t *n, int nbytes)
{
    int i = 0;

    if (nbytes <= 0)
        return;
    s->cnt.bits_rx += (uint64_t) nbytes * 8;
    while (i < nbytes) {
        int room = RXBUF_BYTES - s->rx_len;
        int take = nbytes - i < room ? nbytes - i : room;

        rx_decode(s, p + i, n + i, take);
        i += take;
        rx_process(s);
    }
}

void e1_framer_rx_tick(e1_framer_t *s, const uint8_t *p, const uint8_t *n, int nbytes, uint8_t *ts,
                       int nframes)
{
    int64_t done = 0, decoded = 0, upto = 0;
    int f, share;

    if (nframes <= 0 || nbytes <= 0 || nbytes % (8 * nframes) != 0) {
        /* Shares of part words (a line clock off the local one): each share by
         * itself, as the LOS and AIS periods and the BPV count follow the words
         * of each piece received. */
        for (f = 0; f < nframes; f++) {
            int64_t end = nbytes > 0 ? (int64_t) nbytes * (f + 1) / nframes : 0;
            e1_framer_rx_line(s, p + done, n + done, (int) (end - done));
            done = end;
            e1_framer_read(s, ts + (size_t) f * E1_FRAME_BYTES, 1);
        }
        if (nframes <= 0)
            e1_framer_rx_line(s, p, n, nbytes);
        return;
    }
    /* Shares of whole words (the usual tick: 32 bytes a frame): the words are
     * the same taken share by share or all at once, so the line is decoded
     * ahead a bufferful at a time (what a call per 32 bytes costs is about as
     * much again), and the deframer stops at each share's end, so frames reach
     * the elastic store in the same order against the reads. Decoding ahead
     * changes nothing it sees: it never looks at the decoder, nor the decoder
     * at it. */
    s->cnt.bits_rx += (uint64_t) nbytes * 8;
    share = nbytes / nframes;
    for (f = 0; f < nframes; f++) {
        upto += share;
        while (done < upto) {
            int64_t to;
            if (decoded == done) {
                int room, take;
                rx_compact(s);
                room = (RXBUF_BYTES - s->rx_len) & ~7;
                take = nbytes - decoded < room ? (int) (nbytes - decoded) : room;
                rx_decode(s, p + decoded, n + decoded, take);
                decoded += take;
            }
            to = upto < decoded ? upto : decoded;
            rx_frames(s, s->rx_len - (int) (decoded - to));
            done = to;
        }
        e1_framer_read(s, ts + (size_t) f * E1_FRAME_BYTES, 1);
    }
    rx_compact(s);
}

/* The words of a block in each lane's state can go through the vector code */
static inline int rx_lane_live(const e1_framer_t *s)
{
    return DEC_SEEN(s->dec.state) && !s->mon.los && s->mon.los_run < 64;
}

/* (whole vectors built from scalars: stores of single lanes would not
 * forward to the loads of the vectors that follow) */
static void rx_dec4_load(hdb3_dec4_t *d, e1_framer_t *const *s)
{
    const e1_hdb3_dec_t *d0 = &s[0]->dec, *d1 = &s[1]->dec, *d2 = &s[2]->dec, *d3 = &s[3]->dec;
    const e1_line_mon_t *m0 = &s[0]->mon, *m1 = &s[1]->mon, *m2 = &s[2]->mon, *m3 = &s[3]->mon;

    d->cin = (e1_u64x4_t) { DEC_LASTPOS(d0->state), DEC_LASTPOS(d1->state), DEC_LASTPOS(d2->state),
                            DEC_LASTPOS(d3->state) };
    d->sh = (e1_u64x4_t) { DEC_SPACES(d0->state), DEC_SPACES(d1->state), DEC_SPACES(d2->state),
                           DEC_SPACES(d3->state) };
    d->nh = (e1_u64x4_t) { DEC_NOVIOL(d0->state), DEC_NOVIOL(d1->state), DEC_NOVIOL(d2->state),
                           DEC_NOVIOL(d3->state) };
    d->hold = (e1_u64x4_t) { d0->hold, d1->hold, d2->hold, d3->hold };
    d->ais_bits = (e1_i64x4_t) { m0->ais_period_bits, m1->ais_period_bits, m2->ais_period_bits,
                                 m3->ais_period_bits };
    d->ais_zeros = (e1_i64x4_t) { m0->ais_period_zeros, m1->ais_period_zeros, m2->ais_period_zeros,
                                  m3->ais_period_zeros };
    d->ais = -(e1_i64x4_t) { m0->ais != 0, m1->ais != 0, m2->ais != 0, m3->ais != 0 };
    d->ais_low = -(e1_i64x4_t) { m0->ais_prev_low != 0, m1->ais_prev_low != 0, m2->ais_prev_low != 0,
                                 m3->ais_prev_low != 0 };
}

/* Lane l's state back after nw words, the last with marks x_last. */
static void rx_dec4_store(const hdb3_dec4_t *d, int l, e1_framer_t *s, int nw, uint64_t x_last)
{
    e1_line_mon_t *m = &s->mon;
    int b = m->los_period_bits;

    s->dec.state = (int) d->cin[l] | DEC_SEEN_BIT | (int) (d->sh[l] << 2) | (int) (d->nh[l] << 6);
    s->dec.hold = (uint32_t) d->hold[l];
    m->ais_period_bits = (int) d->ais_bits[l];
    m->ais_period_zeros = (int) d->ais_zeros[l];
    m->ais = (int) (d->ais[l] & 1);
    m->ais_prev_low = (int) (d->ais_low[l] & 1);
    /* rx_line_monitor word by word: no LOS, so the LOS period only counts
     * bits (< LOS_ZEROS = 128 between words), and the run is the spaces at
     * the end of the last word */
    m->los_run = (uint32_t) __builtin_clzll(x_last);
    if (nw < (b >= 64 ? 1 : 2)) {
        m->los_period_bits = b + 64 * nw;
    } else {
        m->los_period_bits = ((nw - (b >= 64 ? 1 : 2)) & 1) * 64;
        m->los_period_marks = 0;
        m->los_period_hit = 0;
    }
}

/* One word of each lane: in time order, decoded, watched, back in byte order */
static inline __attribute__((always_inline)) void rx_word4(hdb3_dec4_t *d, e1_u64x4_t *pw, e1_u64x4_t *nw,
                                                           e1_u64x4_t *r, e1_u64x4_t *x, e1_i64x4_t *quiet,
                                                           uint32_t *bpv, int simd)
{
    e1_u64x4_t bad;
    int l;

#ifdef E1_SIMD_AVX2
    if (simd == SIMD_AVX2_GFNI) {
        u64x4_brev8_gfni(pw);
        u64x4_brev8_gfni(nw);
    } else
#endif
    {
        u64x4_brev8(pw);
        u64x4_brev8(nw);
    }
    hdb3_decode_word4(d, pw, nw, r, &bad, x);
    *quiet |= (e1_i64x4_t) (*x == 0);
    if (u64x4_any(&bad)) {
        for (l = 0; l < 4; l++)
            bpv[l] += (uint32_t) __builtin_popcountll(bad[l]);
    }
    ais_word4(d, r);
#ifdef E1_SIMD_AVX2
    if (simd == SIMD_AVX2_GFNI)
        u64x4_brev8_gfni(r);
    else
#endif
        u64x4_brev8(r);
}

/* rx_decode of nbytes (whole words) on four framers, side by side where
 * their lines are live, each lane's block again by rx_decode where not. */
static inline __attribute__((always_inline)) void rx_decode4(e1_framer_t *const *s, const uint8_t *const *p,
                                                             const uint8_t *const *n, int nbytes, int simd)
{
    int j, l, w;

    for (j = 0; j < nbytes; j += RXG_BLOCK_WORDS * 8) {
        int blk = nbytes - j < RXG_BLOCK_WORDS * 8 ? nbytes - j : RXG_BLOCK_WORDS * 8;
        int nw = blk >> 3;
        int done[4];
        int any = 0;

        for (l = 0; l < 4; l++) {
            done[l] = rx_lane_live(s[l]);
            any |= done[l];
        }
        if (any) {
            hdb3_dec4_t d0, d;
            uint8_t *out[4];
            uint32_t bpv[4] = { 0, 0, 0, 0 };
            e1_i64x4_t quiet = { 0, 0, 0, 0 };
            e1_u64x4_t x = { 0, 0, 0, 0 };

            /* the loop works on a copy whose address stays here, so that it
             * lives in registers: the stores of bytes could alias anything */
            rx_dec4_load(&d0, s);
            d = d0;
            for (l = 0; l < 4; l++)
                out[l] = s[l]->rxbuf + s[l]->rx_len;
            for (w = 0; w + 4 <= nw; w += 4) {
                size_t o = (size_t) j + 8 * (size_t) w;
                e1_u64x4_t pw[4], nwv[4], r[4];
                int k;

                if (simd >= SIMD_AVX2) {
                    /* four words of each line in one load, turned into lanes */
#pragma GCC unroll 4
                    for (l = 0; l < 4; l++) {
                        pw[l] = *(const e1_u64x4u_t *) (p[l] + o);
                        nwv[l] = *(const e1_u64x4u_t *) (n[l] + o);
                    }
                    u64x4_transpose(pw);
                    u64x4_transpose(nwv);
                } else {
                    for (k = 0; k < 4; k++)
                        for (l = 0; l < 4; l++) {
                            pw[k][l] = load_le64(p[l] + o + 8 * k);
                            nwv[k][l] = load_le64(n[l] + o + 8 * k);
                        }
                }
#pragma GCC unroll 4
                for (k = 0; k < 4; k++)
                    rx_word4(&d, &pw[k], &nwv[k], &r[k], &x, &quiet, bpv, simd);
                if (simd >= SIMD_AVX2) {
                    u64x4_transpose(r);
#pragma GCC unroll 4
                    for (l = 0; l < 4; l++)
                        *(e1_u64x4u_t *) (out[l] + 8 * w) = r[l];
                } else {
                    for (k = 0; k < 4; k++)
                        for (l = 0; l < 4; l++)
                            store_le64(out[l] + 8 * (w + k), r[k][l]);
                }
            }
            for (; w < nw; w++) {
                size_t o = (size_t) j + 8 * (size_t) w;
                e1_u64x4_t pw = { load_le64(p[0] + o), load_le64(p[1] + o), load_le64(p[2] + o),
                                  load_le64(p[3] + o) };
                e1_u64x4_t nwv = { load_le64(n[0] + o), load_le64(n[1] + o), load_le64(n[2] + o),
                                   load_le64(n[3] + o) };
                e1_u64x4_t r;

                rx_word4(&d, &pw, &nwv, &r, &x, &quiet, bpv, simd);
                for (l = 0; l < 4; l++)
                    store_le64(out[l] + 8 * w, r[l]);
            }
            d0 = d;
            for (l = 0; l < 4; l++) {
                if (!done[l] || quiet[l]) {
                    done[l] = 0;
                    continue;
                }
                rx_dec4_store(&d0, l, s[l], nw, x[l]);
                s[l]->cnt.bpv += bpv[l];
                s[l]->rx_len += blk;
            }
        }
        /* a lane the vector code cannot take: its block word by word (what
         * it wrote there is overwritten) */
        for (l = 0; l < 4; l++)
            if (!done[l])
                rx_decode(s[l], p[l] + j, n[l] + j, blk);
    }
}

#ifdef E1_SIMD_AVX2
__attribute__((target("avx2")))
static void rx_decode4_avx2(e1_framer_t *const *s, const uint8_t *const *p, const uint8_t *const *n, int nbytes)
{
    rx_decode4(s, p, n, nbytes, SIMD_AVX2);
}

__attribute__((target("avx2,gfni")))
static void rx_decode4_gfni(e1_framer_t *const *s, const uint8_t *const *p, const uint8_t *const *n, int nbytes)
{
    rx_decode4(s, p, n, nbytes, SIMD_AVX2_GFNI);
}
#endif

static void rx_decode4_base(e1_framer_t *const *s, const uint8_t *const *p, const uint8_t *const *n, int nbytes)
{
    rx_decode4(s, p, n, nbytes, SIMD_BASE);
}

/* A tick that rx_group can take: shares of whole words, all of it decoded ahead */
static int rx_group_fits(e1_framer_t *s, int nbytes, int nframes)
{
    if (nframes <= 0 || nbytes <= 0 || nbytes % (8 * nframes) != 0)
        return 0;
    rx_compact(s);
    return s->rx_len + nbytes <= RXBUF_GROUP_BYTES;
}

/* e1_framer_rx_tick's deframing and reads once the whole tick (nbytes, whole
 * words a share) is decoded at the end of rxbuf. */
static void rx_tick_decoded(e1_framer_t *s, int nbytes, uint8_t *ts, int nframes)
{
    int base = s->rx_len - nbytes, share = nbytes / nframes;
    int f;

    for (f = 0; f < nframes; f++) {
        rx_frames(s, base + share * (f + 1));
        e1_framer_read(s, ts + (size_t) f * E1_FRAME_BYTES, 1);
    }
    rx_compact(s);
}

/* e1_framer_rx_tick on four framers: the whole tick decoded ahead, four
 * lines side by side, then each deframed share by share (decoding it a
 * step at a time between the shares measured slower) */
static void rx_group_run(e1_framer_t *const *s, const uint8_t *const *p, const uint8_t *const *n, int nbytes,
                         uint8_t *const *ts, int nframes)
{
    int l;

#ifdef E1_SIMD_AVX2
    if (s[0]->simd == SIMD_AVX2_GFNI)
        rx_decode4_gfni(s, p, n, nbytes);
    else if (s[0]->simd == SIMD_AVX2)
        rx_decode4_avx2(s, p, n, nbytes);
    else
#endif
        rx_decode4_base(s, p, n, nbytes);
    for (l = 0; l < 4; l++) {
        s[l]->cnt.bits_rx += (uint64_t) nbytes * 8;
        rx_tick_decoded(s[l], nbytes, ts[l], nframes);
    }
}

void e1_framer_rx_group(e1_framer_t *const *s, int count, const uint8_t *const *p, const uint8_t *const *n,
                        const int *nbytes, uint8_t *const *ts, int nframes)
{
    e1_framer_t *g[4];
    const uint8_t *gp[4], *gn[4];
    uint8_t *gts[4];
    int ng = 0, len = 0, i;

    for (i = 0; i < count; i++) {
        /* four of the same length decode together; any other by itself */
        if (!rx_group_fits(s[i], nbytes[i], nframes) || (ng > 0 && nbytes[i] != len)) {
            e1_framer_rx_tick(s[i], p[i], n[i], nbytes[i], ts[i], nframes);
            continue;
        }
        len = nbytes[i];
        g[ng] = s[i];
        gp[ng] = p[i];
        gn[ng] = n[i];
        gts[ng] = ts[i];
        if (++ng == 4) {
            rx_group_run(g, gp, gn, len, gts, nframes);
            ng = 0;
        }
    }
    for (i = 0; i < ng; i++)
        e1_framer_rx_tick(g[i], gp[i], gn[i], len, gts[i], nframes);
}

/* ------------------------------------------------------------------------ */
/* State                                                                    */

int e1_framer_get_cas_rx(const e1_framer_t *s, int channel)
{
    if (channel < 1 || channel > E1_CAS_CHANNELS)
        return -1;
    return s->cas_rx[channel];
}

int e1_framer_alarms(const e1_framer_t *s)
{
    int a = 0;

    if (s->mon.los)
        a |= E1_ALARM_LOS;
    if (!s->aligned)
        a |= E1_ALARM_LOF;
    if (s->mon.ais)
        a |= E1_ALARM_AIS;
    if (s->aligned && s->rai)
        a |= E1_ALARM_RAI;
    if (s->cfg.crc4 && !(s->aligned && s->mf_aligned))
        a |= E1_ALARM_LOMF;
    if (s->cfg.cas && !(s->aligned && s->cas_aligned))
        a |= E1_ALARM_CASMF;
    if (s->cfg.cas && s->aligned && s->cas_aligned && s->rmai)
        a |= E1_ALARM_RMAI;
    return a;
}

void e1_framer_counters(const e1_framer_t *s, e1_counters_t *c)
{
    *c = s->cnt;
}

void e1_framer_reset_counters(e1_framer_t *s)
{
    memset(&s->cnt, 0, sizeof(s->cnt));
}
