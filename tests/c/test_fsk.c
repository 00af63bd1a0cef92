/*
 * Sanitizer harness for the FSK modem (dsp/fsk.c): Bell 202 and V.23 loopback
 * at levels from 0 to -40 dBm0, with an independent generator of its own
 * (float math) for tone and baud offsets of +-1% and for noise, the bulk entry
 * points, misuse of the API, and random audio in random block sizes. Built and
 * run by tests/drivers/test_c_sanitizers.py under AddressSanitizer and UBSan.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/fsk.h"

#define HARNESS_SEED 0x2545F4914F6CDD1DULL
#include "harness.h"

/* roughly Gaussian, unit variance: sum of 12 uniforms less 6 */
static double gauss(void)
{
    double acc = 0;
    for (int i = 0; i < 12; i++)
        acc += rnd() / 4294967296.0;
    return acc - 6.0;
}

#define MAXS 80000
static int16_t audio[MAXS];

/* Message under test: type, length, payload, checksum (checksum not checked here) */
static int make_message(uint8_t *msg, int len)
{
    for (int i = 0; i < len; i++)
        msg[i] = (uint8_t) rnd();
    msg[0] = 0x80;
    return len;
}

/* Receive audio in random blocks; return characters collected */
static int receive(fsk_rx_t *rx, const int16_t *amp, int n, uint8_t *out, int max)
{
    int got = 0, at = 0;
    while (at < n) {
        int blk = 1 + (int) (rnd() % 200);
        if (blk > n - at)
            blk = n - at;
        int k = fsk_rx(rx, amp + at, blk);
        CHECK(k >= 0, "fsk_rx returned %d", k);
        at += blk;
        got += fsk_rx_get(rx, out + got, max - got);
    }
    return got;
}

/* The message must follow the 0x55s of the seizure, after the mark */
static int find_message(const uint8_t *got, int n, const uint8_t *msg, int len)
{
    for (int i = 0; i + len <= n; i++)
        if (memcmp(got + i, msg, (size_t) len) == 0)
            return i;
    return -1;
}

static int count_55(const uint8_t *got, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += got[i] == 0x55;
    return c;
}

static void test_loopback(int mode, int level)
{
    fsk_tx_t *tx = fsk_tx_init(NULL, mode, level);
    fsk_rx_t *rx = fsk_rx_init(NULL, mode);
    uint8_t msg[60], got[1024];
    int len = make_message(msg, 40);
    CHECK(tx && rx, "init");
    memset(audio, 0, 400 * sizeof(int16_t));
    CHECK(fsk_tx_put_seizure(tx, 300) == 300, "seizure");
    CHECK(fsk_tx_put_mark(tx, 180) == 180, "mark");
    CHECK(fsk_tx_put_bytes(tx, msg, len) == len, "bytes");
    CHECK(fsk_tx_put_mark(tx, 10) == 10, "trailing mark");
    CHECK(fsk_tx_queued(tx) == 300 + 180 + 10 * len + 10, "queued %d", fsk_tx_queued(tx));
    int n = 400, k;
    while ((k = fsk_tx(tx, audio + n, 333)) > 0)
        n += k;
    int bits = 300 + 180 + 10 * len + 10;
    CHECK(n - 400 == (bits * 8000 + 1199) / 1200, "samples %d for %d bits", n - 400, bits);
    memset(audio + n, 0, 400 * sizeof(int16_t));
    n += 400;
    int r = receive(rx, audio, n, got, sizeof(got));
    int at = find_message(got, r, msg, len);
    CHECK(at >= 0, "mode %d level %d: message not found in %d characters", mode, level, r);
    CHECK(count_55(got, at) >= 25, "mode %d level %d: %d seizure characters", mode, level,
          count_55(got, at));
    CHECK(fsk_rx_carrier(rx) == 0, "carrier still on after silence");
    fsk_rx_counters_t c;
    fsk_rx_counters(rx, &c);
    CHECK(c.carrier_ons == 1, "carrier_ons %u", c.carrier_ons);
    fsk_tx_free(tx);
    fsk_rx_free(rx);
}

