/*
 * Call-progress tones: generation and detection with cadence.
 *
 * Sets (frequencies in Hz, cadence in ms on/off):
 *   cn  Chinese tone plan (YD/T 1429 and the national plan): 450 Hz; dial
 *       continuous, ringback 1000/4000, busy 350/350, congestion 700/700.
 *   itu ITU-T E.180 2.x recommended values: 425 Hz; dial continuous,
 *       ringing tone 1000/4000 (E.180: 0.67-1.5 s on, 3-5 s off), busy
 *       500/500 (0.1-0.6 s, equal on and off), congestion 250/250 (a faster
 *       cadence than busy).
 *   us  North American precise tones (E.180 Suppl. 2): dial 350+440
 *       continuous, audible ringing 440+480 2000/4000, busy 480+620 500/500,
 *       reorder 480+620 250/250.
 *   uk  United Kingdom (E.180 Suppl. 2, BT SIN 350): dial 350+450, ringing
 *       400+450 400/200/400/2000, busy 400 375/375, congestion 400
 *       400/350/225/525.
 *   de  Germany (E.180 Suppl. 2): 425 Hz; ringback 1000/4000, busy 480/480,
 *       congestion 240/240.
 *
 * Detector. Blocks of 200 samples (25 ms; 1/200 s puts the nulls of the
 * window 40 Hz apart, which separates 440 from 480 Hz). Each block gets a
 * Goertzel power at each distinct frequency of the set, its energy and its
 * zero crossings, and is classed:
 *   silence     below CPT_MIN_DBM0;
 *   signature   the frequencies of one of the set's tones carry CPT_PURITY of
 *               the energy, each of them at least CPT_COMPONENT;
 *   other       anything else (speech, noise, a tone not in the set).
 * Runs of signature blocks and silent blocks make on and off intervals; a
 * tone is confirmed when the last intervals match its cadence (each within
 * CPT_TOL_PCT % + CPT_TOL_MS), twice over for cadences shorter than 2 s and
 * once for longer ones (ringback), or for a continuous tone when it lasts
 * longer than any cadenced tone of the same frequencies may. "Other" blocks
 * make voice when they fill 6 of the last 10 blocks and the energy changes by
 * 1.5 times or more between blocks in 3 of them (syllables; line noise is
 * steadier), and voice ends 1 s after the last two "other" blocks in a row
 * (a lone one is the edge of a tone burst that starts or ends inside a
 * block); a steady "other" (energy and zero crossings) for 400 ms is an
 * unknown tone. Blocks within 6 dB of a noise floor learnt from non-tone
 * blocks count as silence. Voice after ringback (confirmed, or a ringback-length burst
 * seen) is reported as an answer.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/cpt.h"
#include "dsp/dsp_priv.h"

#define CPT_RATE        8000
#define CPT_BLOCK       200             /* samples, 25 ms */
#define CPT_BLOCK_MS    25
#define CPT_MAX_FREQS   4
#define CPT_MIN_DBM0    (-40.0f)        /* block power below this is silence */
#define CPT_PURITY      0.70f
#define CPT_COMPONENT   0.10f
#define CPT_TOL_PCT     15
#define CPT_TOL_MS      50
#define CPT_HIST        8
#define CPT_VOICE_WIN   10              /* blocks looked at for voice onset */
#define CPT_VOICE_MIN   6               /* of them "other" */
#define CPT_VOICE_VAR   3               /* of them with energy changing by CPT_VARY or more */
#define CPT_VARY        1.5f
#define CPT_STEADY      1.4f            /* energy ratio of steady blocks */
#define CPT_FLOOR_MARGIN 4.0f           /* silence: within 6 dB of the noise floor */
#define CPT_FLOOR_FAST  1.122f          /* floor rise per steady block (0.5 dB) */
#define CPT_FLOOR_SLOW  1.0116f         /* and per other block (0.05 dB) */
#define CPT_VOICE_HANG  40              /* blocks without a run of "other" to end voice (1 s) */
#define CPT_STEADY_RUN  16              /* steady "other" blocks for an unknown tone (400 ms) */
#define CPT_GONE_MS     300             /* silence beyond a tone's longest off: the tone has stopped */
#define CPT_CONT_MIN_MS 1000            /* a continuous tone is confirmed after at least this */

