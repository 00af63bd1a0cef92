/*
 * MFC R2 interregister signals: two-out-of-six sender and receiver
 * (ITU-T Q.441, Q.454 sending part, Q.455 receiving part; China No.1 uses
 * the same frequencies and code).
 *
 * Receiver. Six Goertzel filters run over half-blocks of 64 samples (8 ms);
 * each half-block leaves the complex DFT value of its six frequencies, and
 * two neighbouring half-blocks make the DFT of a 128-sample (16 ms) window,
 * Y = Ya + e^{-jw64} Yb, so a new 16 ms window is judged every 8 ms at the
 * cost of one non-overlapped filter bank. 128 samples put the nulls of the
 * rectangular window 62.5 Hz apart, so a component 120 Hz away (the next
 * frequency of the group) leaks in at about -27 dB and one 60 Hz off at
 * about -28 dB. A window is a valid signal when
 *   - the two strongest components are each at or above MFC_MIN_DBM0
 *     (Q.455: operate from -5 to -35 dBm0 per frequency, do not operate at
 *     -42 dBm0 or below; the threshold sits between);
 *   - they differ by no more than MFC_TWIST_DB (Q.455: operate with 5 dB
 *     between adjacent and 7 dB between non-adjacent frequencies);
 *   - the third strongest is MFC_THIRD_DB below the weaker of the two (a
 *     third frequency makes the signal invalid: two out of six only);
 *   - the two carry MFC_PURITY of the window's energy. This is also the
 *     frequency test: a component off by d Hz keeps sinc^2(pi d 128/8000)
 *     of its energy, 0.92 at the +-10 Hz of Q.455 (accepted), 0.44 at 30 Hz
 *     (rejected);
 *   - both halves of the window hold comparable energy (within 6 dB), so a
 *     window that only catches the start or end of a burst does not count.
 * A signal is recognised after two valid windows in a row with the same
 * pair (Q.455: operate time; about 24 to 32 ms after the tone starts, well
 * inside the 40 ms the compelled cycle allows) and released after three
 * windows in a row without it, so an interruption shorter than 8 ms is
 * bridged and a burst shorter than about 16 ms is not recognised.
 *
 * Sender. Two complex phasors per signal, renormalised once per call; no
 * tables and no per-sample branches.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp_priv.h"
#include "dsp/mfc.h"

#define MFC_RATE        8000
#define MFC_HALF        64              /* samples per half-block */
#define MFC_WINDOW      (2 * MFC_HALF)  /* Goertzel window, 16 ms */
#define MFC_TONES       6

/* Receiver limits (see above; Q.455 clause 1) */
#define MFC_MIN_DBM0    (-38.5f)
#define MFC_TWIST_DB    10.0f
#define MFC_THIRD_DB    8.0f
#define MFC_PURITY      0.60f
#define MFC_HALF_RATIO  0.25f
#define MFC_ON_WINDOWS  2
#define MFC_OFF_WINDOWS 3

/* Q.441 table 5: forward f0..f5 and backward f0..f5 */
static const int mfc_freqs[2][MFC_TONES] =
{
    {1380, 1500, 1620, 1740, 1860, 1980},
    {1140, 1020, 900, 780, 660, 540},
};

/* Q.441 table 5: the components of signals 1..15 */
static const int8_t mfc_pairs[MFC_DIGITS][2] =
{
    {0, 1}, {0, 2}, {1, 2}, {0, 3}, {1, 3}, {2, 3}, {0, 4}, {1, 4},
    {2, 4}, {3, 4}, {0, 5}, {1, 5}, {2, 5}, {3, 5}, {4, 5},
};

/* The inverse: signal number for components lo < hi */
static const int8_t mfc_digit_of[MFC_TONES][MFC_TONES] =
{
    {0, 1, 2, 4, 7, 11},
    {1, 0, 3, 5, 8, 12},
    {2, 3, 0, 6, 9, 13},
    {4, 5, 6, 0, 10, 14},
    {7, 8, 9, 10, 0, 15},
    {11, 12, 13, 14, 15, 0},
};

struct mfc_tx_s
{
    float pr[2], pi[2];     /* phasors */
    float wr[2], wi[2];     /* per-sample rotation */
    float amp;              /* peak of each component */
    int backward;
    int digit;
    int allocated;
};

