/*
 * The software card and the world around it: virtual E1 cables between
 * spans of two sim boards, with faults injected on the line itself, and
 * analog lines between an FXS port and an FXO port.
 */
#ifndef HAL_SIM_H
#define HAL_SIM_H

#include "hal.h"

typedef struct hal_sim_cable_s hal_sim_cable_t;

/* Direction on a cable: A_TO_B is what span a transmits and span b receives. */
#define HAL_SIM_A_TO_B  1
#define HAL_SIM_B_TO_A  2
#define HAL_SIM_BOTH    3

typedef struct {
    int32_t los;        /* 1: no signal at all on this direction */
    int32_t ais;        /* 1: the line carries unframed all ones */
    int32_t lof;        /* 1: the FAS words are corrupted, the frame structure is lost */
    double ber;         /* bit error ratio: an in-line injector (HDB3 regenerator) flips
                           bits of the binary signal, re-coded so the line stays valid HDB3 */
    double code_errors; /* line symbol error ratio: pulses lost or appearing, as noise
                           does; shows as bipolar violations (HDB3 makes ~1.4 bit errors of each) */
    double clock_ppm;   /* transmitter's clock offset: frames slip at the receiver */
} hal_sim_fault_t;

typedef struct {
    uint64_t bits;       /* line bits carried */
    uint64_t errors;     /* bits flipped by the ber fault */
    uint64_t code_errors; /* line symbols corrupted by the code_errors fault */
    int64_t frames_skew; /* frames inserted (+) or removed (-) by clock offset */
} hal_sim_cable_stats_t;

/* Cable span a of board a to span b of board b (both "sim" boards).
 * delay_bits: how far the line shifts the bit stream (frames then start
 * off a byte boundary at the receiver). seed: the cable's error generator. */
hal_sim_cable_t *hal_sim_cable_connect(hal_board_t *a, int span_a, hal_board_t *b, int span_b,
                                       int delay_bits, uint64_t seed, int *err);
void hal_sim_cable_disconnect(hal_sim_cable_t *c);
int hal_sim_cable_fault(hal_sim_cable_t *c, int direction, const hal_sim_fault_t *f);
int hal_sim_cable_stats(hal_sim_cable_t *c, int direction, hal_sim_cable_stats_t *st);

/* Analog line between an FXS-kind port and an FXO-kind port of sim boards. */
int hal_sim_line_connect(hal_board_t *fxs_board, int fxs_port, hal_board_t *fxo_board,
                         int fxo_port);

#endif
