/*
 * Standalone checks of line/e1_framer.c, meant to run under
 * -fsanitize=address,undefined: HDB3 round trips and line rules, CRC-4
 * against a bit-by-bit reference, framer round trips at every bit shift,
 * CAS, alarms, slips, and random garbage on the line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "line/e1_framer.h"

#define HARNESS_SEED 0x9E3779B97F4A7C15ULL
#include "harness.h"

/* bytes with many zeros, so that HDB3 substitutions are frequent */
static uint8_t rnd_byte(int mode)
{
    uint32_t r = rnd();
    switch (mode) {
    case 0:
        return (uint8_t) r;
    case 1:
        return (uint8_t) (r & (r >> 8) & (r >> 16));
    case 2:
        return (r & 0x300) ? 0 : (uint8_t) r;
    default:
        return (r & 0x100) ? 0x00 : 0x80 >> (r & 7);
    }
}

static int getbit(const uint8_t *b, long i)
{
    return (b[i >> 3] >> (7 - (i & 7))) & 1;
}

static void setbit(uint8_t *b, long i, int v)
{
    if (v)
        b[i >> 3] |= (uint8_t) (0x80 >> (i & 7));
    else
        b[i >> 3] &= (uint8_t) ~(0x80 >> (i & 7));
}

/* ---- HDB3 ---------------------------------------------------------------- */

/* Encode in random pieces, decode in other random pieces, compare. */
static void test_hdb3_round_trip(void)
{
    enum { N = 4096 };
    static uint8_t in[N + 8], p[N + 8], n[N + 8], out[N + 8];
    int trial;

    for (trial = 0; trial < 200; trial++) {
        e1_hdb3_enc_t e;
        e1_hdb3_dec_t d;
        int len = 16 + (int) (rnd() % (N - 16));
        int mode = trial % 4, i, k;
        long bit, nbits, shift;
        long bad = 0;

        for (i = 0; i < len; i++)
            in[i] = rnd_byte(mode);
        e1_hdb3_enc_init(&e);
        for (i = 0; i < len; i += k) {
            k = 1 + (int) (rnd() % 70);
            if (k > len - i)
                k = len - i;
            e1_hdb3_encode(&e, in + i, k, p + i, n + i);
        }
        /* line rules: no 4 spaces in a row, each V is in a B00V/000V,
         * Vs alternate in polarity, an odd number of marks between Vs */
        {
            int last_pol = -1, last_v_pol = 0, zeros = 0, marks_since_v = -1;
            int rules_ok = 1;
            long first = 3;
            for (bit = first; bit < (long) len * 8; bit++) {
                int pp = getbit(p, bit), nn = getbit(n, bit);
                int pol;
                if (pp && nn) {
                    rules_ok = 0;
                    break;
                }
                if (!pp && !nn) {
                    if (++zeros >= 4) {
                        rules_ok = 0;
                        break;
                    }
                    continue;
                }
                pol = pp ? 1 : 0;
                if (pol == last_pol) {
                    /* a V: 00V or B00V with the B 3 back */
                    int b3 = getbit(p, bit - 3) | getbit(n, bit - 3);
                    if (getbit(p, bit - 1) | getbit(n, bit - 1) | getbit(p, bit - 2) | getbit(n, bit - 2))
                        rules_ok = 0;
                    if (last_v_pol && last_v_pol == (pol ? 1 : -1))
                        rules_ok = 0;
                    if (marks_since_v >= 0 && (marks_since_v & 1) == 0)
                        rules_ok = 0;
                    (void) b3;
                    last_v_pol = pol ? 1 : -1;
                    marks_since_v = 0;
                } else if (marks_since_v >= 0) {
                    marks_since_v++;
                }
                last_pol = pol;
                zeros = 0;
            }
            CHECK(rules_ok, "HDB3 line rules broken at bit %ld (mode %d)", bit, mode);
        }
        e1_hdb3_dec_init(&d);
        for (i = 0; i < len; i += k) {
            k = 1 + (int) (rnd() % 70);
            if (k > len - i)
                k = len - i;
            e1_hdb3_decode(&d, p + i, n + i, k, out + i);
        }
        shift = e1_hdb3_encoder_delay() + e1_hdb3_decoder_delay();
        nbits = (long) len * 8 - shift;
        for (bit = 0; bit < nbits; bit++)
            if (getbit(in, bit) != getbit(out, bit + shift))
                bad++;
        CHECK(bad == 0, "HDB3 round trip: %ld bit errors of %ld (mode %d)", bad, nbits, mode);
        CHECK(d.bpv == 0, "HDB3 round trip: %u BPV on a clean line", d.bpv);
    }
}

