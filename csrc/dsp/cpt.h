/*
 * Call-progress tones: dial, ringback, busy and congestion, generated and
 * detected with their cadences, in national sets: the Chinese 450 Hz plan
 * (the default) and sets after ITU-T E.180 and its Supplement 2. The
 * detector also tells voice (and an answer: voice after ringback, for
 * answer supervision on analog trunks) and tones it does not know.
 */
#ifndef CPT_H
#define CPT_H

#include <stdint.h>

/* Tones of a set (cpt_tx_play) and what the receiver reports (cpt_rx). */
#define CPT_SILENCE         0
#define CPT_DIAL            1
#define CPT_RINGBACK        2
#define CPT_BUSY            3
#define CPT_CONGESTION      4
#define CPT_UNKNOWN_TONE    5   /* a steady tone that is none of the set's */
#define CPT_VOICE           6
#define CPT_ANSWER          7   /* event only: voice after ringback */
#define CPT_TONES           5   /* tone ids 1..4 in a set */

#define CPT_EVENT_NONE      (-1)
#define CPT_EVENT_QUEUE     16
#define CPT_SET_CN          0   /* the default set */

typedef struct
{
    int f1, f2;             /* Hz; f2 = 0 for a single frequency */
    int cadence[4];         /* ms: on, off, on, off; all 0 = continuous; on2 = 0 = two-part cadence */
    float level_dbm0;       /* per frequency */
} cpt_tone_info_t;

typedef struct cpt_tx_s cpt_tx_t;
typedef struct cpt_rx_s cpt_rx_t;

int cpt_set_count(void);
const char *cpt_set_name(int set);
const char *cpt_set_description(int set);
/* Index of the set with that name (e.g. "cn", "itu", "us", "uk", "de"), or -1. */
int cpt_set_find(const char *name);
/* The definition of a tone of a set. Returns 0, or -1 for an unknown set or tone. */
int cpt_tone_info(int set, int tone, cpt_tone_info_t *info);

cpt_tx_t *cpt_tx_init(cpt_tx_t *s, int set);
void cpt_tx_release(cpt_tx_t *s);
void cpt_tx_free(cpt_tx_t *s);
int cpt_tx_size(void);
/* Start tone 1..4 of the set (from the start of its cadence), 0 to stop. Returns 0, or -1. */
int cpt_tx_play(cpt_tx_t *s, int tone);
/* Play a tone of one's own: f2 may be 0; cadence ms as in cpt_tone_info_t. Returns 0, or -1. */
int cpt_tx_play_custom(cpt_tx_t *s, int f1, int f2, int on1, int off1, int on2, int off2);
/* Override the set's level, dBm0 per frequency (-60..+3); NaN returns to the set's. */
int cpt_tx_set_level(cpt_tx_t *s, float dbm0);
int cpt_tx_playing(const cpt_tx_t *s);
int cpt_tx(cpt_tx_t *s, int16_t *amp, int samples);
void cpt_tx_bulk(cpt_tx_t *const *s, int n, int16_t *amp, int chan_stride, int samples);

cpt_rx_t *cpt_rx_init(cpt_rx_t *s, int set);
void cpt_rx_release(cpt_rx_t *s);
void cpt_rx_free(cpt_rx_t *s);
int cpt_rx_size(void);
/* Forget what was heard (after a new seizure, say); keeps the set. */
void cpt_rx_reset(cpt_rx_t *s);
/* Feed samples; returns what is being heard now (CPT_SILENCE .. CPT_VOICE). */
int cpt_rx(cpt_rx_t *s, const int16_t *amp, int samples);
/* Oldest change not taken: a CPT_* kind (CPT_ANSWER included), or CPT_EVENT_NONE.
 * *at (may be NULL) gets the samples fed before the decision. */
int cpt_rx_get(cpt_rx_t *s, int64_t *at);
int cpt_rx_current(const cpt_rx_t *s);
uint32_t cpt_rx_overruns(const cpt_rx_t *s);
void cpt_rx_bulk(cpt_rx_t *const *s, int n, const int16_t *amp, int chan_stride,
                 int sample_stride, int samples, int *kinds);

#endif
