/*
 * Sanitizer harness for DTMF (dsp/dtmf.c): generator-to-detector round trips
 * (every digit, random strings, levels, timings and chunk sizes, the bulk
 * form over several channels), random audio that must never crash the
 * detector nor yield anything but a DTMF digit, and the API's edges. Built
 * and run by tests/drivers/test_c_sanitizers.py with AddressSanitizer and UBSan;
 * exits non-zero on a failed check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dtmf.h"

#define HARNESS_SEED 0x5DEECE66DULL
#include "harness.h"

static const char all_digits[] = "0123456789*#ABCD";

#define MAX_AUDIO (8000 * 60)
static int16_t audio[MAX_AUDIO];

/* Generate digits with tx into audio; returns the samples, plus trailing silence. */
static int generate(const char *digits, const dtmf_tx_params_t *p, int silence)
{
    dtmf_tx_t *tx = dtmf_tx_init(NULL, p);
    int n = 0;
    int k;

    CHECK(tx != NULL, "dtmf_tx_init");
    if (tx == NULL)
        return 0;
    CHECK(dtmf_tx_put(tx, digits, -1) == (int) strlen(digits), "put %s", digits);
    while ((k = dtmf_tx(tx, &audio[n], rnd_range(1, 400))) > 0)
        n += k;
    CHECK(dtmf_tx_pending(tx) == 0, "pending after the end");
    CHECK(dtmf_tx(tx, &audio[n], 10) == 0, "idle generator returns 0");
    dtmf_tx_free(tx);
    memset(&audio[n], 0, (size_t) silence * sizeof(audio[0]));
    return n + silence;
}

/* Detect over audio[0..n) in chunks of `chunk` (0: random sizes); digits into out. */
static int detect(dtmf_rx_t *rx, int n, int chunk, char *out, int max)
{
    int got = 0;
    int avail = 0;
    int i;
    int k;

    for (i = 0; i < n; i += k)
    {
        k = chunk ? chunk : rnd_range(1, 333);
        if (k > n - i)
            k = n - i;
        avail += dtmf_rx(rx, &audio[i], k);
        got += dtmf_rx_get(rx, out + got, max - 1 - got);
    }
    out[got] = '\0';
    CHECK(avail == got, "return values %d, digits %d", avail, got);
    return got;
}

static void test_every_digit(void)
{
    static const int chunks[] = { 1, 7, 52, 104, 160, 0 };
    dtmf_rx_report_t rep[DTMF_RX_MAX_REPORTS];
    char out[256];
    dtmf_rx_t *rx;
    size_t c;
    int n;
    int k;
    int i;

    n = generate(all_digits, NULL, 800);
    for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
    {
        rx = dtmf_rx_init(NULL, NULL);
        detect(rx, n, chunks[c], out, (int) sizeof(out));
        CHECK(strcmp(out, all_digits) == 0, "chunk %d: got %s", chunks[c], out);
        k = dtmf_rx_get_reports(rx, rep, DTMF_RX_MAX_REPORTS);
        CHECK(k == 16, "reports %d", k);
        for (i = 0; i < k; i++)
        {
            CHECK(rep[i].digit == all_digits[i], "report %d digit %c", i, rep[i].digit);
            /* 80 ms on, 80 ms off: starts every 1280 samples, 640 long, +-26 each end */
            CHECK(rep[i].start >= 1280 * i - 26 && rep[i].start <= 1280 * i + 26,
                  "report %d start %ld", i, (long) rep[i].start);
            CHECK(rep[i].duration >= 640 - 52 && rep[i].duration <= 640 + 52,
                  "report %d duration %d", i, rep[i].duration);
        }
        CHECK(dtmf_rx_status(rx) == 0, "status after the end");
        dtmf_rx_free(rx);
    }
}

static void test_random_round_trips(void)
{
    dtmf_tx_params_t p;
    char digits[40];
    char out[256];
    dtmf_rx_t *rx;
    int trial;
    int len;
    int n;
    int i;

    for (trial = 0; trial < 150; trial++)
    {
        len = rnd_range(1, 30);
        for (i = 0; i < len; i++)
            digits[i] = all_digits[rnd() % 16];
        digits[len] = '\0';
        /* within Q.24: -3..-28 dBm0 per tone, twist within 3 dB either way, 45 ms on and off */
        p.low_level_dbm0 = (float) rnd_range(-28, -3);
        p.high_level_dbm0 = p.low_level_dbm0 + (float) rnd_range(-3, 3);
        if (p.high_level_dbm0 > -3.0f)
            p.high_level_dbm0 = -3.0f;
        if (p.high_level_dbm0 < -28.0f)
            p.high_level_dbm0 = -28.0f;
        p.on_ms = rnd_range(45, 150);
        p.off_ms = rnd_range(45, 150);
        n = generate(digits, &p, rnd_range(0, 1000));
        rx = dtmf_rx_init(NULL, NULL);
        detect(rx, n, 0, out, (int) sizeof(out));
        /* the last digit shows even without trailing silence (confirmed while on) */
        CHECK(strcmp(out, digits) == 0, "trial %d: sent %s got %s (levels %.0f/%.0f, %d/%d ms)",
              trial, digits, out, p.low_level_dbm0, p.high_level_dbm0, p.on_ms, p.off_ms);
        dtmf_rx_free(rx);
    }
}

