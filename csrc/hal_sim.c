/*
 * The software card: E1 spans framed bit for bit by line/e1_framer.c, a
 * D-channel HDLC controller on TS16 of CCS spans, CAS, BERT, loopbacks,
 * analog FXS/FXO ports; and the world around it: virtual E1 cables with
 * faults injected on the line, analog lines.
 *
 * Each tick a span (1) deframes what the cable delivered since the last
 * tick, (2) reads one tick of frames from its elastic store at its own
 * clock and reports what changed, (3) builds and frames one tick to send
 * and pushes it through the cable into the far end's receive FIFO.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hal.h"
#include "hal_sim.h"
#include "dsp/conf.h"
#include "dsp/cpt.h"
#include "dsp/dtmf.h"
#include "dsp/fsk.h"
#include "dsp/g711.h"
#include "dsp/mfc.h"
#include "dsp/vad.h"
#include "line/e1_framer.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "line/hdlc.h"
#include "line/prbs.h"

#define SIM_FLASH_MIN_MS   40    /* shorter on-hook is contact bounce */
#define SIM_FLASH_MAX_MS   750   /* longer is a hang-up (the usual flash limit) */
#define SIM_RX_TICKS       4     /* receive FIFO holds this many ticks of line */
#define SIM_TICK_SLACK     2     /* frames a tick may grow by under clock offset */
#define SIM_ELASTIC_FRAMES 8     /* receive elastic store: +-3 frames of wander before a slip */
#define SIM_PEAK_0DBM0     22827.0  /* G.711 A-law: peak of a 0 dBm0 sine, 16-bit scale (+3.14 dBm0 = full scale) */

extern const hal_backend_t hal_sim_backend;
#define IS_SIM(b) ((b) != NULL && (b)->backend == &hal_sim_backend)

typedef struct {
    uint8_t *play;          /* G.711 bytes queued to play */
    int play_len, play_pos;
    int tone_on;
    double ph1, ph2, step1, step2, amp;
    int64_t tone_left;      /* samples; < 0 runs until stopped */
    int tap;
    /* signal generators, made on first use, summed when several run */
    dtmf_tx_t *dtmf_tx;
    mfc_tx_t *mfc_tx;
    cpt_tx_t *cpt_tx;
    fsk_tx_t *fsk_tx;
    int mfc_backward;
    int fsk_mode;
    /* one of the four generators above was started and has not been seen idle
     * since: an idle channel (most agents' ports) never looks into them */
    int gen_armed;
    /* detectors on the received signal (HAL_DET_* in detect) */
    int detect;
    dtmf_rx_t *dtmf_rx;
    /* dtmf_rx is idle on the steady level dtmf_level (dtmf_rx_idle for
     * silence, dtmf_rx_const_idle) and these samples of it are owed to it,
     * handed over before it next hears anything else */
    int dtmf_idle;
    int dtmf_owed;
    int16_t dtmf_level;
    mfc_rx_t *mfc_rx;
    cpt_rx_t *cpt_rx;
    fsk_rx_t *fsk_rx;
    vad_rx_t *vad_rx;
    /* switching: the conference this channel is in (id + 1; 0 none) */
    int conf;
    int conf_slot;
    int16_t *rxlin;         /* what it received this tick, linear */
    int16_t *confout;       /* what it hears from the conference this tick */
    int conf_frames;
} sim_chan_t;

typedef struct {
    conf_t *mix;            /* NULL: this conference id is free */
    sim_chan_t *member[HAL_CONF_MEMBERS];
} sim_conf_t;

struct sim_span_s;

typedef struct {
    hal_sim_fault_t fault;
    double slip_acc;
    uint64_t rng;
    double err_gap;         /* bits left before the next bit error */
    double code_gap;        /* bits left before the next symbol error */
    uint8_t carry_p, carry_n;   /* bits held back by the cable delay */
    int prefix_left;        /* whole bytes of delay still to emit */
    /* The in-line bit error injector: an HDB3 regenerator (decode, flip,
     * re-code). Its decoder and coder delay the line by a fixed number of
     * bits; without it the line is delayed the same, so switching it on
     * and off does not move the frame. */
    int injecting;
    e1_hdb3_dec_t inj_dec;
    e1_hdb3_enc_t inj_enc;
    uint8_t inj_carry_p, inj_carry_n;
    uint8_t *inj_buf;
    int inj_cap;
    hal_sim_cable_stats_t stats;
} sim_dir_t;

struct hal_sim_cable_s {
    struct sim_span_s *end[2];
    int delay_bits;
    sim_dir_t dir[2];       /* [0] a to b, [1] b to a */
};

typedef struct sim_span_s {
    hal_board_t *board;
    int number;
    hal_span_config_t cfg;
    e1_framer_t *framer;
    hdlc_tx_t *htx;
    hdlc_rx_t *hrx;
    int frames_cap;         /* tick_frames + slack */
    uint8_t *tx_ts, *rx_ts;
    uint8_t *txp, *txn;
    uint8_t *rxp, *rxn;
    int rx_len, rx_cap;
    uint8_t *lbp, *lbn;     /* the line received this tick, for line loopback */
    int lb_len;
    int tx_len;             /* line bytes in txp/txn to send this tick */
    int loopback, tx_ais;
    int alarms;
    uint8_t cas_rx[HAL_TIMESLOTS];
    sim_chan_t chan[HAL_TIMESLOTS];
    int bert;
    prbs_tx_t btx;
    prbs_rx_t brx;
    uint64_t bert_frames;
    uint8_t *bert_buf;
    hal_sim_cable_t *cable;
    int end;
    hdlc_rx_counters_t hdlc_base;   /* at the last counter reset */
    uint32_t hdlc_tx_base;
    uint8_t dbuf[HDLC_MAX_FRAME];
} sim_span_t;

typedef struct sim_port_s {
    hal_board_t *board;
    int number;
    int kind;
    int ring, polarity, battery, hook;   /* what this port drives on the line */
    struct sim_port_s *peer;
    int seen_hook, seen_ring, seen_polarity, seen_battery;
    int onhook_ms;
    sim_chan_t chan;
    int16_t *tx_audio;      /* what this port sent last tick */
    uint8_t *tap_buf;
    int tx_len;
    int tx_quiet;           /* tx_audio holds zeros: nothing was sent */
} sim_port_t;

typedef struct {
    sim_span_t *spans;
    sim_port_t *ports;
    /* the spans the tick frames together (e1_framer_tx_group), nspans each */
    e1_framer_t **tx_fr;
    const uint8_t **tx_ts;
    uint8_t **tx_p, **tx_n;
    /* and deframes together (e1_framer_rx_group) */
    e1_framer_t **rx_fr;
    const uint8_t **rx_p, **rx_n;
    int *rx_len;
    uint8_t **rx_ts;
    int law;
    int tone_set;           /* call-progress tone set (dsp/cpt.h) */
    sim_conf_t confs[HAL_MAX_CONFS];
    int confs_hi;           /* one past the highest conference in use */
} sim_board_t;

#define SIM(b) ((sim_board_t *) (b)->priv)

static uint8_t law_silence(int law)
{
    return law == HAL_LAW_ULAW ? G711_ULAW_SILENCE : G711_ALAW_SILENCE;
}

/* A block of one value throughout (a silent leg: the far end's idle code, a
 * quiet phone's zeros): then it is coded once, not sample by sample. Every
 * element equals the one after it: one memcmp, which the C library does a
 * vector at a time. */
static int block_const16(const int16_t *x, int n)
{
    return n <= 1 || memcmp(x, x + 1, sizeof(x[0]) * (size_t) (n - 1)) == 0;
}

static int block_const8(const uint8_t *x, int n)
{
    return n <= 1 || memcmp(x, x + 1, (size_t) (n - 1)) == 0;
}

/* n samples of v, four to a 64-bit store */
static void fill16(int16_t *x, int16_t v, int n)
{
    uint64_t w = (uint64_t) (uint16_t) v * 0x0001000100010001ULL;
    int i = 0;

    for (; i + 4 <= n; i += 4)
        memcpy(x + i, &w, sizeof(w));
    for (; i < n; i++)
        x[i] = v;
}

/* G.711 decode of n codes, a block of one code as one; returns whether it was. */
static int law_decode_block(int law, const uint8_t *in, int16_t *out, int n)
{
    if (n > 0 && block_const8(in, n)) {
        int16_t v;
        if (law == HAL_LAW_ULAW)
            g711_ulaw_decode(in, &v, 1);
        else
            g711_alaw_decode(in, &v, 1);
        fill16(out, v, n);
        return 1;
    }
    if (law == HAL_LAW_ULAW)
        g711_ulaw_decode(in, out, n);
    else
        g711_alaw_decode(in, out, n);
    return 0;
}

static uint8_t law_encode(int law, int16_t x)
{
    return law == HAL_LAW_ULAW ? g711_linear_to_ulaw(x) : g711_linear_to_alaw(x);
}

/* xorshift64*: the cable's own error generator, seeded per cable. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static double rng_uniform(uint64_t *s)
{
    return ((rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Bits to the next error of a Bernoulli(ber) process: geometric. */
static double next_error_gap(sim_dir_t *d, double ber)
{
    if (ber <= 0.0)
        return 1e300;
    if (ber >= 1.0)
        return 0.0;
    return floor(log(rng_uniform(&d->rng)) / log1p(-ber));
}

/* ---- channel sources --------------------------------------------------- */

static void chan_stop(sim_chan_t *c)
{
    free(c->play);
    c->play = NULL;
    c->play_len = c->play_pos = 0;
    c->tone_on = 0;
}

/* Free everything a channel made: sources, generators, detectors. */
static void chan_release(sim_chan_t *c)
{
    chan_stop(c);
    if (c->dtmf_tx)
        dtmf_tx_free(c->dtmf_tx);
    if (c->mfc_tx)
        mfc_tx_free(c->mfc_tx);
    if (c->cpt_tx)
        cpt_tx_free(c->cpt_tx);
    if (c->fsk_tx)
        fsk_tx_free(c->fsk_tx);
    if (c->dtmf_rx)
        dtmf_rx_free(c->dtmf_rx);
    if (c->mfc_rx)
        mfc_rx_free(c->mfc_rx);
    if (c->cpt_rx)
        cpt_rx_free(c->cpt_rx);
    if (c->fsk_rx)
        fsk_rx_free(c->fsk_rx);
    if (c->vad_rx)
        vad_rx_free(c->vad_rx);
    free(c->rxlin);
    free(c->confout);
    memset(c, 0, sizeof(*c));
}

static int chan_play(sim_chan_t *c, const uint8_t *data, int len)
{
    uint8_t *buf;
    int left;

    if (len < 0 || (len > 0 && data == NULL))
        return HAL_EINVAL;
    c->tone_on = 0;
    left = c->play_len - c->play_pos;
    buf = malloc((size_t) left + (size_t) len + 1);
    if (buf == NULL)
        return HAL_ENOMEM;
    if (left > 0)
        memcpy(buf, c->play + c->play_pos, left);
    if (len > 0)
        memcpy(buf + left, data, len);
    free(c->play);
    c->play = buf;
    c->play_len = left + len;
    c->play_pos = 0;
    return HAL_OK;
}