/* One corrupted symbol (a mark lost, or a pulse of either polarity where
 * a space was) costs about one bit and shows as about one BPV, on random
 * data as a BERT sends it. */
static void test_hdb3_single_errors(void)
{
    enum { N = 2048, TRIALS = 2000 };
    static uint8_t in[N], p[N], n[N], out[N];
    long total_bit_errors = 0, total_bpv = 0;
    int trial;

    for (trial = 0; trial < TRIALS; trial++) {
        e1_hdb3_enc_t e;
        e1_hdb3_dec_t d;
        int i;
        long bit, shift = 6;
        long pos = 64 + (long) (rnd() % (N * 8 - 128));

        for (i = 0; i < N; i++)
            in[i] = rnd_byte(0);
        e1_hdb3_enc_init(&e);
        e1_hdb3_encode(&e, in, N, p, n);
        if (getbit(p, pos) || getbit(n, pos)) {
            setbit(p, pos, 0);
            setbit(n, pos, 0);
        } else if (rnd() & 1) {
            setbit(p, pos, 1);
        } else {
            setbit(n, pos, 1);
        }
        e1_hdb3_dec_init(&d);
        e1_hdb3_decode(&d, p, n, N, out);
        for (bit = 0; bit < (long) N * 8 - shift; bit++)
            if (getbit(in, bit) != getbit(out, bit + shift))
                total_bit_errors++;
        total_bpv += d.bpv;
    }
    /* A lost mark often leaves a stream that is valid HDB3 where it is
     * (a false 000V or B00V), which no decoder can tell from the real
     * thing; we get about 1.4 bits per symbol error, the naive decoder
     * (every violation zeroes 3 positions) about 2. */
    printf("single symbol errors: %.3f bit errors, %.3f BPV each\n", total_bit_errors / (double) TRIALS,
           total_bpv / (double) TRIALS);
    CHECK(total_bit_errors <= TRIALS * 15 / 10, "one symbol error costs %.2f bits on average",
          total_bit_errors / (double) TRIALS);
    CHECK(total_bpv >= TRIALS * 5 / 10 && total_bpv <= TRIALS * 12 / 10, "one symbol error gives %.2f BPV",
          total_bpv / (double) TRIALS);
}

/* Arbitrary rails never crash the decoder. */
static void test_hdb3_garbage(void)
{
    static uint8_t p[1000], n[1000], out[1000];
    int trial, i;

    for (trial = 0; trial < 100; trial++) {
        e1_hdb3_dec_t d;
        int len = (int) (rnd() % 1000);
        for (i = 0; i < len; i++) {
            p[i] = (uint8_t) rnd();
            n[i] = (uint8_t) rnd();
        }
        e1_hdb3_dec_init(&d);
        e1_hdb3_decode(&d, p, n, len, out);
        CHECK(d.bpv <= (uint32_t) len * 8, "BPV count sane");
    }
}

/* ---- CRC-4 --------------------------------------------------------------- */

static int crc4_ref(const uint8_t *data, long nbits)
{
    /* G.704 2.3.3.5.2: multiply by x^4, divide by x^4 + x + 1, bit by bit */
    int reg = 0;
    long i;
    for (i = 0; i < nbits + 4; i++) {
        int in = i < nbits ? getbit(data, i) : 0;
        int top = (reg >> 3) & 1;
        reg = ((reg << 1) | in) & 0xF;
        if (top)
            reg ^= 0x3;
    }
    return reg;
}

static void test_crc4(void)
{
    static uint8_t buf[512];
    int trial, i;

    for (trial = 0; trial < 300; trial++) {
        int len = (int) (rnd() % 300);
        int a, split;
        for (i = 0; i < len; i++)
            buf[i] = (uint8_t) rnd();
        a = e1_crc4(0, buf, len);
        CHECK(a == crc4_ref(buf, (long) len * 8), "CRC-4 of %d bytes", len);
        split = len ? (int) (rnd() % len) : 0;
        CHECK(e1_crc4(e1_crc4(0, buf, split), buf + split, len - split) == a, "CRC-4 in two parts");
    }
}

/* ---- framer -------------------------------------------------------------- */

