/*
 * DTMF detection (ITU-T Q.24) and generation (ITU-T Q.23).
 *
 * Detector. Each group's four frequencies (Q.23 table 1) go through a
 * Goertzel filter over half-windows of DTMF_RX_BLOCK = 52 samples; the
 * eight filters of a sample run as two 4-lane vectors (GCC vector
 * extensions: SSE on x86-64, NEON on ARM), so the cost per sample is two
 * multiply-adds of vectors and one square for the energy, and the half
 * windows whose energy cannot hold a tone at the minimum level skip the
 * filters altogether. Every half-window completes an analysis window of
 * two halves (104 samples, 13 ms, hop 6.5 ms). With a and b the complex
 * outputs of the two halves and r = exp(-j w M) for the filter frequency
 * w and the half length M:
 *
 *   - the window's tone energy is |a + r b|^2 (the 104-sample DFT at w;
 *     its frequency resolution of 77 Hz separates neighbours of a group,
 *     697/770 Hz being the closest at 73 Hz, and its nulls fall on
 *     them);
 *   - the phase of conj(a) r b is (w_signal - w) M, which measures the
 *     tone's frequency offset: +-1.5% (Q.24 accept) and +-3.5% (Q.24
 *     reject) are 0.42/0.98 rad at 697 Hz and 0.97/2.33 rad at 1633 Hz, so
 *     the decision boundary freq_tolerance (2.5%) is a threshold on that
 *     angle, tested without trigonometry as Re p >= cos(limit) |p|;
 *   - |a| and |b| within 6 dB of each other means the tone fills both
 *     halves, i.e. covers at least about 3/4 of the window.
 *
 * A window "hits" digit d when its strongest low and high tones are each
 * above the minimum level, within the twist limits + 3 dB, each stronger
 * by relative_peak_db than the other tones of its group, together at
 * least signal_ratio of the window's energy (talk-off: speech spreads its
 * energy over formants and harmonics, a DTMF signal has nearly all of it
 * in two lines), balanced over the two halves, and each within the
 * frequency tolerance. The twist limits themselves (Q.24: normal twist is
 * the high group above the low group, reverse twist the low above the
 * high) apply to the tone energies summed over the digit's windows: in one
 * window a strong tone leaks into the other group's filters through the
 * sidelobes by an amount that turns with the tones' relative phase, which
 * moves a single window's twist by up to +-1.5 dB; the sum is within
 * +-0.5 dB. There is no separate second-harmonic test: the energy ratio
 * already fails whenever harmonics (or anything else) carry half the
 * energy, and the phase test asks each tone to hold its frequency to 2.5%
 * over every 6.5 ms for 26 ms, which voiced speech does not do on two
 * lines at once.
 *
 * Durations (Q.24 table: accept 40 ms, reject below 23 ms). A tone of D
 * samples gives between floor((D - 52) / 52) and that + 1 consecutive
 * hitting windows (a window hits when the tone covers 3/4 of it, and
 * windows start every 52 samples). A digit is confirmed after n
 * consecutive hits with n = ceil(max_reject / 52): every tone shorter than
 * 52 n samples is rejected (26 ms for n = 4) and every tone of 52 (n + 1)
 * or more is accepted (32.5 ms). A confirmed digit ends after m windows
 * without it, with m = floor((min_off - 104) / 52): a pause of min_off
 * holds at least m windows entirely in silence (4 for 40 ms), while
 * shorter breaks in one tone are bridged (measured: breaks of 10 ms are
 * bridged, 15 ms and more separate two digits). An unconfirmed candidate
 * is dropped at its first miss, so two short bursts never add up to a
 * digit. The 3/4 coverage is approximate (balance is measured on
 * amplitudes, with noise), so the bounds blur by a few ms: measured over
 * random phases and alignments, none of 23 ms, 1 in 64 of 25 ms, all of
 * 36 ms and longer are accepted.
 *
 * Generator: two quadrature oscillators in double precision, restarted at
 * phase 0 for each digit; tone for on_ms, silence for off_ms.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dtmf.h"
#include "dsp/dsp_priv.h"

#define DTMF_M          DTMF_RX_BLOCK
#define DTMF_N          DTMF_RX_WINDOW
#define DTMF_PEAK_0DBM0 22827.0          /* G.711: peak of a 0 dBm0 sine on the 16-bit scale */
#define DTMF_BALANCE    0.25f            /* |a|^2 and |b|^2 within 6 dB of each other */
/* A window's twist can be off by +-1.5 dB (a tone leaks into the other group's
   filters through the window's sidelobes, by an amount that turns with the
   tones' relative phase): each window is held to the limit + 3 dB, the digit
   to the limit on its summed energies. */
