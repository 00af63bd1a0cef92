/*
 * E1 framer and line interface: HDB3 (G.703 annex A), frame and CRC-4
 * multiframe (G.704 2.3), alignment search and loss (G.706 4), TS16 CAS
 * multiframe (G.704 5.1.3 / G.732 5), alarms per G.775, controlled slips
 * in the receive elastic store (G.822).
 *
 * The line is two rails, as a line interface unit hands them to a framer:
 * a set bit in p[] is a positive mark, in n[] a negative mark, both clear a
 * space. Bit 7 of each byte is sent first. A frame is 256 bits, so one
 * frame is 32 bytes of each rail; the receiver does not assume that frames
 * start on a byte boundary of what it is given.
 *
 * Timeslot payload crosses this API frame-major: byte [f * 32 + ts].
 */
#ifndef E1_FRAMER_H
#define E1_FRAMER_H

#include <stdint.h>

#define E1_TIMESLOTS    32
#define E1_FRAME_BYTES  32
#define E1_CAS_CHANNELS 30

/* Alarm bits (e1_framer_alarms) */
#define E1_ALARM_LOS    0x01   /* G.775 loss of signal */
#define E1_ALARM_LOF    0x02   /* G.706 4.1 loss of frame alignment */
#define E1_ALARM_AIS    0x04   /* G.775 alarm indication signal (all ones) */
#define E1_ALARM_RAI    0x08   /* remote alarm: A bit of NFAS received set */
#define E1_ALARM_LOMF   0x10   /* G.706 4.2 loss of CRC-4 multiframe alignment */
#define E1_ALARM_CASMF  0x20   /* G.732 5.2 loss of TS16 CAS multiframe alignment */
#define E1_ALARM_RMAI   0x40   /* remote CAS multiframe alarm: y bit of TS16 frame 0 */

typedef struct {
    int crc4;            /* 1: CRC-4 multiframe in TS0 (G.704 2.3.3) */
    int cas;             /* 1: TS16 carries the CAS multiframe; 0: TS16 is payload (CCS) */
    int elastic_frames;  /* capacity of the receive elastic store, in frames (>= 2) */
} e1_config_t;

typedef struct {
    uint64_t frames_rx;      /* frames delivered by the deframer while aligned */
    uint64_t bits_rx;        /* line bits processed */
    uint32_t fas_errors;     /* FAS words received in error while aligned */
    uint32_t crc4_errors;    /* sub-multiframes whose CRC-4 did not match */
    uint32_t ebit_errors;    /* E bits received as 0 (far end saw a CRC-4 error) */
    uint32_t bpv;            /* bipolar violations that are not HDB3 substitutions */
    uint32_t slips;          /* controlled slips in the elastic store */
    uint32_t lof_events;     /* times frame alignment was lost */
    uint32_t los_events;     /* times LOS was declared */
} e1_counters_t;

typedef struct e1_framer_s e1_framer_t;

/* Allocates when s is NULL. Returns NULL on a bad config. */
e1_framer_t *e1_framer_init(e1_framer_t *s, const e1_config_t *cfg);
void e1_framer_release(e1_framer_t *s);
void e1_framer_free(e1_framer_t *s);
int e1_framer_size(void);

/* Transmit nframes frames. ts[] holds nframes * 32 bytes of payload; TS0
 * and, with CAS, TS16 are ignored and built by the framer (FAS/NFAS with
 * Si = CRC-4 bits, A = RAI when the receiver is in LOS/LOF/AIS, Sa4..Sa8 = 1,
 * E bits reporting received CRC-4 errors; MFAS 0000 x y x x and abcd).
 * Writes nframes * 32 bytes to each rail p and n, HDB3 coded. */
void e1_framer_tx(e1_framer_t *s, const uint8_t *ts, int nframes, uint8_t *p, uint8_t *n);

/* e1_framer_tx for each of count distinct framers, s[i] framing ts[i] onto
 * p[i] and n[i] (nframes frames each; no buffer overlaps another): the same
 * bits, four spans coded at once. */
void e1_framer_tx_group(e1_framer_t *const *s, int count, const uint8_t *const *ts, int nframes,
                        uint8_t *const *p, uint8_t *const *n);