static int chan_tone(sim_chan_t *c, int f1, int f2, int level_dbm0, int ms)
{
    if (f1 < 0 || f1 >= 4000 || f2 < 0 || f2 >= 4000 || level_dbm0 > 3 || level_dbm0 < -60)
        return HAL_EINVAL;
    chan_stop(c);
    if (ms == 0 || (f1 == 0 && f2 == 0))
        return HAL_OK;
    c->tone_on = 1;
    c->ph1 = c->ph2 = 0.0;
    c->step1 = 2.0 * M_PI * f1 / 8000.0;
    c->step2 = 2.0 * M_PI * f2 / 8000.0;
    /* two tones share the level: each at the given level, as DTMF is specified per frequency */
    c->amp = SIM_PEAK_0DBM0 * pow(10.0, level_dbm0 / 20.0);
    c->tone_left = ms < 0 ? -1 : (int64_t) ms * 8;
    return HAL_OK;
}

static int16_t tone_sample(sim_chan_t *c)
{
    double v = c->amp * sin(c->ph1);
    if (c->step2 > 0.0)
        v += c->amp * sin(c->ph2);
    c->ph1 += c->step1;
    c->ph2 += c->step2;
    if (c->ph1 > 2.0 * M_PI)
        c->ph1 -= 2.0 * M_PI;
    if (c->ph2 > 2.0 * M_PI)
        c->ph2 -= 2.0 * M_PI;
    if (v > 32767.0)
        v = 32767.0;
    if (v < -32768.0)
        v = -32768.0;
    return (int16_t) lrint(v);
}

/* A generator of the channel's own is sounding (tone, DTMF, MFC, call progress, FSK).
 * A generator stopped stays stopped until started again, so once all are seen
 * idle the channel is disarmed and the next look costs one test. */
static int chan_sounding(sim_chan_t *c)
{
    if (c->tone_on)
        return 1;
    if (!c->gen_armed)
        return 0;
    if ((c->dtmf_tx && dtmf_tx_pending(c->dtmf_tx))
        || (c->mfc_tx && mfc_tx_get_digit(c->mfc_tx) > 0)
        || (c->cpt_tx && cpt_tx_playing(c->cpt_tx))
        || (c->fsk_tx && fsk_tx_queued(c->fsk_tx) > 0))
        return 1;
    c->gen_armed = 0;
    return 0;
}

static int chan_generating(sim_chan_t *c)
{
    return c->conf || chan_sounding(c);
}

static void add_sat(int32_t *acc, const int16_t *x, int n)
{
    int i;
    for (i = 0; i < n; i++)
        acc[i] += x[i];
}

/* Fill n samples as G.711 at out[i * stride]: a played buffer, else the sum
 * of the running generators (tone, DTMF, MFC, call progress, FSK), else
 * silence. silent: out already holds the silence code (a span's timeslots
 * start each tick so), which then need not be written again. Returns a mask
 * of the sources that ran out in this call (bit HAL_DONE_*). */
static int chan_fill_g711(sim_chan_t *c, int law, uint8_t *out, int stride, int n, int silent)
{
    int i = 0, done = 0;

    if (c->play) {
        /* (local copies: out may alias anything, so c->play_pos would go to
         * memory on every byte) */
        const uint8_t *src = c->play + c->play_pos;
        int k = c->play_len - c->play_pos < n ? c->play_len - c->play_pos : n;
        if (stride == 1) {
            memcpy(out, src, (size_t) k);
            i = k;
        }
        for (; i < k; i++)
            out[i * stride] = src[i];
        c->play_pos += k;
        if (c->play_pos >= c->play_len) {
            free(c->play);
            c->play = NULL;
            c->play_len = c->play_pos = 0;
            done |= 1 << HAL_DONE_PLAY;
        }
    } else if (c->conf && c->confout && !chan_sounding(c)) {
        /* only the other legs of a call (a talking channel's usual state): code what
         * the switching gave it, in one pass of the G.711 coder, silence after it */
        uint8_t enc[8192];
        int k, m = n < 8192 ? n : 8192;
        int cm = m < c->conf_frames ? m : c->conf_frames;

        if (cm > 0 && block_const16(c->confout, cm)) {
            /* a silent leg (the usual: one side of a call talks at a time) */
            uint8_t code = law_encode(law, c->confout[0]);
            uint8_t rest = law_encode(law, 0);
            if (stride == 1) {
                memset(out, code, (size_t) cm);
                memset(out + cm, rest, (size_t) (m - cm));
            } else if (!(silent && code == law_silence(law) && (cm == m || rest == code))) {
                for (k = 0; k < cm; k++)
                    out[k * stride] = code;
                for (; k < m; k++)
                    out[k * stride] = rest;
            }
            i = m;
        } else {
            if (law == HAL_LAW_ULAW)
                g711_ulaw_encode(c->confout, enc, cm);
            else
                g711_alaw_encode(c->confout, enc, cm);
            for (k = cm; k < m; k++)
                enc[k] = law_encode(law, 0);
            for (k = 0; k < m; k++)
                out[k * stride] = enc[k];
            i = m;
        }
    } else if (chan_generating(c)) {
        int32_t acc[8192];
        int16_t buf[8192];
        int k, m = n < 8192 ? n : 8192;

        memset(acc, 0, sizeof(acc[0]) * m);
        if (c->conf && c->confout) {
            /* what the other members say (the far leg of a call, a conference) */
            int cm = m < c->conf_frames ? m : c->conf_frames;
            for (k = 0; k < cm; k++)
                acc[k] = c->confout[k];
        }
        if (c->tone_on) {
            for (k = 0; k < m && c->tone_left != 0; k++) {
                acc[k] += tone_sample(c);
                if (c->tone_left > 0)
                    c->tone_left--;
            }
            if (c->tone_left == 0) {
                c->tone_on = 0;
                done |= 1 << HAL_DONE_TONE;
            }
        }
        if (c->dtmf_tx && dtmf_tx_pending(c->dtmf_tx)) {
            memset(buf, 0, sizeof(buf[0]) * m);
            dtmf_tx(c->dtmf_tx, buf, m);
            add_sat(acc, buf, m);
            if (!dtmf_tx_pending(c->dtmf_tx))
                done |= 1 << HAL_DONE_DTMF;
        }
        if (c->mfc_tx && mfc_tx_get_digit(c->mfc_tx) > 0) {
            mfc_tx(c->mfc_tx, buf, m);
            add_sat(acc, buf, m);
        }
        if (c->cpt_tx && cpt_tx_playing(c->cpt_tx)) {
            cpt_tx(c->cpt_tx, buf, m);
            add_sat(acc, buf, m);
        }
        if (c->fsk_tx && fsk_tx_queued(c->fsk_tx) > 0) {
            memset(buf, 0, sizeof(buf[0]) * m);
            fsk_tx(c->fsk_tx, buf, m);
            add_sat(acc, buf, m);
            if (fsk_tx_queued(c->fsk_tx) == 0)
                done |= 1 << HAL_DONE_FSK;
        }
        {
            /* saturate, then code the whole block in one pass of the G.711 coder */
            uint8_t enc[8192];
            for (k = 0; k < m; k++)
                buf[k] = (int16_t) (acc[k] > 32767 ? 32767 : acc[k] < -32768 ? -32768 : acc[k]);
            if (law == HAL_LAW_ULAW)
                g711_ulaw_encode(buf, enc, m);
            else
                g711_alaw_encode(buf, enc, m);
            for (k = 0; k < m; k++)
                out[k * stride] = enc[k];
        }
        i = m;
    }
    if (!silent)
        for (; i < n; i++)
            out[i * stride] = law_silence(law);
    return done;
}

static void push_done(hal_board_t *b, int span, int chan, int done)
{
    int k;
    for (k = HAL_DONE_TONE; k <= HAL_DONE_FSK; k++)
        if (done & (1 << k))
            hal_board_push_event(b, HAL_EV_TONE_DONE, span, chan, k, 0, NULL, 0);
}

/* The DTMF receiver's digits as events. */
static void dtmf_report(hal_board_t *b, sim_chan_t *c, int span, int chan)
{
    char digits[DTMF_RX_MAX_DIGITS];
    dtmf_rx_report_t rep[DTMF_RX_MAX_REPORTS];
    int k, got;

    got = dtmf_rx_get(c->dtmf_rx, digits, sizeof(digits));
    for (k = 0; k < got; k++)
        hal_board_push_event(b, HAL_EV_DIGIT, span, chan, digits[k], 0, NULL, 0);
    /* the digits are reported as they start; their end reports are not needed */
    while (dtmf_rx_get_reports(c->dtmf_rx, rep, DTMF_RX_MAX_REPORTS) > 0)
        ;
}

/* Hand the DTMF receiver the steady level owed to it. */
static void chan_dtmf_wake(sim_chan_t *c)
{
    if (c->dtmf_idle) {
        if (c->dtmf_level == 0)
            dtmf_rx_silence(c->dtmf_rx, c->dtmf_owed);
        else
            dtmf_rx_const(c->dtmf_rx, c->dtmf_level, c->dtmf_owed);
        c->dtmf_idle = 0;
        c->dtmf_owed = 0;
    }
}

/* n samples all of v for the DTMF receiver (true silence on an idle port, the far
 * end's idle code on a trunk): once it is idle on v they are only counted here. */
static void chan_dtmf_steady(hal_board_t *b, sim_chan_t *c, int span, int chan, int16_t v, int n)
{
    if (c->dtmf_idle && c->dtmf_level == v && c->dtmf_owed < (1 << 24)) {
        c->dtmf_owed += n;
        return;
    }
    chan_dtmf_wake(c);
    if (v == 0)
        dtmf_rx_silence(c->dtmf_rx, n);
    else
        dtmf_rx_const(c->dtmf_rx, v, n);
    if (dtmf_rx_waiting(c->dtmf_rx)) {
        dtmf_report(b, c, span, chan);
    } else if (v == 0 ? dtmf_rx_idle(c->dtmf_rx) : dtmf_rx_const_idle(c->dtmf_rx, v)) {
        c->dtmf_idle = 1;
        c->dtmf_level = v;
    }
}

/* chan_detect() for a channel whose only detector is DTMF, on n samples of true silence. */
static void chan_detect_dtmf_silence(hal_board_t *b, sim_chan_t *c, int span, int chan, int n)
{
    chan_dtmf_steady(b, c, span, chan, 0, n);
}

/* Run the channel's detectors over what it received and report what they found.
 * steady: lin is known to hold one value throughout (1), or not (0); -1: look. */
