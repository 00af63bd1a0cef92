/*
 * DTMF side by side with spandsp (the reference, linked only here).
 *
 * Our detector is compiled into this program from csrc/dsp/dtmf.c with its
 * public names prefixed by ours_, because spandsp exports the same names
 * (dtmf_rx_init, dtmf_rx, dtmf_tx, ...). Build:
 *
 *   gcc -O2 -I csrc bench/dtmf_spandsp.c -lspandsp -lm -o dtmf_spandsp
 *
 * Modes (audio is raw signed 16-bit little-endian mono at 8000 Hz):
 *   gen DIGITS [LOW_DBM0 TWIST_DB ON_MS OFF_MS]
 *                      spandsp's dtmf_tx to stdout (defaults: spandsp's own)
 *   rx [BLOCK]         spandsp's dtmf_rx over stdin; prints the digits, one line
 *   ours [BLOCK]       our dtmf_rx over stdin; prints the digits, one line
 *   rxcases            stdin holds records (uint32 count of samples, little-endian,
 *                      then the samples); spandsp's dtmf_rx, a fresh one per
 *                      record, prints one line of digits per record
 *   bench FILE CHANNELS REPEATS
 *                      both detectors over CHANNELS channels of the audio in
 *                      FILE (each channel starts at its own offset), in ticks
 *                      of 160 samples with every channel per tick (ours through
 *                      dtmf_rx_bulk); prints for each: audio seconds, CPU
 *                      seconds, channels per core in real time, digits found.
 */
#define dtmf_rx_params_default ours_dtmf_rx_params_default
#define dtmf_rx_init ours_dtmf_rx_init
#define dtmf_rx_release ours_dtmf_rx_release
#define dtmf_rx_free ours_dtmf_rx_free
#define dtmf_rx_size ours_dtmf_rx_size
#define dtmf_rx ours_dtmf_rx
#define dtmf_rx_bulk ours_dtmf_rx_bulk
#define dtmf_rx_bulk_get ours_dtmf_rx_bulk_get
#define dtmf_rx_get ours_dtmf_rx_get
#define dtmf_rx_get_reports ours_dtmf_rx_get_reports
#define dtmf_rx_status ours_dtmf_rx_status
#define dtmf_rx_lost ours_dtmf_rx_lost
#define dtmf_tx_params_default ours_dtmf_tx_params_default
#define dtmf_tx_init ours_dtmf_tx_init
#define dtmf_tx_release ours_dtmf_tx_release
#define dtmf_tx_free ours_dtmf_tx_free
#define dtmf_tx_size ours_dtmf_tx_size
#define dtmf_tx_put ours_dtmf_tx_put
#define dtmf_tx ours_dtmf_tx
#define dtmf_tx_pending ours_dtmf_tx_pending
#include "dsp/dtmf.c"
#undef dtmf_rx_params_default
#undef dtmf_rx_init
#undef dtmf_rx_release
#undef dtmf_rx_free
#undef dtmf_rx_size
#undef dtmf_rx
#undef dtmf_rx_bulk
#undef dtmf_rx_bulk_get
#undef dtmf_rx_get
#undef dtmf_rx_get_reports
#undef dtmf_rx_status
#undef dtmf_rx_lost
#undef dtmf_tx_params_default
#undef dtmf_tx_init
#undef dtmf_tx_release
#undef dtmf_tx_free
#undef dtmf_tx_size
#undef dtmf_tx_put
#undef dtmf_tx
#undef dtmf_tx_pending

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spandsp.h>

#define TICK 160

static int16_t *read_all(FILE *f, size_t *n)
{
    size_t cap = 1 << 16;
    size_t len = 0;
    size_t got;
    int16_t *buf = malloc(cap * sizeof(int16_t));

    if (buf == NULL)
        exit(2);
    while ((got = fread(buf + len, sizeof(int16_t), cap - len, f)) > 0)
    {
        len += got;
        if (len == cap)
        {
            cap *= 2;
            if ((buf = realloc(buf, cap * sizeof(int16_t))) == NULL)
                exit(2);
        }
    }
    *n = len;
    return buf;
}

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int mode_gen(int argc, char **argv)
{
    dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
    int16_t buf[TICK];
    int n;

    if (argc >= 7)
    {
        dtmf_tx_set_level(tx, atoi(argv[3]), atoi(argv[4]));
        dtmf_tx_set_timing(tx, atoi(argv[5]), atoi(argv[6]));
    }
    dtmf_tx_put(tx, argv[2], -1);
    while ((n = dtmf_tx(tx, buf, TICK)) > 0)
        fwrite(buf, sizeof(int16_t), (size_t) n, stdout);
    dtmf_tx_free(tx);
    return 0;
}

static int mode_rx(int ours, int block)
{
    size_t n;
    size_t i;
    int16_t *audio = read_all(stdin, &n);
    char digits[1024];
    int total = 0;
    int k;

    if (block <= 0)
        block = TICK;
    if (ours)
    {
        dtmf_rx_t *rx = ours_dtmf_rx_init(NULL, NULL);

        for (i = 0; i < n; i += (size_t) block)
        {
            ours_dtmf_rx(rx, audio + i, (int) ((n - i < (size_t) block) ? n - i : (size_t) block));
            k = ours_dtmf_rx_get(rx, digits + total, (int) sizeof(digits) - 1 - total);
            total += k;
        }
        ours_dtmf_rx_free(rx);
    }
    else
    {
        dtmf_rx_state_t *rx = dtmf_rx_init(NULL, NULL, NULL);

        for (i = 0; i < n; i += (size_t) block)
        {
            dtmf_rx(rx, audio + i, (int) ((n - i < (size_t) block) ? n - i : (size_t) block));
            k = (int) dtmf_rx_get(rx, digits + total, (int) sizeof(digits) - 1 - total);
            total += k;
        }
        dtmf_rx_free(rx);
    }
    digits[total] = '\0';
    printf("%s\n", digits);
    free(audio);
    return 0;
}