typedef struct {
    uint8_t *p, *n;
    long nbits;         /* bits held */
    long cap;
} line_t;

/* A cable: delays the bit stream by `shift` bits */
static void line_init(line_t *l, long cap, int shift)
{
    l->cap = cap;
    l->p = calloc(1, cap + 8);
    l->n = calloc(1, cap + 8);
    l->nbits = shift;
}

static void line_push(line_t *l, const uint8_t *p, const uint8_t *n, int nbytes)
{
    long i;
    for (i = 0; i < (long) nbytes * 8; i++) {
        setbit(l->p, l->nbits + i, getbit(p, i));
        setbit(l->n, l->nbits + i, getbit(n, i));
    }
    l->nbits += (long) nbytes * 8;
}

/* Take whole bytes off the front of the cable */
static int line_pull(line_t *l, uint8_t *p, uint8_t *n, int maxbytes)
{
    int k = (int) (l->nbits / 8);
    long rest;
    if (k > maxbytes)
        k = maxbytes;
    memcpy(p, l->p, k);
    memcpy(n, l->n, k);
    rest = (l->nbits + 7) / 8 - k;
    memmove(l->p, l->p + k, rest + 1);
    memmove(l->n, l->n + k, rest + 1);
    l->nbits -= (long) k * 8;
    return k;
}

static void line_free(line_t *l)
{
    free(l->p);
    free(l->n);
}

static e1_framer_t *framer(int crc4, int cas, int elastic)
{
    e1_config_t c;
    c.crc4 = crc4;
    c.cas = cas;
    c.elastic_frames = elastic;
    return e1_framer_init(NULL, &c);
}

/* Does frame data `got` carry payload `want`, TS1..31 (not TS16 with CAS)? */
static int payload_equal(const uint8_t *got, const uint8_t *want, int cas)
{
    int ts;
    for (ts = 1; ts < 32; ts++) {
        if (cas && ts == 16)
            continue;
        if (got[ts] != want[ts])
            return 0;
    }
    return 1;
}

/* tx -> cable with a shift -> rx in uneven pieces -> read; payload comes
 * back exactly once aligned, with no errors counted. */
static void test_framer_round_trip(int crc4, int cas, int shift)
{
    enum { TICK = 160, TICKS = 40 };
    e1_framer_t *a = framer(crc4, cas, 2 * TICK + 64);
    e1_framer_t *b = framer(crc4, cas, 2 * TICK + 64);
    static uint8_t ts[TICKS * TICK * 32], got[TICK * 32], p[TICK * 32], n[TICK * 32];
    static uint8_t rp[TICK * 32 + 64], rn[TICK * 32 + 64];
    line_t l;
    long next = -1;          /* index of the next frame we expect, once found */
    int matched = 0, bad = 0, t, i, f;
    e1_counters_t c;

    for (i = 0; i < (int) sizeof(ts); i++)
        ts[i] = (uint8_t) rnd();
    line_init(&l, sizeof(p) * 3, shift);
    for (i = 1; i <= 30; i++)
        e1_framer_set_cas_tx(a, i, (i * 7) & 15 ? (i * 7) & 15 : 1);
    for (t = 0; t < TICKS; t++) {
        int k, got_bytes = 0;
        e1_framer_tx(a, ts + (long) t * TICK * 32, TICK, p, n);
        line_push(&l, p, n, TICK * 32);
        /* the receiver takes the line in uneven pieces */
        while ((k = line_pull(&l, rp, rn, 1 + (int) (rnd() % 2000))) > 0) {
            e1_framer_rx_line(b, rp, rn, k);
            got_bytes += k;
        }
        e1_framer_read(b, got, TICK);
        for (f = 0; f < TICK; f++) {
            const uint8_t *g = got + f * 32;
            if (next < 0) {
                long j;
                for (j = 0; j < (long) (t + 1) * TICK; j++)
                    if (payload_equal(g, ts + j * 32, cas))
                        break;
                if (j < (long) (t + 1) * TICK && t > 2) {
                    next = j + 1;
                    matched++;
                }
            } else {
                if (payload_equal(g, ts + next * 32, cas))
                    matched++;
                else
                    bad++;
                next++;
            }
        }
    }
    e1_framer_counters(b, &c);
    CHECK(next > 0 && bad == 0 && matched > (TICKS - 6) * TICK,
          "round trip crc4=%d cas=%d shift=%d: matched %d bad %d", crc4, cas, shift, matched, bad);
    CHECK((e1_framer_alarms(b) & ~(E1_ALARM_RAI | E1_ALARM_RMAI)) == 0, "round trip: alarms 0x%x", e1_framer_alarms(b));
    CHECK(c.crc4_errors == 0 && c.fas_errors == 0 && c.bpv == 0 && c.slips == 0 && c.lof_events == 0,
          "round trip counters: crc %u fas %u bpv %u slips %u lof %u", c.crc4_errors, c.fas_errors, c.bpv,
          c.slips, c.lof_events);
    if (cas) {
        for (i = 1; i <= 30; i++)
            CHECK(e1_framer_get_cas_rx(b, i) == ((i * 7) & 15 ? (i * 7) & 15 : 1), "CAS channel %d", i);
    }
    line_free(&l);
    e1_framer_free(a);
    e1_framer_free(b);
}