struct mfc_rx_s
{
    float coef[MFC_TONES];          /* 2 cos w */
    float cw[MFC_TONES], sw[MFC_TONES];   /* cos w, sin w */
    float rr[MFC_TONES], ri[MFC_TONES];   /* e^{-j w 64} */
    float s1[MFC_TONES], s2[MFC_TONES];   /* Goertzel state of the current half-block */
    float energy;                   /* sum of squares, current half-block */
    int pos;                        /* samples in the current half-block */
    float yr[MFC_TONES], yi[MFC_TONES];   /* previous half-block's outputs */
    float prev_energy;
    int have_prev;
    float min_power;                /* |Y|^2 of a component at MFC_MIN_DBM0 */
    float twist, third;             /* power ratios */
    int cand, cand_count;           /* last window's pair and how many windows in a row */
    int cur;                        /* signal being received, -1 none */
    int misses;
    int64_t samples;                /* fed since init */
    dsp_events_t evq;
    dsp_event_t events[MFC_EVENT_QUEUE];
    int backward;
    int allocated;
};

int mfc_frequency(int backward, int i)
{
    if (i < 0 || i >= MFC_TONES)
        return -1;
    return mfc_freqs[backward ? 1 : 0][i];
}

int mfc_digit_pair(int digit, int *lo, int *hi)
{
    if (digit < 1 || digit > MFC_DIGITS)
        return -1;
    if (lo)
        *lo = mfc_pairs[digit - 1][0];
    if (hi)
        *hi = mfc_pairs[digit - 1][1];
    return 0;
}

/* ---- sender ------------------------------------------------------------ */

int mfc_tx_size(void)
{
    return (int) sizeof(mfc_tx_t);
}

mfc_tx_t *mfc_tx_init(mfc_tx_t *s, int backward)
{
    int allocated;

    if ((s = dsp_state_init(s, sizeof(*s), &allocated)) == NULL)
        return NULL;
    s->allocated = allocated;
    s->backward = backward ? 1 : 0;
    s->digit = -1;
    mfc_tx_set_level(s, MFC_TX_DEFAULT_DBM0);
    return s;
}

void mfc_tx_release(mfc_tx_t *s)
{
    (void) s;
}

void mfc_tx_free(mfc_tx_t *s)
{
    if (s && s->allocated)
        free(s);
}

int mfc_tx_set_level(mfc_tx_t *s, float dbm0)
{
    if (!(dbm0 >= -60.0f && dbm0 <= 3.0f))
        return -1;
    s->amp = DSP_DBM0_PEAK * powf(10.0f, dbm0 / 20.0f);
    return 0;
}

int mfc_tx_set(mfc_tx_t *s, int digit)
{
    int k;

    if (digit == -1)
    {
        s->digit = -1;
        return 0;
    }
    if (digit < 1 || digit > MFC_DIGITS)
        return -1;
    if (digit == s->digit)
        return 0;           /* keep the phase: a steady signal */
    s->digit = digit;
    for (k = 0; k < 2; k++)
    {
        double w = 2.0 * M_PI * mfc_freqs[s->backward][mfc_pairs[digit - 1][k]] / MFC_RATE;

        s->wr[k] = (float) cos(w);
        s->wi[k] = (float) sin(w);
        s->pr[k] = 1.0f;
        s->pi[k] = 0.0f;
    }
    return 0;
}

int mfc_tx_get_digit(const mfc_tx_t *s)
{
    return s->digit;
}

int mfc_tx(mfc_tx_t *s, int16_t *amp, int samples)
{
    float p0r, p0i, p1r, p1i, w0r, w0i, w1r, w1i, a, t, g;
    int i;

    if (samples <= 0)
        return 0;
    if (s->digit < 0)
    {
        memset(amp, 0, sizeof(amp[0]) * (size_t) samples);
        return samples;
    }
    p0r = s->pr[0]; p0i = s->pi[0]; p1r = s->pr[1]; p1i = s->pi[1];
    w0r = s->wr[0]; w0i = s->wi[0]; w1r = s->wr[1]; w1i = s->wi[1];
    a = s->amp;
    for (i = 0; i < samples; i++)
    {
        float v = a * (p0i + p1i);

        v = fminf(fmaxf(v, -32768.0f), 32767.0f);
        amp[i] = (int16_t) lrintf(v);
        t = p0r * w0r - p0i * w0i;
        p0i = p0r * w0i + p0i * w0r;
        p0r = t;
        t = p1r * w1r - p1i * w1i;
        p1i = p1r * w1i + p1i * w1r;
        p1r = t;
    }
    /* keep the phasors on the unit circle: first-order correction of 1/|p| */
    g = 0.5f * (3.0f - (p0r * p0r + p0i * p0i));
    s->pr[0] = p0r * g; s->pi[0] = p0i * g;
    g = 0.5f * (3.0f - (p1r * p1r + p1i * p1i));
    s->pr[1] = p1r * g; s->pi[1] = p1i * g;
    return samples;
}

