/*
 * Pseudo-random test pattern 2^15 - 1 for bit error ratio tests
 * (ITU-T O.151 2.1: x^15 + x^14 + 1, inverted), generator and checker.
 * Bytes carry bits most significant first.
 */
#ifndef PRBS_H
#define PRBS_H

#include <stdint.h>

typedef struct {
    uint32_t reg;
} prbs_tx_t;

typedef struct {
    uint32_t reg;        /* checker's own generator, seeded from the received bits */
    int sync;            /* 1 when locked to the pattern */
    int fill;            /* bits gathered towards (re)sync */
    uint64_t bits;       /* bits compared while in sync */
    uint64_t errors;     /* bit errors while in sync */
    uint32_t sync_losses;
    uint32_t window_bits, window_errors; /* loss-of-sync detector */
} prbs_rx_t;

void prbs_tx_init(prbs_tx_t *s);
void prbs_tx_get(prbs_tx_t *s, uint8_t *out, int n);
/* Fill out[i * stride] for i < n. */
void prbs_tx_get_strided(prbs_tx_t *s, uint8_t *out, int n, int stride);

void prbs_rx_init(prbs_rx_t *s);
/* Check n received bytes. Sync is gained after 32 error-free bits; lost
 * when a window of 1024 bits has more than 20% errors (then re-synced). */
void prbs_rx_put(prbs_rx_t *s, const uint8_t *in, int n);
void prbs_rx_put_strided(prbs_rx_t *s, const uint8_t *in, int n, int stride);

#endif