typedef struct
{
    const char *name;
    const char *description;
    cpt_tone_info_t tones[CPT_TONES];   /* [0] unused */
} cpt_set_def_t;

static const cpt_set_def_t cpt_sets[] =
{
    {"cn", "China, 450 Hz national tone plan",
        {{0, 0, {0, 0, 0, 0}, 0.0f},
         {450, 0, {0, 0, 0, 0}, -10.0f},
         {450, 0, {1000, 4000, 0, 0}, -10.0f},
         {450, 0, {350, 350, 0, 0}, -10.0f},
         {450, 0, {700, 700, 0, 0}, -10.0f}}},
    {"itu", "ITU-T E.180 recommended, 425 Hz",
        {{0, 0, {0, 0, 0, 0}, 0.0f},
         {425, 0, {0, 0, 0, 0}, -10.0f},
         {425, 0, {1000, 4000, 0, 0}, -10.0f},
         {425, 0, {500, 500, 0, 0}, -10.0f},
         {425, 0, {250, 250, 0, 0}, -10.0f}}},
    {"us", "North America, precise tones",
        {{0, 0, {0, 0, 0, 0}, 0.0f},
         {350, 440, {0, 0, 0, 0}, -13.0f},
         {440, 480, {2000, 4000, 0, 0}, -19.0f},
         {480, 620, {500, 500, 0, 0}, -24.0f},
         {480, 620, {250, 250, 0, 0}, -24.0f}}},
    {"uk", "United Kingdom",
        {{0, 0, {0, 0, 0, 0}, 0.0f},
         {350, 450, {0, 0, 0, 0}, -13.0f},
         {400, 450, {400, 200, 400, 2000}, -16.0f},
         {400, 0, {375, 375, 0, 0}, -13.0f},
         {400, 0, {400, 350, 225, 525}, -13.0f}}},
    {"de", "Germany, 425 Hz",
        {{0, 0, {0, 0, 0, 0}, 0.0f},
         {425, 0, {0, 0, 0, 0}, -10.0f},
         {425, 0, {1000, 4000, 0, 0}, -10.0f},
         {425, 0, {480, 480, 0, 0}, -10.0f},
         {425, 0, {240, 240, 0, 0}, -10.0f}}},
};

#define CPT_SETS ((int) (sizeof(cpt_sets) / sizeof(cpt_sets[0])))

int cpt_set_count(void)
{
    return CPT_SETS;
}

const char *cpt_set_name(int set)
{
    return (set >= 0 && set < CPT_SETS) ? cpt_sets[set].name : NULL;
}

const char *cpt_set_description(int set)
{
    return (set >= 0 && set < CPT_SETS) ? cpt_sets[set].description : NULL;
}

int cpt_set_find(const char *name)
{
    int i;

    if (name == NULL)
        return -1;
    for (i = 0; i < CPT_SETS; i++)
        if (strcmp(cpt_sets[i].name, name) == 0)
            return i;
    return -1;
}

int cpt_tone_info(int set, int tone, cpt_tone_info_t *info)
{
    if (set < 0 || set >= CPT_SETS || tone < 1 || tone >= CPT_TONES)
        return -1;
    if (info)
        *info = cpt_sets[set].tones[tone];
    return 0;
}

/* ---- generator --------------------------------------------------------- */

struct cpt_tx_s
{
    float pr[2], pi[2], wr[2], wi[2];
    float amp[2];
    int cadence[4];         /* samples */
    int nseg;               /* 0 continuous, 2 or 4 */
    int seg, left;          /* current segment and samples left in it */
    int playing;            /* tone id, -2 custom, 0 none */
    int set;
    float level_override;   /* NaN: the set's */
    float level;            /* dBm0 of the tone playing */
    int allocated;
};

int cpt_tx_size(void)
{
    return (int) sizeof(cpt_tx_t);
}

cpt_tx_t *cpt_tx_init(cpt_tx_t *s, int set)
{
    int allocated;

    if (set < 0 || set >= CPT_SETS)
        return NULL;
    if ((s = dsp_state_init(s, sizeof(*s), &allocated)) == NULL)
        return NULL;
    s->allocated = allocated;
    s->set = set;
    s->level_override = NAN;
    return s;
}

