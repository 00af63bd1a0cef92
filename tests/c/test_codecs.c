/*
 * Sanitizer harness for the line codecs: G.711 (dsp/g711.c), HDLC
 * (line/hdlc.c) and the O.151 pattern (line/prbs.c). Built and run by
 * tests/drivers/test_c_sanitizers.py with AddressSanitizer and UBSan; exits non-zero
 * on the first failed check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/g711.h"
#include "line/hdlc.h"
#include "line/prbs.h"

#define HARNESS_SEED 0x9E3779B97F4A7C15ULL
#include "harness.h"

/* ---- G.711 ------------------------------------------------------------ */

static void test_g711(void)
{
    static int16_t lin[65536];
    static uint8_t a[65536], u[65536];
    static int16_t back[65536];
    int i;

    for (i = 0; i < 65536; i++)
        lin[i] = (int16_t) (i - 32768);
    g711_alaw_encode(lin, a, 65536);
    g711_ulaw_encode(lin, u, 65536);
    for (i = 0; i < 65536; i++)
    {
        CHECK(a[i] == g711_linear_to_alaw(lin[i]), "alaw bulk %d", lin[i]);
        CHECK(u[i] == g711_linear_to_ulaw(lin[i]), "ulaw bulk %d", lin[i]);
    }
    g711_alaw_decode(a, back, 65536);
    for (i = 0; i < 65536; i++)
    {
        int err = abs(back[i] - lin[i]);
        /* half of the largest step (1024 in 16-bit units) */
        CHECK(err <= 512, "alaw round trip %d -> %d", lin[i], back[i]);
    }
    g711_ulaw_decode(u, back, 65536);
    for (i = 0; i < 65536; i++)
    {
        int err = abs(back[i] - lin[i]);
        CHECK(err <= 512 || abs(lin[i]) > 8159 * 4, "ulaw round trip %d -> %d", lin[i], back[i]);
    }
    for (i = 0; i < 256; i++)
    {
        CHECK(g711_linear_to_alaw(g711_alaw_to_linear((uint8_t) i)) == i, "alaw code %02x", i);
        if (i != 0x7F)
            CHECK(g711_linear_to_ulaw(g711_ulaw_to_linear((uint8_t) i)) == i, "ulaw code %02x", i);
        /* the conversions keep the sign */
        CHECK((g711_alaw_to_linear((uint8_t) i) > 0)
              == (g711_ulaw_to_linear(g711_alaw_to_ulaw((uint8_t) i)) > 0), "a2u sign %02x", i);
    }
    CHECK(g711_linear_to_alaw(0) == G711_ALAW_SILENCE, "A-law silence");
    CHECK(g711_linear_to_ulaw(0) == G711_ULAW_SILENCE, "mu-law silence");
}

/* ---- HDLC ------------------------------------------------------------- */

static void test_hdlc_fcs(void)
{
    CHECK(hdlc_fcs16((const uint8_t *) "123456789", 9) == 0x906E, "FCS check value");
}

