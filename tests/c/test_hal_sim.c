/*
 * The software card under AddressSanitizer/UBSan: two sim boards cabled
 * together, every fault the cable can inject in random order, D-channel
 * frames, CAS, tones, taps, analog lines, BERT and loopbacks; then the
 * faults are cleared and both ends must come back into sync.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal.h"
#include "hal_sim.h"

static int failures;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            failures++;                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                  \
            fputc('\n', stderr);                           \
        }                                                  \
    } while (0)

static uint64_t rng = 88172645463325252ULL;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t) rng;
}

static hal_event_t evs[4096];
static uint8_t data[1 << 20];

static int drain(hal_board_t *b)
{
    int used, n, total = 0;
    while ((n = hal_board_events(b, evs, 4096, data, sizeof(data), &used)) > 0) {
        int i;
        for (i = 0; i < n; i++) {
            if (evs[i].offset >= 0)
                CHECK(evs[i].offset + evs[i].value <= used, "event data out of range");
        }
        total += n;
    }
    return total;
}

static void run(hal_board_t *a, hal_board_t *b, int ticks)
{
    while (ticks-- > 0) {
        CHECK(hal_board_tick(a) == HAL_OK, "tick a");
        CHECK(hal_board_tick(b) == HAL_OK, "tick b");
        drain(a);
        drain(b);
    }
}

int main(void)
{
    int kinds_a[3] = {HAL_PORT_FXS, HAL_PORT_FXO, HAL_PORT_FXS};
    int kinds_b[3] = {HAL_PORT_FXO, HAL_PORT_FXS, HAL_PORT_FXO};
    hal_span_config_t cas = {HAL_SIG_CAS, 1, HAL_LAW_ALAW};
    hal_span_config_t ulaw = {HAL_SIG_CLEAR, 0, HAL_LAW_ULAW};
    hal_span_status_t st;
    hal_bert_status_t bs;
    hal_sim_fault_t f;
    hal_sim_cable_t *c[3];
    hal_board_t *a, *b;
    int err, i, round, s;
    uint8_t frame[300];

    a = hal_board_open("sim", NULL, 3, 3, kinds_a, 160, &err);
    b = hal_board_open("sim", NULL, 3, 3, kinds_b, 160, &err);
    CHECK(a && b, "open boards: %d", err);
    if (!a || !b)
        return 1;
    CHECK(hal_board_open("nonesuch", NULL, 1, 0, NULL, 160, &err) == NULL && err == HAL_ENODEV,
          "unknown backend");
    CHECK(hal_board_open("sim", NULL, 1, 0, NULL, 3, &err) == NULL && err == HAL_EINVAL,
          "bad tick");
    CHECK(hal_span_configure(a, 2, &cas) == HAL_OK && hal_span_configure(b, 2, &cas) == HAL_OK,
          "configure CAS");
    CHECK(hal_span_configure(a, 3, &ulaw) == HAL_OK && hal_span_configure(b, 3, &ulaw) == HAL_OK,
          "configure clear");
    for (s = 1; s <= 3; s++) {
        c[s - 1] = hal_sim_cable_connect(a, s, b, s, (int) (rnd() % 300), rnd(), &err);
        CHECK(c[s - 1] != NULL, "cable %d: %d", s, err);
    }
    CHECK(hal_sim_cable_connect(a, 1, b, 1, 0, 1, &err) == NULL && err == HAL_EBUSY,
          "double cable");
    CHECK(hal_sim_line_connect(a, 1, b, 1) == HAL_OK, "line fxs->fxo");
    CHECK(hal_sim_line_connect(b, 2, a, 2) == HAL_OK, "line fxs->fxo");
    CHECK(hal_sim_line_connect(a, 3, b, 3) == HAL_OK, "line fxs->fxo");
    CHECK(hal_sim_line_connect(a, 2, b, 1) == HAL_ECONFIG, "fxo as fxs");

    run(a, b, 40);
    for (s = 1; s <= 3; s++) {
        hal_span_status(a, s, &st);
        CHECK(st.alarms == 0, "span %d alarms %#x after start", s, st.alarms);
    }

    /* random faults, traffic and commands */
    for (round = 0; round < 60; round++) {
        memset(&f, 0, sizeof(f));
        switch (rnd() % 7) {
        case 0: f.los = 1; break;
        case 1: f.ais = 1; break;
        case 2: f.lof = 1; break;
        case 3: f.ber = (rnd() % 1000) / 2000.0; break;
        case 4: f.clock_ppm = (double) ((int) (rnd() % 2001) - 1000); break;
        case 5: f.ber = 1e-4; f.clock_ppm = 300; break;
        default: break;
        }
        s = 1 + rnd() % 3;
        CHECK(hal_sim_cable_fault(c[s - 1], 1 + rnd() % 3, &f) == HAL_OK, "fault");
        for (i = 0; i < (int) (rnd() % 4); i++) {
            int len = 1 + rnd() % 260;
            int k;
            for (k = 0; k < len; k++)
                frame[k] = (uint8_t) rnd();
            hal_span_dframe_send(rnd() & 1 ? a : b, 1, frame, len);
        }
        hal_span_set_cas(a, 2, 1 + rnd() % 31, rnd() % 16);
        hal_chan_tone(b, 1 + rnd() % 3, 1 + rnd() % 31, rnd() % 4000, rnd() % 4000,
                      -(int) (rnd() % 40), (int) (rnd() % 100) - 10);
        hal_chan_play(a, 3, 1 + rnd() % 31, frame, 1 + rnd() % 300);
        hal_chan_tap(a, rnd() % 4, 1 + rnd() % 31, rnd() & 1);
        hal_span_loopback(rnd() & 1 ? a : b, 1 + rnd() % 3, rnd() % 4);
        hal_span_bert(a, 1 + rnd() % 3, rnd() & 1);
        hal_span_send_ais(b, 1 + rnd() % 3, (rnd() % 8) == 0);
        hal_port_command(a, 1 + rnd() % 3, 1 + rnd() % 4, rnd() & 1);
        hal_port_command(b, 1 + rnd() % 3, 1 + rnd() % 4, rnd() & 1);
        hal_port_command(a, 1 + rnd() % 3, 99, 1);
        run(a, b, 1 + rnd() % 20);
    }

    /* clear everything: both ends must recover */
    memset(&f, 0, sizeof(f));
    for (s = 1; s <= 3; s++) {
        hal_sim_cable_fault(c[s - 1], HAL_SIM_BOTH, &f);
        hal_span_loopback(a, s, HAL_LOOP_NONE);
        hal_span_loopback(b, s, HAL_LOOP_NONE);
        hal_span_send_ais(a, s, 0);
        hal_span_send_ais(b, s, 0);
        hal_span_bert(a, s, 0);
    }
    run(a, b, 100);
    for (s = 1; s <= 3; s++) {
        hal_span_status(a, s, &st);
        CHECK((st.alarms & ~(HAL_ALARM_RAI | HAL_ALARM_RMAI)) == 0, "span %d alarms %#x after clear",
              s, st.alarms);
        hal_span_status(b, s, &st);
        CHECK(st.alarms == 0, "far span %d alarms %#x after clear", s, st.alarms);
    }

    /* BERT over a far-end line loop with a clean cable */
    hal_span_loopback(b, 1, HAL_LOOP_LINE);
    run(a, b, 25);              /* our receiver realigns to our own signal first */
    hal_span_bert(a, 1, 1);
    run(a, b, 100);
    hal_span_bert_status(a, 1, &bs);
    CHECK(bs.sync && bs.errors == 0 && bs.bits > 1000000, "BERT sync %d errors %llu bits %llu",
          bs.sync, (unsigned long long) bs.errors, (unsigned long long) bs.bits);

    /* bad arguments are refused, not acted on */
    CHECK(hal_span_status(a, 0, &st) == HAL_ENOSPAN, "span 0");
    CHECK(hal_span_status(a, 4, &st) == HAL_ENOSPAN, "span 4");
    CHECK(hal_chan_tone(a, 1, 32, 1000, 0, -10, 100) == HAL_ENOCHAN, "ts 32");
    CHECK(hal_chan_tone(a, 1, 16, 1000, 0, -10, 100) == HAL_ENOCHAN, "D-channel tone");
    CHECK(hal_chan_tone(a, 1, 1, 5000, 0, -10, 100) == HAL_EINVAL, "tone 5 kHz");
    CHECK(hal_span_dframe_send(a, 2, frame, 10) == HAL_ENOTSUP, "D-channel on CAS span");
    CHECK(hal_span_dframe_send(a, 1, frame, 0) == HAL_EINVAL, "empty frame");
    CHECK(hal_port_command(a, 4, HAL_PORT_RING, 1) == HAL_ENOCHAN, "port 4");
    CHECK(hal_port_command(a, 2, HAL_PORT_RING, 1) == HAL_ENOTSUP, "ring an FXO port");
    memset(&f, 0, sizeof(f));
    f.ber = 0.9;
    CHECK(hal_sim_cable_fault(c[0], HAL_SIM_BOTH, &f) == HAL_EINVAL, "ber 0.9");

    /* close one board first: the cables must not dangle */
    hal_board_close(a);
    run(b, b, 5);
    for (s = 0; s < 3; s++)
        hal_sim_cable_disconnect(c[s]);
    hal_board_close(b);

    printf("test_hal_sim: %d failed\n", failures);
    return failures ? 1 : 0;
}