void cpt_tx_release(cpt_tx_t *s)
{
    (void) s;
}

void cpt_tx_free(cpt_tx_t *s)
{
    if (s && s->allocated)
        free(s);
}

static void cpt_tx_amps(cpt_tx_t *s)
{
    float level = isnan(s->level_override) ? s->level : s->level_override;
    float a = DSP_DBM0_PEAK * powf(10.0f, level / 20.0f);

    s->amp[0] = a;
    s->amp[1] = (s->wi[1] != 0.0f || s->wr[1] != 1.0f) ? a : 0.0f;
}

static int cpt_tx_start(cpt_tx_t *s, int f1, int f2, const int *cadence, float level, int id)
{
    int k, f[2] = {f1, f2};

    if (f1 <= 0 || f1 >= CPT_RATE / 2 || f2 < 0 || f2 >= CPT_RATE / 2)
        return -1;
    for (k = 0; k < 4; k++)
        if (cadence[k] < 0 || cadence[k] > 60000)
            return -1;
    for (k = 0; k < 2; k++)
    {
        double w = 2.0 * M_PI * f[k] / CPT_RATE;

        s->wr[k] = (float) cos(w);
        s->wi[k] = (float) sin(w);
        s->pr[k] = 1.0f;
        s->pi[k] = 0.0f;
    }
    for (k = 0; k < 4; k++)
        s->cadence[k] = cadence[k] * (CPT_RATE / 1000);
    if (cadence[0] == 0)
        s->nseg = 0;
    else if (cadence[2] == 0)
        s->nseg = 2;
    else
        s->nseg = 4;
    s->seg = 0;
    s->left = s->cadence[0];
    s->level = level;
    s->playing = id;
    cpt_tx_amps(s);
    return 0;
}

int cpt_tx_play(cpt_tx_t *s, int tone)
{
    const cpt_tone_info_t *t;

    if (tone == 0 || tone == -1)
    {
        s->playing = 0;
        return 0;
    }
    if (tone < 1 || tone >= CPT_TONES)
        return -1;
    t = &cpt_sets[s->set].tones[tone];
    return cpt_tx_start(s, t->f1, t->f2, t->cadence, t->level_dbm0, tone);
}

int cpt_tx_play_custom(cpt_tx_t *s, int f1, int f2, int on1, int off1, int on2, int off2)
{
    int cadence[4] = {on1, off1, on2, off2};

    if (on1 > 0 && off1 <= 0)
        return -1;
    if (on2 > 0 && (on1 <= 0 || off2 <= 0))
        return -1;
    return cpt_tx_start(s, f1, f2, cadence, -13.0f, -2);
}

int cpt_tx_set_level(cpt_tx_t *s, float dbm0)
{
    if (isnan(dbm0))
        s->level_override = NAN;
    else if (dbm0 >= -60.0f && dbm0 <= 3.0f)
        s->level_override = dbm0;
    else
        return -1;
    cpt_tx_amps(s);
    return 0;
}

int cpt_tx_playing(const cpt_tx_t *s)
{
    return s->playing;
}

/* n samples of the two phasors (on) */
static void cpt_tx_tone(cpt_tx_t *s, int16_t *amp, int n)
{
    float p0r = s->pr[0], p0i = s->pi[0], p1r = s->pr[1], p1i = s->pi[1];
    float w0r = s->wr[0], w0i = s->wi[0], w1r = s->wr[1], w1i = s->wi[1];
    float a0 = s->amp[0], a1 = s->amp[1], t, g;
    int i;

    for (i = 0; i < n; i++)
    {
        float v = a0 * p0i + a1 * p1i;

        v = fminf(fmaxf(v, -32768.0f), 32767.0f);
        amp[i] = (int16_t) lrintf(v);
        t = p0r * w0r - p0i * w0i;
        p0i = p0r * w0i + p0i * w0r;
        p0r = t;
        t = p1r * w1r - p1i * w1i;
        p1i = p1r * w1i + p1i * w1r;
        p1r = t;
    }
    g = 0.5f * (3.0f - (p0r * p0r + p0i * p0i));
    s->pr[0] = p0r * g; s->pi[0] = p0i * g;
    g = 0.5f * (3.0f - (p1r * p1r + p1i * p1i));
    s->pr[1] = p1r * g; s->pi[1] = p1i * g;
}