static void test_bulk(void)
{
    enum { CH = 9, TICK = 160, LEN = 8000 * 3 };
    static int16_t lanes[CH][LEN];
    static int16_t tick[CH * (TICK + 3)];
    static const char *strings[CH] = { "123", "456", "789", "*0#", "ABCD", "", "5", "90210", "#*" };
    dtmf_rx_t *rx[CH];
    char out[CH][64];
    int got[CH];
    int total = 0;
    int avail = 0;
    int c;
    int t;
    int n;

    for (c = 0; c < CH; c++)
    {
        n = generate(strings[c], NULL, 0);
        CHECK(n <= LEN, "lane %d too long", c);
        memset(lanes[c], 0, sizeof(lanes[c]));
        memcpy(lanes[c], audio, (size_t) n * sizeof(int16_t));
        rx[c] = (c == 5) ? NULL : dtmf_rx_init(NULL, NULL);
        got[c] = 0;
    }
    for (t = 0; t + TICK <= LEN; t += TICK)
    {
        for (c = 0; c < CH; c++)
            memcpy(&tick[c * (TICK + 3)], &lanes[c][t], TICK * sizeof(int16_t));
        avail += dtmf_rx_bulk(rx, tick, CH, TICK, TICK + 3);
        if (t % (2 * TICK) == 0)
        {
            /* every other tick: all channels' digits in one call, two at a time */
            char d[2];
            int ch[2];
            int k;
            int i;

            while ((k = dtmf_rx_bulk_get(rx, CH, d, ch, 2)) > 0)
            {
                for (i = 0; i < k; i++)
                {
                    CHECK(ch[i] >= 0 && ch[i] < CH && rx[ch[i]] != NULL, "channel %d", ch[i]);
                    if (got[ch[i]] < 63)
                        out[ch[i]][got[ch[i]]++] = d[i];
                }
            }
        }
    }
    for (c = 0; c < CH; c++)
    {
        if (rx[c] != NULL)
            got[c] += dtmf_rx_get(rx[c], &out[c][got[c]], 63 - got[c]);
    }
    for (c = 0; c < CH; c++)
    {
        if (rx[c] == NULL)
            continue;
        out[c][got[c]] = '\0';
        total += got[c];
        CHECK(strcmp(out[c], strings[c]) == 0, "bulk channel %d: sent %s got %s", c, strings[c], out[c]);
        dtmf_rx_free(rx[c]);
    }
    CHECK(avail == total, "bulk returned %d, digits %d", avail, total);
    CHECK(dtmf_rx_bulk(rx, tick, CH, TICK, TICK - 1) == 0, "stride below samples");
}

static void test_random_audio(void)
{
    char out[DTMF_RX_MAX_DIGITS + 1];
    dtmf_rx_t *rx;
    int trial;
    int kind;
    int n;
    int i;
    int k;
    int v;

    for (trial = 0; trial < 60; trial++)
    {
        kind = trial % 6;
        n = rnd_range(1, 8000 * 4);
        v = 0;
        for (i = 0; i < n; i++)
        {
            switch (kind)
            {
            case 0: /* white, full scale */
                audio[i] = (int16_t) (rnd() & 0xFFFF);
                break;
            case 1: /* random walk */
                v += rnd_range(-3000, 3000);
                v = v > 32767 ? 32767 : (v < -32768 ? -32768 : v);
                audio[i] = (int16_t) v;
                break;
            case 2: /* rails */
                audio[i] = (rnd() & 1) ? 32767 : -32768;
                break;
            case 3: /* square wave of random period */
                if (i % 400 == 0)
                    v = rnd_range(2, 40);
                audio[i] = ((i / v) & 1) ? 20000 : -20000;
                break;
            case 4: /* DC */
                audio[i] = -32768;
                break;
            default: /* bursts of tones of random frequencies and silence */
                audio[i] = (int16_t) (((i / 300) & 1) ? (rnd() % 2001) - 1000 : 0);
                break;
            }
        }
        rx = dtmf_rx_init(NULL, NULL);
        for (i = 0; i < n; i += k)
        {
            k = rnd_range(1, 500);
            if (k > n - i)
                k = n - i;
            dtmf_rx(rx, &audio[i], k);
        }
        k = dtmf_rx_get(rx, out, (int) sizeof(out) - 1);
        out[k] = '\0';
        for (i = 0; i < k; i++)
            CHECK(strchr(all_digits, out[i]) != NULL && out[i] != '\0', "kind %d: char %d", kind, out[i]);
        v = dtmf_rx_status(rx);
        CHECK(v == 0 || strchr(all_digits, v) != NULL, "status %d", v);
        dtmf_rx_free(rx);
    }
}

