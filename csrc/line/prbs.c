/*
 * The 2^15 - 1 pseudo-random test pattern of ITU-T O.151 2.1, for bit
 * error ratio tests on a span: a 15-stage shift register whose 14th and
 * 15th stages are added modulo two and fed back to the first
 * (x^15 + x^14 + 1), its output sent inverted, so the longest run is fifteen
 * zeros (and fourteen ones). Period 32767 bits.
 *
 * Both ends run eight bits at a time. With the register holding the last 15
 * bits b[n-1] (bit 0) .. b[n-15] (bit 14), the next bit is
 * b[n] = b[n-14] ^ b[n-15], and because eight is less than fourteen the next
 * eight bits all come from bits already in the register:
 *     (reg >> 6) ^ (reg >> 7), low eight bits, b[n] in bit 7 .. b[n+7] in bit 0
 * which is also the order they go out in (most significant first).
 *
 * The checker (O.151 2.4 leaves the method to the instrument): out of sync it
 * loads the received bits into its register and predicts each next bit from
 * them; after 15 bits loaded and then PRBS_SYNC_BITS right predictions in a
 * row it is in sync and runs free as a generator, counting every received
 * bit that differs from its own. It drops out of sync when a window of
 * PRBS_WINDOW_BITS bits has more than 20% errors (a slip or another
 * pattern), and hunts again.
 */
#include <stdint.h>

#include "line/prbs.h"

#define PRBS_MASK        0x7FFF   /* 15 stages */
#define PRBS_STAGES      15
#define PRBS_SYNC_BITS   32       /* right predictions in a row for sync */
#define PRBS_WINDOW_BITS 1024     /* loss-of-sync window */

/* The next eight bits of the sequence (before inversion), first in bit 7. */
static inline uint32_t prbs_next8(uint32_t reg)
{
    return ((reg >> 6) ^ (reg >> 7)) & 0xFF;
}

/* The next bit of the sequence (before inversion). */
static inline uint32_t prbs_next1(uint32_t reg)
{
    return ((reg >> 13) ^ (reg >> 14)) & 1;
}

void prbs_tx_init(prbs_tx_t *s)
{
    s->reg = PRBS_MASK;   /* any state but all zeros */
}

void prbs_tx_get_strided(prbs_tx_t *s, uint8_t *out, int n, int stride)
{
    uint32_t reg = s->reg;
    uint32_t x;
    int i;

    for (i = 0; i < n; i++)
    {
        x = prbs_next8(reg);
        reg = ((reg << 8) | x) & PRBS_MASK;
        /* O.151 2.1: the pattern is sent inverted */
        out[(long) i * stride] = (uint8_t) (x ^ 0xFF);
    }
    s->reg = reg;
}

void prbs_tx_get(prbs_tx_t *s, uint8_t *out, int n)
{
    prbs_tx_get_strided(s, out, n, 1);
}

void prbs_rx_init(prbs_rx_t *s)
{
    s->reg = 0;
    s->sync = 0;
    s->fill = 0;
    s->bits = 0;
    s->errors = 0;
    s->sync_losses = 0;
    s->window_bits = 0;
    s->window_errors = 0;
}

/* End of a loss-of-sync window: over 20% errors means the pattern is gone. */
static inline void prbs_rx_window(prbs_rx_t *s)
{
    if (s->window_bits < PRBS_WINDOW_BITS)
        return;
    if (s->window_errors * 5 > s->window_bits)
    {
        s->sync = 0;
        s->fill = 0;
        s->sync_losses++;
    }
    s->window_bits = 0;
    s->window_errors = 0;
}

/* One received bit, already un-inverted. */
static inline void prbs_rx_bit(prbs_rx_t *s, uint32_t bit)
{
    uint32_t want = prbs_next1(s->reg);

    if (s->sync)
    {
        s->reg = ((s->reg << 1) | want) & PRBS_MASK;
        s->bits++;
        s->window_bits++;
        if (bit != want)
        {
            s->errors++;
            s->window_errors++;
        }
        prbs_rx_window(s);
        return;
    }
    /* Hunting: the register follows the line. */
    s->reg = ((s->reg << 1) | bit) & PRBS_MASK;
    if (s->fill < PRBS_STAGES)
    {
        s->fill++;
        return;
    }
    if (bit != want)
    {
        /* The register holds a bit that does not fit: load afresh, this bit the first. */
        s->fill = 1;
        return;
    }
    if (++s->fill >= PRBS_STAGES + PRBS_SYNC_BITS)
    {
        s->sync = 1;
        s->window_bits = 0;
        s->window_errors = 0;
    }
}

void prbs_rx_put_strided(prbs_rx_t *s, const uint8_t *in, int n, int stride)
{
    uint32_t x;
    uint32_t want;
    uint32_t diff;
    int i;
    int k;

    for (i = 0; i < n; i++)
    {
        x = in[(long) i * stride] ^ 0xFFu;
        if (s->sync && s->window_bits + 8 <= PRBS_WINDOW_BITS)
        {
            /* In sync: eight bits at once against our own generator. */
            want = prbs_next8(s->reg);
            s->reg = ((s->reg << 8) | want) & PRBS_MASK;
            diff = (uint32_t) __builtin_popcount(x ^ want);
            s->bits += 8;
            s->errors += diff;
            s->window_bits += 8;
            s->window_errors += diff;
            prbs_rx_window(s);
            continue;
        }
        for (k = 7; k >= 0; k--)
            prbs_rx_bit(s, (x >> k) & 1);
    }
}

void prbs_rx_put(prbs_rx_t *s, const uint8_t *in, int n)
{
    prbs_rx_put_strided(s, in, n, 1);
}