#define DTMF_TWIST_WINDOW 2.0f
#define DTMF_PI         3.14159265358979323846

typedef float dtmf_v4_t __attribute__ ((vector_size (16)));

/* Q.23 table 1: the keypad, low group by rows, high group by columns. */
static const char dtmf_digits[16] = {
    '1', '2', '3', 'A',
    '4', '5', '6', 'B',
    '7', '8', '9', 'C',
    '*', '0', '#', 'D'
};

/* Q.23 table 1: low group 697, 770, 852, 941 Hz; high group 1209, 1336, 1477, 1633 Hz. */
static const double dtmf_freq[8] = { 697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0 };

/*
 * Per filter, w = 2 pi f / 8000: the Goertzel coefficient 2 cos w, then
 * cos w and sin w (output y = s1 - exp(-j w) s2), then r = exp(-j w M)
 * with M = 52. Generated by
 *   python3 -c "import math
 *   for f in (697,770,852,941,1209,1336,1477,1633):
 *       w = 2*math.pi*f/8000; print(2*math.cos(w), math.cos(w), math.sin(w), math.cos(52*w), -math.sin(52*w))"
 */
static const dtmf_v4_t dtmf_coef[2] = {
    { 1.707737809e+00f, 1.645281036e+00f, 1.568686984e+00f, 1.478204568e+00f },
    { 1.164104023e+00f, 9.963702107e-01f, 7.986183892e-01f, 5.685327068e-01f }
};
static const dtmf_v4_t dtmf_cos[2] = {
    { 8.538689047e-01f, 8.226405180e-01f, 7.843434919e-01f, 7.391022841e-01f },
    { 5.820520115e-01f, 4.981851053e-01f, 3.993091946e-01f, 2.842663534e-01f }
};
static const dtmf_v4_t dtmf_sin[2] = {
    { 5.204881302e-01f, 5.685618507e-01f, 6.203267580e-01f, 6.735932108e-01f },
    { 8.131515578e-01f, 8.670707012e-01f, 9.168163214e-01f, 9.587453470e-01f }
};
static const dtmf_v4_t dtmf_r_re[2] = {
    { -9.816937285e-01f, 9.995065604e-01f, -9.716317329e-01f, 7.438451298e-01f },
    { 6.301338712e-01f, -4.029064357e-01f, -8.071664232e-01f, -7.521849371e-01f }
};
static const dtmf_v4_t dtmf_r_im[2] = {
    { 1.904663312e-01f, -3.141075908e-02f, 2.364989970e-01f, -6.683520202e-01f },
    { 7.764865127e-01f, 9.152411726e-01f, 5.903239494e-01f, 6.589520623e-01f }
};

struct dtmf_rx_s {
    /* derived from the parameters */
    float level;            /* minimum tone energy |a + r b|^2 */
    float quiet;            /* half-window energy below which no tone can hit */
    float ratio;            /* signal_ratio * N / 2: tone energies against the window's */
    float normal_twist;     /* power ratios, on the energies summed over a digit's windows */
    float reverse_twist;
    float normal_twist_window;  /* looser, on each window */
    float reverse_twist_window;
    float relative_peak;
    float cos_limit[8];     /* cos of the phase limit per filter */
    int hits_needed;
    int misses_needed;
    /* the previous half-window's filter outputs and energy */
    dtmf_v4_t prev_re[2];
    dtmf_v4_t prev_im[2];
    float prev_energy;
    int have_prev;
    /* samples of an incomplete half-window */
    int16_t buf[DTMF_M];
    int fill;
    int buf_silent;         /* buf holds only zeros (set by dtmf_rx_silence, cleared by dtmf_rx) */
    int64_t samples;        /* samples before the half-window being filled */
    /* the digit being tracked */
    int cur;                /* 0..15, or -1 */
    int hits;
    int misses;
    int confirmed;
    int64_t start;
    int64_t end;
    float sum_low;          /* tone energies summed over the digit's hits */
    float sum_high;
    /* results */
    char digits[DTMF_RX_MAX_DIGITS];
    int digit_head;
    int digit_count;
    dtmf_rx_report_t reports[DTMF_RX_MAX_REPORTS];
    int report_head;
    int report_count;
    uint32_t lost;
    int allocated;
};

struct dtmf_tx_s {
    double low_amp;
    double high_amp;
    int on_samples;
    int off_samples;
    double lc, ls, hc, hs;      /* oscillators: cos and sin of the phase */
    double lwc, lws, hwc, hws;  /* rotation per sample */
    int on_left;
    int off_left;
    char queue[DTMF_TX_MAX_DIGITS];
    int head;
    int count;
    int allocated;
};