void mfc_tx_bulk(mfc_tx_t *const *s, int n, int16_t *amp, int chan_stride, int samples)
{
    int c;

    for (c = 0; c < n; c++)
        if (s[c])
            mfc_tx(s[c], amp + (ptrdiff_t) c * chan_stride, samples);
}

/* ---- receiver ---------------------------------------------------------- */

int mfc_rx_size(void)
{
    return (int) sizeof(mfc_rx_t);
}

mfc_rx_t *mfc_rx_init(mfc_rx_t *s, int backward)
{
    int allocated;
    int k;
    float a;

    if ((s = dsp_state_init(s, sizeof(*s), &allocated)) == NULL)
        return NULL;
    s->allocated = allocated;
    s->backward = backward ? 1 : 0;
    for (k = 0; k < MFC_TONES; k++)
    {
        double w = 2.0 * M_PI * mfc_freqs[s->backward][k] / MFC_RATE;

        s->coef[k] = (float) (2.0 * cos(w));
        s->cw[k] = (float) cos(w);
        s->sw[k] = (float) sin(w);
        s->rr[k] = (float) cos(w * MFC_HALF);
        s->ri[k] = (float) -sin(w * MFC_HALF);
    }
    /* a component of peak a gives |Y| = a * N / 2 over the window */
    a = DSP_DBM0_PEAK * powf(10.0f, MFC_MIN_DBM0 / 20.0f) * (MFC_WINDOW / 2);
    s->min_power = a * a;
    s->twist = powf(10.0f, MFC_TWIST_DB / 10.0f);
    s->third = powf(10.0f, MFC_THIRD_DB / 10.0f);
    s->cand = 0;
    s->cur = -1;
    return s;
}

void mfc_rx_release(mfc_rx_t *s)
{
    (void) s;
}

void mfc_rx_free(mfc_rx_t *s)
{
    if (s && s->allocated)
        free(s);
}

static void mfc_rx_push(mfc_rx_t *s, int value)
{
    dsp_events_push(&s->evq, s->events, MFC_EVENT_QUEUE, value, s->samples);
}

/* Judge the 128-sample window made of the previous and the current half-block. */
static int mfc_rx_window(mfc_rx_t *s, const float *ya_r, const float *ya_i, float ea,
                         const float *yb_r, const float *yb_i, float eb)
{
    float p[MFC_TONES];
    float e = ea + eb;
    int k, k1, k2, k3;

    for (k = 0; k < MFC_TONES; k++)
    {
        float r = ya_r[k] + s->rr[k] * yb_r[k] - s->ri[k] * yb_i[k];
        float i = ya_i[k] + s->rr[k] * yb_i[k] + s->ri[k] * yb_r[k];

        p[k] = r * r + i * i;
    }
    /* the three strongest */
    k1 = 0;
    for (k = 1; k < MFC_TONES; k++)
        if (p[k] > p[k1])
            k1 = k;
    k2 = (k1 == 0) ? 1 : 0;
    for (k = 0; k < MFC_TONES; k++)
        if (k != k1 && p[k] > p[k2])
            k2 = k;
    k3 = -1;
    for (k = 0; k < MFC_TONES; k++)
        if (k != k1 && k != k2 && (k3 < 0 || p[k] > p[k3]))
            k3 = k;
    if (p[k2] < s->min_power)
        return 0;
    if (p[k1] > p[k2] * s->twist)
        return 0;
    if (p[k3] * s->third > p[k2])
        return 0;
    /* a pure tone of peak a: |Y|^2 = (a N/2)^2 and e = a^2 N/2, so |Y|^2 / (e N/2) = 1 */
    if (p[k1] + p[k2] < MFC_PURITY * e * (MFC_WINDOW / 2))
        return 0;
    if (ea < MFC_HALF_RATIO * eb || eb < MFC_HALF_RATIO * ea)
        return 0;
    return (k1 < k2) ? mfc_digit_of[k1][k2] : mfc_digit_of[k2][k1];
}

