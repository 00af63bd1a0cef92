/*
 * Sanitizer harness for the tone core: MFC R2 (dsp/mfc.c), call-progress
 * tones (dsp/cpt.c), voice activity (dsp/vad.c) and the conference mixer
 * (dsp/conf.c). Round trips generator to detector, random audio in random
 * chunk sizes to every detector, the bulk entry points. Built and run by
 * tests/drivers/test_c_sanitizers.py; exits non-zero on the first failed checks.
 *
 * With --bench (build it with -O2, no sanitizers) it prints the cost of MFC
 * and call-progress detection in ns per channel-second of audio.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsp/conf.h"
#include "dsp/cpt.h"
#include "dsp/mfc.h"
#include "dsp/vad.h"

#define HARNESS_SEED 0x2545F4914F6CDD1DULL
#include "harness.h"

/* ---- MFC ------------------------------------------------------------------ */

static void test_mfc_round_trips(void)
{
    int16_t buf[160];
    int backward, d, i;

    for (backward = 0; backward < 2; backward++)
    {
        mfc_tx_t *tx = mfc_tx_init(NULL, backward);
        mfc_rx_t *rx = mfc_rx_init(NULL, backward);

        for (d = 1; d <= MFC_DIGITS; d++)
        {
            int64_t at;
            int ev, got = 0, ends = 0;

            mfc_tx_set_level(tx, (float) rnd_range(-33, -5));
            mfc_tx_set(tx, d);
            for (i = 0; i < 8; i++)
            {
                mfc_tx(tx, buf, 160);
                mfc_rx(rx, buf, 160);
            }
            CHECK(mfc_rx_current(rx) == d, "dir %d signal %d current %d", backward, d, mfc_rx_current(rx));
            mfc_tx_set(tx, -1);
            for (i = 0; i < 5; i++)
            {
                mfc_tx(tx, buf, 160);
                mfc_rx(rx, buf, 160);
            }
            while ((ev = mfc_rx_get(rx, &at)) != MFC_EVENT_NONE)
            {
                if (ev == d)
                    got++;
                else if (ev == MFC_EVENT_END)
                    ends++;
                else
                    CHECK(0, "unexpected event %d for signal %d", ev, d);
            }
            CHECK(got == 1 && ends == 1, "dir %d signal %d: %d starts %d ends", backward, d, got, ends);
        }
        mfc_rx_free(rx);
        /* the other direction's signals are not recognised */
        rx = mfc_rx_init(NULL, !backward);
        for (d = 1; d <= MFC_DIGITS; d++)
        {
            mfc_tx_set(tx, d);
            for (i = 0; i < 6; i++)
            {
                mfc_tx(tx, buf, 160);
                CHECK(mfc_rx(rx, buf, 160) == -1, "direction mix-up, signal %d", d);
            }
        }
        mfc_rx_free(rx);
        mfc_tx_free(tx);
    }
    {
        mfc_tx_t *tx = mfc_tx_init(NULL, 0);

        CHECK(mfc_tx_set(tx, 0) == -1 && mfc_tx_set(tx, 16) == -1, "bad signals refused");
        CHECK(mfc_tx_set_level(tx, 10.0f) == -1 && mfc_tx_set_level(tx, NAN) == -1, "bad level refused");
        CHECK(mfc_digit_pair(0, NULL, NULL) == -1, "digit 0");
        mfc_tx_free(tx);
    }
}

static void test_mfc_bulk(void)
{
    enum { CH = 30, N = 160 };
    static int16_t frame[N * CH];
    mfc_tx_t *tx[CH];
    mfc_rx_t *rx[CH];
    int digits[CH];
    int c, t, i;

    for (c = 0; c < CH; c++)
    {
        tx[c] = mfc_tx_init(NULL, c & 1);
        rx[c] = (c == 7) ? NULL : mfc_rx_init(NULL, c & 1);
        mfc_tx_set(tx[c], 1 + c % 15);
    }
    for (t = 0; t < 10; t++)
    {
        int16_t one[N];

        /* interleaved as an E1 frame buffer: sample i of channel c at i*CH + c */
        for (c = 0; c < CH; c++)
        {
            mfc_tx(tx[c], one, N);
            for (i = 0; i < N; i++)
                frame[i * CH + c] = one[i];
        }
        mfc_rx_bulk(rx, CH, frame, 1, CH, N, digits);
    }
    for (c = 0; c < CH; c++)
    {
        CHECK(digits[c] == (c == 7 ? -1 : 1 + c % 15), "bulk channel %d got %d", c, digits[c]);
        mfc_tx_free(tx[c]);
        mfc_rx_free(rx[c]);
    }
}