int cpt_tx(cpt_tx_t *s, int16_t *amp, int samples)
{
    int done = 0;

    if (samples <= 0)
        return 0;
    if (s->playing == 0)
    {
        memset(amp, 0, sizeof(amp[0]) * (size_t) samples);
        return samples;
    }
    if (s->nseg == 0)
    {
        cpt_tx_tone(s, amp, samples);
        return samples;
    }
    while (done < samples)
    {
        int m = samples - done;

        if (m > s->left)
            m = s->left;
        if ((s->seg & 1) == 0)
            cpt_tx_tone(s, amp + done, m);
        else
            memset(amp + done, 0, sizeof(amp[0]) * (size_t) m);
        done += m;
        s->left -= m;
        if (s->left == 0)
        {
            s->seg = (s->seg + 1) % s->nseg;
            s->left = s->cadence[s->seg];
        }
    }
    return samples;
}

void cpt_tx_bulk(cpt_tx_t *const *s, int n, int16_t *amp, int chan_stride, int samples)
{
    int c;

    for (c = 0; c < n; c++)
        if (s[c])
            cpt_tx(s[c], amp + (ptrdiff_t) c * chan_stride, samples);
}

/* ---- detector ---------------------------------------------------------- */

#define CPT_CLS_OTHER   (-1)
#define CPT_CLS_SILENCE 0

typedef struct
{
    int mask;               /* bits of the set's frequency list */
    int nseg;               /* 0 continuous, 2 or 4 */
    int lo[4], hi[4];       /* blocks */
    int cycles;             /* cadence repeats to confirm */
    int gone;               /* off blocks after which the tone has stopped */
    int cont;               /* continuous: on blocks to confirm */
} cpt_pattern_t;

struct cpt_rx_s
{
    int set;
    int nfreq;
    float coef[CPT_MAX_FREQS];
    int masks[CPT_TONES];   /* distinct signatures, most components first */
    int nmasks;
    cpt_pattern_t pat[CPT_TONES];
    float min_energy;       /* block energy at CPT_MIN_DBM0 */
    float floor;            /* noise floor, block energy */

    /* block in progress */
    float s1[CPT_MAX_FREQS], s2[CPT_MAX_FREQS];
    float energy;
    int zc;
    int16_t last;
    int pos;

    /* previous block, for steadiness */
    float prev_energy;
    int prev_zc;
    int prev_cls;

    /* intervals */
    int run_mask;           /* mask of the current interval (0 = off, -1 = none yet) */
    int run_len;            /* blocks */
    int hist_mask[CPT_HIST], hist_len[CPT_HIST];
    int nhist;              /* valid entries, newest at [0] */

    uint32_t other_bits;    /* newest block in bit 0 */
    uint32_t vary_bits;
    int other_idle;         /* blocks since the last of two or more "other" in a row */
    int steady_run;
    int ringback_seen;

    int state;
    int tone_gone;          /* off blocks that end the current tone state */
    int64_t samples;
    dsp_events_t evq;
    dsp_event_t events[CPT_EVENT_QUEUE];
    int allocated;
};

int cpt_rx_size(void)
{
    return (int) sizeof(cpt_rx_t);
}

static int cpt_ms_blocks(int ms)
{
    return (ms + CPT_BLOCK_MS / 2) / CPT_BLOCK_MS;
}

static int cpt_popcount(uint32_t x)
{
    return __builtin_popcount(x);
}