static int dtmf_digit_index(char c)
{
    int i;

    if (c >= 'a' && c <= 'd')
        c = (char) (c - 'a' + 'A');
    for (i = 0; i < 16; i++)
    {
        if (dtmf_digits[i] == c)
            return i;
    }
    return -1;
}

/* ---- receiver --------------------------------------------------------- */

void dtmf_rx_params_default(dtmf_rx_params_t *p)
{
    p->min_level_dbm0 = -36.0f;
    p->normal_twist_db = 4.0f;
    p->reverse_twist_db = 8.0f;
    p->freq_tolerance = 0.025f;
    p->min_on_ms = 40.0f;
    p->max_reject_ms = 23.0f;
    p->min_off_ms = 40.0f;
    p->signal_ratio = 0.5f;
    p->relative_peak_db = 8.0f;
}

int dtmf_rx_size(void)
{
    return (int) sizeof(dtmf_rx_t);
}

static int dtmf_rx_setup(dtmf_rx_t *s, const dtmf_rx_params_t *p)
{
    double amp;
    double lim;
    int n_reject;
    int n_accept;
    int i;

    if (!(p->min_level_dbm0 > -90.0f && p->min_level_dbm0 < 10.0f)
        || !(p->normal_twist_db >= 0.0f && p->normal_twist_db <= 40.0f)
        || !(p->reverse_twist_db >= 0.0f && p->reverse_twist_db <= 40.0f)
        || !(p->freq_tolerance > 0.0f && p->freq_tolerance <= 0.045f)
        || !(p->min_on_ms >= 0.0f && p->min_on_ms <= 10000.0f)
        || !(p->max_reject_ms >= 0.0f && p->max_reject_ms <= 10000.0f)
        || !(p->min_off_ms >= 0.0f && p->min_off_ms <= 10000.0f)
        || !(p->signal_ratio >= 0.0f && p->signal_ratio <= 1.0f)
        || !(p->relative_peak_db >= 0.0f && p->relative_peak_db <= 60.0f))
        return -1;
    amp = DTMF_PEAK_0DBM0 * pow(10.0, p->min_level_dbm0 / 20.0);
    s->level = (float) ((DTMF_N * amp / 2.0) * (DTMF_N * amp / 2.0));
    /* A hit needs |a + r b|^2 >= level with |a| <= 2 |b|, so 9 |b|^2 >= level,
       and |b|^2 <= M * (energy of the half) (Cauchy-Schwarz); same for a. */
    s->quiet = s->level / (9.0f * DTMF_M);
    s->ratio = p->signal_ratio * DTMF_N / 2.0f;
    s->normal_twist = (float) pow(10.0, p->normal_twist_db / 10.0);
    s->reverse_twist = (float) pow(10.0, p->reverse_twist_db / 10.0);
    s->normal_twist_window = s->normal_twist * DTMF_TWIST_WINDOW;
    s->reverse_twist_window = s->reverse_twist * DTMF_TWIST_WINDOW;
    s->relative_peak = (float) pow(10.0, p->relative_peak_db / 10.0);
    for (i = 0; i < 8; i++)
    {
        /* Phase advance over M samples of a tone off by freq_tolerance; it stays below pi
           (0.045 * 1633 Hz = 73 Hz < 8000 / (2 M) = 77 Hz). */
        lim = 2.0 * DTMF_PI * p->freq_tolerance * dtmf_freq[i] * DTMF_M / DTMF_SAMPLE_RATE;
        s->cos_limit[i] = (float) cos(lim);
    }
    n_reject = (int) ceil(p->max_reject_ms * (DTMF_SAMPLE_RATE / 1000.0) / DTMF_M - 1e-9);
    n_accept = (int) floor(p->min_on_ms * (DTMF_SAMPLE_RATE / 1000.0) / DTMF_M + 1e-9) - 1;
    s->hits_needed = (n_reject <= n_accept) ? n_reject : n_accept;
    if (s->hits_needed < 1)
        s->hits_needed = 1;
    s->misses_needed = (int) floor((p->min_off_ms * (DTMF_SAMPLE_RATE / 1000.0) - DTMF_N) / DTMF_M + 1e-9);
    if (s->misses_needed < 1)
        s->misses_needed = 1;
    return 0;
}

dtmf_rx_t *dtmf_rx_init(dtmf_rx_t *s, const dtmf_rx_params_t *p)
{
    dtmf_rx_params_t defaults;
    int allocated = 0;

    if (p == NULL)
    {
        dtmf_rx_params_default(&defaults);
        p = &defaults;
    }
    if (s == NULL)
    {
        if ((s = (dtmf_rx_t *) malloc(sizeof(*s))) == NULL)
            return NULL;
        allocated = 1;
    }
    memset(s, 0, sizeof(*s));
    if (dtmf_rx_setup(s, p) < 0)
    {
        if (allocated)
            free(s);
        return NULL;
    }
    s->cur = -1;
    s->allocated = allocated;
    return s;
}