static void mfc_rx_decide(mfc_rx_t *s, int d)
{
    if (d == s->cand)
    {
        if (s->cand_count < 1000)
            s->cand_count++;
    }
    else
    {
        s->cand = d;
        s->cand_count = 1;
    }
    if (s->cur < 0)
    {
        if (d > 0 && s->cand_count >= MFC_ON_WINDOWS)
        {
            s->cur = d;
            s->misses = 0;
            mfc_rx_push(s, d);
        }
        return;
    }
    if (d == s->cur)
    {
        s->misses = 0;
        return;
    }
    if (d > 0 && s->cand_count >= MFC_ON_WINDOWS)
    {
        /* another signal without a pause between: the old one ended */
        mfc_rx_push(s, MFC_EVENT_END);
        s->cur = d;
        s->misses = 0;
        mfc_rx_push(s, d);
        return;
    }
    if (++s->misses >= MFC_OFF_WINDOWS)
    {
        s->cur = -1;
        s->misses = 0;
        mfc_rx_push(s, MFC_EVENT_END);
    }
}

static void mfc_rx_half_done(mfc_rx_t *s)
{
    float yr[MFC_TONES], yi[MFC_TONES];
    int k;

    for (k = 0; k < MFC_TONES; k++)
    {
        /* y = s[N-1] - e^{-jw} s[N-2]; the DFT over the half is e^{-jw(N-1)} y, and the
         * common factor drops out of |Ya + e^{-jw64} Yb| */
        yr[k] = s->s1[k] - s->cw[k] * s->s2[k];
        yi[k] = s->sw[k] * s->s2[k];
        s->s1[k] = 0.0f;
        s->s2[k] = 0.0f;
    }
    if (s->have_prev)
        mfc_rx_decide(s, mfc_rx_window(s, s->yr, s->yi, s->prev_energy, yr, yi, s->energy));
    memcpy(s->yr, yr, sizeof(yr));
    memcpy(s->yi, yi, sizeof(yi));
    s->prev_energy = s->energy;
    s->have_prev = 1;
    s->energy = 0.0f;
    s->pos = 0;
}

int mfc_rx(mfc_rx_t *s, const int16_t *amp, int samples)
{
    int done = 0;

    while (done < samples)
    {
        int m = MFC_HALF - s->pos;
        float s1[MFC_TONES], s2[MFC_TONES], c[MFC_TONES];
        float e = s->energy;
        int i, k;

        if (m > samples - done)
            m = samples - done;
        for (k = 0; k < MFC_TONES; k++)
        {
            s1[k] = s->s1[k];
            s2[k] = s->s2[k];
            c[k] = s->coef[k];
        }
        for (i = 0; i < m; i++)
        {
            float x = (float) amp[done + i];

            e += x * x;
            for (k = 0; k < MFC_TONES; k++)
            {
                float t = x + c[k] * s1[k] - s2[k];

                s2[k] = s1[k];
                s1[k] = t;
            }
        }
        for (k = 0; k < MFC_TONES; k++)
        {
            s->s1[k] = s1[k];
            s->s2[k] = s2[k];
        }
        s->energy = e;
        s->pos += m;
        s->samples += m;
        done += m;
        if (s->pos == MFC_HALF)
            mfc_rx_half_done(s);
    }
    return s->cur;
}

int mfc_rx_get(mfc_rx_t *s, int64_t *at)
{
    return dsp_events_get(&s->evq, s->events, MFC_EVENT_QUEUE, MFC_EVENT_NONE, at);
}

int mfc_rx_current(const mfc_rx_t *s)
{
    return s->cur;
}

uint32_t mfc_rx_overruns(const mfc_rx_t *s)
{
    return s->evq.overruns;
}

static int mfc_rx_feed(void *s, const int16_t *amp, int samples)
{
    return mfc_rx((mfc_rx_t *) s, amp, samples);
}

void mfc_rx_bulk(mfc_rx_t *const *s, int n, const int16_t *amp, int chan_stride,
                 int sample_stride, int samples, int *digits)
{
    int c;

    for (c = 0; c < n; c++)
    {
        if (s[c] == NULL)
        {
            if (digits)
                digits[c] = -1;
            continue;
        }
        dsp_rx_strided(mfc_rx_feed, s[c], amp + (ptrdiff_t) c * chan_stride, sample_stride, samples);
        /* mfc_rx returns the signal held after the samples: the same as s->cur */
        if (digits)
            digits[c] = s[c]->cur;
    }
}