static void chan_detect(hal_board_t *b, sim_chan_t *c, int span, int chan, const int16_t *lin,
                        int n, int steady)
{
    int64_t at;
    int v;

    if (c->dtmf_rx) {
        if (steady < 0)
            steady = n > 0 && block_const16(lin, n);
        if (steady && n > 0) {
            chan_dtmf_steady(b, c, span, chan, lin[0], n);     /* a steady leg: no filters */
        } else {
            chan_dtmf_wake(c);
            dtmf_rx(c->dtmf_rx, lin, n);
            if (dtmf_rx_waiting(c->dtmf_rx))
                dtmf_report(b, c, span, chan);
        }
    }
    if (c->mfc_rx) {
        mfc_rx(c->mfc_rx, lin, n);
        while ((v = mfc_rx_get(c->mfc_rx, &at)) != MFC_EVENT_NONE)
            hal_board_push_event(b, HAL_EV_MFC, span, chan, v, c->detect & HAL_DET_MFC_BWD ? 1 : 0,
                                 NULL, 0);
    }
    if (c->cpt_rx) {
        cpt_rx(c->cpt_rx, lin, n);
        while ((v = cpt_rx_get(c->cpt_rx, &at)) != CPT_EVENT_NONE)
            hal_board_push_event(b, HAL_EV_TONE, span, chan, v, 0, NULL, 0);
    }
    if (c->fsk_rx) {
        uint8_t buf[256];
        int got;
        fsk_rx(c->fsk_rx, lin, n);
        while ((got = fsk_rx_get(c->fsk_rx, buf, sizeof(buf))) > 0)
            hal_board_push_event(b, HAL_EV_FSK, span, chan, got, 0, buf, got);
    }
    if (c->vad_rx) {
        vad_rx(c->vad_rx, lin, n);
        while ((v = vad_rx_get(c->vad_rx, &at)) != VAD_EVENT_NONE)
            hal_board_push_event(b, HAL_EV_VOICE, span, chan, v,
                                 (int) lrintf(vad_rx_level(c->vad_rx) * 10.0f), NULL, 0);
    }
}

/* ---- cables ------------------------------------------------------------- */

static int dir_index(hal_sim_cable_t *c, sim_span_t *from)
{
    return c->end[0] == from ? 0 : 1;
}

/* Frames the span transmits this tick: its clock may run fast or slow. */
static int tx_frames_for_tick(sim_span_t *s, int frames)
{
    sim_dir_t *d;

    if (s->cable == NULL)
        return frames;
    d = &s->cable->dir[dir_index(s->cable, s)];
    if (d->fault.clock_ppm == 0.0)
        return frames;
    d->slip_acc += frames * d->fault.clock_ppm * 1e-6;
    if (d->slip_acc >= 1.0) {
        d->slip_acc -= 1.0;
        d->stats.frames_skew++;
        return frames + 1;
    }
    if (d->slip_acc <= -1.0) {
        d->slip_acc += 1.0;
        d->stats.frames_skew--;
        return frames - 1;
    }
    return frames;
}

/* Room for len (<= rx_cap) more bytes at the end of the receive FIFO. */
static void rx_fifo_room(sim_span_t *dst, int len)
{
    if (dst->rx_len + len > dst->rx_cap) {
        /* The far end ran ahead of us for ticks: the oldest line is lost. */
        int drop = dst->rx_len + len - dst->rx_cap;
        memmove(dst->rxp, dst->rxp + drop, dst->rx_len - drop);
        memmove(dst->rxn, dst->rxn + drop, dst->rx_len - drop);
        dst->rx_len -= drop;
    }
}

static void rx_fifo_append(sim_span_t *dst, const uint8_t *p, const uint8_t *n, int len)
{
    if (len > dst->rx_cap)
        len = dst->rx_cap;
    rx_fifo_room(dst, len);
    memcpy(dst->rxp + dst->rx_len, p, len);
    memcpy(dst->rxn + dst->rx_len, n, len);
    dst->rx_len += len;
}

static inline uint64_t load_be64(const uint8_t *b)
{
    uint64_t w;
    memcpy(&w, b, 8);
    return __builtin_bswap64(w);
}

static inline void store_be64(uint8_t *b, uint64_t w)
{
    w = __builtin_bswap64(w);
    memcpy(b, &w, 8);
}

/* Shift a rail pair right by s bits (0..7) through a carry: 64 bits a step. */
static void shift_rails(uint8_t *p, uint8_t *n, int nbytes, int s, uint8_t *cp, uint8_t *cn)
{
    uint64_t hp = *cp, hn = *cn, mask = (1u << s) - 1;
    int i = 0;

    if (s == 0)
        return;
#if defined(__SSE2__)
    {
        /* 16 bytes a step: each byte takes the low bits of the byte before
         * it (the previous step's last byte, or the carry) */
        const __m128i cnt = _mm_cvtsi32_si128(s), cnt8 = _mm_cvtsi32_si128(8 - s);
        const __m128i lo = _mm_set1_epi8((char) (0xFF >> s)), hi = _mm_set1_epi8((char) (0xFF << (8 - s)));
        __m128i cyp = _mm_cvtsi32_si128((int) hp), cyn = _mm_cvtsi32_si128((int) hn);
        for (; i + 16 <= nbytes; i += 16) {
            __m128i wp = _mm_loadu_si128((const __m128i *) (p + i));
            __m128i wn = _mm_loadu_si128((const __m128i *) (n + i));
            __m128i bp = _mm_or_si128(_mm_slli_si128(wp, 1), cyp);
            __m128i bn = _mm_or_si128(_mm_slli_si128(wn, 1), cyn);
            cyp = _mm_srli_si128(wp, 15);
            cyn = _mm_srli_si128(wn, 15);
            _mm_storeu_si128((__m128i *) (p + i), _mm_or_si128(_mm_and_si128(_mm_srl_epi16(wp, cnt), lo),
                                                                _mm_and_si128(_mm_sll_epi16(bp, cnt8), hi)));
            _mm_storeu_si128((__m128i *) (n + i), _mm_or_si128(_mm_and_si128(_mm_srl_epi16(wn, cnt), lo),
                                                                _mm_and_si128(_mm_sll_epi16(bn, cnt8), hi)));
        }
        if (i > 0) {
            hp = (uint64_t) _mm_cvtsi128_si32(cyp) & mask;
            hn = (uint64_t) _mm_cvtsi128_si32(cyn) & mask;
        }
    }
#endif
    for (; i + 8 <= nbytes; i += 8) {
        uint64_t wp = load_be64(p + i), wn = load_be64(n + i);
        store_be64(p + i, (hp << (64 - s)) | (wp >> s));
        store_be64(n + i, (hn << (64 - s)) | (wn >> s));
        hp = wp & mask;
        hn = wn & mask;
    }
    for (; i < nbytes; i++) {
        uint8_t bp = p[i], bn = n[i];
        p[i] = (uint8_t) ((hp << (8 - s)) | (bp >> s));
        n[i] = (uint8_t) ((hn << (8 - s)) | (bn >> s));
        hp = bp & mask;
        hn = bn & mask;
    }
    *cp = (uint8_t) hp;
    *cn = (uint8_t) hn;
}

/* shift_rails by s1 (0..7) through the carries c1, then by s2 (0..7) through
 * c2, from p and n into dp and dn, in one pass: the line then comes out of
 * the carries c2, c1 and p in that order, S = s1 + s2 bits late. Each carry
 * ends as the last bits its stage held back (those of a stage of 0 bits
 * stay as they were, as shift_rails leaves them). */
static void shift_rails2(uint8_t *dp, uint8_t *dn, const uint8_t *p, const uint8_t *n, int nbytes, int s1,
                         uint8_t *c1p, uint8_t *c1n, int s2, uint8_t *c2p, uint8_t *c2n)
{
    const int s = s1 + s2, q = s >> 3, r = s & 7;
    const uint64_t m1 = (1u << s1) - 1, m2 = (1u << s2) - 1;
    /* the line before p[0], its last bit at bit 0 */
    uint64_t hp = ((*c2p & m2) << s1) | (*c1p & m1), hn = ((*c2n & m2) << s1) | (*c1n & m1);
    int i = 0;

    if (nbytes <= 0)
        return;
    if (s == 0) {
        memcpy(dp, p, nbytes);
        memcpy(dn, n, nbytes);
        return;
    }
    /* the first bytes, while the bits they take reach back into the carries */
    for (; i < nbytes && i <= q; i++) {
        hp = (hp << 8) | p[i];
        hn = (hn << 8) | n[i];
        dp[i] = (uint8_t) (hp >> s);
        dn[i] = (uint8_t) (hn >> s);
    }
#if defined(__SSE2__)
    {
        const int i0 = i;
        /* 16 bytes a step: byte j takes the top of byte j - q and the low
         * bits of byte j - q - 1 (as shift_rails) */
        const __m128i cnt = _mm_cvtsi32_si128(r), cnt8 = _mm_cvtsi32_si128(8 - r);
        const __m128i lo = _mm_set1_epi8((char) (0xFF >> r)), hi = _mm_set1_epi8((char) (0xFF << (8 - r)));
        for (; i + 16 <= nbytes; i += 16) {
            __m128i ap = _mm_loadu_si128((const __m128i *) (p + i - q));
            __m128i an = _mm_loadu_si128((const __m128i *) (n + i - q));
            __m128i bp = _mm_loadu_si128((const __m128i *) (p + i - q - 1));
            __m128i bn = _mm_loadu_si128((const __m128i *) (n + i - q - 1));
            _mm_storeu_si128((__m128i *) (dp + i), _mm_or_si128(_mm_and_si128(_mm_srl_epi16(ap, cnt), lo),
                                                                _mm_and_si128(_mm_sll_epi16(bp, cnt8), hi)));
            _mm_storeu_si128((__m128i *) (dn + i), _mm_or_si128(_mm_and_si128(_mm_srl_epi16(an, cnt), lo),
                                                                _mm_and_si128(_mm_sll_epi16(bn, cnt8), hi)));
        }
        if (i > i0) {
            /* the window again from the 8 bytes before i (i > 16 here) */
            hp = load_be64(p + i - 8);
            hn = load_be64(n + i - 8);
        }
    }
#endif
    for (; i < nbytes; i++) {
        hp = (hp << 8) | p[i];
        hn = (hn << 8) | n[i];
        dp[i] = (uint8_t) (hp >> s);
        dn[i] = (uint8_t) (hn >> s);
    }
    if (s1) {
        *c1p = (uint8_t) (hp & m1);
        *c1n = (uint8_t) (hn & m1);
    }
    if (s2) {
        *c2p = (uint8_t) ((hp >> s1) & m2);
        *c2n = (uint8_t) ((hn >> s1) & m2);
    }
}

static int injector_delay(void)
{
    return e1_hdb3_encoder_delay() + e1_hdb3_decoder_delay();
}

/* The ber fault: regenerate the line through HDB3 decode and re-code,
 * flipping bits of the binary signal at the given ratio in between, so
 * the far end sees exactly that bit error ratio on a line that is still
 * valid HDB3 (a test set's bit error insertion, not noise). */