/* ---- call progress --------------------------------------------------------- */

static void test_cpt_round_trips(void)
{
    int16_t buf[160];
    int set, tone, i;

    for (set = 0; set < cpt_set_count(); set++)
        for (tone = CPT_DIAL; tone <= CPT_CONGESTION; tone++)
        {
            cpt_tx_t *tx = cpt_tx_init(NULL, set);
            cpt_rx_t *rx = cpt_rx_init(NULL, set);
            int64_t at;
            int ev, first = -1;

            cpt_tx_play(tx, tone);
            for (i = 0; i < 50 * 13; i++)
            {
                cpt_tx(tx, buf, 160);
                cpt_rx(rx, buf, 160);
                while ((ev = cpt_rx_get(rx, &at)) != CPT_EVENT_NONE)
                    if (first < 0)
                        first = ev;
            }
            CHECK(first == tone && cpt_rx_current(rx) == tone, "set %s tone %d: first %d now %d",
                  cpt_set_name(set), tone, first, cpt_rx_current(rx));
            cpt_tx_free(tx);
            cpt_rx_free(rx);
        }
    CHECK(cpt_set_find("cn") == CPT_SET_CN && cpt_set_find("nowhere") == -1 && cpt_set_find(NULL) == -1,
          "set lookup");
    CHECK(cpt_tx_init(NULL, 99) == NULL && cpt_rx_init(NULL, -1) == NULL, "bad set refused");
    {
        cpt_tx_t *tx = cpt_tx_init(NULL, 0);

        CHECK(cpt_tx_play(tx, 9) == -1, "bad tone");
        CHECK(cpt_tx_play_custom(tx, 5000, 0, 0, 0, 0, 0) == -1, "bad frequency");
        CHECK(cpt_tx_play_custom(tx, 400, 0, 100, 0, 0, 0) == -1, "cadence without off");
        CHECK(cpt_tx_play_custom(tx, 400, 0, 100, 100, 200, 300) == 0, "4-part cadence");
        cpt_tx(tx, buf, 160);
        cpt_tx_free(tx);
    }
}

/* Voice (DTMF here) and then a cadenced tone whose bursts start inside the
 * detector's 25 ms blocks: the edge block of each burst must not hold the
 * voice hangover, or busy after voice is never recognised. */
static void test_cpt_tone_after_voice(void)
{
    static int16_t audio[8000 * 5];   /* the longest: 0.3 s of DTMF and gap, 3.75 s of tone */
    int set, tone, gap, i;

    for (set = 0; set < cpt_set_count(); set++)
        for (tone = CPT_BUSY; tone <= CPT_CONGESTION; tone++)
            for (gap = 1000; gap < 1200; gap += 25)
            {
                cpt_tone_info_t info;
                cpt_tx_t *tx = cpt_tx_init(NULL, set);
                cpt_rx_t *rx = cpt_rx_init(NULL, set);
                int start = 1280 + gap, n, period, chunk = rnd_range(1, 400);
                double limit;
                int64_t at, found = -1;
                int ev;

                cpt_tone_info(set, tone, &info);
                period = info.cadence[0] + info.cadence[1] + info.cadence[2] + info.cadence[3];
                limit = (period < 2000 ? 2 * period : period) / 1000.0 + 0.5;
                n = start + (int) ((limit + 0.25) * 8000);
                memset(audio, 0, sizeof(audio));
                /* "1" and "2", 80 ms on and off, at -9 and -7 dBm0 */
                for (i = 0; i < 640; i++)
                {
                    double t = i / 8000.0;

                    audio[i] = (int16_t) lrint(8099.0 * sin(2 * M_PI * 697 * t)
                                               + 10196.0 * sin(2 * M_PI * 1209 * t));
                    audio[1280 + i] = (int16_t) lrint(8099.0 * sin(2 * M_PI * 697 * t)
                                                      + 10196.0 * sin(2 * M_PI * 1336 * t));
                }
                cpt_tx_play(tx, tone);
                cpt_tx(tx, audio + start, n - start);
                for (i = 0; i < n; i += chunk)
                {
                    cpt_rx(rx, audio + i, n - i < chunk ? n - i : chunk);
                    while ((ev = cpt_rx_get(rx, &at)) != CPT_EVENT_NONE)
                        if (ev == tone && found < 0)
                            found = at;
                }
                CHECK(found >= 0 && (found - start) / 8000.0 <= limit,
                      "set %s tone %d gap %d: at %.2f s, limit %.2f", cpt_set_name(set), tone, gap,
                      found < 0 ? -1.0 : (found - start) / 8000.0, limit);
                cpt_tx_free(tx);
                cpt_rx_free(rx);
            }
}

