/*
 * Energy and voice activity.
 *
 * Power is measured over 10 ms blocks (80 samples) and smoothed with a fast
 * attack (time constant about 20 ms) and a slower release (about 100 ms).
 * The noise floor follows the smoothed power down at once and creeps up at
 * 1 dB/s, or 20 dB/s while the block power is steady (within 1.5 times of
 * the block before), so steady background (line noise, a held tone) is
 * learnt while speech, with its syllables and pauses, stays above it. A
 * block is active when its power is above the threshold and VAD_MARGIN_DB
 * above the noise floor; voice begins after two active blocks in a row and
 * ends after the hangover with none.
 * Levels are dBm0 against a sine of peak 22827 (0 dBm0 for A-law, G.711
 * table 1a: +3.14 dBm0 at full scale).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "dsp/dsp_priv.h"
#include "dsp/vad.h"

#define VAD_BLOCK       80
#define VAD_BLOCK_MS    10
#define VAD_DBM0_POWER  (DSP_DBM0_PEAK * DSP_DBM0_PEAK * 0.5f)   /* mean square of a 0 dBm0 sine */
#define VAD_ATTACK      0.5f
#define VAD_RELEASE     0.1f
#define VAD_NOISE_RISE  1.0023f                         /* 0.01 dB per block */
#define VAD_NOISE_FAST  1.047f                          /* 0.2 dB per block while the power is steady */
#define VAD_STEADY      1.5f
#define VAD_MARGIN_DB   9.0f
#define VAD_ONSET       2

struct vad_rx_s
{
    float thr;              /* threshold, mean square */
    float margin;           /* power ratio over the noise floor */
    int hang_blocks;
    float energy;
    int pos;
    float smooth;           /* mean square */
    float noise;
    float last;             /* previous block's power */
    int onset, idle;
    int active;
    int64_t samples;
    dsp_events_t evq;
    dsp_event_t events[VAD_EVENT_QUEUE];
    int allocated;
};

int vad_rx_size(void)
{
    return (int) sizeof(vad_rx_t);
}

vad_rx_t *vad_rx_init(vad_rx_t *s, float threshold_dbm0, int hangover_ms)
{
    int allocated;

    if (!(threshold_dbm0 >= -70.0f && threshold_dbm0 <= 0.0f) || hangover_ms < 0 || hangover_ms > 5000)
        return NULL;
    if ((s = dsp_state_init(s, sizeof(*s), &allocated)) == NULL)
        return NULL;
    s->allocated = allocated;
    s->thr = VAD_DBM0_POWER * powf(10.0f, threshold_dbm0 / 10.0f);
    s->margin = powf(10.0f, VAD_MARGIN_DB / 10.0f);
    s->hang_blocks = (hangover_ms + VAD_BLOCK_MS - 1) / VAD_BLOCK_MS;
    s->noise = s->thr / s->margin;
    return s;
}

void vad_rx_release(vad_rx_t *s)
{
    (void) s;
}

void vad_rx_free(vad_rx_t *s)
{
    if (s && s->allocated)
        free(s);
}

static void vad_rx_push(vad_rx_t *s, int value)
{
    dsp_events_push(&s->evq, s->events, VAD_EVENT_QUEUE, value, s->samples);
}

static void vad_rx_block(vad_rx_t *s, float p)
{
    int hot;
    int steady = p < VAD_STEADY * s->last && s->last < VAD_STEADY * p;

    s->smooth += ((p > s->smooth) ? VAD_ATTACK : VAD_RELEASE) * (p - s->smooth);
    if (s->smooth < s->noise)
        s->noise = s->smooth;
    else
        s->noise *= steady ? VAD_NOISE_FAST : VAD_NOISE_RISE;
    s->last = p;
    /* the floor never rises above the point where the threshold alone decides */
    if (s->noise < 1.0f)
        s->noise = 1.0f;
    /* the block itself, so a click shorter than a block is not voice */
    hot = p > s->thr && p > s->noise * s->margin;
    if (hot)
    {
        s->idle = 0;
        if (!s->active && ++s->onset >= VAD_ONSET)
        {
            s->active = 1;
            vad_rx_push(s, 1);
        }
    }
    else
    {
        s->onset = 0;
        if (s->active && ++s->idle > s->hang_blocks)
        {
            s->active = 0;
            s->idle = 0;
            vad_rx_push(s, 0);
        }
    }
}

int vad_rx(vad_rx_t *s, const int16_t *amp, int samples)
{
    int done = 0;

    while (done < samples)
    {
        int m = VAD_BLOCK - s->pos, i;
        float e = s->energy;

        if (m > samples - done)
            m = samples - done;
        for (i = 0; i < m; i++)
        {
            float x = (float) amp[done + i];

            e += x * x;
        }
        s->energy = e;
        s->pos += m;
        s->samples += m;
        done += m;
        if (s->pos == VAD_BLOCK)
        {
            vad_rx_block(s, s->energy / VAD_BLOCK);
            s->energy = 0.0f;
            s->pos = 0;
        }
    }
    return s->active;
}

static float vad_db(float p)
{
    if (p <= VAD_DBM0_POWER * 1e-10f)
        return -99.0f;
    return 10.0f * log10f(p / VAD_DBM0_POWER);
}

float vad_rx_level(const vad_rx_t *s)
{
    return vad_db(s->smooth);
}

float vad_rx_noise(const vad_rx_t *s)
{
    return vad_db(s->noise);
}

int vad_rx_get(vad_rx_t *s, int64_t *at)
{
    return dsp_events_get(&s->evq, s->events, VAD_EVENT_QUEUE, VAD_EVENT_NONE, at);
}

int vad_rx_active(const vad_rx_t *s)
{
    return s->active;
}

static int vad_rx_feed(void *s, const int16_t *amp, int samples)
{
    return vad_rx((vad_rx_t *) s, amp, samples);
}

void vad_rx_bulk(vad_rx_t *const *s, int n, const int16_t *amp, int chan_stride,
                 int sample_stride, int samples, int *active, float *level)
{
    int c;

    for (c = 0; c < n; c++)
    {
        if (s[c] == NULL)
        {
            if (active)
                active[c] = -1;
            if (level)
                level[c] = -99.0f;
            continue;
        }
        dsp_rx_strided(vad_rx_feed, s[c], amp + (ptrdiff_t) c * chan_stride, sample_stride, samples);
        if (active)
            active[c] = s[c]->active;
        if (level)
            level[c] = vad_rx_level(s[c]);
    }
}