static void inject_bit_errors(sim_dir_t *d, uint8_t *p, uint8_t *n, int nbytes)
{
    int delay = injector_delay();
    int64_t nbits = (int64_t) nbytes * 8;
    double pos;

    if (d->fault.ber <= 0.0 || d->fault.los) {
        /* (a regenerator on a dead line sends nothing) */
        d->injecting = 0;
        /* the same delay as through the regenerator (it may exceed 7 bits) */
        shift_rails(p, n, nbytes, delay & 7, &d->inj_carry_p, &d->inj_carry_n);
        return;
    }
    if (nbytes > d->inj_cap) {
        uint8_t *buf = realloc(d->inj_buf, nbytes);
        if (buf == NULL)
            return;
        d->inj_buf = buf;
        d->inj_cap = nbytes;
    }
    if (!d->injecting) {
        e1_hdb3_dec_init(&d->inj_dec);
        e1_hdb3_enc_init(&d->inj_enc);
        d->injecting = 1;
    }
    e1_hdb3_decode(&d->inj_dec, p, n, nbytes, d->inj_buf);
    for (pos = d->err_gap; pos < (double) nbits; pos += 1.0 + next_error_gap(d, d->fault.ber)) {
        int64_t b = (int64_t) pos;
        d->inj_buf[b >> 3] ^= (uint8_t) (0x80 >> (b & 7));
        d->stats.errors++;
    }
    d->err_gap = pos - (double) nbits;
    /* keep the plain path's carry current so switching off is seamless */
    {
        uint8_t lp = p[nbytes - 1], ln = n[nbytes - 1];
        int s = delay & 7;
        d->inj_carry_p = s ? (uint8_t) (lp & ((1 << s) - 1)) : 0;
        d->inj_carry_n = s ? (uint8_t) (ln & ((1 << s) - 1)) : 0;
    }
    e1_hdb3_encode(&d->inj_enc, d->inj_buf, nbytes, p, n);
}

/* Carry nbytes of line symbols over one direction of the cable, faults and
 * all. The buffers are the sender's and are changed in place. */
static void cable_carry(hal_sim_cable_t *c, int di, uint8_t *p, uint8_t *n, int nbytes)
{
    sim_dir_t *d = &c->dir[di];
    sim_span_t *dst = c->end[1 - di];
    int64_t nbits = (int64_t) nbytes * 8;

    d->stats.bits += nbits;
    if (d->fault.los) {
        memset(p, 0, nbytes);
        memset(n, 0, nbytes);
    } else if (d->fault.ais) {
        /* unframed all ones, AMI: marks alternate */
        memset(p, 0xAA, nbytes);
        memset(n, 0x55, nbytes);
    } else {
        if (d->fault.lof) {
            /* invert the 8 bits of TS0 in every frame: FAS and NFAS are gone */
            int off = e1_hdb3_encoder_delay();
            int64_t bit;
            for (bit = off; bit + 8 <= nbits; bit += 256) {
                int k;
                for (k = 0; k < 8; k++) {
                    int64_t b = bit + k;
                    uint8_t m = (uint8_t) (0x80 >> (b & 7));
                    if ((p[b >> 3] | n[b >> 3]) & m) {
                        p[b >> 3] &= ~m;
                        n[b >> 3] &= ~m;
                    } else if (k & 1) {
                        p[b >> 3] |= m;
                    } else {
                        n[b >> 3] |= m;
                    }
                }
            }
        }
        if (d->fault.code_errors > 0.0) {
            double pos = d->code_gap;
            while (pos < (double) nbits) {
                int64_t b = (int64_t) pos;
                uint8_t m = (uint8_t) (0x80 >> (b & 7));
                if ((p[b >> 3] | n[b >> 3]) & m) {
                    p[b >> 3] &= ~m;        /* a mark lost */
                    n[b >> 3] &= ~m;
                } else if (rng_next(&d->rng) & 1) {
                    p[b >> 3] |= m;         /* a pulse out of nowhere */
                } else {
                    n[b >> 3] |= m;
                }
                d->stats.code_errors++;
                pos += 1.0 + next_error_gap(d, d->fault.code_errors);
            }
            d->code_gap = pos - (double) nbits;
        }
    }
    if (dst != NULL && dst->loopback != HAL_LOOP_LOCAL && nbytes <= dst->rx_cap
        && (d->fault.ber <= 0.0 || d->fault.los)) {
        /* No regenerator in line: its delay and the cable's in one pass,
         * straight into the far end's FIFO (what inject_bit_errors,
         * shift_rails and rx_fifo_append below do in three). */
        d->injecting = 0;
        while (d->prefix_left > 0) {
            uint8_t zero = 0;
            rx_fifo_append(dst, &zero, &zero, 1);
            d->prefix_left--;
        }
        rx_fifo_room(dst, nbytes);
        shift_rails2(dst->rxp + dst->rx_len, dst->rxn + dst->rx_len, p, n, nbytes, injector_delay() & 7,
                     &d->inj_carry_p, &d->inj_carry_n, c->delay_bits & 7, &d->carry_p, &d->carry_n);
        dst->rx_len += nbytes;
        return;
    }
    inject_bit_errors(d, p, n, nbytes);
    if (dst == NULL || dst->loopback == HAL_LOOP_LOCAL)
        return;   /* a receiver in local loopback hears only itself */
    while (d->prefix_left > 0) {
        uint8_t zero = 0;
        rx_fifo_append(dst, &zero, &zero, 1);
        d->prefix_left--;
    }
    shift_rails(p, n, nbytes, c->delay_bits & 7, &d->carry_p, &d->carry_n);
    rx_fifo_append(dst, p, n, nbytes);
}

hal_sim_cable_t *hal_sim_cable_connect(hal_board_t *a, int span_a, hal_board_t *b, int span_b,
                                       int delay_bits, uint64_t seed, int *err)
{
    hal_sim_cable_t *c;
    sim_span_t *sa, *sb;
    int i;

    if (err)
        *err = HAL_OK;
    if (!IS_SIM(a) || !IS_SIM(b)) {
        if (err)
            *err = HAL_ENOTSUP;
        return NULL;
    }
    if (span_a < 1 || span_a > a->nspans || span_b < 1 || span_b > b->nspans) {
        if (err)
            *err = HAL_ENOSPAN;
        return NULL;
    }
    sa = &SIM(a)->spans[span_a - 1];
    sb = &SIM(b)->spans[span_b - 1];
    if (sa == sb || sa->cable || sb->cable || delay_bits < 0 || delay_bits > 4096) {
        if (err)
            *err = (sa->cable || sb->cable) ? HAL_EBUSY : HAL_EINVAL;
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        if (err)
            *err = HAL_ENOMEM;
        return NULL;
    }
    c->end[0] = sa;
    c->end[1] = sb;
    c->delay_bits = delay_bits;
    for (i = 0; i < 2; i++) {
        c->dir[i].rng = (seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t) (i + 1))) | 1;
        c->dir[i].err_gap = 1e300;
        c->dir[i].code_gap = 1e300;
        c->dir[i].prefix_left = delay_bits / 8 + injector_delay() / 8;
    }
    sa->cable = c;
    sa->end = 0;
    sb->cable = c;
    sb->end = 1;
    return c;
}

void hal_sim_cable_disconnect(hal_sim_cable_t *c)
{
    if (c == NULL)
        return;
    if (c->end[0])
        c->end[0]->cable = NULL;
    if (c->end[1])
        c->end[1]->cable = NULL;
    free(c->dir[0].inj_buf);
    free(c->dir[1].inj_buf);
    free(c);
}

int hal_sim_cable_fault(hal_sim_cable_t *c, int direction, const hal_sim_fault_t *f)
{
    int i;

    if (c == NULL || f == NULL || direction < HAL_SIM_A_TO_B || direction > HAL_SIM_BOTH)
        return HAL_EINVAL;
    if (!(f->ber >= 0.0 && f->ber <= 0.5) || !(f->code_errors >= 0.0 && f->code_errors <= 0.5)
        || !(fabs(f->clock_ppm) <= 1000.0))
        return HAL_EINVAL;
    for (i = 0; i < 2; i++) {
        if (!(direction & (1 << i)))
            continue;
        c->dir[i].fault = *f;
        c->dir[i].slip_acc = 0.0;
        c->dir[i].err_gap = next_error_gap(&c->dir[i], f->ber);
        c->dir[i].code_gap = next_error_gap(&c->dir[i], f->code_errors);
    }
    return HAL_OK;
}

int hal_sim_cable_stats(hal_sim_cable_t *c, int direction, hal_sim_cable_stats_t *st)
{
    if (c == NULL || st == NULL || (direction != HAL_SIM_A_TO_B && direction != HAL_SIM_B_TO_A))
        return HAL_EINVAL;
    *st = c->dir[direction == HAL_SIM_A_TO_B ? 0 : 1].stats;
    return HAL_OK;
}

/* ---- spans -------------------------------------------------------------- */

static int span_bert_slot(const sim_span_t *s, int ts)
{
    return ts >= 1 && ts < HAL_TIMESLOTS && !(ts == 16 && s->cfg.signalling == HAL_SIG_CAS);
}

static int span_is_bearer(const sim_span_t *s, int ts)
{
    return ts >= 1 && ts < HAL_TIMESLOTS && !(ts == 16 && s->cfg.signalling != HAL_SIG_CLEAR);
}

static void span_release(sim_span_t *s)
{
    int i;

    if (s->framer)
        e1_framer_free(s->framer);
    if (s->htx)
        hdlc_tx_free(s->htx);
    if (s->hrx)
        hdlc_rx_free(s->hrx);
    free(s->tx_ts);
    free(s->rx_ts);
    free(s->txp);
    free(s->txn);
    free(s->rxp);
    free(s->rxn);
    free(s->lbp);
    free(s->lbn);
    free(s->bert_buf);
    for (i = 0; i < HAL_TIMESLOTS; i++)
        chan_release(&s->chan[i]);
    s->framer = NULL;
    s->htx = NULL;
    s->hrx = NULL;
    s->tx_ts = s->rx_ts = s->txp = s->txn = s->rxp = s->rxn = s->lbp = s->lbn = s->bert_buf = NULL;
}