cpt_rx_t *cpt_rx_init(cpt_rx_t *s, int set)
{
    const cpt_set_def_t *def;
    int allocated;
    int t, k, u;
    float a;

    if (set < 0 || set >= CPT_SETS)
        return NULL;
    if ((s = dsp_state_init(s, sizeof(*s), &allocated)) == NULL)
        return NULL;
    s->allocated = allocated;
    s->set = set;
    def = &cpt_sets[set];
    /* the set's distinct frequencies and each tone's signature */
    for (t = 1; t < CPT_TONES; t++)
    {
        int f[2] = {def->tones[t].f1, def->tones[t].f2};
        int mask = 0;

        for (u = 0; u < 2; u++)
        {
            if (f[u] <= 0)
                continue;
            for (k = 0; k < s->nfreq; k++)
                if (fabsf(s->coef[k] - (float) (2.0 * cos(2.0 * M_PI * f[u] / CPT_RATE))) < 1e-6f)
                    break;
            if (k == s->nfreq && s->nfreq < CPT_MAX_FREQS)
                s->coef[s->nfreq++] = (float) (2.0 * cos(2.0 * M_PI * f[u] / CPT_RATE));
            if (k < CPT_MAX_FREQS)
                mask |= 1 << k;
        }
        s->pat[t].mask = mask;
    }
    /* distinct signatures, two-frequency ones first */
    for (u = 2; u >= 1; u--)
        for (t = 1; t < CPT_TONES; t++)
        {
            int m = s->pat[t].mask;

            if (cpt_popcount((uint32_t) m) != u)
                continue;
            for (k = 0; k < s->nmasks; k++)
                if (s->masks[k] == m)
                    break;
            if (k == s->nmasks)
                s->masks[s->nmasks++] = m;
        }
    /* cadences in blocks, with tolerance */
    for (t = 1; t < CPT_TONES; t++)
    {
        const int *cad = def->tones[t].cadence;
        cpt_pattern_t *p = &s->pat[t];
        int longest_off = 0;

        p->nseg = (cad[0] == 0) ? 0 : (cad[2] == 0) ? 2 : 4;
        for (k = 0; k < p->nseg; k++)
        {
            int tol = cad[k] * CPT_TOL_PCT / 100 + CPT_TOL_MS;

            p->lo[k] = cpt_ms_blocks(cad[k] - tol);
            p->hi[k] = cpt_ms_blocks(cad[k] + tol);
            if ((k & 1) && cad[k] > longest_off)
                longest_off = cad[k];
        }
        p->cycles = (p->nseg && cad[0] + cad[1] + cad[2] + cad[3] < 2000) ? 2 : 1;
        p->gone = cpt_ms_blocks(longest_off + longest_off * CPT_TOL_PCT / 100 + CPT_GONE_MS);
    }
    /* a continuous tone outlasts every cadenced tone of its frequencies */
    for (t = 1; t < CPT_TONES; t++)
    {
        cpt_pattern_t *p = &s->pat[t];

        if (p->nseg)
            continue;
        p->cont = cpt_ms_blocks(CPT_CONT_MIN_MS);
        for (u = 1; u < CPT_TONES; u++)
            if (s->pat[u].nseg && s->pat[u].mask == p->mask)
                for (k = 0; k < s->pat[u].nseg; k += 2)
                    if (s->pat[u].hi[k] + 2 > p->cont)
                        p->cont = s->pat[u].hi[k] + 2;
    }
    a = DSP_DBM0_PEAK * powf(10.0f, CPT_MIN_DBM0 / 20.0f);
    s->min_energy = a * a * 0.5f * CPT_BLOCK;
    cpt_rx_reset(s);
    return s;
}

void cpt_rx_reset(cpt_rx_t *s)
{
    int k;

    for (k = 0; k < CPT_MAX_FREQS; k++)
        s->s1[k] = s->s2[k] = 0.0f;
    s->energy = 0.0f;
    s->zc = 0;
    s->last = 0;
    s->pos = 0;
    s->prev_energy = 0.0f;
    s->prev_zc = 0;
    s->prev_cls = CPT_CLS_SILENCE;
    s->run_mask = -1;
    s->run_len = 0;
    s->nhist = 0;
    s->other_bits = 0;
    s->vary_bits = 0;
    s->other_idle = 1000;
    s->steady_run = 0;
    s->ringback_seen = 0;
    s->floor = s->min_energy;
    s->state = CPT_SILENCE;
    s->tone_gone = 0;
    s->evq.head = s->evq.count = 0;
}

void cpt_rx_release(cpt_rx_t *s)
{
    (void) s;
}

void cpt_rx_free(cpt_rx_t *s)
{
    if (s && s->allocated)
        free(s);
}

static void cpt_rx_push(cpt_rx_t *s, int value)
{
    dsp_events_push(&s->evq, s->events, CPT_EVENT_QUEUE, value, s->samples);
}

