/*
 * 1200 baud FSK modem for on-hook data (caller ID): Bell 202 and ITU-T V.23.
 *
 *   Bell 202 (Bellcore GR-30 5.1): mark (binary 1) 1200 Hz, space (0) 2200 Hz
 *   ITU-T V.23 mode 2 forward channel (ETSI EN 300 659-1 5.2 uses it):
 *                                  mark (binary 1) 1300 Hz, space (0) 2100 Hz
 *
 * Both run at 1200 bit/s, asynchronous: each character is one start bit (0),
 * eight data bits least significant first, one stop bit (1); the line idles
 * at mark between characters (GR-30 5.1, EN 300 659-2 / -1 5.3).
 *
 * The transmitter is continuous-phase: the frequency changes at bit
 * boundaries without a jump in phase. It takes a queue of bits (raw, or
 * characters it frames itself) and gives out 16-bit linear samples at
 * 8000 Hz; when the queue runs dry it stops at the end of the last bit.
 *
 * The receiver takes 16-bit linear samples at 8000 Hz in blocks of any
 * length, decides mark or space on every sample with a pair of sliding
 * one-bit correlators, detects the carrier by its power, and frames
 * characters like a UART (start bit at the mark-to-space edge, sampled at
 * mid-bit, stop bit checked). Decoded characters are queued for
 * fsk_rx_get(). Levels from -40 to 0 dBm0, tone offsets of +-1% (more is
 * tolerated) and noise well below the signal are within its design.
 *
 * Level: 0 dBm0 is a sine of peak 22827 (3.14 dBm0 is the A-law full scale,
 * G.711 table 1a), the same reference as the rest of csrc/dsp.
 */
#ifndef FSK_H
#define FSK_H

#include <stdint.h>

/* Modes (tone pairs) */
#define FSK_BELL202 0
#define FSK_V23     1

#define FSK_SAMPLE_RATE   8000
#define FSK_BAUD          1200
/* Transmit queue in bits: 30 seizure characters + 180 mark + a 258 octet
   message come to 3060 bits (EN 300 659-3 5.1: message length up to 255) */
#define FSK_TX_QUEUE_BITS 4096
/* Receive queue in characters */
#define FSK_RX_QUEUE      512
/* Transmit level bounds, dBm0 */
#define FSK_TX_LEVEL_MIN  (-60)
#define FSK_TX_LEVEL_MAX  3

typedef struct fsk_tx_s fsk_tx_t;
typedef struct fsk_rx_s fsk_rx_t;

typedef struct {
    uint32_t characters;        /* characters framed and queued */
    uint32_t framing_errors;    /* stop bit found at space */
    uint32_t start_errors;      /* a space edge that was not a start bit at mid-bit */
    uint32_t carrier_drops;     /* carrier lost in the middle of a character */
    uint32_t overruns;          /* characters lost because the queue was full */
    uint32_t carrier_ons;       /* times the carrier came up */
} fsk_rx_counters_t;

/* Transmitter */
fsk_tx_t *fsk_tx_init(fsk_tx_t *s, int mode, int level_dbm0);
void fsk_tx_release(fsk_tx_t *s);
void fsk_tx_free(fsk_tx_t *s);
int fsk_tx_size(void);
int fsk_tx_set_level(fsk_tx_t *s, int level_dbm0);
/* Queue n bits, bits[i] zero or not; all or none: -5 (HAL_EBUSY) when they do not fit */
int fsk_tx_put_bits(fsk_tx_t *s, const uint8_t *bits, int n);
/* n bits of mark (binary 1) */
int fsk_tx_put_mark(fsk_tx_t *s, int n);
/* n bits alternating 0,1,0,1... starting with 0: the channel seizure signal
   (EN 300 659-1 5.3.1: 300 bits; GR-30: 30 octets 0x55 framed, the same bits) */
int fsk_tx_put_seizure(fsk_tx_t *s, int n);
/* len characters framed start + 8 data LSB first + stop */
int fsk_tx_put_bytes(fsk_tx_t *s, const uint8_t *data, int len);
/* Bits queued and not yet fully sent */
int fsk_tx_queued(const fsk_tx_t *s);
/* Up to max samples; returns how many were written (fewer when the queue ran dry) */
int fsk_tx(fsk_tx_t *s, int16_t *amp, int max);
/* Many transmitters at once: channel i writes amp[i*stride .. i*stride+samples-1];
   a NULL s[i] is skipped; what a dry queue leaves is filled with silence.
   done[i] (when done is not NULL) gets how many samples channel i produced.
   Returns the total samples produced. */
int fsk_tx_bulk(fsk_tx_t *const *s, int n, int16_t *amp, int samples, int stride, int *done);

/* Receiver */
fsk_rx_t *fsk_rx_init(fsk_rx_t *s, int mode);
void fsk_rx_release(fsk_rx_t *s);
void fsk_rx_free(fsk_rx_t *s);
int fsk_rx_size(void);
/* Process samples; returns how many characters were decoded in this call */
int fsk_rx(fsk_rx_t *s, const int16_t *amp, int samples);
/* Take up to max decoded characters; returns how many */
int fsk_rx_get(fsk_rx_t *s, uint8_t *buf, int max);
/* Characters waiting */
int fsk_rx_available(const fsk_rx_t *s);
/* 1 while the carrier is present */
int fsk_rx_carrier(const fsk_rx_t *s);
/* Carrier on/off thresholds in dBm0 (defaults -46/-49) */
int fsk_rx_set_threshold(fsk_rx_t *s, int on_dbm0, int off_dbm0);
void fsk_rx_counters(const fsk_rx_t *s, fsk_rx_counters_t *c);
/* Many receivers at once: channel i reads amp[i*stride ..]; NULL s[i] skipped;
   got[i] (when got is not NULL) is the characters decoded on channel i.
   Returns the total. */
int fsk_rx_bulk(fsk_rx_t *const *s, int n, const int16_t *amp, int samples, int stride, int *got);

#endif