/* ---- random audio into every detector -------------------------------------- */

static void test_random_audio(void)
{
    static int16_t audio[16000];
    mfc_rx_t *mf[2];
    cpt_rx_t *cp[8];
    vad_rx_t *va;
    int round, i, k;

    for (round = 0; round < 40; round++)
    {
        int kind = round % 4;
        int n = rnd_range(0, 16000);

        for (i = 0; i < n; i++)
        {
            switch (kind)
            {
            case 0:
                audio[i] = (int16_t) rnd();
                break;
            case 1:     /* full-scale square waves */
                audio[i] = ((i / rnd_range(1, 40)) & 1) ? 32767 : -32768;
                break;
            case 2:     /* loud sines and bursts */
                audio[i] = (int16_t) (32767.0 * sin(i * 0.01 * (round + 1)));
                break;
            default:    /* near silence */
                audio[i] = (int16_t) rnd_range(-2, 2);
                break;
            }
        }
        mf[0] = mfc_rx_init(NULL, 0);
        mf[1] = mfc_rx_init(NULL, 1);
        for (k = 0; k < cpt_set_count(); k++)
            cp[k] = cpt_rx_init(NULL, k);
        va = vad_rx_init(NULL, -40.0f, 300);
        for (i = 0; i < n;)
        {
            int m = rnd_range(0, 500);
            int64_t at;

            if (m > n - i)
                m = n - i;
            for (k = 0; k < 2; k++)
            {
                int d = mfc_rx(mf[k], audio + i, m);

                CHECK(d == -1 || (d >= 1 && d <= 15), "mfc digit %d", d);
                while (mfc_rx_get(mf[k], &at) != MFC_EVENT_NONE)
                    ;
            }
            for (k = 0; k < cpt_set_count(); k++)
            {
                int s = cpt_rx(cp[k], audio + i, m);

                CHECK(s >= CPT_SILENCE && s <= CPT_VOICE, "cpt state %d", s);
                while (cpt_rx_get(cp[k], NULL) != CPT_EVENT_NONE)
                    ;
            }
            vad_rx(va, audio + i, m);
            CHECK(vad_rx_level(va) >= -99.0f && vad_rx_level(va) < 10.0f, "vad level %f", vad_rx_level(va));
            i += m;
        }
        mfc_rx_free(mf[0]);
        mfc_rx_free(mf[1]);
        for (k = 0; k < cpt_set_count(); k++)
            cpt_rx_free(cp[k]);
        vad_rx_free(va);
    }
}

/* ---- VAD, conference -------------------------------------------------------- */

static void test_vad(void)
{
    int16_t buf[800];
    vad_rx_t *v;
    int i;

    CHECK(vad_rx_init(NULL, 5.0f, 100) == NULL, "bad threshold refused");
    v = vad_rx_init(NULL, -40.0f, 200);
    memset(buf, 0, sizeof(buf));
    CHECK(vad_rx(v, buf, 800) == 0, "silence");
    for (i = 0; i < 800; i++)
        buf[i] = (int16_t) (7000.0 * sin(i * 0.3) * (1 + (i / 80) % 3));
    CHECK(vad_rx(v, buf, 800) == 1, "voice");
    memset(buf, 0, sizeof(buf));
    vad_rx(v, buf, 800);
    vad_rx(v, buf, 800);
    vad_rx(v, buf, 800);
    CHECK(vad_rx_active(v) == 0, "hangover over");
    CHECK(vad_rx_get(v, NULL) == 1 && vad_rx_get(v, NULL) == 0 && vad_rx_get(v, NULL) == VAD_EVENT_NONE,
          "vad events");
    vad_rx_free(v);
}