static void cpt_rx_set_state(cpt_rx_t *s, int state)
{
    if (state == s->state)
        return;
    if (state == CPT_VOICE && s->ringback_seen)
    {
        s->state = state;
        cpt_rx_push(s, CPT_VOICE);
        cpt_rx_push(s, CPT_ANSWER);
        s->ringback_seen = 0;
        return;
    }
    s->state = state;
    cpt_rx_push(s, state);
}

static int cpt_in(int len, int lo, int hi)
{
    return len >= lo && len <= hi;
}

/* Does the history, with the current off interval as pattern element last, match tone t? */
static int cpt_cadence_match(const cpt_rx_t *s, const cpt_pattern_t *p, int last)
{
    int need = p->nseg * p->cycles - 1;     /* completed intervals before the current off */
    int j, e;

    if (s->nhist < need)
        return 0;
    if (s->run_len < p->lo[last] || s->run_len > p->hi[last])
        return 0;
    e = last;
    for (j = 0; j < need; j++)
    {
        e = (e + p->nseg - 1) % p->nseg;
        if ((e & 1) == 0)
        {
            if (s->hist_mask[j] != p->mask)
                return 0;
        }
        else if (s->hist_mask[j] != 0)
            return 0;
        if (!cpt_in(s->hist_len[j], p->lo[e], p->hi[e]))
            return 0;
    }
    return 1;
}

static void cpt_rx_push_interval(cpt_rx_t *s)
{
    int j;

    if (s->run_mask < 0 || s->run_len == 0)
        return;
    for (j = CPT_HIST - 1; j > 0; j--)
    {
        s->hist_mask[j] = s->hist_mask[j - 1];
        s->hist_len[j] = s->hist_len[j - 1];
    }
    s->hist_mask[0] = s->run_mask;
    s->hist_len[0] = s->run_len;
    if (s->nhist < CPT_HIST)
        s->nhist++;
    /* a burst as long as a ringback burst hints at ringing, for answer detection */
    if (s->run_mask > 0 && s->run_mask == s->pat[CPT_RINGBACK].mask
        && s->pat[CPT_RINGBACK].nseg
        && cpt_in(s->run_len, s->pat[CPT_RINGBACK].lo[0], s->pat[CPT_RINGBACK].hi[0]))
        s->ringback_seen = 1;
}

static void cpt_rx_tone_confirmed(cpt_rx_t *s, int t)
{
    s->tone_gone = s->pat[t].gone;
    if (t == CPT_RINGBACK)
        s->ringback_seen = 1;
    else
        s->ringback_seen = 0;
    cpt_rx_set_state(s, t);
}