/* Two framers back to back over two cables, ticking; optional faults. */
typedef struct {
    e1_framer_t *f[2];
    line_t l[2];
    uint8_t ts[160 * 32], p[160 * 32], n[160 * 32], rp[160 * 32 + 64], rn[160 * 32 + 64];
    int los[2];             /* cable towards f[i] is cut */
    int ais[2];
    int flip_every[2];      /* flip one line bit every this many bits */
    long flip_count[2];
    int tx_frames[2];       /* frames the far end sends per tick towards f[i] */
} pair_t;

static void pair_init(pair_t *pr, int crc4, int cas)
{
    int i;
    memset(pr, 0, sizeof(*pr));
    for (i = 0; i < 2; i++) {
        pr->f[i] = framer(crc4, cas, 2 * 160 + 64);
        line_init(&pr->l[i], 161 * 32 * 4, 5 + 3 * i);
        pr->tx_frames[i] = 160;
    }
    memset(pr->ts, 0xD5, sizeof(pr->ts));
}

static void pair_tick(pair_t *pr)
{
    int i, k;
    for (i = 0; i < 2; i++) {
        /* far end of cable i is framer 1 - i */
        int nf = pr->tx_frames[i];
        e1_framer_tx(pr->f[1 - i], pr->ts, nf, pr->p, pr->n);
        if (pr->los[i]) {
            memset(pr->p, 0, nf * 32);
            memset(pr->n, 0, nf * 32);
        } else if (pr->ais[i]) {
            memset(pr->p, 0xAA, nf * 32);
            memset(pr->n, 0x55, nf * 32);
        }
        if (pr->flip_every[i]) {
            long b;
            for (b = rnd() % pr->flip_every[i]; b < (long) nf * 256; b += pr->flip_every[i]) {
                /* a space becomes a mark or a mark a space */
                if (getbit(pr->p, b) || getbit(pr->n, b)) {
                    setbit(pr->p, b, 0);
                    setbit(pr->n, b, 0);
                } else {
                    setbit(pr->p, b, 1);
                }
                pr->flip_count[i]++;
            }
        }
        line_push(&pr->l[i], pr->p, pr->n, nf * 32);
    }
    for (i = 0; i < 2; i++) {
        k = line_pull(&pr->l[i], pr->rp, pr->rn, sizeof(pr->rp));
        e1_framer_rx_line(pr->f[i], pr->rp, pr->rn, k);
        e1_framer_read(pr->f[i], pr->ts, 160);
        memset(pr->ts, 0xD5, sizeof(pr->ts));
    }
}

static void pair_free(pair_t *pr)
{
    int i;
    for (i = 0; i < 2; i++) {
        e1_framer_free(pr->f[i]);
        line_free(&pr->l[i]);
    }
}