static void test_edges(void)
{
    dtmf_rx_params_t p;
    dtmf_tx_params_t tp;
    dtmf_rx_report_t rep[4];
    char out[8];
    void *mem;
    dtmf_rx_t *rx;
    dtmf_tx_t *tx;
    int16_t x[16] = { 0 };
    int n;
    int i;

    dtmf_rx_params_default(&p);
    p.freq_tolerance = 0.0f;
    CHECK(dtmf_rx_init(NULL, &p) == NULL, "zero tolerance refused");
    dtmf_rx_params_default(&p);
    p.min_level_dbm0 = -1000.0f;
    CHECK(dtmf_rx_init(NULL, &p) == NULL, "absurd level refused");
    dtmf_tx_params_default(&tp);
    tp.on_ms = -1;
    CHECK(dtmf_tx_init(NULL, &tp) == NULL, "negative on time refused");

    /* caller-provided storage */
    mem = malloc((size_t) dtmf_rx_size());
    rx = dtmf_rx_init((dtmf_rx_t *) mem, NULL);
    CHECK(rx == mem, "init in place");
    CHECK(dtmf_rx(rx, NULL, 10) == 0, "NULL audio");
    CHECK(dtmf_rx(rx, x, 0) == 0, "no samples");
    CHECK(dtmf_rx(rx, x, -5) == 0, "negative samples");
    CHECK(dtmf_rx_get(rx, out, 0) == 0, "max 0");
    CHECK(dtmf_rx_get(rx, out, sizeof(out)) == 0 && out[0] == '\0', "nothing yet");
    CHECK(dtmf_rx_get_reports(rx, rep, 4) == 0, "no reports");
    dtmf_rx_free(rx);  /* does not free storage it did not allocate */
    free(mem);
    CHECK(dtmf_rx(NULL, x, 16) == 0, "NULL receiver");
    dtmf_rx_free(NULL);

    tx = dtmf_tx_init(NULL, NULL);
    CHECK(dtmf_tx_put(tx, "12x", -1) == -1, "bad digit refused");
    CHECK(dtmf_tx_pending(tx) == 0, "nothing queued after a refusal");
    CHECK(dtmf_tx_put(tx, "abcd", 2) == 2, "lower case, length");
    n = 0;
    for (i = 0; i < 200; i++)
        n += dtmf_tx_put(tx, "0", 1);
    CHECK(n == DTMF_TX_MAX_DIGITS - 2, "queue fills at %d: %d", DTMF_TX_MAX_DIGITS, n);
    dtmf_tx_free(tx);

    /* the digit buffer overflows into the lost counter */
    dtmf_tx_params_default(&tp);
    tp.on_ms = 45;
    tp.off_ms = 45;
    {
        char many[DTMF_RX_MAX_DIGITS + 11];

        memset(many, '7', sizeof(many) - 1);
        many[sizeof(many) - 1] = '\0';
        tx = dtmf_tx_init(NULL, &tp);
        rx = dtmf_rx_init(NULL, NULL);
        n = dtmf_tx_put(tx, many, -1);
        CHECK(n == DTMF_TX_MAX_DIGITS, "queued %d", n);
        while ((n = dtmf_tx(tx, audio, 160)) > 0)
            dtmf_rx(rx, audio, n);
        dtmf_tx_put(tx, "7777777777", -1);
        while ((n = dtmf_tx(tx, audio, 160)) > 0)
            dtmf_rx(rx, audio, n);
        CHECK(dtmf_rx_lost(rx) >= 10, "lost %u", dtmf_rx_lost(rx));
        dtmf_tx_free(tx);
        dtmf_rx_free(rx);
    }
}

int main(void)
{
    test_every_digit();
    test_random_round_trips();
    test_bulk();
    test_random_audio();
    test_edges();
    return harness_summary("test_dtmf");
}