static int span_setup(hal_board_t *b, sim_span_t *s, const hal_span_config_t *cfg)
{
    e1_config_t ec;
    e1_framer_t *fr;
    int frames = b->tick_frames + SIM_TICK_SLACK;
    int i;

    ec.crc4 = cfg->crc4;
    ec.cas = cfg->signalling == HAL_SIG_CAS;
    ec.elastic_frames = SIM_ELASTIC_FRAMES;
    fr = e1_framer_init(NULL, &ec);
    if (fr == NULL)
        return HAL_ECONFIG;
    if (s->framer)
        e1_framer_free(s->framer);
    s->framer = fr;
    s->cfg = *cfg;
    if (s->htx == NULL)
        s->htx = hdlc_tx_init(NULL);
    if (s->hrx == NULL)
        s->hrx = hdlc_rx_init(NULL);
    if (s->tx_ts == NULL) {
        s->frames_cap = frames;
        s->tx_ts = malloc((size_t) frames * E1_FRAME_BYTES);
        s->rx_ts = malloc((size_t) frames * E1_FRAME_BYTES);
        s->rx_cap = SIM_RX_TICKS * frames * E1_FRAME_BYTES;
        /* line loopback sends out all that came in, which may be more than a tick */
        s->txp = malloc(s->rx_cap);
        s->txn = malloc(s->rx_cap);
        s->rxp = malloc(s->rx_cap);
        s->rxn = malloc(s->rx_cap);
        s->lbp = malloc(s->rx_cap);
        s->lbn = malloc(s->rx_cap);
        s->bert_buf = malloc((size_t) frames * E1_FRAME_BYTES);
    }
    if (s->htx == NULL || s->hrx == NULL || s->tx_ts == NULL || s->rx_ts == NULL || s->txp == NULL
        || s->txn == NULL || s->rxp == NULL || s->rxn == NULL || s->lbp == NULL || s->lbn == NULL
        || s->bert_buf == NULL)
        return HAL_ENOMEM;
    s->alarms = e1_framer_alarms(fr);
    for (i = 0; i < HAL_TIMESLOTS; i++)
        s->cas_rx[i] = 0xFF;
    if (ec.cas) {
        /* G.704 5.1.3: an idle channel sends abcd 1101 (b c d at 1 0 1) */
        for (i = 1; i <= E1_CAS_CHANNELS; i++)
            e1_framer_set_cas_tx(fr, i, 0xD);
    }
    return HAL_OK;
}

static int cas_channel_of_ts(int ts)
{
    if (ts >= 1 && ts <= 15)
        return ts;
    if (ts >= 17 && ts <= 31)
        return ts - 1;
    return -1;
}

/* The line the span's framer takes this tick, in rxp/rxn (rx_len bytes) */
static void span_rx_line(sim_span_t *s, int frames)
{
    if (s->rx_len == 0) {
        /* nothing came down the cable this tick: no pulses, as on an open line */
        int len = frames * E1_FRAME_BYTES;
        memset(s->rxp, 0, len);
        memset(s->rxn, 0, len);
        s->rx_len = len;
    }
}

/* The span's side of a tick once its framer has taken the line into rx_ts */
static void span_receive(hal_board_t *b, sim_span_t *s, int frames)
{
    int alarms, i;

    /* what came in is kept for line loopback by trading buffers (the same
     * size), not by a copy: the receive FIFO starts empty in the other one */
    {
        uint8_t *t = s->lbp;
        s->lbp = s->rxp;
        s->rxp = t;
        t = s->lbn;
        s->lbn = s->rxn;
        s->rxn = t;
    }
    s->lb_len = s->rx_len;
    s->rx_len = 0;

    alarms = e1_framer_alarms(s->framer);
    if (alarms != s->alarms) {
        hal_board_push_event(b, HAL_EV_ALARM, s->number, 0, alarms, s->alarms, NULL, 0);
        s->alarms = alarms;
    }
    if (s->cfg.signalling == HAL_SIG_CAS) {
        for (i = 1; i < HAL_TIMESLOTS; i++) {
            int ch = cas_channel_of_ts(i);
            int abcd;
            if (ch < 0)
                continue;
            abcd = e1_framer_get_cas_rx(s->framer, ch);
            if (abcd != s->cas_rx[i]) {
                s->cas_rx[i] = (uint8_t) abcd;
                hal_board_push_event(b, HAL_EV_CAS, s->number, i, abcd, 0, NULL, 0);
            }
        }
    }
    if (s->bert) {
        int k = 0, f;
        for (f = 0; f < frames; f++)
            for (i = 1; i < HAL_TIMESLOTS; i++)
                if (span_bert_slot(s, i))
                    s->bert_buf[k++] = s->rx_ts[f * E1_FRAME_BYTES + i];
        prbs_rx_put(&s->brx, s->bert_buf, k);
        s->bert_frames += frames;
    } else if (s->cfg.signalling == HAL_SIG_CCS) {
        int len;
        hdlc_rx_put_strided(s->hrx, s->rx_ts + 16, frames, E1_FRAME_BYTES);
        while ((len = hdlc_rx_get_frame(s->hrx, s->dbuf, sizeof(s->dbuf))) > 0)
            hal_board_push_event(b, HAL_EV_DFRAME, s->number, 16, len, 0, s->dbuf, len);
    }
    for (i = 1; i < HAL_TIMESLOTS; i++) {
        sim_chan_t *c = &s->chan[i];
        uint8_t col[8000];
        int f, n = frames < 8000 ? frames : 8000;
        if (!(c->tap & HAL_TAP_RX) && !c->detect && !c->conf)
            continue;
        for (f = 0; f < n; f++)
            col[f] = s->rx_ts[f * E1_FRAME_BYTES + i];
        if (c->tap & HAL_TAP_RX)
            hal_board_push_event(b, HAL_EV_AUDIO, s->number, i, n, 0, col, n);
        if (c->detect || c->conf) {
            int16_t lin[8000];
            int steady = law_decode_block(s->cfg.law, col, lin, n);
            if (c->detect)
                chan_detect(b, c, s->number, i, lin, n, steady);
            if (c->conf && c->rxlin)
                memcpy(c->rxlin, lin, sizeof(lin[0]) * (n < c->conf_frames ? n : c->conf_frames));
        }
    }
}

/* The payload of the frames the span sends this tick into tx_ts, or in line
 * loopback the line itself into txp/txn. Returns the frames for the framer
 * to build (-1: none, the line is ready). */
static int span_tx_payload(hal_board_t *b, sim_span_t *s, int frames)
{
    int n = tx_frames_for_tick(s, frames);
    int nbytes = n * E1_FRAME_BYTES;
    int i;

    if (s->loopback == HAL_LOOP_LINE) {
        /* the received line, pulses and errors as they came, goes back out */
        memcpy(s->txp, s->lbp, s->lb_len);
        memcpy(s->txn, s->lbn, s->lb_len);
        s->tx_len = s->lb_len;
        return -1;
    }
    if (s->loopback == HAL_LOOP_PAYLOAD) {
        int have = frames;
        memcpy(s->tx_ts, s->rx_ts, (size_t) (have < n ? have : n) * E1_FRAME_BYTES);
        for (i = have; i < n; i++)
            memcpy(s->tx_ts + i * E1_FRAME_BYTES, s->rx_ts + (have - 1) * E1_FRAME_BYTES,
                   E1_FRAME_BYTES);
    } else if (s->bert) {
        int k = 0, f, nslots = 0;
        for (i = 1; i < HAL_TIMESLOTS; i++)
            nslots += span_bert_slot(s, i);
        prbs_tx_get(&s->btx, s->bert_buf, n * nslots);
        memset(s->tx_ts, 0xFF, nbytes);
        for (f = 0; f < n; f++)
            for (i = 1; i < HAL_TIMESLOTS; i++)
                if (span_bert_slot(s, i))
                    s->tx_ts[f * E1_FRAME_BYTES + i] = s->bert_buf[k++];
    } else {
        memset(s->tx_ts, law_silence(s->cfg.law), nbytes);
        for (i = 1; i < HAL_TIMESLOTS; i++) {
            sim_chan_t *c = &s->chan[i];
            if (!span_is_bearer(s, i) || (c->play == NULL && !chan_generating(c)))
                continue;
            push_done(b, s->number, i,
                      chan_fill_g711(c, s->cfg.law, s->tx_ts + i, E1_FRAME_BYTES, n, 1));
        }
        if (s->cfg.signalling == HAL_SIG_CCS)
            hdlc_tx_get_strided(s->htx, s->tx_ts + 16, n, E1_FRAME_BYTES);
        for (i = 1; i < HAL_TIMESLOTS; i++) {
            /* what goes out on a tapped timeslot, for a technician or a recording */
            uint8_t col[8002];
            int f;
            if (!(s->chan[i].tap & HAL_TAP_TX) || n > 8002)
                continue;
            for (f = 0; f < n; f++)
                col[f] = s->tx_ts[f * E1_FRAME_BYTES + i];
            hal_board_push_event(b, HAL_EV_AUDIO, s->number, i, n, 1, col, n);
        }
    }
    s->tx_len = nbytes;
    return n;
}

/* The framed line of this tick (txp/txn, tx_len bytes) onto the cable. */
static void span_tx_line(sim_span_t *s)
{
    int nbytes = s->tx_len;

    if (s->loopback == HAL_LOOP_LOCAL) {
        rx_fifo_append(s, s->txp, s->txn, nbytes);
        /* a local loop still sends AIS to the line, as framers do */
        memset(s->txp, 0xAA, nbytes);
        memset(s->txn, 0x55, nbytes);
    }
    if (s->cable)
        cable_carry(s->cable, s->end, s->txp, s->txn, nbytes);
}

/* ---- analog ports ------------------------------------------------------- */

static void port_receive(hal_board_t *b, sim_port_t *p, int frames)
{
    int tick_ms = frames / 8;
    sim_port_t *peer = p->peer;
    int i;

    /* what the far end put on the line */
    if (p->kind == HAL_PORT_FXS) {
        int raw = peer ? peer->hook : 0;
        if (p->seen_hook == 0) {
            if (raw) {
                p->seen_hook = 1;
                p->onhook_ms = 0;
                hal_board_push_event(b, HAL_EV_HOOK, 0, p->number, 1, 0, NULL, 0);
            }
        } else if (!raw) {
            p->onhook_ms += tick_ms;
            if (p->onhook_ms >= SIM_FLASH_MAX_MS) {
                p->seen_hook = 0;
                p->onhook_ms = 0;
                hal_board_push_event(b, HAL_EV_HOOK, 0, p->number, 0, 0, NULL, 0);
            }
        } else if (p->onhook_ms > 0) {
            if (p->onhook_ms >= SIM_FLASH_MIN_MS)
                hal_board_push_event(b, HAL_EV_FLASH, 0, p->number, p->onhook_ms, 0, NULL, 0);
            p->onhook_ms = 0;
        }
    } else {
        int ring = peer ? peer->ring : 0;
        int pol = peer ? peer->polarity : 0;
        int bat = peer ? peer->battery : 0;
        if (ring != p->seen_ring) {
            p->seen_ring = ring;
            hal_board_push_event(b, HAL_EV_RING, 0, p->number, ring, 0, NULL, 0);
        }
        if (pol != p->seen_polarity) {
            p->seen_polarity = pol;
            hal_board_push_event(b, HAL_EV_POLARITY, 0, p->number, pol, 0, NULL, 0);
        }
        if (bat != p->seen_battery) {
            p->seen_battery = bat;
            hal_board_push_event(b, HAL_EV_BATTERY, 0, p->number, bat, 0, NULL, 0);
        }
    }
    if ((p->chan.tap & HAL_TAP_RX) || p->chan.detect || p->chan.conf) {
        /* The exchange side of a line (FXS kind) reaches the phone side on hook too,
         * which is how caller ID travels between rings (on-hook transmission); the
         * phone side is heard only with its loop closed. */
        int heard = peer && (p->kind == HAL_PORT_FXO || peer->hook);
        int16_t lin[8000];
        int n = frames < 8000 ? frames : 8000;
        int m = heard && !peer->tx_quiet ? (peer->tx_len < n ? peer->tx_len : n) : 0;
        if (m == 0 && p->chan.detect == HAL_DET_DTMF && !(p->chan.tap & HAL_TAP_RX)) {
            /* Nothing on the line (a phone on hook, or quiet): the usual state of
             * most agents' ports. The DTMF receiver only counts the samples once it
             * has settled into the silence. */
            chan_detect_dtmf_silence(b, &p->chan, 0, p->number, n);
            if (p->chan.conf && p->chan.rxlin)
                memset(p->chan.rxlin, 0,
                       sizeof(int16_t) * (n < p->chan.conf_frames ? n : p->chan.conf_frames));
            return;
        }
        if (m > 0)
            memcpy(lin, peer->tx_audio, sizeof(lin[0]) * m);
        if (m < n)
            memset(lin + m, 0, sizeof(lin[0]) * (n - m));
        if (p->chan.tap & HAL_TAP_RX) {
            for (i = 0; i < n; i++)
                p->tap_buf[i] = law_encode(SIM(b)->law, lin[i]);
            hal_board_push_event(b, HAL_EV_AUDIO, 0, p->number, n, 0, p->tap_buf, n);
        }
        if (p->chan.detect)
            chan_detect(b, &p->chan, 0, p->number, lin, n, -1);
        if (p->chan.conf && p->chan.rxlin)
            memcpy(p->chan.rxlin, lin,
                   sizeof(lin[0]) * (n < p->chan.conf_frames ? n : p->chan.conf_frames));
    }
}