static void test_alarms(void)
{
    static pair_t pr;
    e1_counters_t c0, c1;
    int t, a0, a1;

    pair_init(&pr, 1, 1);
    for (t = 0; t < 10; t++)
        pair_tick(&pr);
    a0 = e1_framer_alarms(pr.f[0]);
    a1 = e1_framer_alarms(pr.f[1]);
    CHECK(a0 == 0 && a1 == 0, "in sync: alarms 0x%x 0x%x", a0, a1);

    /* LOS towards 0: LOS (and LOF) at 0, RAI at 1 */
    pr.los[0] = 1;
    for (t = 0; t < 3; t++)
        pair_tick(&pr);
    a0 = e1_framer_alarms(pr.f[0]);
    a1 = e1_framer_alarms(pr.f[1]);
    CHECK((a0 & (E1_ALARM_LOS | E1_ALARM_LOF)) == (E1_ALARM_LOS | E1_ALARM_LOF), "LOS: alarms 0x%x", a0);
    CHECK(a1 == (E1_ALARM_RAI | E1_ALARM_RMAI), "far end of LOS: alarms 0x%x", a1);
    pr.los[0] = 0;
    for (t = 0; t < 10; t++)
        pair_tick(&pr);
    a0 = e1_framer_alarms(pr.f[0]);
    a1 = e1_framer_alarms(pr.f[1]);
    CHECK(a0 == 0 && a1 == 0, "after LOS: alarms 0x%x 0x%x", a0, a1);
    e1_framer_counters(pr.f[0], &c0);
    CHECK(c0.los_events == 1 && c0.lof_events == 1, "LOS events %u LOF events %u", c0.los_events,
          c0.lof_events);

    /* AIS towards 1 */
    pr.ais[1] = 1;
    for (t = 0; t < 3; t++)
        pair_tick(&pr);
    a1 = e1_framer_alarms(pr.f[1]);
    CHECK((a1 & (E1_ALARM_AIS | E1_ALARM_LOF)) == (E1_ALARM_AIS | E1_ALARM_LOF) && !(a1 & E1_ALARM_LOS),
          "AIS: alarms 0x%x", a1);
    CHECK(e1_framer_alarms(pr.f[0]) & E1_ALARM_RAI, "far end of AIS sees RAI");
    pr.ais[1] = 0;
    for (t = 0; t < 10; t++)
        pair_tick(&pr);
    CHECK(e1_framer_alarms(pr.f[0]) == 0 && e1_framer_alarms(pr.f[1]) == 0, "after AIS: 0x%x 0x%x",
          e1_framer_alarms(pr.f[0]), e1_framer_alarms(pr.f[1]));

    /* bit errors towards 0: CRC-4 errors at 0, E bits at 1, BPV at 0 */
    e1_framer_reset_counters(pr.f[0]);
    e1_framer_reset_counters(pr.f[1]);
    pr.flip_every[0] = 3001;
    for (t = 0; t < 20; t++)
        pair_tick(&pr);
    pr.flip_every[0] = 0;
    for (t = 0; t < 2; t++)
        pair_tick(&pr);
    e1_framer_counters(pr.f[0], &c0);
    e1_framer_counters(pr.f[1], &c1);
    CHECK(c0.crc4_errors > 0 && c0.bpv > 0, "errors: crc %u bpv %u", c0.crc4_errors, c0.bpv);
    CHECK(c0.bpv >= pr.flip_count[0] * 4 / 10 && c0.bpv <= pr.flip_count[0] * 12 / 10,
          "BPV %u for %ld flipped symbols", c0.bpv, pr.flip_count[0]);
    CHECK(c1.ebit_errors == c0.crc4_errors, "E bits %u at the far end for %u CRC errors", c1.ebit_errors,
          c0.crc4_errors);
    CHECK(c1.crc4_errors == 0, "no CRC errors the other way: %u", c1.crc4_errors);
    CHECK(e1_framer_alarms(pr.f[0]) == 0, "bit errors: alarms 0x%x", e1_framer_alarms(pr.f[0]));

    /* corrupted FAS: LOF then recovery */
    {
        int fn;
        e1_framer_reset_counters(pr.f[0]);
        for (t = 0; t < 2; t++) {
            /* flip bit 3 of every FAS-ish TS0 slot on the line: wrong FAS */
            e1_framer_tx(pr.f[1], pr.ts, 160, pr.p, pr.n);
            for (fn = 0; fn < 160; fn++) {
                long b = (long) fn * 256 + 3 + e1_hdb3_encoder_delay();
                /* a mark where a space was or the other way round */
                int m = getbit(pr.p, b) | getbit(pr.n, b);
                setbit(pr.p, b, !m);
                setbit(pr.n, b, 0);
            }
            line_push(&pr.l[0], pr.p, pr.n, 160 * 32);
            {
                int k = line_pull(&pr.l[0], pr.rp, pr.rn, sizeof(pr.rp));
                e1_framer_rx_line(pr.f[0], pr.rp, pr.rn, k);
                e1_framer_read(pr.f[0], pr.ts, 160);
                memset(pr.ts, 0xD5, sizeof(pr.ts));
            }
        }
        a0 = e1_framer_alarms(pr.f[0]);
        e1_framer_counters(pr.f[0], &c0);
        CHECK(a0 & E1_ALARM_LOF, "corrupted FAS: LOF, alarms 0x%x", a0);
        CHECK(c0.lof_events >= 1 && c0.fas_errors >= 3, "corrupted FAS: lof %u fas %u", c0.lof_events,
              c0.fas_errors);
        for (t = 0; t < 10; t++)
            pair_tick(&pr);
        CHECK(e1_framer_alarms(pr.f[0]) == 0, "after FAS errors: alarms 0x%x", e1_framer_alarms(pr.f[0]));
    }

    /* slips: far end sends 161 frames a tick, we read 160 */
    e1_framer_reset_counters(pr.f[0]);
    pr.tx_frames[0] = 161;
    for (t = 0; t < 300; t++)
        pair_tick(&pr);
    e1_framer_counters(pr.f[0], &c0);
    /* 300 extra frames; the store absorbs its margin first */
    CHECK(c0.slips >= 300 - 140 && c0.slips <= 300 - 90, "fast far end: %u slips in 300 ticks", c0.slips);
    pr.tx_frames[0] = 159;
    e1_framer_reset_counters(pr.f[0]);
    for (t = 0; t < 600; t++)
        pair_tick(&pr);
    e1_framer_counters(pr.f[0], &c0);
    CHECK(c0.slips >= 600 - 300 && c0.slips <= 600 - 200, "slow far end: %u slips in 600 ticks", c0.slips);
    pr.tx_frames[0] = 160;
    for (t = 0; t < 5; t++)
        pair_tick(&pr);
    e1_framer_reset_counters(pr.f[0]);
    for (t = 0; t < 50; t++)
        pair_tick(&pr);
    e1_framer_counters(pr.f[0], &c0);
    CHECK(c0.slips == 0, "steady again: %u slips", c0.slips);
    pair_free(&pr);
}