/* Send unframed all-ones (AIS) instead of frames while on != 0. */
void e1_framer_set_tx_ais(e1_framer_t *s, int on);

/* Force the A bit (RAI) on in transmitted NFAS while on != 0, whatever the receiver sees. */
void e1_framer_set_tx_rai(e1_framer_t *s, int on);

/* Receive nbytes of each rail from the line, at any bit alignment. Decoded
 * frames go into the elastic store. Detects LOS, AIS, LOF, LOMF, CASMF,
 * counts errors. */
void e1_framer_rx_line(e1_framer_t *s, const uint8_t *p, const uint8_t *n, int nbytes);

/* A tick of line in one call: nbytes of each rail received and nframes
 * frames read (to ts, as e1_framer_read) as the line clock and the local
 * clock run side by side: share f of the bytes, bytes [nbytes * f / nframes,
 * nbytes * (f + 1) / nframes), is received, then frame f is read. The same
 * as e1_framer_rx_line on each share and e1_framer_read of one frame after
 * it, at a fraction of the cost. */
void e1_framer_rx_tick(e1_framer_t *s, const uint8_t *p, const uint8_t *n, int nbytes, uint8_t *ts,
                       int nframes);

/* e1_framer_rx_tick on count framers, framer i with nbytes[i] of rails p[i]
 * and n[i] and its frames to ts[i], the same nframes for all: the same
 * outcome, at less cost, as four ticks of the same length whose shares are
 * whole words are HDB3-decoded side by side. */
void e1_framer_rx_group(e1_framer_t *const *s, int count, const uint8_t *const *p, const uint8_t *const *n,
                        const int *nbytes, uint8_t *const *ts, int nframes);

/* Read exactly nframes frames (nframes * 32 bytes) from the elastic store
 * at the local clock. An empty store repeats a frame, a full one drops
 * one: each is a controlled slip, counted. While the receiver is out of
 * alignment the payload reads as all ones (0xFF). */
void e1_framer_read(e1_framer_t *s, uint8_t *ts, int nframes);

/* CAS: abcd of channel 1..30 (TS1..15 -> 1..15, TS17..31 -> 16..30). */
void e1_framer_set_cas_tx(e1_framer_t *s, int channel, int abcd);
int e1_framer_get_cas_rx(const e1_framer_t *s, int channel);

int e1_framer_alarms(const e1_framer_t *s);
void e1_framer_counters(const e1_framer_t *s, e1_counters_t *c);
void e1_framer_reset_counters(e1_framer_t *s);

/* Building blocks, exposed for tests. */

/* HDB3 encode nbytes of binary data (bit 7 first) into rails. The encoder
 * holds state across calls (it delays its output by up to 3 bits: output
 * byte i carries the symbols of input bits 8i-d..8i+7-d for a fixed d);
 * e1_hdb3_encoder_delay() returns d. */
typedef struct {
    int state;
    uint32_t hold;
} e1_hdb3_enc_t;
void e1_hdb3_enc_init(e1_hdb3_enc_t *e);
int e1_hdb3_encoder_delay(void);
void e1_hdb3_encode(e1_hdb3_enc_t *e, const uint8_t *in, int nbytes, uint8_t *p, uint8_t *n);

/* HDB3 decode rails to binary; counts violations that are not part of a
 * B00V/000V substitution into *bpv. Holds state across calls and delays
 * its output by e1_hdb3_decoder_delay() bits in the same way. */
typedef struct {
    int state;
    uint32_t hold;
    uint32_t bpv;
} e1_hdb3_dec_t;
void e1_hdb3_dec_init(e1_hdb3_dec_t *d);
int e1_hdb3_decoder_delay(void);
void e1_hdb3_decode(e1_hdb3_dec_t *d, const uint8_t *p, const uint8_t *n, int nbytes, uint8_t *out);

/* CRC-4 (G.704 2.3.3.5.2, x^4 + x + 1) over nbytes, bit 7 first,
 * starting from crc (0 for a new block). Returns the 4-bit remainder. */
int e1_crc4(int crc, const uint8_t *data, int nbytes);

#endif