/* What the port sends this tick: sources are G.711, the line carries linear audio. */
static void port_transmit(hal_board_t *b, sim_port_t *p, int frames)
{
    if (p->chan.play == NULL && !chan_generating(&p->chan)) {
        /* Nothing to send: the line is quiet (true zero, not the codec's idle code, so
         * the far end's detectors take their all-silence short cut). Most agents'
         * lines are idle most of the time; this keeps them nearly free. */
        if (p->chan.tap & HAL_TAP_TX) {
            memset(p->tap_buf, law_silence(SIM(b)->law), frames);
            hal_board_push_event(b, HAL_EV_AUDIO, 0, p->number, frames, 1, p->tap_buf, frames);
        }
        if (!p->tx_quiet || p->tx_len != frames)
            memset(p->tx_audio, 0, sizeof(p->tx_audio[0]) * frames);
        p->tx_quiet = 1;
        p->tx_len = frames;
        return;
    }
    p->tx_quiet = 0;
    push_done(b, 0, p->number, chan_fill_g711(&p->chan, SIM(b)->law, p->tap_buf, 1, frames, 0));
    if (p->chan.tap & HAL_TAP_TX)
        hal_board_push_event(b, HAL_EV_AUDIO, 0, p->number, frames, 1, p->tap_buf, frames);
    law_decode_block(SIM(b)->law, p->tap_buf, p->tx_audio, frames);
    p->tx_len = frames;
}

int hal_sim_line_connect(hal_board_t *fxs_board, int fxs_port, hal_board_t *fxo_board,
                         int fxo_port)
{
    sim_port_t *s, *o;

    if (!IS_SIM(fxs_board) || !IS_SIM(fxo_board))
        return HAL_ENOTSUP;
    if (fxs_port < 1 || fxs_port > fxs_board->nports || fxo_port < 1 || fxo_port > fxo_board->nports)
        return HAL_ENOCHAN;
    s = &SIM(fxs_board)->ports[fxs_port - 1];
    o = &SIM(fxo_board)->ports[fxo_port - 1];
    if (s->kind != HAL_PORT_FXS || o->kind != HAL_PORT_FXO)
        return HAL_ECONFIG;
    if (s->peer || o->peer)
        return HAL_EBUSY;
    s->peer = o;
    o->peer = s;
    return HAL_OK;
}

/* ---- backend table ------------------------------------------------------ */

static void sim_close(hal_board_t *b);
static int sim_conf_destroy(hal_board_t *b, int conf);

static int sim_open(hal_board_t *b, const char *device)
{
    const int *kinds = (const int *) b->priv;
    sim_board_t *sb = calloc(1, sizeof(*sb));
    hal_span_config_t def = {HAL_SIG_CCS, 1, HAL_LAW_ALAW};
    int i, rc;

    (void) device;
    if (sb == NULL)
        return HAL_ENOMEM;
    sb->law = HAL_LAW_ALAW;
    sb->spans = calloc(b->nspans ? b->nspans : 1, sizeof(sim_span_t));
    sb->ports = calloc(b->nports ? b->nports : 1, sizeof(sim_port_t));
    sb->tx_fr = calloc(b->nspans ? b->nspans : 1, sizeof(*sb->tx_fr));
    sb->tx_ts = calloc(b->nspans ? b->nspans : 1, sizeof(*sb->tx_ts));
    sb->tx_p = calloc(b->nspans ? b->nspans : 1, sizeof(*sb->tx_p));
    sb->tx_n = calloc(b->nspans ? b->nspans : 1, sizeof(*sb->tx_n));
    sb->rx_fr = calloc(b->nspans ? b->nspans : 1, sizeof(*sb->rx_fr));
    sb->rx_p = calloc(b->nspans ? b->nspans : 1, sizeof(*sb->rx_p));
    sb->rx_n = calloc(b->nspans ? b->nspans : 1, sizeof(*sb->rx_n));
    sb->rx_len = calloc(b->nspans ? b->nspans : 1, sizeof(*sb->rx_len));
    sb->rx_ts = calloc(b->nspans ? b->nspans : 1, sizeof(*sb->rx_ts));
    b->priv = sb;
    if (sb->spans == NULL || sb->ports == NULL || sb->tx_fr == NULL || sb->tx_ts == NULL || sb->tx_p == NULL
        || sb->tx_n == NULL || sb->rx_fr == NULL || sb->rx_p == NULL || sb->rx_n == NULL || sb->rx_len == NULL
        || sb->rx_ts == NULL)
        goto fail;
    for (i = 0; i < b->nspans; i++) {
        sb->spans[i].board = b;
        sb->spans[i].number = i + 1;
        rc = span_setup(b, &sb->spans[i], &def);
        if (rc < 0)
            goto fail;
    }
    for (i = 0; i < b->nports; i++) {
        sim_port_t *p = &sb->ports[i];
        p->board = b;
        p->number = i + 1;
        p->kind = kinds[i];
        p->battery = p->kind == HAL_PORT_FXS;
        p->tx_audio = calloc(b->tick_frames, sizeof(int16_t));
        p->tap_buf = malloc(b->tick_frames);
        if (p->tx_audio == NULL || p->tap_buf == NULL)
            goto fail;
    }
    return HAL_OK;
fail:
    sim_close(b);
    return HAL_ENOMEM;
}

static void sim_close(hal_board_t *b)
{
    sim_board_t *sb = SIM(b);
    int i;

    if (sb == NULL)
        return;
    for (i = 0; i < HAL_MAX_CONFS; i++)
        if (sb->confs[i].mix)
            sim_conf_destroy(b, i);
    for (i = 0; sb->spans && i < b->nspans; i++) {
        if (sb->spans[i].cable) {
            hal_sim_cable_t *c = sb->spans[i].cable;
            /* the cable stays for the far end's sake; it just loses this end */
            c->end[sb->spans[i].end] = NULL;
        }
        span_release(&sb->spans[i]);
    }
    for (i = 0; sb->ports && i < b->nports; i++) {
        sim_port_t *p = &sb->ports[i];
        if (p->peer)
            p->peer->peer = NULL;
        chan_release(&p->chan);
        free(p->tx_audio);
        free(p->tap_buf);
    }
    free(sb->spans);
    free(sb->ports);
    free(sb->tx_fr);
    free(sb->tx_ts);
    free(sb->tx_p);
    free(sb->tx_n);
    free(sb->rx_fr);
    free(sb->rx_p);
    free(sb->rx_n);
    free(sb->rx_len);
    free(sb->rx_ts);
    free(sb);
    b->priv = NULL;
}

static int sim_configure_span(hal_board_t *b, int span, const hal_span_config_t *cfg)
{
    return span_setup(b, &SIM(b)->spans[span - 1], cfg);
}

/* Mix every conference: each member hears the others of this tick. */
static void confs_mix(sim_board_t *sb, int frames)
{
    int i, m;

    /* (conferences are made at the lowest free id: at a peak a few hundred of 1024) */
    for (i = 0; i < sb->confs_hi; i++) {
        sim_conf_t *cf = &sb->confs[i];
        const int16_t *in[HAL_CONF_MEMBERS];
        int16_t *out[HAL_CONF_MEMBERS];
        int n = frames, members = 0;
        if (cf->mix == NULL)
            continue;
        for (m = 0; m < HAL_CONF_MEMBERS; m++) {
            sim_chan_t *c = cf->member[m];
            in[m] = c ? c->rxlin : NULL;
            out[m] = c ? c->confout : NULL;
            if (c) {
                members++;
                if (c->conf_frames < n)
                    n = c->conf_frames;
            }
        }
        if (members > 0)        /* (the board's members are the mixer's) */
            conf_mix(cf->mix, in, out, n);
    }
}

static int sim_tick(hal_board_t *b, int frames)
{
    sim_board_t *sb = SIM(b);
    int i, ng = 0;

    /* everything received first, then the switching, then everything sent, so a
     * conference carries this tick's audio from one leg to the other */
    for (i = 0; i < b->nspans; i++) {
        sim_span_t *s = &sb->spans[i];
        span_rx_line(s, frames);
        sb->rx_fr[i] = s->framer;
        sb->rx_p[i] = s->rxp;
        sb->rx_n[i] = s->rxn;
        sb->rx_len[i] = s->rx_len;
        sb->rx_ts[i] = s->rx_ts;
    }
    /* Deframe and read frame by frame, interleaved, as the line clock and
     * the local clock run side by side: the elastic store then only has to
     * absorb wander, a few frames, and a clock offset slips once per frame
     * of offset as on a real card (G.822), not after a tick's worth. Every
     * span at once: four spans side by side in the HDB3 decoder. */
    e1_framer_rx_group(sb->rx_fr, b->nspans, sb->rx_p, sb->rx_n, sb->rx_len, sb->rx_ts, frames);
    for (i = 0; i < b->nspans; i++)
        span_receive(b, &sb->spans[i], frames);
    for (i = 0; i < b->nports; i++)
        port_receive(b, &sb->ports[i], frames);
    confs_mix(sb, frames);
    for (i = 0; i < b->nspans; i++) {
        /* a tick's frames of every span framed at once (four spans side by
         * side in the HDB3 coder); a span whose clock is off by a frame this
         * tick by itself */
        sim_span_t *s = &sb->spans[i];
        int n = span_tx_payload(b, s, frames);
        if (n == frames) {
            sb->tx_fr[ng] = s->framer;
            sb->tx_ts[ng] = s->tx_ts;
            sb->tx_p[ng] = s->txp;
            sb->tx_n[ng] = s->txn;
            ng++;
        } else if (n >= 0) {
            e1_framer_tx(s->framer, s->tx_ts, n, s->txp, s->txn);
        }
    }
    e1_framer_tx_group(sb->tx_fr, ng, sb->tx_ts, frames, sb->tx_p, sb->tx_n);
    for (i = 0; i < b->nspans; i++)
        span_tx_line(&sb->spans[i]);
    for (i = 0; i < b->nports; i++)
        port_transmit(b, &sb->ports[i], frames);
    return HAL_OK;
}