static void test_conf(void)
{
    enum { M = 6, N = 333 };
    static int16_t in[M * N], out[M * N];
    conf_t *c = conf_init(NULL, M);
    int round, m, i;

    CHECK(conf_init(NULL, 0) == NULL && conf_init(NULL, CONF_MAX_MEMBERS + 1) == NULL, "bad size refused");
    CHECK(conf_join(c, M, CONF_MEMBER) == -1 && conf_join(c, 0, 0x100) == -1, "bad join refused");
    CHECK(conf_leave(c, 3) == -1, "leave when out");
    for (round = 0; round < 200; round++)
    {
        int flags[M];

        for (m = 0; m < M; m++)
        {
            int r = rnd_range(0, 5);

            if (r == 0)
                conf_leave(c, m);
            else if (r == 5)
            {
                conf_join(c, m, CONF_HEAR | CONF_WHISPER);
                conf_set_target(c, m, rnd_range(-1, M - 1) == m ? -1 : (m + 1) % M);
            }
            else
                conf_join(c, m, r & 3);
            flags[m] = conf_flags(c, m);
        }
        for (i = 0; i < M * N; i++)
        {
            in[i] = (int16_t) rnd();
            out[i] = 0x5A5A;
        }
        CHECK(conf_mix_block(c, in, out, N, N) == N, "mix");
        for (m = 0; m < M; m++)
        {
            int f = flags[m];

            if (f < 0)
            {
                CHECK(out[m * N] == 0x5A5A, "non-member %d written", m);
                continue;
            }
            for (i = 0; i < N; i += 37)
            {
                int32_t ref = 0;
                int o;

                if (!(f & CONF_HEAR))
                {
                    CHECK(out[m * N + i] == 0, "deaf member %d", m);
                    continue;
                }
                /* whispers are checked against a reference in tests/drivers/test_vad_conf.py;
                 * here members with no whisperer anywhere are checked exactly */
                for (o = 0; o < M; o++)
                {
                    if (o == m || flags[o] < 0)
                        continue;
                    if (flags[o] & CONF_WHISPER)
                        ref = INT32_MIN;
                    if (ref != INT32_MIN && (flags[o] & CONF_TALK))
                        ref += in[o * N + i];
                }
                if (ref != INT32_MIN)
                {
                    ref = ref > 32767 ? 32767 : ref < -32768 ? -32768 : ref;
                    CHECK(out[m * N + i] == ref, "member %d sample %d: %d, not %d", m, i, out[m * N + i], (int) ref);
                }
                CHECK(out[m * N + i] >= -32768 && out[m * N + i] <= 32767, "range");
            }
        }
    }
    CHECK(conf_mix(c, NULL, NULL, 10) == -1, "null arrays refused");
    conf_free(c);
}

/* ---- bench ------------------------------------------------------------------ */

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void bench(void)
{
    enum { CH = 256, N = 160, TICKS = 500 };   /* 256 channels x 10 s of audio */
    static int16_t audio[CH * N];
    mfc_rx_t *mfp[CH];
    cpt_rx_t *cpp[CH];
    vad_rx_t *vap[CH];
    int kinds[CH];
    double t0, t1;
    int c, t, i;

    for (c = 0; c < CH; c++)
    {
        mfp[c] = mfc_rx_init(NULL, c & 1);
        cpp[c] = cpt_rx_init(NULL, 0);
        vap[c] = vad_rx_init(NULL, -40.0f, 300);
    }
    for (i = 0; i < CH * N; i++)
        audio[i] = (int16_t) (rnd() % 8000) - 4000;
    t0 = now();
    for (t = 0; t < TICKS; t++)
        mfc_rx_bulk(mfp, CH, audio, N, 1, N, kinds);
    t1 = now();
    printf("mfc_rx: %.0f ns per channel-second\n", (t1 - t0) * 1e9 / (CH * (TICKS * N / 8000.0)));
    t0 = now();
    for (t = 0; t < TICKS; t++)
        cpt_rx_bulk(cpp, CH, audio, N, 1, N, kinds);
    t1 = now();
    printf("cpt_rx: %.0f ns per channel-second\n", (t1 - t0) * 1e9 / (CH * (TICKS * N / 8000.0)));
    t0 = now();
    for (t = 0; t < TICKS; t++)
        vad_rx_bulk(vap, CH, audio, N, 1, N, kinds, NULL);
    t1 = now();
    printf("vad_rx: %.0f ns per channel-second\n", (t1 - t0) * 1e9 / (CH * (TICKS * N / 8000.0)));
    for (c = 0; c < CH; c++)
    {
        mfc_rx_free(mfp[c]);
        cpt_rx_free(cpp[c]);
        vad_rx_free(vap[c]);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
    {
        bench();
        return 0;
    }
    test_mfc_round_trips();
    test_mfc_bulk();
    test_cpt_round_trips();
    test_cpt_tone_after_voice();
    test_random_audio();
    test_vad();
    test_conf();
    return harness_summary("test_tones");
}