/* An FSK generator of the harness's own: float phase, given tones and baud */
static int synth(int16_t *out, int max, const uint8_t *bits, int nbits, double mark, double space,
                 double baud, double peak, double noise_rms, double start_phase)
{
    double phase = start_phase, t = 0;
    int n = 0;
    for (int i = 0; i < nbits && n < max; i++) {
        double f = bits[i] ? mark : space;
        t += 8000.0 / baud;
        while (n < (int) t && n < max) {
            double v = peak * sin(phase) + noise_rms * gauss();
            if (v > 32767) v = 32767;
            if (v < -32768) v = -32768;
            out[n++] = (int16_t) lrint(v);
            phase += 2 * M_PI * f / 8000.0;
        }
    }
    return n;
}

static int framed_bits(uint8_t *bits, const uint8_t *msg, int len)
{
    int nb = 0;
    for (int i = 0; i < 300; i++)
        bits[nb++] = (uint8_t) (i & 1);
    for (int i = 0; i < 180; i++)
        bits[nb++] = 1;
    for (int i = 0; i < len; i++) {
        bits[nb++] = 0;
        for (int b = 0; b < 8; b++)
            bits[nb++] = (msg[i] >> b) & 1;
        bits[nb++] = 1;
    }
    for (int i = 0; i < 10; i++)
        bits[nb++] = 1;
    return nb;
}

static void test_offset_noise(int mode, double offset, double baud_offset, int level, double snr_db)
{
    static uint8_t bits[8000];
    uint8_t msg[60], got[1024];
    int len = make_message(msg, 50);
    int nb = framed_bits(bits, msg, len);
    double mark = mode == FSK_BELL202 ? 1200 : 1300, space = mode == FSK_BELL202 ? 2200 : 2100;
    double peak = 22826.36 * pow(10.0, level / 20.0);
    double noise = peak / sqrt(2.0) * pow(10.0, -snr_db / 20.0);
    int n = synth(audio, MAXS, bits, nb, mark * (1 + offset), space * (1 + offset),
                  1200.0 * (1 + baud_offset), peak, noise, (rnd() % 628) / 100.0);
    fsk_rx_t *rx = fsk_rx_init(NULL, mode);
    int r = receive(rx, audio, n, got, sizeof(got));
    CHECK(find_message(got, r, msg, len) >= 0,
          "mode %d offset %+.3f baud %+.3f level %d snr %.0f: message lost (%d chars)",
          mode, offset, baud_offset, level, snr_db, r);
    fsk_rx_free(rx);
}

static void test_bulk(void)
{
    enum { CH = 5, BLK = 160 };
    fsk_tx_t *tx[CH];
    fsk_rx_t *rx[CH];
    uint8_t msg[CH][20];
    static int16_t buf[CH * BLK];
    static uint8_t got[CH][600];
    int ngot[CH] = {0};
    for (int c = 0; c < CH; c++) {
        tx[c] = c == 2 ? NULL : fsk_tx_init(NULL, c & 1, -10 - 5 * c);
        rx[c] = c == 3 ? NULL : fsk_rx_init(NULL, c & 1);
        for (int i = 0; i < 20; i++)
            msg[c][i] = (uint8_t) rnd();
        if (tx[c]) {
            fsk_tx_put_seizure(tx[c], 300);
            fsk_tx_put_mark(tx[c], 180);
            fsk_tx_put_bytes(tx[c], msg[c], 20);
            fsk_tx_put_mark(tx[c], 5);
        }
    }
    int done[CH], rgot[CH];
    for (int tick = 0; tick < 60; tick++) {
        fsk_tx_bulk(tx, CH, buf, BLK, BLK, done);
        CHECK(done[2] == 0, "NULL transmitter produced %d", done[2]);
        int total = fsk_rx_bulk(rx, CH, buf, BLK, BLK, rgot);
        CHECK(total >= 0, "bulk rx %d", total);
        for (int c = 0; c < CH; c++)
            if (rx[c])
                ngot[c] += fsk_rx_get(rx[c], got[c] + ngot[c], 600 - ngot[c]);
    }
    for (int c = 0; c < CH; c++) {
        if (tx[c] && rx[c])
            CHECK(find_message(got[c], ngot[c], msg[c], 20) >= 0, "bulk channel %d", c);
        if (!tx[c] && rx[c])
            CHECK(ngot[c] == 0, "silent channel %d decoded %d", c, ngot[c]);
        fsk_tx_free(tx[c]);
        fsk_rx_free(rx[c]);
    }
}