static void cpt_rx_block(cpt_rx_t *s, const float *p, float e, int zc)
{
    int cls = CPT_CLS_OTHER;
    int t, k, steady, vary;

    /* class of the block */
    if (e < s->min_energy)
    {
        cls = CPT_CLS_SILENCE;
    }
    else
    {
        /* line noise: learnt from blocks that are not a tone of the set */
        float ref = e * (CPT_BLOCK / 2);

        for (k = 0; k < s->nmasks; k++)
        {
            int m = s->masks[k], b, ok = 1;
            float sum = 0.0f;

            for (b = 0; b < s->nfreq; b++)
            {
                if (!(m & (1 << b)))
                    continue;
                sum += p[b];
                if (p[b] < CPT_COMPONENT * ref)
                    ok = 0;
            }
            if (ok && sum >= CPT_PURITY * ref)
            {
                cls = m;
                break;
            }
        }
        if (cls == CPT_CLS_OTHER && e < CPT_FLOOR_MARGIN * s->floor)
            cls = CPT_CLS_SILENCE;
    }
    /* the noise floor follows non-tone blocks down at once and up slowly
     * (faster while the energy is steady, as line noise is and speech is not) */
    if (cls <= 0)
    {
        if (e < s->floor)
            s->floor = e > s->min_energy ? e : s->min_energy;
        else if (e < CPT_STEADY * s->prev_energy && s->prev_energy < CPT_STEADY * e)
            s->floor *= CPT_FLOOR_FAST;
        else
            s->floor *= CPT_FLOOR_SLOW;
    }

    /* voice and unknown tones from "other" blocks */
    steady = 0;
    vary = 0;
    if (cls == CPT_CLS_OTHER && s->prev_cls == CPT_CLS_OTHER)
    {
        int dz = zc - s->prev_zc;

        steady = (dz >= -2 - zc / 32 && dz <= 2 + zc / 32
                  && e < CPT_STEADY * s->prev_energy && s->prev_energy < CPT_STEADY * e);
    }
    if (cls == CPT_CLS_OTHER)
        vary = e > CPT_VARY * s->prev_energy || s->prev_energy > CPT_VARY * e;
    s->other_bits = (s->other_bits << 1) | (cls == CPT_CLS_OTHER);
    s->vary_bits = (s->vary_bits << 1) | vary;
    s->steady_run = (cls == CPT_CLS_OTHER && steady) ? s->steady_run + 1 : 0;
    /* The hangover that holds voice counts from the last run of "other"
     * blocks, not from any lone one: a burst of a tone that starts or ends
     * inside a block leaves a block holding too little of it to pass
     * CPT_PURITY (the share of the Goertzel power is the share of the block
     * the tone fills), which the intervals below take as part of the burst.
     * Counted as voice, that block came back with every burst and a tone
     * whose cadence repeats within CPT_VOICE_HANG (busy, congestion) held the
     * detector in voice for as long as it played after voice or DTMF. */
    s->other_idle = (cls == CPT_CLS_OTHER && s->prev_cls == CPT_CLS_OTHER) ? 0 : s->other_idle + 1;
    s->prev_cls = cls;
    s->prev_energy = e;
    s->prev_zc = zc;

    /* intervals: a single "other" block inside a run is taken as part of it */
    if (cls == CPT_CLS_OTHER)
    {
        if ((s->other_bits & 3) == 3)
        {
            s->nhist = 0;
            s->run_mask = -1;
            s->run_len = 0;
        }
        else if (s->run_mask >= 0)
        {
            s->run_len++;
        }
    }
    else if (cls == s->run_mask)
    {
        s->run_len++;
    }
    else
    {
        cpt_rx_push_interval(s);
        s->run_mask = cls;
        s->run_len = 1;
    }

    /* voice, unknown tone */
    {
        uint32_t win = (1u << CPT_VOICE_WIN) - 1;

        if (s->steady_run >= CPT_STEADY_RUN)
        {
            cpt_rx_set_state(s, CPT_UNKNOWN_TONE);
            return;
        }
        if (cpt_popcount(s->other_bits & win) >= CPT_VOICE_MIN
            && cpt_popcount(s->vary_bits & win) >= CPT_VOICE_VAR)
        {
            cpt_rx_set_state(s, CPT_VOICE);
            return;
        }
        if ((s->state == CPT_VOICE || s->state == CPT_UNKNOWN_TONE) && s->other_idle < CPT_VOICE_HANG)
            return;
    }

    /* tones */
    if (s->run_mask > 0)
    {
        for (t = 1; t < CPT_TONES; t++)
        {
            const cpt_pattern_t *p = &s->pat[t];

            if (p->nseg == 0 && p->mask == s->run_mask && s->run_len >= p->cont)
            {
                cpt_rx_tone_confirmed(s, t);
                return;
            }
        }
        if (s->state >= CPT_DIAL && s->state <= CPT_CONGESTION && s->pat[s->state].nseg)
        {
            /* a cadenced tone that stays on far too long has stopped being that tone */
            const cpt_pattern_t *p = &s->pat[s->state];
            int longest = p->hi[0] > p->hi[p->nseg - 2] ? p->hi[0] : p->hi[p->nseg - 2];

            if (p->mask != s->run_mask || s->run_len > longest + 2 * cpt_ms_blocks(1000))
                cpt_rx_set_state(s, CPT_UNKNOWN_TONE);
        }
        return;
    }
    if (s->run_mask == 0)
    {
        for (t = 1; t < CPT_TONES; t++)
        {
            const cpt_pattern_t *p = &s->pat[t];
            int last;

            for (last = 1; last < p->nseg; last += 2)
                if (cpt_cadence_match(s, p, last))
                {
                    cpt_rx_tone_confirmed(s, t);
                    return;
                }
        }
        if (s->state != CPT_SILENCE)
        {
            int gone = (s->state >= CPT_DIAL && s->state <= CPT_CONGESTION) ? s->tone_gone
                                                                            : cpt_ms_blocks(CPT_GONE_MS);

            if (s->run_len > gone)
                cpt_rx_set_state(s, CPT_SILENCE);
        }
    }
}

