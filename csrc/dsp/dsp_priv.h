/*
 * Pieces the DSP modules share: the 0 dBm0 reference, state allocation in
 * the xxx_init style, the queue of detector events, and the feeding of one
 * channel of a strided multi-channel layout. Private to the C files of
 * csrc/dsp (the cffi build leaves *_priv.h out of its preamble).
 */
#ifndef DSP_PRIV_H
#define DSP_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 0 dBm0: the peak of a sine 3.14 dB below the A-law overload point on the
 * 16-bit scale (G.711 table 1a: +3.14 dBm0 at full scale). */
#define DSP_DBM0_PEAK   22827.0f

/* Samples gathered at a time from a strided layout (dsp_rx_strided). */
#define DSP_STRIDE_BUF  256

/*
 * xxx_init(s, ...): use s, or allocate one when s is NULL; either way zeroed.
 * *allocated tells xxx_free whether to free it. NULL when out of memory.
 */
static inline void *dsp_state_init(void *s, size_t size, int *allocated)
{
    *allocated = 0;
    if (s == NULL)
    {
        if ((s = malloc(size)) == NULL)
            return NULL;
        *allocated = 1;
    }
    memset(s, 0, size);
    return s;
}

/* A detector's change: its new value and the sample index (since init) it came at. */
typedef struct
{
    int value;
    int64_t at;
} dsp_event_t;

/* A ring of dsp_event_t; the array lives beside it in the owner's state,
 * its length the owner's public XXX_EVENT_QUEUE. */
typedef struct
{
    int head, count;
    uint32_t overruns;      /* events dropped on a full ring */
} dsp_events_t;

static inline void dsp_events_push(dsp_events_t *q, dsp_event_t *ring, int len, int value, int64_t at)
{
    int i;

    if (q->count >= len)
    {
        q->overruns++;
        return;
    }
    i = (q->head + q->count) % len;
    ring[i].value = value;
    ring[i].at = at;
    q->count++;
}

/* The oldest event's value (its sample index in *at, which may be NULL), or none. */
static inline int dsp_events_get(dsp_events_t *q, const dsp_event_t *ring, int len, int none, int64_t *at)
{
    const dsp_event_t *ev;

    if (q->count == 0)
        return none;
    ev = &ring[q->head];
    q->head = (q->head + 1) % len;
    q->count--;
    if (at)
        *at = ev->at;
    return ev->value;
}

/*
 * Feed samples of one channel to a receiver rx(s, amp, n): sample i is
 * in[i * sample_stride]. A stride of 1 goes straight through; any other is
 * gathered DSP_STRIDE_BUF samples at a time.
 */
static inline void dsp_rx_strided(int (*rx)(void *s, const int16_t *amp, int samples), void *s,
                                  const int16_t *in, int sample_stride, int samples)
{
    int16_t buf[DSP_STRIDE_BUF];
    int done = 0;

    if (sample_stride == 1)
    {
        rx(s, in, samples);
        return;
    }
    while (done < samples)
    {
        int m = samples - done, i;

        if (m > DSP_STRIDE_BUF)
            m = DSP_STRIDE_BUF;
        for (i = 0; i < m; i++)
            buf[i] = in[(ptrdiff_t) (done + i) * sample_stride];
        rx(s, buf, m);
        done += m;
    }
}

/* True silence: every sample exactly zero (an idle line). Receivers use it to skip
 * filter work that zero input cannot change. */
static inline int dsp_all_zero(const int16_t *amp, int samples)
{
    int16_t any = 0;
    int i;

    for (i = 0; i < samples; i++)
        any |= amp[i];
    return any == 0;
}

#endif