/* Random frames through tx and rx, the stream cut in random pieces, at a stride. */
static void test_hdlc_round_trip(int stride)
{
    enum { NFRAMES = 200 };
    static uint8_t frames[NFRAMES][HDLC_MAX_FRAME];
    static int lens[NFRAMES];
    uint8_t *line;
    uint8_t buf[HDLC_MAX_FRAME];
    hdlc_tx_t *tx = hdlc_tx_init(NULL);
    hdlc_rx_t *rx = hdlc_rx_init(NULL);
    hdlc_rx_counters_t c;
    int sent = 0, got = 0;
    int i, n, len;

    CHECK(tx != NULL && rx != NULL, "init");
    line = malloc((size_t) 4096 * stride);
    while (got < NFRAMES)
    {
        while (sent < NFRAMES && hdlc_tx_queued(tx) < HDLC_TX_QUEUE && (rnd() & 3))
        {
            lens[sent] = (rnd() & 7) ? rnd_range(2, 40) : rnd_range(2, HDLC_MAX_FRAME);
            for (i = 0; i < lens[sent]; i++)
                frames[sent][i] = (rnd() & 1) ? 0xFF : (uint8_t) rnd();
            CHECK(hdlc_tx_frame(tx, frames[sent], lens[sent]) == 0, "queue frame %d", sent);
            sent++;
        }
        n = rnd_range(1, 4096);
        hdlc_tx_get_strided(tx, line, n, stride);
        hdlc_rx_put_strided(rx, line, n, stride);
        while ((len = hdlc_rx_get_frame(rx, buf, sizeof(buf))) > 0)
        {
            CHECK(got < sent, "more frames than sent");
            if (got >= sent)
                break;
            CHECK(len == lens[got] && memcmp(buf, frames[got], (size_t) len) == 0,
                  "frame %d differs (len %d want %d)", got, len, lens[got]);
            got++;
        }
        if (sent == NFRAMES && hdlc_tx_queued(tx) == 0 && got < NFRAMES)
        {
            /* the closing flag */
            hdlc_tx_get(tx, line, 4);
            hdlc_rx_put(rx, line, 4);
            while ((len = hdlc_rx_get_frame(rx, buf, sizeof(buf))) > 0 && got < NFRAMES)
                got++;
            break;
        }
    }
    CHECK(got == NFRAMES, "got %d of %d frames", got, NFRAMES);
    hdlc_rx_counters(rx, &c);
    CHECK(c.frames == NFRAMES && c.fcs_errors == 0 && c.aborts == 0 && c.short_frames == 0
          && c.long_frames == 0 && c.bad_bits == 0 && c.overruns == 0, "counters");
    CHECK(hdlc_tx_frames_sent(tx) == NFRAMES, "frames sent");
    free(line);
    hdlc_tx_free(tx);
    hdlc_rx_free(rx);
}

/* Bits a frame takes on the line after zero-bit insertion, FCS included. */
static int stuffed_bits(const uint8_t *frame, int len)
{
    uint8_t all[HDLC_MAX_FRAME + 2];
    uint16_t fcs = hdlc_fcs16(frame, len);
    int bits = 0, ones = 0;
    int i, k;

    memcpy(all, frame, (size_t) len);
    all[len] = (uint8_t) fcs;
    all[len + 1] = (uint8_t) (fcs >> 8);
    for (i = 0; i < len + 2; i++)
        for (k = 0; k < 8; k++)
        {
            bits++;
            ones = ((all[i] >> k) & 1) ? ones + 1 : 0;
            if (ones == 5)
            {
                bits++;
                ones = 0;
            }
        }
    return bits;
}