void dtmf_rx_release(dtmf_rx_t *s)
{
    (void) s;
}

void dtmf_rx_free(dtmf_rx_t *s)
{
    if (s == NULL)
        return;
    dtmf_rx_release(s);
    if (s->allocated)
        free(s);
}

static void dtmf_rx_push_digit(dtmf_rx_t *s, char c)
{
    if (s->digit_count >= DTMF_RX_MAX_DIGITS)
    {
        s->lost++;
        return;
    }
    s->digits[(s->digit_head + s->digit_count) % DTMF_RX_MAX_DIGITS] = c;
    s->digit_count++;
}

/* The tracked digit has ended: report it if it was confirmed. */
static void dtmf_rx_end(dtmf_rx_t *s)
{
    dtmf_rx_report_t *r;

    if (s->cur >= 0 && s->confirmed)
    {
        if (s->report_count >= DTMF_RX_MAX_REPORTS)
        {
            s->lost++;
        }
        else
        {
            r = &s->reports[(s->report_head + s->report_count) % DTMF_RX_MAX_REPORTS];
            r->digit = dtmf_digits[s->cur];
            r->start = s->start;
            r->duration = (int32_t) (s->end - s->start);
            s->report_count++;
        }
    }
    s->cur = -1;
    s->confirmed = 0;
    s->hits = 0;
    s->misses = 0;
}

/*
 * Follow the hits (d >= 0, with the low and high tone energies) and misses
 * (d < 0) of windows; returns 1 when a digit is confirmed.
 */
static int dtmf_rx_track(dtmf_rx_t *s, int d, const float *tone_energy, int64_t win_start)
{
    if (d < 0)
    {
        if (s->cur < 0)
            return 0;
        if (!s->confirmed || ++s->misses >= s->misses_needed)
            dtmf_rx_end(s);
        return 0;
    }
    if (d != s->cur)
    {
        dtmf_rx_end(s);
        s->cur = d;
        s->start = win_start;
        s->sum_low = 0.0f;
        s->sum_high = 0.0f;
    }
    s->hits++;
    s->misses = 0;
    s->end = win_start + DTMF_N;
    s->sum_low += tone_energy[0];
    s->sum_high += tone_energy[1];
    /* Q.24: twist, normal (high above low) and reverse (low above high), over the digit so far */
    if (!s->confirmed && s->hits >= s->hits_needed
        && s->sum_high <= s->sum_low * s->normal_twist
        && s->sum_low <= s->sum_high * s->reverse_twist)
    {
        s->confirmed = 1;
        dtmf_rx_push_digit(s, dtmf_digits[d]);
        return 1;
    }
    return 0;
}

/* Index (0..3) of the largest lane. */
static inline int dtmf_argmax4(const float *v)
{
    int k = (v[1] > v[0]) ? 1 : 0;

    if (v[2] > v[k])
        k = 2;
    if (v[3] > v[k])
        k = 3;
    return k;
}

/* Within the phase limit: Re p >= cos(limit) |p|. */
static inline int dtmf_rx_freq_ok(float re, float im, float cos_limit)
{
    return re >= cos_limit * sqrtf(re * re + im * im);
}

/*
 * The window made of the previous half (a) and the current one (b): the
 * digit index it hits, or -1; tone_energy gets the low and high tone energies.
 */
