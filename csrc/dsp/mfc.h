/*
 * MFC R2 interregister signals (ITU-T Q.441 table 5, "two out of six"):
 * forward 1380, 1500, 1620, 1740, 1860, 1980 Hz (f0..f5), backward 1140,
 * 1020, 900, 780, 660, 540 Hz (f0..f5). Signal n (1..15) is the n-th pair in
 * the order (f0,f1) (f0,f2) (f1,f2) (f0,f3) (f1,f3) (f2,f3) (f0,f4) (f1,f4)
 * (f2,f4) (f3,f4) (f0,f5) (f1,f5) (f2,f5) (f3,f5) (f4,f5). China No.1
 * signalling (GF 002-9002) uses the same frequencies and combinations.
 *
 * The sender holds a signal steady until it is changed, as the compelled
 * cycle needs (Q.442); the receiver reports each recognised signal and its
 * end, with the sample at which it decided.
 */
#ifndef MFC_H
#define MFC_H

#include <stdint.h>

#define MFC_DIGITS          15      /* Q.441: 15 combinations each way */
#define MFC_EVENT_NONE      (-1)    /* mfc_rx_get(): nothing pending */
#define MFC_EVENT_END       0       /* mfc_rx_get(): the signal ceased */
#define MFC_EVENT_QUEUE     16

/* Default send level per frequency, dBm0 (settable: Q.454 and national plans differ). */
#define MFC_TX_DEFAULT_DBM0 (-8.0f)

typedef struct mfc_tx_s mfc_tx_t;
typedef struct mfc_rx_s mfc_rx_t;

/* Frequency (Hz) of component i (0..5) in the forward or backward group. */
int mfc_frequency(int backward, int i);
/* The two component indexes of signal digit (1..15): returns 0, or -1 if digit is out of range. */
int mfc_digit_pair(int digit, int *lo, int *hi);

mfc_tx_t *mfc_tx_init(mfc_tx_t *s, int backward);
void mfc_tx_release(mfc_tx_t *s);
void mfc_tx_free(mfc_tx_t *s);
int mfc_tx_size(void);
/* Level of each frequency in dBm0 (-60..+3). Returns 0, or -1 out of range. */
int mfc_tx_set_level(mfc_tx_t *s, float dbm0);
/* Send digit 1..15 steadily from now on, -1 for silence. Returns 0, or -1 out of range. */
int mfc_tx_set(mfc_tx_t *s, int digit);
int mfc_tx_get_digit(const mfc_tx_t *s);
/* Generate samples (always all of them: silence when no digit is set). Returns samples. */
int mfc_tx(mfc_tx_t *s, int16_t *amp, int samples);
/* One call for many channels: channel c writes amp[c*chan_stride + i], i < samples. NULL states are skipped. */
void mfc_tx_bulk(mfc_tx_t *const *s, int n, int16_t *amp, int chan_stride, int samples);

mfc_rx_t *mfc_rx_init(mfc_rx_t *s, int backward);
void mfc_rx_release(mfc_rx_t *s);
void mfc_rx_free(mfc_rx_t *s);
int mfc_rx_size(void);
/* Feed samples; returns the signal being received now (1..15), or -1 for none. */
int mfc_rx(mfc_rx_t *s, const int16_t *amp, int samples);
/* Oldest change not yet taken: 1..15 a signal was recognised, MFC_EVENT_END it
 * ceased, MFC_EVENT_NONE nothing pending. *at (may be NULL) gets the count of
 * samples fed before the decision (from init). */
int mfc_rx_get(mfc_rx_t *s, int64_t *at);
int mfc_rx_current(const mfc_rx_t *s);
/* Events lost because the queue was full. */
uint32_t mfc_rx_overruns(const mfc_rx_t *s);
/* One call for many channels: channel c reads amp[c*chan_stride + i*sample_stride];
 * digits[c] (may be NULL) gets the current signal. NULL states are skipped. */
void mfc_rx_bulk(mfc_rx_t *const *s, int n, const int16_t *amp, int chan_stride,
                 int sample_stride, int samples, int *digits);

#endif