static int mode_rxcases(void)
{
    dtmf_rx_state_t *rx;
    uint8_t hdr[4];
    uint32_t n;
    int16_t *buf;
    char digits[256];
    size_t done;
    size_t k;
    int got;

    while (fread(hdr, 1, 4, stdin) == 4)
    {
        n = (uint32_t) hdr[0] | ((uint32_t) hdr[1] << 8) | ((uint32_t) hdr[2] << 16) | ((uint32_t) hdr[3] << 24);
        if ((buf = malloc((n + 1) * sizeof(int16_t))) == NULL)
            return 2;
        if (fread(buf, sizeof(int16_t), n, stdin) != n)
            return 2;
        rx = dtmf_rx_init(NULL, NULL, NULL);
        got = 0;
        for (done = 0; done < n; done += k)
        {
            k = (n - done < TICK) ? n - done : TICK;
            dtmf_rx(rx, buf + done, (int) k);
            got += (int) dtmf_rx_get(rx, digits + got, (int) sizeof(digits) - 1 - got);
        }
        digits[got] = '\0';
        printf("%s\n", digits);
        dtmf_rx_free(rx);
        free(buf);
    }
    return 0;
}

static int mode_bench(const char *path, int channels, int repeats)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    int16_t *audio;
    int16_t *tick;
    dtmf_rx_t **ours;
    dtmf_rx_state_t **ref;
    size_t frames;
    size_t t;
    size_t off;
    double t0;
    double cpu_ours = 0.0;
    double cpu_ref = 0.0;
    double audio_s;
    long digits_ours = 0;
    long digits_ref = 0;
    char dig[256];
    int chan[256];
    int c;
    int r;
    int j;

    if (f == NULL)
    {
        perror(path);
        return 2;
    }
    audio = read_all(f, &n);
    fclose(f);
    frames = n / TICK;
    if (frames == 0 || channels <= 0 || repeats <= 0)
        return 2;
    tick = malloc((size_t) channels * TICK * sizeof(int16_t));
    ours = calloc((size_t) channels, sizeof(*ours));
    ref = calloc((size_t) channels, sizeof(*ref));
    if (tick == NULL || ours == NULL || ref == NULL)
        return 2;
    for (r = 0; r < repeats; r++)
    {
        for (c = 0; c < channels; c++)
        {
            ours[c] = ours_dtmf_rx_init(NULL, NULL);
            ref[c] = dtmf_rx_init(NULL, NULL, NULL);
        }
        for (t = 0; t < frames; t++)
        {
            /* Every channel's 20 ms of this tick, side by side as the board holds them. */
            for (c = 0; c < channels; c++)
            {
                off = ((t + (size_t) c * 37) % frames) * TICK;
                memcpy(&tick[(size_t) c * TICK], &audio[off], TICK * sizeof(int16_t));
            }
            t0 = cpu_seconds();
            if (ours_dtmf_rx_bulk(ours, tick, channels, TICK, TICK) > 0)
                digits_ours += ours_dtmf_rx_bulk_get(ours, channels, dig, chan, (int) sizeof(dig));
            cpu_ours += cpu_seconds() - t0;
            t0 = cpu_seconds();
            for (c = 0; c < channels; c++)
            {
                dtmf_rx(ref[c], &tick[(size_t) c * TICK], TICK);
                digits_ref += (long) dtmf_rx_get(ref[c], dig, (int) sizeof(dig));
            }
            cpu_ref += cpu_seconds() - t0;
        }
        for (c = 0; c < channels; c++)
        {
            ours_dtmf_rx_free(ours[c]);
            dtmf_rx_free(ref[c]);
        }
    }
    audio_s = (double) frames * TICK / 8000.0 * channels * repeats;
    for (j = 0; j < 2; j++)
    {
        double cpu = j ? cpu_ref : cpu_ours;

        printf("%s audio_s=%.3f cpu_s=%.6f channels_rt=%.1f digits=%ld\n",
               j ? "spandsp" : "ours", audio_s, cpu, audio_s / cpu,
               j ? digits_ref : digits_ours);
    }
    free(tick);
    free(ours);
    free(ref);
    free(audio);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "gen") == 0)
        return mode_gen(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "rx") == 0)
        return mode_rx(0, argc >= 3 ? atoi(argv[2]) : TICK);
    if (argc >= 2 && strcmp(argv[1], "ours") == 0)
        return mode_rx(1, argc >= 3 ? atoi(argv[2]) : TICK);
    if (argc >= 2 && strcmp(argv[1], "rxcases") == 0)
        return mode_rxcases();
    if (argc >= 5 && strcmp(argv[1], "bench") == 0)
        return mode_bench(argv[2], atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: %s gen DIGITS [LOW_DBM0 TWIST ON_MS OFF_MS] | rx [BLOCK] | ours [BLOCK] | rxcases | bench FILE CHANNELS REPEATS\n",
            argv[0]);
    return 2;
}