static int dtmf_rx_window(const dtmf_rx_t *s, const dtmf_v4_t *b_re, const dtmf_v4_t *b_im, float energy,
                          float *tone_energy)
{
    float e[2][4];
    float pa[2][4];
    float pb[2][4];
    float z_re[2][4];
    float z_im[2][4];
    dtmf_v4_t rb_re;
    dtmf_v4_t rb_im;
    dtmf_v4_t zr;
    dtmf_v4_t zi;
    dtmf_v4_t va;
    dtmf_v4_t vb;
    dtmf_v4_t ve;
    int best[2];
    int g;
    int k;
    float peak;

    for (g = 0; g < 2; g++)
    {
        rb_re = dtmf_r_re[g] * b_re[g] - dtmf_r_im[g] * b_im[g];
        rb_im = dtmf_r_re[g] * b_im[g] + dtmf_r_im[g] * b_re[g];
        zr = s->prev_re[g] * rb_re + s->prev_im[g] * rb_im;
        zi = s->prev_re[g] * rb_im - s->prev_im[g] * rb_re;
        va = s->prev_re[g] * s->prev_re[g] + s->prev_im[g] * s->prev_im[g];
        vb = b_re[g] * b_re[g] + b_im[g] * b_im[g];
        ve = va + vb + 2.0f * zr;
        memcpy(e[g], &ve, sizeof(ve));
        memcpy(pa[g], &va, sizeof(va));
        memcpy(pb[g], &vb, sizeof(vb));
        memcpy(z_re[g], &zr, sizeof(zr));
        memcpy(z_im[g], &zi, sizeof(zi));
        best[g] = dtmf_argmax4(e[g]);
    }
    /* Q.24: level of each tone */
    if (e[0][best[0]] < s->level || e[1][best[1]] < s->level)
        return -1;
    /* Q.24: twist, loosely here (the digit is held to the limits in dtmf_rx_track) */
    if (e[1][best[1]] > e[0][best[0]] * s->normal_twist_window
        || e[0][best[0]] > e[1][best[1]] * s->reverse_twist_window)
        return -1;
    /* talk-off: the two tones hold most of the window's energy */
    if (e[0][best[0]] + e[1][best[1]] < s->ratio * energy)
        return -1;
    for (g = 0; g < 2; g++)
    {
        k = best[g];
        /* one tone per group */
        peak = e[g][k];
        if ((k != 0 && e[g][0] * s->relative_peak > peak)
            || (k != 1 && e[g][1] * s->relative_peak > peak)
            || (k != 2 && e[g][2] * s->relative_peak > peak)
            || (k != 3 && e[g][3] * s->relative_peak > peak))
            return -1;
        /* present in both halves */
        if (pa[g][k] < DTMF_BALANCE * pb[g][k] || pb[g][k] < DTMF_BALANCE * pa[g][k])
            return -1;
        /* Q.24: frequency within the tolerance */
        if (!dtmf_rx_freq_ok(z_re[g][k], z_im[g][k], s->cos_limit[4 * g + k]))
            return -1;
    }
    tone_energy[0] = e[0][best[0]];
    tone_energy[1] = e[1][best[1]];
    return 4 * best[0] + best[1];
}

/* The end of a half-window, whatever it held: track the window's digit (or
 * none) and keep this half's filter outputs and energy for the next window. */
static int dtmf_rx_block_end(dtmf_rx_t *s, const dtmf_v4_t *y_re, const dtmf_v4_t *y_im, int d,
                             const float *tone_energy, float energy)
{
    int got = 0;

    if (s->have_prev)
        got = dtmf_rx_track(s, d, tone_energy, s->samples - DTMF_M);
    s->prev_re[0] = y_re[0];
    s->prev_re[1] = y_re[1];
    s->prev_im[0] = y_im[0];
    s->prev_im[1] = y_im[1];
    s->prev_energy = energy;
    s->have_prev = 1;
    s->samples += DTMF_M;
    return got;
}

/* One half-window of DTMF_M samples; returns 1 when a digit was confirmed. */
static int dtmf_rx_block(dtmf_rx_t *s, const int16_t *amp)
{
    float x[DTMF_M];
    dtmf_v4_t acc = { 0.0f, 0.0f, 0.0f, 0.0f };
    dtmf_v4_t v;
    dtmf_v4_t l1 = { 0.0f, 0.0f, 0.0f, 0.0f };
    dtmf_v4_t l2 = l1;
    dtmf_v4_t h1 = l1;
    dtmf_v4_t h2 = l1;
    dtmf_v4_t t;
    dtmf_v4_t y_re[2];
    dtmf_v4_t y_im[2];
    float energy;
    float tone_energy[2] = { 0.0f, 0.0f };
    int got = 0;
    int d;
    int i;

    for (i = 0; i < DTMF_M; i += 4)
    {
        v = (dtmf_v4_t) { (float) amp[i], (float) amp[i + 1], (float) amp[i + 2], (float) amp[i + 3] };
        memcpy(&x[i], &v, sizeof(v));
        acc += v * v;
    }
    energy = acc[0] + acc[1] + acc[2] + acc[3];
    if (energy < s->quiet)
    {
        /* No tone at the minimum level can show in a window with this half. */
        y_re[0] = y_re[1] = y_im[0] = y_im[1] = l1;
        d = -1;
    }
    else
    {
        /* Goertzel: s[n] = x[n] + 2 cos w s[n-1] - s[n-2], eight filters in two vectors;
           x[n] - s[n-2] first, so a sample costs one multiply and one add of latency */
        for (i = 0; i < DTMF_M; i++)
        {
            t = dtmf_coef[0] * l1 + (x[i] - l2);
            l2 = l1;
            l1 = t;
            t = dtmf_coef[1] * h1 + (x[i] - h2);
            h2 = h1;
            h1 = t;
        }
        /* y = s[M-1] - exp(-j w) s[M-2] = exp(j w (M-1)) * DFT at w */
        y_re[0] = l1 - dtmf_cos[0] * l2;
        y_im[0] = dtmf_sin[0] * l2;
        y_re[1] = h1 - dtmf_cos[1] * h2;
        y_im[1] = dtmf_sin[1] * h2;
        d = (s->have_prev && s->prev_energy >= s->quiet)
            ? dtmf_rx_window(s, y_re, y_im, s->prev_energy + energy, tone_energy) : -1;
    }
    got = dtmf_rx_block_end(s, y_re, y_im, d, tone_energy, energy);
    return got;
}