/* Steady state never slips, whatever the phase of alignment and the order
 * of writes and reads. */
static void test_store_steady(void)
{
    int order;
    for (order = 0; order < 2; order++) {
        e1_framer_t *a = framer(1, 0, 2 * 160 + 64), *b = framer(1, 0, 2 * 160 + 64);
        static uint8_t ts[160 * 32], p[160 * 32], n[160 * 32];
        e1_counters_t c;
        int t;
        memset(ts, 0x55, sizeof(ts));
        for (t = 0; t < 200; t++) {
            e1_framer_tx(a, ts, 160, p, n);
            if (order)
                e1_framer_read(b, ts, 160);
            e1_framer_rx_line(b, p, n, 160 * 32);
            if (!order)
                e1_framer_read(b, ts, 160);
            memset(ts, 0x55, sizeof(ts));
        }
        e1_framer_counters(b, &c);
        CHECK(c.slips == 0 && (e1_framer_alarms(b) & ~E1_ALARM_RAI) == 0, "order %d: %u slips, alarms 0x%x", order, c.slips,
              e1_framer_alarms(b));
        e1_framer_free(a);
        e1_framer_free(b);
    }
}

/* Random bytes, random bits, all zeros, all ones: no crash, sane state. */
static void test_garbage(void)
{
    static uint8_t p[5000], n[5000], ts[200 * 32];
    int trial, i;

    for (trial = 0; trial < 60; trial++) {
        e1_framer_t *f = framer(trial & 1, (trial >> 1) & 1, 2 + (int) (rnd() % 400));
        int rounds = 1 + (int) (rnd() % 10), r;
        for (r = 0; r < rounds; r++) {
            int len = (int) (rnd() % 5000), mode = (int) (rnd() % 5);
            for (i = 0; i < len; i++) {
                switch (mode) {
                case 0:
                    p[i] = (uint8_t) rnd();
                    n[i] = (uint8_t) rnd();
                    break;
                case 1:
                    p[i] = (uint8_t) rnd();
                    n[i] = (uint8_t) (rnd() & ~p[i]);
                    break;
                case 2:
                    p[i] = n[i] = 0;
                    break;
                case 3:
                    p[i] = 0xAA;
                    n[i] = 0x55;
                    break;
                default:
                    p[i] = n[i] = 0xFF;
                    break;
                }
            }
            e1_framer_rx_line(f, p, n, len);
            e1_framer_read(f, ts, (int) (rnd() % 200));
            e1_framer_tx(f, ts, (int) (rnd() % 150), p, n);
            (void) e1_framer_alarms(f);
        }
        e1_framer_free(f);
    }
    CHECK(framer(0, 0, 1) == NULL, "bad config refused");
    CHECK(framer(2, 0, 10) == NULL, "bad config refused");
}