/* Garbage, and frames with random bit errors, into a caller-allocated receiver. */
static void test_hdlc_garbage(void)
{
    hdlc_rx_t *rx = malloc((size_t) hdlc_rx_size());
    hdlc_tx_t *tx = malloc((size_t) hdlc_tx_size());
    uint8_t line[2048];
    uint8_t buf[HDLC_MAX_FRAME];
    uint8_t small[3];
    hdlc_rx_counters_t c;
    int round, i, len;

    CHECK(hdlc_rx_init(rx) == rx && hdlc_tx_init(tx) == tx, "init in place");
    for (round = 0; round < 2000; round++)
    {
        int n = rnd_range(0, (int) sizeof(line));
        int kind = rnd() % 3;

        for (i = 0; i < n; i++)
            line[i] = (kind == 0) ? (uint8_t) rnd() : (kind == 1) ? ((rnd() & 1) ? 0x7E : 0xFF)
                                                                  : (uint8_t) (rnd() & rnd());
        hdlc_rx_put(rx, line, n);
        while ((len = hdlc_rx_get_frame(rx, buf, sizeof(buf))) > 0)
        {
            CHECK(len >= 2 && len <= HDLC_MAX_FRAME, "frame length %d", len);
        }
        CHECK(len == 0, "get_frame %d", len);
    }
    /* a frame that does not fit the caller's buffer stays queued */
    for (i = 0; i < 10; i++)
        buf[i] = (uint8_t) i;
    hdlc_rx_init(rx);
    hdlc_tx_frame(tx, buf, 10);
    hdlc_tx_get(tx, line, 40);
    hdlc_rx_put(rx, line, 40);
    CHECK(hdlc_rx_get_frame(rx, small, (int) sizeof(small)) == -1, "too small a buffer");
    CHECK(hdlc_rx_get_frame(rx, buf, (int) sizeof(buf)) == 10, "then taken");
    /* bit errors: never a delivered frame that differs from what was sent */
    for (round = 0; round < 500; round++)
    {
        uint8_t frame[64];
        int flen = rnd_range(2, 64);
        int bit;

        for (i = 0; i < flen; i++)
            frame[i] = (uint8_t) rnd();
        hdlc_tx_frame(tx, frame, flen);
        hdlc_tx_get(tx, line, 100);
        bit = rnd_range(8, 8 * 60);
        line[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        hdlc_rx_put(rx, line, 100);
        while ((len = hdlc_rx_get_frame(rx, buf, sizeof(buf))) > 0)
            /* the frame starts the chunk (the last flag opened it): a hit before its closing flag's end spoils it */
            CHECK(!(len == flen && memcmp(buf, frame, (size_t) flen) == 0)
                  || bit >= stuffed_bits(frame, flen) + 8, "a frame with a flipped bit was delivered");
    }
    hdlc_rx_counters(rx, &c);
    CHECK(c.fcs_errors + c.bad_bits + c.aborts + c.short_frames > 0, "errors counted");
    CHECK(hdlc_tx_frame(tx, buf, 0) == -2 && hdlc_tx_frame(tx, buf, HDLC_MAX_FRAME + 1) == -2,
          "length limits");
    hdlc_rx_release(rx);
    hdlc_tx_release(tx);
    hdlc_rx_free(rx);       /* not allocated by init: does not free */
    hdlc_tx_free(tx);
    free(rx);
    free(tx);
}

/* ---- PRBS ------------------------------------------------------------- */

static void test_prbs(void)
{
    static uint8_t data[40000];
    static uint8_t slots[32 * 1000];
    prbs_tx_t tx;
    prbs_rx_t rx;
    int i, injected = 0;

    prbs_tx_init(&tx);
    prbs_tx_get(&tx, data, (int) sizeof(data));
    for (i = 0; i < 40; i++)
    {
        int bit = rnd_range(800, (int) sizeof(data) * 8 - 1);

        data[bit / 8] ^= (uint8_t) (0x80 >> (bit % 8));
        injected++;
    }
    prbs_rx_init(&rx);
    prbs_rx_put(&rx, data, (int) sizeof(data));
    CHECK(rx.sync == 1 && rx.sync_losses == 0, "sync");
    /* two flips on the same bit cancel: allow for it */
    CHECK(rx.errors <= (uint64_t) injected && rx.errors >= (uint64_t) injected - 2,
          "errors %llu injected %d", (unsigned long long) rx.errors, injected);

    /* strided, as across the timeslots of a frame buffer */
    prbs_tx_init(&tx);
    prbs_tx_get_strided(&tx, slots + 5, 1000, 32);
    prbs_rx_init(&rx);
    prbs_rx_put_strided(&rx, slots + 5, 1000, 32);
    CHECK(rx.sync == 1 && rx.errors == 0, "strided");

    /* garbage never crashes and loses sync */
    for (i = 0; i < (int) sizeof(data); i++)
        data[i] = (uint8_t) rnd();
    prbs_rx_put(&rx, data, (int) sizeof(data));
    CHECK(rx.sync_losses >= 1, "sync lost on garbage");
}

int main(void)
{
    test_g711();
    test_hdlc_fcs();
    test_hdlc_round_trip(1);
    test_hdlc_round_trip(32);
    test_hdlc_garbage();
    test_prbs();
    return harness_summary("test_codecs");
}
