/*
 * DTMF (dual-tone multi-frequency) signalling: detection per ITU-T Q.24 and
 * generation per ITU-T Q.23, on 16-bit linear samples at 8000 Hz.
 *
 * Q.23 table 1 frequencies: low group 697, 770, 852, 941 Hz; high group
 * 1209, 1336, 1477, 1633 Hz; digits 0-9, *, #, A-D.
 *
 * Levels are in dBm0 per tone; 0 dBm0 is a sine of peak 22827 on the
 * 16-bit scale (G.711, as csrc/hal_sim.c SIM_PEAK_0DBM0).
 */
#ifndef DTMF_H
#define DTMF_H

#include <stdint.h>

#define DTMF_SAMPLE_RATE      8000
#define DTMF_RX_BLOCK         52    /* samples per Goertzel half-window (6.5 ms) */
#define DTMF_RX_WINDOW        104   /* analysis window: two half-windows, hop 52 */
#define DTMF_RX_MAX_DIGITS    128   /* detected digits waiting to be taken */
#define DTMF_RX_MAX_REPORTS   32    /* finished digits (start, duration) waiting */
#define DTMF_TX_MAX_DIGITS    128   /* digits waiting to be sent */

/*
 * Receiver parameters. dtmf_rx_params_default() fills the defaults given
 * here; dtmf_rx_init(s, NULL) uses them.
 */
typedef struct {
    float min_level_dbm0;   /* each tone at least this (-36; Q.24: operate down to -30 per tone) */
    float normal_twist_db;  /* high group may exceed the low group by this (4) */
    float reverse_twist_db; /* low group may exceed the high group by this (8) */
    float freq_tolerance;   /* decision boundary on each tone's relative offset
                               (0.025: Q.24 accept within 1.5%, reject beyond 3.5%) */
    float min_on_ms;        /* tones this long are always accepted (40; Q.24) */
    float max_reject_ms;    /* tones shorter than this are always rejected (23; Q.24) */
    float min_off_ms;       /* pauses this long always separate two digits (40; Q.24) */
    float signal_ratio;     /* share of the window's energy the two tones must hold (0.5) */
    float relative_peak_db; /* the other tones of a group lie this far below its tone (8) */
} dtmf_rx_params_t;

/* A finished digit: its start (samples since init) and duration, +-26 samples. */
typedef struct {
    int64_t start;
    int32_t duration;
    char digit;
} dtmf_rx_report_t;

typedef struct dtmf_rx_s dtmf_rx_t;

void dtmf_rx_params_default(dtmf_rx_params_t *p);
/* NULL s allocates; NULL p takes the defaults. Returns NULL on a bad parameter or no memory. */
dtmf_rx_t *dtmf_rx_init(dtmf_rx_t *s, const dtmf_rx_params_t *p);
void dtmf_rx_release(dtmf_rx_t *s);
void dtmf_rx_free(dtmf_rx_t *s);
int dtmf_rx_size(void);
/* Process samples; returns how many digits became available during the call. */
int dtmf_rx(dtmf_rx_t *s, const int16_t *amp, int samples);
/*
 * The same as dtmf_rx() on that many zero samples (true silence: an idle
 * line, a phone on hook), without the filters once the receiver has settled
 * into silence: then only its sample count moves.
 */
int dtmf_rx_silence(dtmf_rx_t *s, int samples);
/*
 * The same as dtmf_rx() on that many samples all of value v (a steady leg:
 * the idle code of the far end), without the filters for half-windows too
 * quiet to hold a tone.
 */
int dtmf_rx_const(dtmf_rx_t *s, int16_t v, int samples);
/*
 * The receiver has settled on the quiet steady level v and holds nothing to
 * take: more of v would only move its sample count (dtmf_rx_idle for any
 * level), so a caller may count such samples and hand them over at once.
 */
int dtmf_rx_const_idle(const dtmf_rx_t *s, int16_t v);
/*
 * The receiver has settled into silence and holds nothing to take: more
 * silence would only move its sample count, so a caller may count idle
 * samples itself and hand them over in one dtmf_rx_silence() later.
 */
int dtmf_rx_idle(const dtmf_rx_t *s);
/*
 * All channels of a tick in one call: channel c's samples are
 * amp[c * stride .. c * stride + samples - 1]; NULL rx[c] are skipped.
 * Returns the digits that became available on all channels together.
 */
int dtmf_rx_bulk(dtmf_rx_t *const *rx, const int16_t *amp, int channels, int samples, int stride);
/*
 * Take the detected digits of all channels in one call: digits[i] came on
 * channel channel[i] (an index into rx), in order per channel. Returns the
 * count (at most max); what does not fit stays for the next call.
 */
int dtmf_rx_bulk_get(dtmf_rx_t *const *rx, int channels, char *digits, int *channel, int max);
/* Digits and reports waiting to be taken (0: nothing to take). */
int dtmf_rx_waiting(const dtmf_rx_t *s);
/* Take up to max detected digits (NUL-terminated when fewer than max). Returns the count. */
int dtmf_rx_get(dtmf_rx_t *s, char *digits, int max);
/* Take up to max reports of finished digits. Returns the count. */
int dtmf_rx_get_reports(dtmf_rx_t *s, dtmf_rx_report_t *reports, int max);
/* The digit being received now (confirmed and not yet ended), or 0. */
int dtmf_rx_status(const dtmf_rx_t *s);
/* Digits and reports dropped because nobody took them. */
uint32_t dtmf_rx_lost(const dtmf_rx_t *s);

/* Generator parameters; dtmf_tx_params_default() fills the defaults given here. */
typedef struct {
    float low_level_dbm0;   /* -9: Q.23 leaves levels to administrations; high 2 dB above low is usual */
    float high_level_dbm0;  /* -7 */
    int on_ms;              /* 80 */
    int off_ms;             /* 80 */
} dtmf_tx_params_t;

typedef struct dtmf_tx_s dtmf_tx_t;

void dtmf_tx_params_default(dtmf_tx_params_t *p);
dtmf_tx_t *dtmf_tx_init(dtmf_tx_t *s, const dtmf_tx_params_t *p);
void dtmf_tx_release(dtmf_tx_t *s);
void dtmf_tx_free(dtmf_tx_t *s);
int dtmf_tx_size(void);
/*
 * Queue digits (len < 0: NUL-terminated). Accepts 0-9 * # A-D (a-d too).
 * Returns the digits queued (fewer when the queue fills), -1 if a character
 * is not a DTMF digit (then nothing is queued).
 */
int dtmf_tx_put(dtmf_tx_t *s, const char *digits, int len);
/* Generate up to max_samples: tone, pause, next digit. Returns the samples written, 0 when idle. */
int dtmf_tx(dtmf_tx_t *s, int16_t *amp, int max_samples);
/* Digits queued or being sent (tone or its pause). */
int dtmf_tx_pending(const dtmf_tx_t *s);

#endif