/* e1_framer_rx_group (four lines side by side, the rest alone) gives what
 * e1_framer_rx_tick gives span by span: lines of frames that go to LOS,
 * noise or all ones and back, a tick of another length on one span. */
static void test_rx_group(void)
{
    enum { SPANS = 6, TICKS = 40, FR = 160, MAXB = FR * E1_FRAME_BYTES + 8 };
    e1_framer_t *tx[SPANS], *alone[SPANS], *grouped[SPANS];
    static uint8_t p[SPANS][MAXB], n[SPANS][MAXB], pay[FR * E1_FRAME_BYTES];
    static uint8_t want[SPANS][FR * E1_FRAME_BYTES], got[SPANS][FR * E1_FRAME_BYTES];
    const uint8_t *pp[SPANS], *np[SPANS];
    uint8_t *tsp[SPANS];
    int len[SPANS];
    int i, t, k;

    for (i = 0; i < SPANS; i++) {
        tx[i] = framer(i & 1, (i >> 1) & 1, 8);
        alone[i] = framer(i & 1, (i >> 1) & 1, 8);
        grouped[i] = framer(i & 1, (i >> 1) & 1, 8);
        pp[i] = p[i];
        np[i] = n[i];
        tsp[i] = got[i];
    }
    for (t = 0; t < TICKS; t++) {
        for (i = 0; i < SPANS; i++) {
            int mode = (int) ((rnd() >> 4) % 8);
            len[i] = FR * E1_FRAME_BYTES + (t == 7 && i == 2 ? 8 : 0);
            for (k = 0; k < FR * E1_FRAME_BYTES; k++)
                pay[k] = rnd_byte(i & 3);
            e1_framer_tx(tx[i], pay, FR, p[i], n[i]);
            memset(p[i] + FR * E1_FRAME_BYTES, 0, 8);
            memset(n[i] + FR * E1_FRAME_BYTES, 0, 8);
            if (mode == 5) {
                /* LOS for a while, starting anywhere */
                int from = (int) (rnd() % (FR * E1_FRAME_BYTES));
                memset(p[i] + from, 0, len[i] - from);
                memset(n[i] + from, 0, len[i] - from);
            } else if (mode == 6) {
                for (k = 0; k < len[i]; k++) {
                    p[i][k] = (uint8_t) rnd();
                    n[i][k] = (uint8_t) (rnd() & ~p[i][k]);
                }
            } else if (mode == 7) {
                memset(p[i], 0xAA, len[i]);
                memset(n[i], 0x55, len[i]);
            }
        }
        for (i = 0; i < SPANS; i++)
            e1_framer_rx_tick(alone[i], p[i], n[i], len[i], want[i], FR);
        e1_framer_rx_group(grouped, SPANS, pp, np, len, tsp, FR);
        for (i = 0; i < SPANS; i++) {
            e1_counters_t ca, cg;
            e1_framer_counters(alone[i], &ca);
            e1_framer_counters(grouped[i], &cg);
            CHECK(memcmp(want[i], got[i], sizeof(want[i])) == 0, "rx group: frames of span %d, tick %d", i, t);
            CHECK(memcmp(&ca, &cg, sizeof(ca)) == 0, "rx group: counters of span %d, tick %d", i, t);
            CHECK(e1_framer_alarms(alone[i]) == e1_framer_alarms(grouped[i]), "rx group: alarms of span %d, tick %d",
                  i, t);
        }
    }
    for (i = 0; i < SPANS; i++) {
        e1_framer_free(tx[i]);
        e1_framer_free(alone[i]);
        e1_framer_free(grouped[i]);
    }
}

int main(void)
{
    int shift;

    test_hdb3_round_trip();
    test_hdb3_single_errors();
    test_hdb3_garbage();
    test_crc4();
    for (shift = 0; shift < 16; shift += 1 + (shift > 9) * 2)
        test_framer_round_trip(shift & 1, (shift >> 1) & 1, shift * 37 % 256);
    test_framer_round_trip(1, 1, 255);
    test_alarms();
    test_store_steady();
    test_garbage();
    test_rx_group();
    return harness_summary("test_e1_framer");
}