/* The energy of a half-window all of v, summed as dtmf_rx_block sums it. */
static float dtmf_const_energy(int16_t v)
{
    dtmf_v4_t acc = { 0.0f, 0.0f, 0.0f, 0.0f };
    dtmf_v4_t vv = { (float) v, (float) v, (float) v, (float) v };
    int i;

    for (i = 0; i < DTMF_M; i += 4)
        acc += vv * vv;
    return acc[0] + acc[1] + acc[2] + acc[3];
}

int dtmf_rx_const_idle(const dtmf_rx_t *s, int16_t v)
{
    float energy;
    int g;
    int i;
    int k;

    if (s == NULL || !s->have_prev || s->cur >= 0 || s->digit_count + s->report_count != 0)
        return 0;
    energy = dtmf_const_energy(v);
    if (energy >= s->quiet || s->prev_energy != energy)
        return 0;
    for (g = 0; g < 2; g++)
        for (k = 0; k < 4; k++)
            if (s->prev_re[g][k] != 0.0f || s->prev_im[g][k] != 0.0f)
                return 0;
    for (i = 0; i < s->fill; i++)
        if (s->buf[i] != v)
            return 0;
    return 1;
}

int dtmf_rx_const(dtmf_rx_t *s, int16_t v, int samples)
{
    int16_t blk[DTMF_M];
    const dtmf_v4_t zero[2] = { { 0.0f, 0.0f, 0.0f, 0.0f }, { 0.0f, 0.0f, 0.0f, 0.0f } };
    const float no_tone[2] = { 0.0f, 0.0f };
    float energy;
    int got = 0;
    int i;
    int k;

    if (s == NULL || samples <= 0)
        return 0;
    for (i = 0; i < DTMF_M; i++)
        blk[i] = v;
    energy = dtmf_const_energy(v);
    if (energy >= s->quiet)
    {
        /* loud enough to hold a tone: through the filters as any signal */
        for (; samples > 0; samples -= k)
        {
            k = samples < DTMF_M ? samples : DTMF_M;
            got += dtmf_rx(s, blk, k);
        }
        return got;
    }
    s->buf_silent = 0;
    if (s->fill > 0)
    {
        /* the half-window begun before: completed with v and analysed as ever */
        k = DTMF_M - s->fill;
        if (k > samples)
            k = samples;
        got += dtmf_rx(s, blk, k);
        samples -= k;
    }
    /* whole half-windows of v: too quiet for the filters, as dtmf_rx_block finds */
    for (; samples >= DTMF_M; samples -= DTMF_M)
    {
        got += dtmf_rx_block_end(s, zero, zero, -1, no_tone, energy);
        if (s->cur < 0)
        {
            /* no digit to end: each further half-window of v would leave all as it
             * is now but the sample count */
            s->samples += (int64_t) (samples / DTMF_M - 1) * DTMF_M;
            samples = samples % DTMF_M;
            break;
        }
    }
    if (samples > 0)
        got += dtmf_rx(s, blk, samples);
    return got;
}

int dtmf_rx(dtmf_rx_t *s, const int16_t *amp, int samples)
{
    int got = 0;
    int i = 0;
    int k;

    if (s == NULL || amp == NULL || samples <= 0)
        return 0;
    s->buf_silent = 0;
    if (s->fill > 0)
    {
        k = DTMF_M - s->fill;
        if (k > samples)
            k = samples;
        memcpy(&s->buf[s->fill], amp, (size_t) k * sizeof(amp[0]));
        s->fill += k;
        i = k;
        if (s->fill < DTMF_M)
            return 0;
        got += dtmf_rx_block(s, s->buf);
        s->fill = 0;
    }
    for ( ; samples - i >= DTMF_M; i += DTMF_M)
        got += dtmf_rx_block(s, &amp[i]);
    if (i < samples)
    {
        memcpy(s->buf, &amp[i], (size_t) (samples - i) * sizeof(amp[0]));
        s->fill = samples - i;
    }
    return got;
}