static int cpt_goertzel_idle(const cpt_rx_t *s)
{
    int k;

    for (k = 0; k < CPT_MAX_FREQS; k++)
        if (s->s1[k] != 0.0f || s->s2[k] != 0.0f)
            return 0;
    return 1;
}

int cpt_rx(cpt_rx_t *s, const int16_t *amp, int samples)
{
    int done = 0;

    while (done < samples)
    {
        int m = CPT_BLOCK - s->pos;
        float s1[CPT_MAX_FREQS], s2[CPT_MAX_FREQS], c[CPT_MAX_FREQS];
        float e = s->energy;
        int zc = s->zc;
        int16_t last = s->last;
        int i, k;

        if (m > samples - done)
            m = samples - done;
        if (cpt_goertzel_idle(s) && dsp_all_zero(amp + done, m))
        {
            /* True silence while every Goertzel state is zero (an idle line's usual
             * input): the states stay zero and add no energy, so skip the filters;
             * only a sign change from the last sample before can count as a zero
             * crossing. The block, when it completes, has zero powers. */
            s->zc += (int) (((uint16_t) last) >> 15);
            s->last = 0;
            s->pos += m;
            s->samples += m;
            done += m;
            if (s->pos == CPT_BLOCK)
            {
                float p[CPT_MAX_FREQS] = {0};

                cpt_rx_block(s, p, s->energy, s->zc);
                s->energy = 0.0f;
                s->zc = 0;
                s->pos = 0;
            }
            continue;
        }
        for (k = 0; k < CPT_MAX_FREQS; k++)
        {
            s1[k] = s->s1[k];
            s2[k] = s->s2[k];
            c[k] = s->coef[k];
        }
        for (i = 0; i < m; i++)
        {
            int16_t v = amp[done + i];
            float x = (float) v;

            e += x * x;
            zc += (int) (((uint16_t) (v ^ last)) >> 15);
            last = v;
            for (k = 0; k < CPT_MAX_FREQS; k++)
            {
                float t = x + c[k] * s1[k] - s2[k];

                s2[k] = s1[k];
                s1[k] = t;
            }
        }
        s->energy = e;
        s->zc = zc;
        s->last = last;
        s->pos += m;
        s->samples += m;
        done += m;
        if (s->pos == CPT_BLOCK)
        {
            float p[CPT_MAX_FREQS];

            for (k = 0; k < CPT_MAX_FREQS; k++)
            {
                /* |DFT|^2 from the last two states */
                p[k] = s1[k] * s1[k] + s2[k] * s2[k] - c[k] * s1[k] * s2[k];
                s->s1[k] = s->s2[k] = 0.0f;
            }
            cpt_rx_block(s, p, e, zc);
            s->energy = 0.0f;
            s->zc = 0;
            s->pos = 0;
        }
        else
        {
            for (k = 0; k < CPT_MAX_FREQS; k++)
            {
                s->s1[k] = s1[k];
                s->s2[k] = s2[k];
            }
        }
    }
    return s->state;
}

int cpt_rx_get(cpt_rx_t *s, int64_t *at)
{
    return dsp_events_get(&s->evq, s->events, CPT_EVENT_QUEUE, CPT_EVENT_NONE, at);
}

int cpt_rx_current(const cpt_rx_t *s)
{
    return s->state;
}

uint32_t cpt_rx_overruns(const cpt_rx_t *s)
{
    return s->evq.overruns;
}

static int cpt_rx_feed(void *s, const int16_t *amp, int samples)
{
    return cpt_rx((cpt_rx_t *) s, amp, samples);
}

void cpt_rx_bulk(cpt_rx_t *const *s, int n, const int16_t *amp, int chan_stride,
                 int sample_stride, int samples, int *kinds)
{
    int c;

    for (c = 0; c < n; c++)
    {
        if (s[c] == NULL)
        {
            if (kinds)
                kinds[c] = -1;
            continue;
        }
        dsp_rx_strided(cpt_rx_feed, s[c], amp + (ptrdiff_t) c * chan_stride, sample_stride, samples);
        if (kinds)
            kinds[c] = s[c]->state;
    }
}