/* ---- conferences (the board's switching) --------------------------------- */

static sim_chan_t *sim_any_chan(hal_board_t *b, int span, int chan)
{
    return span == 0 ? &SIM(b)->ports[chan - 1].chan : &SIM(b)->spans[span - 1].chan[chan];
}

static int sim_conf_create(hal_board_t *b)
{
    sim_board_t *sb = SIM(b);
    int i;

    for (i = 0; i < HAL_MAX_CONFS; i++) {
        if (sb->confs[i].mix == NULL) {
            sb->confs[i].mix = conf_init(NULL, HAL_CONF_MEMBERS);
            if (sb->confs[i].mix == NULL)
                return HAL_ENOMEM;
            if (i >= sb->confs_hi)
                sb->confs_hi = i + 1;
            return i;
        }
    }
    return HAL_EBUSY;
}

static void conf_drop_member(sim_board_t *sb, sim_chan_t *c)
{
    sim_conf_t *cf;

    if (!c->conf)
        return;
    cf = &sb->confs[c->conf - 1];
    if (cf->mix)
        conf_leave(cf->mix, c->conf_slot);
    cf->member[c->conf_slot] = NULL;
    c->conf = 0;
}

static int sim_conf_destroy(hal_board_t *b, int conf)
{
    sim_board_t *sb = SIM(b);
    int m;

    if (conf < 0 || conf >= HAL_MAX_CONFS || sb->confs[conf].mix == NULL)
        return HAL_EINVAL;
    for (m = 0; m < HAL_CONF_MEMBERS; m++)
        if (sb->confs[conf].member[m])
            conf_drop_member(sb, sb->confs[conf].member[m]);
    conf_free(sb->confs[conf].mix);
    sb->confs[conf].mix = NULL;
    while (sb->confs_hi > 0 && sb->confs[sb->confs_hi - 1].mix == NULL)
        sb->confs_hi--;
    return HAL_OK;
}

static int sim_conf_join(hal_board_t *b, int span, int chan, int conf, int flags, int wspan,
                         int wchan)
{
    sim_board_t *sb = SIM(b);
    sim_conf_t *cf;
    sim_chan_t *c, *target = NULL;
    int slot, frames = b->tick_frames + SIM_TICK_SLACK;

    if (conf < 0 || conf >= HAL_MAX_CONFS || sb->confs[conf].mix == NULL)
        return HAL_EINVAL;
    if (span != 0 && !span_is_bearer(&sb->spans[span - 1], chan))
        return HAL_ENOCHAN;
    if (flags <= 0 || flags > (CONF_TALK | CONF_HEAR | CONF_WHISPER))
        return HAL_EINVAL;
    cf = &sb->confs[conf];
    c = sim_any_chan(b, span, chan);
    if (flags & CONF_WHISPER) {
        if (wspan < 0 || wspan > b->nspans || wchan < 1
            || (wspan == 0 ? wchan > b->nports : wchan >= HAL_TIMESLOTS))
            return HAL_ENOCHAN;
        target = sim_any_chan(b, wspan, wchan);
        if (target->conf != conf + 1 || target == c)
            return HAL_ESTATE;      /* whisper to a member of the same conference */
    }
    if (c->conf == conf + 1) {
        slot = c->conf_slot;        /* a change of flags (monitor -> barge, say) */
    } else {
        for (slot = 0; slot < HAL_CONF_MEMBERS && cf->member[slot]; slot++)
            ;
        if (slot == HAL_CONF_MEMBERS)
            return HAL_EBUSY;
        if (c->rxlin == NULL)
            c->rxlin = calloc(frames, sizeof(int16_t));
        if (c->confout == NULL)
            c->confout = calloc(frames, sizeof(int16_t));
        if (c->rxlin == NULL || c->confout == NULL)
            return HAL_ENOMEM;
        c->conf_frames = frames;
        conf_drop_member(sb, c);
    }
    if (conf_join(cf->mix, slot, flags) < 0)
        return HAL_EINVAL;
    conf_set_target(cf->mix, slot, target ? target->conf_slot : -1);
    cf->member[slot] = c;
    c->conf = conf + 1;
    c->conf_slot = slot;
    return HAL_OK;
}

static int sim_conf_leave(hal_board_t *b, int span, int chan, int unused)
{
    sim_chan_t *c = sim_any_chan(b, span, chan);

    (void) unused;
    if (!c->conf)
        return HAL_ESTATE;
    conf_drop_member(SIM(b), c);
    return HAL_OK;
}

static int sim_chan_conf(hal_board_t *b, int span, int chan, int unused)
{
    sim_chan_t *c = sim_any_chan(b, span, chan);

    (void) unused;
    return c->conf ? c->conf - 1 : HAL_ESTATE;
}

static int sim_set_cas(hal_board_t *b, int span, int ts, int abcd)
{
    sim_span_t *s = &SIM(b)->spans[span - 1];
    int ch = cas_channel_of_ts(ts);

    if (s->cfg.signalling != HAL_SIG_CAS)
        return HAL_ENOTSUP;
    if (ch < 0)
        return HAL_ENOCHAN;
    if (abcd < 0 || abcd > 15)
        return HAL_EINVAL;
    e1_framer_set_cas_tx(s->framer, ch, abcd);
    return HAL_OK;
}

static int sim_get_cas(hal_board_t *b, int span, int ts)
{
    sim_span_t *s = &SIM(b)->spans[span - 1];
    int ch = cas_channel_of_ts(ts);

    if (s->cfg.signalling != HAL_SIG_CAS)
        return HAL_ENOTSUP;
    if (ch < 0)
        return HAL_ENOCHAN;
    return e1_framer_get_cas_rx(s->framer, ch);
}

static int sim_span_status(hal_board_t *b, int span, hal_span_status_t *st)
{
    sim_span_t *s = &SIM(b)->spans[span - 1];
    e1_counters_t c;
    hdlc_rx_counters_t h;

    if (st == NULL)
        return HAL_EINVAL;
    memset(st, 0, sizeof(*st));
    e1_framer_counters(s->framer, &c);
    hdlc_rx_counters(s->hrx, &h);
    st->alarms = e1_framer_alarms(s->framer);
    st->loopback = s->loopback;
    st->signalling = s->cfg.signalling;
    st->crc4 = s->cfg.crc4;
    st->law = s->cfg.law;
    st->tx_ais = s->tx_ais;
    st->frames_rx = c.frames_rx;
    st->bits_rx = c.bits_rx;
    st->fas_errors = c.fas_errors;
    st->crc4_errors = c.crc4_errors;
    st->ebit_errors = c.ebit_errors;
    st->bpv = c.bpv;
    st->slips = c.slips;
    st->lof_events = c.lof_events;
    st->los_events = c.los_events;
    st->hdlc_rx_frames = h.frames - s->hdlc_base.frames;
    st->hdlc_tx_frames = hdlc_tx_frames_sent(s->htx) - s->hdlc_tx_base;
    st->hdlc_fcs_errors = h.fcs_errors - s->hdlc_base.fcs_errors;
    st->hdlc_aborts = h.aborts - s->hdlc_base.aborts;
    st->hdlc_bad_frames = (h.short_frames + h.long_frames + h.bad_bits)
                          - (s->hdlc_base.short_frames + s->hdlc_base.long_frames + s->hdlc_base.bad_bits);
    st->hdlc_overruns = h.overruns - s->hdlc_base.overruns;
    st->events_lost = b->events_lost;
    return HAL_OK;
}

static int sim_reset_counters(hal_board_t *b, int span)
{
    sim_span_t *s = &SIM(b)->spans[span - 1];

    e1_framer_reset_counters(s->framer);
    hdlc_rx_counters(s->hrx, &s->hdlc_base);
    s->hdlc_tx_base = hdlc_tx_frames_sent(s->htx);
    return HAL_OK;
}

static int sim_loopback(hal_board_t *b, int span, int mode)
{
    if (mode < HAL_LOOP_NONE || mode > HAL_LOOP_PAYLOAD)
        return HAL_EINVAL;
    SIM(b)->spans[span - 1].loopback = mode;
    return HAL_OK;
}

static int sim_bert(hal_board_t *b, int span, int on)
{
    sim_span_t *s = &SIM(b)->spans[span - 1];

    if (on && s->bert) {
        /* a restart while running zeroes the counts; the pattern runs on
         * unbroken, so the checker keeps its lock */
        s->brx.bits = 0;
        s->brx.errors = 0;
        s->brx.sync_losses = 0;
        s->bert_frames = 0;
    } else if (on) {
        prbs_tx_init(&s->btx);
        prbs_rx_init(&s->brx);
        s->bert_frames = 0;
        s->bert = 1;
    } else {
        s->bert = 0;
    }
    return HAL_OK;
}

static int sim_bert_status(hal_board_t *b, int span, hal_bert_status_t *st)
{
    sim_span_t *s = &SIM(b)->spans[span - 1];

    if (st == NULL)
        return HAL_EINVAL;
    memset(st, 0, sizeof(*st));
    st->running = s->bert;
    st->sync = s->brx.sync;
    st->bits = s->brx.bits;
    st->errors = s->brx.errors;
    st->sync_losses = s->brx.sync_losses;
    st->seconds_x1000 = s->bert_frames / 8;   /* 8000 frames a second */
    return HAL_OK;
}

static int sim_send_ais(hal_board_t *b, int span, int on)
{
    sim_span_t *s = &SIM(b)->spans[span - 1];

    s->tx_ais = on ? 1 : 0;
    e1_framer_set_tx_ais(s->framer, s->tx_ais);
    return HAL_OK;
}

static int sim_dframe_send(hal_board_t *b, int span, const uint8_t *data, int len)
{
    sim_span_t *s = &SIM(b)->spans[span - 1];
    int rc;

    if (s->cfg.signalling != HAL_SIG_CCS)
        return HAL_ENOTSUP;
    if (data == NULL || len < 1 || len > HDLC_MAX_FRAME)
        return HAL_EINVAL;
    rc = hdlc_tx_frame(s->htx, data, len);
    if (rc == -1)
        return HAL_EBUSY;
    if (rc < 0)
        return HAL_EINVAL;
    hal_board_push_event(b, HAL_EV_DFRAME_TX, span, 16, len, 0, data, len);
    return HAL_OK;
}

