/*
 * ITU-T G.711 A-law and mu-law, with the even-bit inversion (A-law,
 * G.711 table 1a) and all-bits inversion (mu-law, table 2a) as sent on the
 * line. Linear samples are 16-bit two's complement.
 */
#ifndef G711_H
#define G711_H

#include <stdint.h>

uint8_t g711_linear_to_alaw(int16_t x);
int16_t g711_alaw_to_linear(uint8_t a);
uint8_t g711_linear_to_ulaw(int16_t x);
int16_t g711_ulaw_to_linear(uint8_t u);
uint8_t g711_alaw_to_ulaw(uint8_t a);   /* G.711 table 3 */
uint8_t g711_ulaw_to_alaw(uint8_t u);   /* G.711 table 4 */

/* Bulk forms over n samples. */
void g711_alaw_encode(const int16_t *in, uint8_t *out, int n);
void g711_alaw_decode(const uint8_t *in, int16_t *out, int n);
void g711_ulaw_encode(const int16_t *in, uint8_t *out, int n);
void g711_ulaw_decode(const uint8_t *in, int16_t *out, int n);

#define G711_ALAW_SILENCE 0xD5
#define G711_ULAW_SILENCE 0xFF

#endif