static void test_misuse(void)
{
    fsk_tx_t *mem = malloc((size_t) fsk_tx_size());
    fsk_rx_t *rx;
    uint8_t b[4] = {0};
    int16_t a[4] = {0};
    CHECK(fsk_tx_init(NULL, 7, -10) == NULL, "bad mode");
    CHECK(fsk_tx_init(NULL, FSK_V23, 10) == NULL, "bad level");
    CHECK(fsk_rx_init(NULL, -1) == NULL, "bad mode");
    CHECK(fsk_tx_init(mem, FSK_V23, -13) == mem, "static init");
    CHECK(fsk_tx_put_bits(NULL, b, 4) == -1, "NULL tx");
    CHECK(fsk_tx_put_bits(mem, NULL, 4) == -1, "NULL bits");
    CHECK(fsk_tx_put_bytes(mem, b, -1) == -1, "negative");
    CHECK(fsk_tx_put_bytes(mem, b, 100000) == -5, "too many");
    CHECK(fsk_tx_put_mark(mem, FSK_TX_QUEUE_BITS) == FSK_TX_QUEUE_BITS, "fill");
    CHECK(fsk_tx_put_mark(mem, 1) == -5, "full");
    CHECK(fsk_tx(mem, NULL, 4) == -1, "NULL amp");
    CHECK(fsk_tx(mem, a, 0) == 0, "zero samples");
    CHECK(fsk_tx_set_level(mem, -61) == -1, "level");
    fsk_tx_release(mem);
    fsk_tx_free(mem);  /* not allocated by init: nothing happens */
    free(mem);
    rx = fsk_rx_init(NULL, FSK_BELL202);
    CHECK(fsk_rx(rx, NULL, 3) == -1, "NULL audio");
    CHECK(fsk_rx(NULL, a, 3) == -1, "NULL rx");
    CHECK(fsk_rx_get(rx, NULL, 3) == -1, "NULL buf");
    CHECK(fsk_rx_set_threshold(rx, -50, -40) == -1, "thresholds inverted");
    CHECK(fsk_rx_bulk(&rx, 2, a, 4, 1, NULL) == -1, "overlapping stride");
    fsk_rx_free(rx);
    fsk_rx_free(NULL);
    fsk_tx_free(NULL);
}

static void test_random_audio(void)
{
    uint8_t out[64];
    for (int round = 0; round < 6; round++) {
        fsk_rx_t *rx = fsk_rx_init(NULL, round & 1);
        int shift = (int) (rnd() % 16);
        for (int i = 0; i < 40000; i++)
            audio[i] = (int16_t) ((int32_t) rnd() >> (16 + shift % 3 * 4));
        if (round == 5)
            for (int i = 0; i < 40000; i++)
                audio[i] = (i / 3) & 1 ? 32767 : -32768;
        receive(rx, audio, 40000, out, 0);
        while (fsk_rx_get(rx, out, sizeof(out)) > 0)
            ;
        fsk_rx_counters_t c;
        fsk_rx_counters(rx, &c);
        CHECK(c.characters <= 40000 / 60, "too many characters from noise: %u", c.characters);
        fsk_rx_free(rx);
    }
}

int main(void)
{
    for (int mode = 0; mode < 2; mode++) {
        for (int level = 0; level >= -40; level -= 10)
            test_loopback(mode, level);
        for (int i = 0; i < 8; i++) {
            double off = (i & 1 ? 1 : -1) * 0.01 * ((i >> 1) & 1);
            double boff = (i & 2 ? 1 : -1) * 0.01 * (i >> 2);
            test_offset_noise(mode, off, boff, -10 - 4 * i, 30);
        }
        test_offset_noise(mode, 0.01, 0.01, -40, 20);
        test_offset_noise(mode, -0.01, -0.01, 0, 20);
        test_offset_noise(mode, 0.015, -0.01, -25, 18);
    }
    test_bulk();
    test_misuse();
    test_random_audio();
    return harness_summary("test_fsk");
}