/* Settled into silence: no digit followed, the last half-window was true
 * silence (so its filter outputs are zero) and the buffer holds only zeros.
 * A half-window of zeros then leaves everything but the sample count as it was. */
static int dtmf_rx_settled(const dtmf_rx_t *s)
{
    return s->have_prev && s->cur < 0 && s->prev_energy == 0.0f
           && (s->buf_silent || dsp_all_zero(s->buf, s->fill));
}

int dtmf_rx_silence(dtmf_rx_t *s, int samples)
{
    static const int16_t zeros[DTMF_M] = { 0 };
    int got = 0;
    int k;
    int total;

    if (s == NULL || samples <= 0)
        return 0;
    while (samples > 0 && !dtmf_rx_settled(s))
    {
        /* one half-window at a time through the filters until it settles */
        k = DTMF_M - s->fill;
        if (k > samples)
            k = samples;
        got += dtmf_rx(s, zeros, k);
        samples -= k;
    }
    if (samples > 0)
    {
        total = s->fill + samples;
        s->samples += (int64_t) (total / DTMF_M) * DTMF_M;
        s->fill = total % DTMF_M;
        memset(s->buf, 0, (size_t) s->fill * sizeof(s->buf[0]));
        s->buf_silent = 1;
    }
    return got;
}

int dtmf_rx_idle(const dtmf_rx_t *s)
{
    return s != NULL && dtmf_rx_settled(s) && s->digit_count + s->report_count == 0;
}

int dtmf_rx_bulk(dtmf_rx_t *const *rx, const int16_t *amp, int channels, int samples, int stride)
{
    int got = 0;
    int c;

    if (rx == NULL || amp == NULL || samples <= 0 || stride < samples)
        return 0;
    for (c = 0; c < channels; c++)
    {
        if (rx[c] != NULL)
            got += dtmf_rx(rx[c], &amp[(size_t) c * (size_t) stride], samples);
    }
    return got;
}

int dtmf_rx_bulk_get(dtmf_rx_t *const *rx, int channels, char *digits, int *channel, int max)
{
    dtmf_rx_t *s;
    int n = 0;
    int c;

    if (rx == NULL || digits == NULL || channel == NULL)
        return 0;
    for (c = 0; c < channels && n < max; c++)
    {
        if ((s = rx[c]) == NULL)
            continue;
        while (n < max && s->digit_count > 0)
        {
            digits[n] = s->digits[s->digit_head];
            channel[n++] = c;
            s->digit_head = (s->digit_head + 1) % DTMF_RX_MAX_DIGITS;
            s->digit_count--;
        }
    }
    return n;
}

int dtmf_rx_waiting(const dtmf_rx_t *s)
{
    return s == NULL ? 0 : s->digit_count + s->report_count;
}

int dtmf_rx_get(dtmf_rx_t *s, char *digits, int max)
{
    int n = 0;

    if (s == NULL || digits == NULL || max <= 0)
        return 0;
    while (n < max && s->digit_count > 0)
    {
        digits[n++] = s->digits[s->digit_head];
        s->digit_head = (s->digit_head + 1) % DTMF_RX_MAX_DIGITS;
        s->digit_count--;
    }
    if (n < max)
        digits[n] = '\0';
    return n;
}

int dtmf_rx_get_reports(dtmf_rx_t *s, dtmf_rx_report_t *reports, int max)
{
    int n = 0;

    if (s == NULL || reports == NULL)
        return 0;
    while (n < max && s->report_count > 0)
    {
        reports[n++] = s->reports[s->report_head];
        s->report_head = (s->report_head + 1) % DTMF_RX_MAX_REPORTS;
        s->report_count--;
    }
    return n;
}

int dtmf_rx_status(const dtmf_rx_t *s)
{
    if (s == NULL || s->cur < 0 || !s->confirmed)
        return 0;
    return dtmf_digits[s->cur];
}

uint32_t dtmf_rx_lost(const dtmf_rx_t *s)
{
    return (s == NULL) ? 0 : s->lost;
}

/* ---- generator -------------------------------------------------------- */

void dtmf_tx_params_default(dtmf_tx_params_t *p)
{
    p->low_level_dbm0 = -9.0f;
    p->high_level_dbm0 = -7.0f;
    p->on_ms = 80;
    p->off_ms = 80;
}

int dtmf_tx_size(void)
{
    return (int) sizeof(dtmf_tx_t);
}

