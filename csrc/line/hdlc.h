/*
 * HDLC framing on a 64 kbit/s timeslot, as LAPD uses it on the PRI
 * D-channel (ISO/IEC 13239 via Q.921 2.2): flags 0x7E, zero-bit insertion
 * after five ones, FCS-16 (CRC-16/X.25, x^16 + x^12 + x^5 + 1, ones'
 * complement, sent least significant bit first), abort = seven ones.
 * Octets on the timeslot carry bits least significant first, as HDLC
 * controllers send them.
 */
#ifndef HDLC_H
#define HDLC_H

#include <stdint.h>

#define HDLC_MAX_FRAME   512   /* largest frame, without FCS */
#define HDLC_TX_QUEUE    32    /* frames waiting to go out */
#define HDLC_RX_QUEUE    64    /* frames received and not yet taken */

typedef struct {
    uint32_t frames;       /* good frames */
    uint32_t fcs_errors;   /* frames with a bad FCS */
    uint32_t aborts;       /* seven or more ones inside a frame */
    uint32_t short_frames; /* fewer than 4 octets between flags (address, control, FCS) */
    uint32_t long_frames;  /* over HDLC_MAX_FRAME octets */
    uint32_t bad_bits;     /* frames not a whole number of octets */
    uint32_t overruns;     /* frames dropped because the receive queue was full */
} hdlc_rx_counters_t;

typedef struct hdlc_tx_s hdlc_tx_t;
typedef struct hdlc_rx_s hdlc_rx_t;

hdlc_tx_t *hdlc_tx_init(hdlc_tx_t *s);
void hdlc_tx_release(hdlc_tx_t *s);
void hdlc_tx_free(hdlc_tx_t *s);
int hdlc_tx_size(void);
/* Queue a frame (FCS is added). Returns 0, -1 if the queue is full, -2 if len is out of range. */
int hdlc_tx_frame(hdlc_tx_t *s, const uint8_t *data, int len);
/* Fill n octets of the timeslot stream: queued frames, flags between and when idle. */
void hdlc_tx_get(hdlc_tx_t *s, uint8_t *octets, int n);
/* Octets to be stepped over in a stride: octets[i * stride], for i < n. */
void hdlc_tx_get_strided(hdlc_tx_t *s, uint8_t *octets, int n, int stride);
int hdlc_tx_queued(const hdlc_tx_t *s);
uint32_t hdlc_tx_frames_sent(const hdlc_tx_t *s);

hdlc_rx_t *hdlc_rx_init(hdlc_rx_t *s);
void hdlc_rx_release(hdlc_rx_t *s);
void hdlc_rx_free(hdlc_rx_t *s);
int hdlc_rx_size(void);
void hdlc_rx_put(hdlc_rx_t *s, const uint8_t *octets, int n);
void hdlc_rx_put_strided(hdlc_rx_t *s, const uint8_t *octets, int n, int stride);
/* Take the oldest received frame (without FCS). Returns its length, 0 when none, -1 if maxlen is too small (frame kept). */
int hdlc_rx_get_frame(hdlc_rx_t *s, uint8_t *buf, int maxlen);
void hdlc_rx_counters(const hdlc_rx_t *s, hdlc_rx_counters_t *c);

/* FCS-16 over data, as sent (already complemented): low octet first on the line. */
uint16_t hdlc_fcs16(const uint8_t *data, int len);

#endif
