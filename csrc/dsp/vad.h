/*
 * Energy and voice activity per channel: a smoothed level in dBm0 and a
 * voice/silence decision against a fixed threshold and an adaptive noise
 * floor, with onset confirmation and hangover.
 */
#ifndef VAD_H
#define VAD_H

#include <stdint.h>

#define VAD_EVENT_NONE      (-1)
#define VAD_EVENT_QUEUE     16
#define VAD_DEFAULT_DBM0    (-40.0f)
#define VAD_DEFAULT_HANG_MS 300

typedef struct vad_rx_s vad_rx_t;

/* threshold: dBm0 a channel must exceed to be voice (-70..0); hangover_ms: 0..5000. NULL on bad arguments. */
vad_rx_t *vad_rx_init(vad_rx_t *s, float threshold_dbm0, int hangover_ms);
void vad_rx_release(vad_rx_t *s);
void vad_rx_free(vad_rx_t *s);
int vad_rx_size(void);
/* Feed samples; returns 1 while voice, 0 while silence. */
int vad_rx(vad_rx_t *s, const int16_t *amp, int samples);
/* Smoothed level and noise floor, dBm0 (-99 for digital silence). */
float vad_rx_level(const vad_rx_t *s);
float vad_rx_noise(const vad_rx_t *s);
/* Oldest change: 1 voice began, 0 silence began, VAD_EVENT_NONE. *at may be NULL. */
int vad_rx_get(vad_rx_t *s, int64_t *at);
int vad_rx_active(const vad_rx_t *s);
/* Many channels: channel c reads amp[c*chan_stride + i*sample_stride]; active[c] and level[c] may be NULL. */
void vad_rx_bulk(vad_rx_t *const *s, int n, const int16_t *amp, int chan_stride,
                 int sample_stride, int samples, int *active, float *level);

#endif