dtmf_tx_t *dtmf_tx_init(dtmf_tx_t *s, const dtmf_tx_params_t *p)
{
    dtmf_tx_params_t defaults;
    int allocated = 0;

    if (p == NULL)
    {
        dtmf_tx_params_default(&defaults);
        p = &defaults;
    }
    /* +3.14 dBm0 is full scale; the sum of two tones is clipped if it goes beyond. */
    if (!(p->low_level_dbm0 >= -90.0f && p->low_level_dbm0 <= 3.0f)
        || !(p->high_level_dbm0 >= -90.0f && p->high_level_dbm0 <= 3.0f)
        || p->on_ms < 0 || p->on_ms > 60000 || p->off_ms < 0 || p->off_ms > 60000)
        return NULL;
    if (s == NULL)
    {
        if ((s = (dtmf_tx_t *) malloc(sizeof(*s))) == NULL)
            return NULL;
        allocated = 1;
    }
    memset(s, 0, sizeof(*s));
    s->low_amp = DTMF_PEAK_0DBM0 * pow(10.0, p->low_level_dbm0 / 20.0);
    s->high_amp = DTMF_PEAK_0DBM0 * pow(10.0, p->high_level_dbm0 / 20.0);
    s->on_samples = p->on_ms * (DTMF_SAMPLE_RATE / 1000);
    s->off_samples = p->off_ms * (DTMF_SAMPLE_RATE / 1000);
    s->allocated = allocated;
    return s;
}

void dtmf_tx_release(dtmf_tx_t *s)
{
    (void) s;
}

void dtmf_tx_free(dtmf_tx_t *s)
{
    if (s == NULL)
        return;
    dtmf_tx_release(s);
    if (s->allocated)
        free(s);
}

int dtmf_tx_put(dtmf_tx_t *s, const char *digits, int len)
{
    int i;
    int n;

    if (s == NULL || digits == NULL)
        return -1;
    if (len < 0)
        len = (int) strlen(digits);
    for (i = 0; i < len; i++)
    {
        if (dtmf_digit_index(digits[i]) < 0)
            return -1;
    }
    for (n = 0; n < len && s->count < DTMF_TX_MAX_DIGITS; n++)
    {
        s->queue[(s->head + s->count) % DTMF_TX_MAX_DIGITS] = digits[n];
        s->count++;
    }
    return n;
}

int dtmf_tx_pending(const dtmf_tx_t *s)
{
    if (s == NULL)
        return 0;
    return s->count + ((s->on_left > 0 || s->off_left > 0) ? 1 : 0);
}

static void dtmf_tx_start(dtmf_tx_t *s, int index)
{
    double wl = 2.0 * DTMF_PI * dtmf_freq[index >> 2] / DTMF_SAMPLE_RATE;
    double wh = 2.0 * DTMF_PI * dtmf_freq[4 + (index & 3)] / DTMF_SAMPLE_RATE;

    s->lc = 1.0;
    s->ls = 0.0;
    s->hc = 1.0;
    s->hs = 0.0;
    s->lwc = cos(wl);
    s->lws = sin(wl);
    s->hwc = cos(wh);
    s->hws = sin(wh);
    s->on_left = s->on_samples;
    s->off_left = s->off_samples;
}

static inline int16_t dtmf_sat16(double v)
{
    if (v >= 32767.0)
        return 32767;
    if (v <= -32768.0)
        return -32768;
    return (int16_t) ((v >= 0.0) ? (int) (v + 0.5) : -(int) (0.5 - v));
}

int dtmf_tx(dtmf_tx_t *s, int16_t *amp, int max_samples)
{
    double c;
    int n = 0;
    int k;
    int i;

    if (s == NULL || amp == NULL)
        return 0;
    while (n < max_samples)
    {
        if (s->on_left > 0)
        {
            k = (s->on_left < max_samples - n) ? s->on_left : max_samples - n;
            for (i = 0; i < k; i++)
            {
                amp[n + i] = dtmf_sat16(s->low_amp * s->ls + s->high_amp * s->hs);
                c = s->lc * s->lwc - s->ls * s->lws;
                s->ls = s->ls * s->lwc + s->lc * s->lws;
                s->lc = c;
                c = s->hc * s->hwc - s->hs * s->hws;
                s->hs = s->hs * s->hwc + s->hc * s->hws;
                s->hc = c;
            }
            s->on_left -= k;
            n += k;
        }
        else if (s->off_left > 0)
        {
            k = (s->off_left < max_samples - n) ? s->off_left : max_samples - n;
            memset(&amp[n], 0, (size_t) k * sizeof(amp[0]));
            s->off_left -= k;
            n += k;
        }
        else if (s->count > 0)
        {
            dtmf_tx_start(s, dtmf_digit_index(s->queue[s->head]));
            s->head = (s->head + 1) % DTMF_TX_MAX_DIGITS;
            s->count--;
            if (s->on_left == 0 && s->off_left == 0)
                continue;
        }
        else
        {
            break;
        }
    }
    return n;
}