static sim_chan_t *sim_chan(hal_board_t *b, int span, int chan)
{
    if (span == 0)
        return &SIM(b)->ports[chan - 1].chan;
    if (!span_is_bearer(&SIM(b)->spans[span - 1], chan))
        return NULL;
    return &SIM(b)->spans[span - 1].chan[chan];
}

static int sim_play(hal_board_t *b, int span, int chan, const uint8_t *data, int len)
{
    sim_chan_t *c = sim_chan(b, span, chan);
    return c ? chan_play(c, data, len) : HAL_ENOCHAN;
}

static int sim_tone(hal_board_t *b, int span, int chan, int f1, int f2, int level_dbm0, int ms)
{
    sim_chan_t *c = sim_chan(b, span, chan);
    return c ? chan_tone(c, f1, f2, level_dbm0, ms) : HAL_ENOCHAN;
}

static int sim_tap(hal_board_t *b, int span, int chan, int on)
{
    sim_chan_t *c;

    if (span != 0 && (chan < 1 || chan >= HAL_TIMESLOTS))
        return HAL_ENOCHAN;
    /* a D-channel or CAS timeslot may be tapped too: a technician listens to anything */
    c = span == 0 ? &SIM(b)->ports[chan - 1].chan : &SIM(b)->spans[span - 1].chan[chan];
    if (on < 0 || on > (HAL_TAP_RX | HAL_TAP_TX))
        return HAL_EINVAL;
    c->tap = on;
    return HAL_OK;
}

static int sim_detect(hal_board_t *b, int span, int chan, int mask)
{
    sim_chan_t *c = span == 0 ? &SIM(b)->ports[chan - 1].chan : &SIM(b)->spans[span - 1].chan[chan];
    int set = SIM(b)->tone_set;

    if (mask & ~HAL_DET_ALL || ((mask & HAL_DET_MFC_FWD) && (mask & HAL_DET_MFC_BWD))
        || ((mask & HAL_DET_FSK) && (mask & HAL_DET_FSK_V23)))
        return HAL_EINVAL;
    /* a detector switched off is freed, one switched on starts afresh */
#define SIM_DETECTOR(bit, field, make, release)             \
    do {                                                    \
        if (!(mask & (bit)) && c->field) {                  \
            release(c->field);                              \
            c->field = NULL;                                \
        } else if ((mask & (bit)) && !c->field) {           \
            c->field = make;                                \
            if (c->field == NULL)                           \
                return HAL_ENOMEM;                          \
        }                                                   \
    } while (0)
    if (c->mfc_rx && (mask & (HAL_DET_MFC_FWD | HAL_DET_MFC_BWD)) != (c->detect & (HAL_DET_MFC_FWD | HAL_DET_MFC_BWD))) {
        mfc_rx_free(c->mfc_rx);
        c->mfc_rx = NULL;
    }
    if (c->fsk_rx && (mask & (HAL_DET_FSK | HAL_DET_FSK_V23)) != (c->detect & (HAL_DET_FSK | HAL_DET_FSK_V23))) {
        fsk_rx_free(c->fsk_rx);
        c->fsk_rx = NULL;
    }
    SIM_DETECTOR(HAL_DET_DTMF, dtmf_rx, dtmf_rx_init(NULL, NULL), dtmf_rx_free);
    if (c->dtmf_rx == NULL)
        c->dtmf_idle = c->dtmf_owed = c->dtmf_level = 0;   /* a new receiver starts afresh */
    SIM_DETECTOR(HAL_DET_MFC_FWD | HAL_DET_MFC_BWD, mfc_rx,
                 mfc_rx_init(NULL, (mask & HAL_DET_MFC_BWD) != 0), mfc_rx_free);
    SIM_DETECTOR(HAL_DET_CPT, cpt_rx, cpt_rx_init(NULL, set), cpt_rx_free);
    SIM_DETECTOR(HAL_DET_FSK | HAL_DET_FSK_V23, fsk_rx,
                 fsk_rx_init(NULL, (mask & HAL_DET_FSK_V23) ? FSK_V23 : FSK_BELL202), fsk_rx_free);
    SIM_DETECTOR(HAL_DET_VAD, vad_rx, vad_rx_init(NULL, -40.0f, VAD_DEFAULT_HANG_MS), vad_rx_free);
#undef SIM_DETECTOR
    c->detect = mask;
    return HAL_OK;
}

static sim_chan_t *sim_gen_chan(hal_board_t *b, int span, int chan)
{
    sim_chan_t *c = sim_chan(b, span, chan);
    if (c && c->play) {
        /* a generator takes over from a played buffer */
        free(c->play);
        c->play = NULL;
        c->play_len = c->play_pos = 0;
    }
    return c;
}

static int sim_dtmf(hal_board_t *b, int span, int chan, const char *digits, int len)
{
    sim_chan_t *c = sim_gen_chan(b, span, chan);
    int rc;

    if (c == NULL)
        return HAL_ENOCHAN;
    if (digits == NULL || len < 0)
        return HAL_EINVAL;
    if (c->dtmf_tx == NULL && (c->dtmf_tx = dtmf_tx_init(NULL, NULL)) == NULL)
        return HAL_ENOMEM;
    rc = dtmf_tx_put(c->dtmf_tx, digits, len);
    if (rc < 0)
        return HAL_EINVAL;
    c->gen_armed = 1;
    return rc < len ? HAL_EBUSY : HAL_OK;
}

static int sim_mfc(hal_board_t *b, int span, int chan, int backward, int digit)
{
    sim_chan_t *c = sim_gen_chan(b, span, chan);

    if (c == NULL)
        return HAL_ENOCHAN;
    if ((digit < 1 || digit > MFC_DIGITS) && digit != -1)
        return HAL_EINVAL;
    if (c->mfc_tx && c->mfc_backward != (backward != 0)) {
        mfc_tx_free(c->mfc_tx);
        c->mfc_tx = NULL;
    }
    if (c->mfc_tx == NULL) {
        if ((c->mfc_tx = mfc_tx_init(NULL, backward != 0)) == NULL)
            return HAL_ENOMEM;
        c->mfc_backward = backward != 0;
    }
    c->gen_armed = 1;
    return mfc_tx_set(c->mfc_tx, digit) < 0 ? HAL_EINVAL : HAL_OK;
}

static int sim_cpt(hal_board_t *b, int span, int chan, int tone)
{
    sim_chan_t *c = sim_gen_chan(b, span, chan);

    if (c == NULL)
        return HAL_ENOCHAN;
    if (c->cpt_tx == NULL && (c->cpt_tx = cpt_tx_init(NULL, SIM(b)->tone_set)) == NULL)
        return HAL_ENOMEM;
    c->gen_armed = 1;
    return cpt_tx_play(c->cpt_tx, tone) < 0 ? HAL_EINVAL : HAL_OK;
}

static int sim_fsk(hal_board_t *b, int span, int chan, int mode, const uint8_t *bits, int nbits)
{
    sim_chan_t *c = sim_gen_chan(b, span, chan);
    int fmode = mode ? FSK_V23 : FSK_BELL202;
    int rc;

    if (c == NULL)
        return HAL_ENOCHAN;
    if (bits == NULL || nbits < 1 || (mode != 0 && mode != 1))
        return HAL_EINVAL;
    if (c->fsk_tx && c->fsk_mode != fmode) {
        if (fsk_tx_queued(c->fsk_tx) > 0)
            return HAL_EBUSY;
        fsk_tx_free(c->fsk_tx);
        c->fsk_tx = NULL;
    }
    if (c->fsk_tx == NULL) {
        /* caller ID level: ETSI EN 300 659-1 sends about -13.5 dBm0 */
        if ((c->fsk_tx = fsk_tx_init(NULL, fmode, -13)) == NULL)
            return HAL_ENOMEM;
        c->fsk_mode = fmode;
    }
    rc = fsk_tx_put_bits(c->fsk_tx, bits, nbits);
    c->gen_armed = 1;
    if (rc == nbits)
        return HAL_OK;
    return rc == -5 ? HAL_EBUSY : HAL_EINVAL;
}

static int sim_tone_set(hal_board_t *b, int set)
{
    if (set < 0 || set >= cpt_set_count())
        return HAL_EINVAL;
    SIM(b)->tone_set = set;
    return HAL_OK;
}

static int sim_port_command(hal_board_t *b, int port, int command, int value)
{
    sim_port_t *p = &SIM(b)->ports[port - 1];

    if (value != 0 && value != 1)
        return HAL_EINVAL;
    switch (command) {
    case HAL_PORT_RING:
    case HAL_PORT_POLARITY:
    case HAL_PORT_BATTERY:
        if (p->kind != HAL_PORT_FXS)
            return HAL_ENOTSUP;
        if (command == HAL_PORT_RING)
            p->ring = value;
        else if (command == HAL_PORT_POLARITY)
            p->polarity = value;
        else
            p->battery = value;
        return HAL_OK;
    case HAL_PORT_HOOK:
        if (p->kind != HAL_PORT_FXO)
            return HAL_ENOTSUP;
        p->hook = value;
        return HAL_OK;
    default:
        return HAL_EINVAL;
    }
}

static int sim_port_status(hal_board_t *b, int port, hal_port_status_t *st)
{
    sim_port_t *p = &SIM(b)->ports[port - 1];

    memset(st, 0, sizeof(*st));
    st->kind = p->kind;
    st->connected = p->peer != NULL;
    if (p->kind == HAL_PORT_FXS) {
        st->hook = p->seen_hook;
        st->ringing = p->ring;
        st->polarity = p->polarity;
        st->battery = p->battery;
    } else {
        st->hook = p->hook;
        st->ringing = p->seen_ring;
        st->polarity = p->seen_polarity;
        st->battery = p->seen_battery;
    }
    return HAL_OK;
}

const hal_backend_t hal_sim_backend = {
    .name = "sim",
    .open = sim_open,
    .close = sim_close,
    .configure_span = sim_configure_span,
    .tick = sim_tick,
    .set_cas = sim_set_cas,
    .get_cas = sim_get_cas,
    .span_status = sim_span_status,
    .reset_counters = sim_reset_counters,
    .loopback = sim_loopback,
    .bert = sim_bert,
    .bert_status = sim_bert_status,
    .send_ais = sim_send_ais,
    .dframe_send = sim_dframe_send,
    .play = sim_play,
    .tone = sim_tone,
    .tap = sim_tap,
    .detect = sim_detect,
    .dtmf = sim_dtmf,
    .mfc = sim_mfc,
    .cpt = sim_cpt,
    .fsk = sim_fsk,
    .tone_set = sim_tone_set,
    .conf_create = sim_conf_create,
    .conf_destroy = sim_conf_destroy,
    .conf_join_chan = sim_conf_join,
    .conf_leave_chan = sim_conf_leave,
    .chan_conf_chan = sim_chan_conf,
    .port_command = sim_port_command,
    .port_status = sim_port_status,
};
