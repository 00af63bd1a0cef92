/*
 * 1200 baud FSK modem for caller ID: Bell 202 and ITU-T V.23 (see dsp/fsk.h).
 *
 * Transmitter: a phase accumulator (32 bits, one turn = 2^32) steps by the
 * mark or the space increment; the bit clock adds 1200 per sample and moves
 * to the next bit each time it passes 8000, so bits last 7, 7 and 6 samples
 * in turn, 20/3 on average, exactly 1200 bit/s. The phase carries over the
 * bit boundary (continuous-phase FSK, V.23 2.1 / Bell 202).
 *
 * Receiver: every sample is mixed with the mark and the space frequency and
 * summed over the last W = 7 samples (one bit, rounded); the difference of
 * the two energies says mark (> 0) or space. That is a non-coherent matched
 * filter per bit, independent of the level. The UART looks for a mark to
 * space change (the leading edge of a start bit), places it between samples
 * by linear interpolation, and samples the decision every 20/3 samples from
 * half a bit after it. Carrier detection compares the smoothed input power
 * with two thresholds (hysteresis).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp_priv.h"
#include "dsp/fsk.h"

#define FSK_EINVAL  (-1)            /* hal.h HAL_EINVAL */
#define FSK_EBUSY   (-5)            /* hal.h HAL_EBUSY: the queue is full */

/* One bit in samples, and the correlator window (one bit rounded) */
#define FSK_BIT_SAMPLES ((float) FSK_SAMPLE_RATE / FSK_BAUD)
#define FSK_RX_WINDOW   7

/* Carrier detection defaults, dBm0 (EN 300 659-1 receiver: data from -40 dBm0 up) */
#define FSK_RX_ON_DBM0   (-46)
#define FSK_RX_OFF_DBM0  (-49)
/* Power smoothing: one pole, 1/32 per sample (4 ms) */
#define FSK_RX_POWER_SHIFT (1.0f / 32.0f)

typedef struct {
    int mark_hz;                    /* binary 1 */
    int space_hz;                   /* binary 0 */
} fsk_tones_t;

static const fsk_tones_t fsk_modes[2] = {
    [FSK_BELL202] = {1200, 2200},   /* Bell 202, GR-30 5.1 */
    [FSK_V23]     = {1300, 2100},   /* ITU-T V.23 2.1, mode 2; EN 300 659-1 5.2 */
};

/* Quarter wave of sin: fsk_quarter[i] = 32767 sin(i/256 * pi/2), i = 0..256 */
static const int16_t fsk_quarter[257] = {
    0, 201, 402, 603, 804, 1005, 1206, 1407, 1608, 1809, 2009, 2210,
    2410, 2611, 2811, 3012, 3212, 3412, 3612, 3811, 4011, 4210, 4410, 4609,
    4808, 5007, 5205, 5404, 5602, 5800, 5998, 6195, 6393, 6590, 6786, 6983,
    7179, 7375, 7571, 7767, 7962, 8157, 8351, 8545, 8739, 8933, 9126, 9319,
    9512, 9704, 9896, 10087, 10278, 10469, 10659, 10849, 11039, 11228, 11417, 11605,
    11793, 11980, 12167, 12353, 12539, 12725, 12910, 13094, 13279, 13462, 13645, 13828,
    14010, 14191, 14372, 14553, 14732, 14912, 15090, 15269, 15446, 15623, 15800, 15976,
    16151, 16325, 16499, 16673, 16846, 17018, 17189, 17360, 17530, 17700, 17869, 18037,
    18204, 18371, 18537, 18703, 18868, 19032, 19195, 19357, 19519, 19680, 19841, 20000,
    20159, 20317, 20475, 20631, 20787, 20942, 21096, 21250, 21403, 21554, 21705, 21856,
    22005, 22154, 22301, 22448, 22594, 22739, 22884, 23027, 23170, 23311, 23452, 23592,
    23731, 23870, 24007, 24143, 24279, 24413, 24547, 24680, 24811, 24942, 25072, 25201,
    25329, 25456, 25582, 25708, 25832, 25955, 26077, 26198, 26319, 26438, 26556, 26674,
    26790, 26905, 27019, 27133, 27245, 27356, 27466, 27575, 27683, 27790, 27896, 28001,
    28105, 28208, 28310, 28411, 28510, 28609, 28706, 28803, 28898, 28992, 29085, 29177,
    29268, 29358, 29447, 29534, 29621, 29706, 29791, 29874, 29956, 30037, 30117, 30195,
    30273, 30349, 30424, 30498, 30571, 30643, 30714, 30783, 30852, 30919, 30985, 31050,
    31113, 31176, 31237, 31297, 31356, 31414, 31470, 31526, 31580, 31633, 31685, 31736,
    31785, 31833, 31880, 31926, 31971, 32014, 32057, 32098, 32137, 32176, 32213, 32250,
    32285, 32318, 32351, 32382, 32412, 32441, 32469, 32495, 32521, 32545, 32567, 32589,
    32609, 32628, 32646, 32663, 32678, 32692, 32705, 32717, 32728, 32737, 32745, 32752,
    32757, 32761, 32765, 32766, 32767,
};

/* sin of a 10-bit phase (1024 steps per turn), scaled to 32767 */
static inline int fsk_sin10(unsigned idx)
{
    unsigned i = idx & 255;
    switch ((idx >> 8) & 3) {
    case 0: return fsk_quarter[i];
    case 1: return fsk_quarter[256 - i];
    case 2: return -fsk_quarter[i];
    default: return -fsk_quarter[256 - i];
    }
}

static uint32_t fsk_step(int hz)
{
    return (uint32_t) (((uint64_t) hz << 32) / FSK_SAMPLE_RATE);
}

/* ------------------------------------------------------------------ */
/* Transmitter                                                         */

struct fsk_tx_s {
    int mode;
    uint32_t step_mark, step_space;
    uint32_t phase;
    uint32_t step;                  /* of the bit being sent */
    int gain;                       /* Q15 of the full-scale sine */
    int in_bit;                     /* a bit is being sent */
    int baud_acc;                   /* bit clock: + FSK_BAUD per sample, wraps at the rate */
    int head, count;                /* bit queue: next bit index, bits queued */
    int allocated;
    uint8_t queue[FSK_TX_QUEUE_BITS / 8];
};

int fsk_tx_size(void)
{
    return (int) sizeof(fsk_tx_t);
}

int fsk_tx_set_level(fsk_tx_t *s, int level_dbm0)
{
    if (s == NULL || level_dbm0 < FSK_TX_LEVEL_MIN || level_dbm0 > FSK_TX_LEVEL_MAX)
        return FSK_EINVAL;
    double peak = DSP_DBM0_PEAK * pow(10.0, level_dbm0 / 20.0);
    s->gain = (int) lrint(peak * 32768.0 / 32767.0);
    if (s->gain > 32767)
        s->gain = 32767;
    return 0;
}

fsk_tx_t *fsk_tx_init(fsk_tx_t *s, int mode, int level_dbm0)
{
    int allocated;
    if (mode != FSK_BELL202 && mode != FSK_V23)
        return NULL;
    if (level_dbm0 < FSK_TX_LEVEL_MIN || level_dbm0 > FSK_TX_LEVEL_MAX)
        return NULL;
    if ((s = dsp_state_init(s, sizeof(*s), &allocated)) == NULL)
        return NULL;
    s->allocated = allocated;
    s->mode = mode;
    s->step_mark = fsk_step(fsk_modes[mode].mark_hz);
    s->step_space = fsk_step(fsk_modes[mode].space_hz);
    s->step = s->step_mark;
    fsk_tx_set_level(s, level_dbm0);
    return s;
}

void fsk_tx_release(fsk_tx_t *s)
{
    (void) s;
}

void fsk_tx_free(fsk_tx_t *s)
{
    if (s != NULL && s->allocated)
        free(s);
}

static void fsk_tx_push(fsk_tx_t *s, int bit)
{
    int at = (s->head + s->count) % FSK_TX_QUEUE_BITS;
    if (bit)
        s->queue[at >> 3] |= (uint8_t) (1u << (at & 7));
    else
        s->queue[at >> 3] &= (uint8_t) ~(1u << (at & 7));
    s->count++;
}

static int fsk_tx_room(const fsk_tx_t *s, int n)
{
    if (s == NULL || n < 0)
        return FSK_EINVAL;
    if (n > FSK_TX_QUEUE_BITS - s->count)
        return FSK_EBUSY;
    return 0;
}

int fsk_tx_put_bits(fsk_tx_t *s, const uint8_t *bits, int n)
{
    int rc = fsk_tx_room(s, n);
    if (rc < 0)
        return rc;
    if (n > 0 && bits == NULL)
        return FSK_EINVAL;
    for (int i = 0; i < n; i++)
        fsk_tx_push(s, bits[i] != 0);
    return n;
}

int fsk_tx_put_mark(fsk_tx_t *s, int n)
{
    int rc = fsk_tx_room(s, n);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++)
        fsk_tx_push(s, 1);
    return n;
}

int fsk_tx_put_seizure(fsk_tx_t *s, int n)
{
    int rc = fsk_tx_room(s, n);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++)
        fsk_tx_push(s, i & 1);
    return n;
}

int fsk_tx_put_bytes(fsk_tx_t *s, const uint8_t *data, int len)
{
    if (s == NULL || len < 0)
        return FSK_EINVAL;
    if (len > FSK_TX_QUEUE_BITS / 10)
        return FSK_EBUSY;
    int rc = fsk_tx_room(s, len * 10);
    if (rc < 0)
        return rc;
    if (len > 0 && data == NULL)
        return FSK_EINVAL;
    for (int i = 0; i < len; i++) {
        fsk_tx_push(s, 0);                      /* start bit: space */
        for (int b = 0; b < 8; b++)
            fsk_tx_push(s, (data[i] >> b) & 1); /* least significant first */
        fsk_tx_push(s, 1);                      /* stop bit: mark */
    }
    return len;
}

int fsk_tx_queued(const fsk_tx_t *s)
{
    if (s == NULL)
        return FSK_EINVAL;
    return s->count + (s->in_bit ? 1 : 0);
}

int fsk_tx(fsk_tx_t *s, int16_t *amp, int max)
{
    if (s == NULL || max < 0 || (max > 0 && amp == NULL))
        return FSK_EINVAL;
    int n = 0;
    uint32_t phase = s->phase;
    while (n < max) {
        if (!s->in_bit) {
            if (s->count == 0)
                break;
            int bit = (s->queue[s->head >> 3] >> (s->head & 7)) & 1;
            s->head = (s->head + 1) % FSK_TX_QUEUE_BITS;
            s->count--;
            s->step = bit ? s->step_mark : s->step_space;
            s->in_bit = 1;
        }
        amp[n++] = (int16_t) ((fsk_sin10(phase >> 22) * s->gain) >> 15);
        phase += s->step;
        s->baud_acc += FSK_BAUD;
        if (s->baud_acc >= FSK_SAMPLE_RATE) {
            s->baud_acc -= FSK_SAMPLE_RATE;
            s->in_bit = 0;
        }
    }
    s->phase = phase;
    return n;
}

int fsk_tx_bulk(fsk_tx_t *const *s, int n, int16_t *amp, int samples, int stride, int *done)
{
    if (n < 0 || samples < 0 || (n > 0 && (s == NULL || amp == NULL)) || (n > 1 && stride < samples))
        return FSK_EINVAL;
    int total = 0;
    for (int i = 0; i < n; i++) {
        int16_t *out = amp + (size_t) i * (size_t) stride;
        int got = 0;
        if (s[i] != NULL) {
            got = fsk_tx(s[i], out, samples);
            if (got < 0)
                got = 0;
            if (got < samples)
                memset(out + got, 0, (size_t) (samples - got) * sizeof(int16_t));
            total += got;
        }
        if (done != NULL)
            done[i] = got;
    }
    return total;
}

/* ------------------------------------------------------------------ */
/* Receiver                                                            */

enum { FSK_UART_HUNT = 0, FSK_UART_BITS = 1 };

struct fsk_rx_s {
    int mode;
    uint32_t step_mark, step_space;
    uint32_t phase_mark, phase_space;
    /* the last W products with each reference (I and Q) */
    float mi[FSK_RX_WINDOW], mq[FSK_RX_WINDOW], si[FSK_RX_WINDOW], sq[FSK_RX_WINDOW];
    int pos;
    float prev_d;                   /* last decision value (> 0 mark) */
    float power;                    /* smoothed x^2, x in units of full scale */
    float on_power, off_power;
    int carrier;
    /* UART */
    int state;
    int bit;                        /* 0 start, 1..8 data, 9 stop */
    float next;                     /* samples to the next mid-bit instant */
    unsigned octet;
    /* output */
    int head, count;
    uint8_t queue[FSK_RX_QUEUE];
    fsk_rx_counters_t counters;
    int allocated;
};

int fsk_rx_size(void)
{
    return (int) sizeof(fsk_rx_t);
}

/* Mean square of a sine at dBm0, in units of full scale squared */
static float fsk_dbm0_power(int dbm0)
{
    double peak = DSP_DBM0_PEAK / 32768.0;
    return (float) (peak * peak / 2.0 * pow(10.0, dbm0 / 10.0));
}

int fsk_rx_set_threshold(fsk_rx_t *s, int on_dbm0, int off_dbm0)
{
    if (s == NULL || off_dbm0 > on_dbm0 || on_dbm0 > 3 || off_dbm0 < -90)
        return FSK_EINVAL;
    s->on_power = fsk_dbm0_power(on_dbm0);
    s->off_power = fsk_dbm0_power(off_dbm0);
    return 0;
}

fsk_rx_t *fsk_rx_init(fsk_rx_t *s, int mode)
{
    int allocated;
    if (mode != FSK_BELL202 && mode != FSK_V23)
        return NULL;
    if ((s = dsp_state_init(s, sizeof(*s), &allocated)) == NULL)
        return NULL;
    s->allocated = allocated;
    s->mode = mode;
    s->step_mark = fsk_step(fsk_modes[mode].mark_hz);
    s->step_space = fsk_step(fsk_modes[mode].space_hz);
    fsk_rx_set_threshold(s, FSK_RX_ON_DBM0, FSK_RX_OFF_DBM0);
    return s;
}

void fsk_rx_release(fsk_rx_t *s)
{
    (void) s;
}

void fsk_rx_free(fsk_rx_t *s)
{
    if (s != NULL && s->allocated)
        free(s);
}

static int fsk_rx_put(fsk_rx_t *s, uint8_t octet)
{
    if (s->count >= FSK_RX_QUEUE) {
        s->counters.overruns++;
        return 0;
    }
    s->queue[(s->head + s->count) % FSK_RX_QUEUE] = octet;
    s->count++;
    s->counters.characters++;
    return 1;
}

int fsk_rx(fsk_rx_t *s, const int16_t *amp, int samples)
{
    if (s == NULL || samples < 0 || (samples > 0 && amp == NULL))
        return FSK_EINVAL;
    int got = 0;
    if (!s->carrier && samples >= FSK_RX_WINDOW && dsp_all_zero(amp, samples)) {
        /* No carrier and a quiet line (an idle phone's usual input): the loop below
         * would only decay the power and fill the window with zero products, so do
         * just that. Same state afterwards, without W multiply-adds per sample. */
        if (s->power < 1e-20f)
            s->power = 0.0f;    /* far below any threshold; and a denormal would stick */
        else
            for (int n = 0; n < samples; n++)
                s->power -= s->power * FSK_RX_POWER_SHIFT;
        memset(s->mi, 0, sizeof(s->mi));
        memset(s->mq, 0, sizeof(s->mq));
        memset(s->si, 0, sizeof(s->si));
        memset(s->sq, 0, sizeof(s->sq));
        s->pos = (s->pos + samples) % FSK_RX_WINDOW;
        s->phase_mark += s->step_mark * (uint32_t) samples;
        s->phase_space += s->step_space * (uint32_t) samples;
        s->prev_d = 0.0f;
        return 0;
    }
    for (int n = 0; n < samples; n++) {
        float x = amp[n] * (1.0f / 32768.0f);

        /* carrier: smoothed power with hysteresis */
        s->power += (x * x - s->power) * FSK_RX_POWER_SHIFT;
        if (!s->carrier && s->power > s->on_power) {
            s->carrier = 1;
            s->counters.carrier_ons++;
        } else if (s->carrier && s->power < s->off_power) {
            s->carrier = 0;
            if (s->state == FSK_UART_BITS)
                s->counters.carrier_drops++;
            s->state = FSK_UART_HUNT;
        }

        /* mix with the two tones; keep the last W products */
        unsigned pm = s->phase_mark >> 22, ps = s->phase_space >> 22;
        s->mi[s->pos] = x * (float) fsk_sin10(pm + 256);  /* cos */
        s->mq[s->pos] = x * (float) fsk_sin10(pm);
        s->si[s->pos] = x * (float) fsk_sin10(ps + 256);
        s->sq[s->pos] = x * (float) fsk_sin10(ps);
        s->phase_mark += s->step_mark;
        s->phase_space += s->step_space;
        if (++s->pos >= FSK_RX_WINDOW)
            s->pos = 0;
        float a = 0, b = 0, c = 0, e = 0;
        for (int k = 0; k < FSK_RX_WINDOW; k++) {
            a += s->mi[k];
            b += s->mq[k];
            c += s->si[k];
            e += s->sq[k];
        }
        float d = (a * a + b * b) - (c * c + e * e);
        float prev = s->prev_d;
        s->prev_d = d;
        if (!s->carrier)
            continue;

        if (s->state == FSK_UART_HUNT) {
            /* EN 300 659-1 / V.23: the start bit is the first space after mark */
            if (prev > 0.0f && d <= 0.0f) {
                float f = prev / (prev - d);                /* edge at n - 1 + f */
                s->next = 0.5f * FSK_BIT_SAMPLES - (1.0f - f);
                s->state = FSK_UART_BITS;
                s->bit = 0;
                s->octet = 0;
            }
            continue;
        }
        s->next -= 1.0f;
        if (s->next > 0.0f)
            continue;
        /* the mid-bit instant lies at n + next, next in (-1, 0]: interpolate */
        float v = d * (1.0f + s->next) - prev * s->next;
        s->next += FSK_BIT_SAMPLES;
        int mark = v > 0.0f;
        if (s->bit == 0) {
            if (mark) {
                s->counters.start_errors++;
                s->state = FSK_UART_HUNT;
                continue;
            }
        } else if (s->bit <= 8) {
            s->octet |= (unsigned) mark << (s->bit - 1);
        } else {
            if (mark)
                got += fsk_rx_put(s, (uint8_t) s->octet);
            else
                s->counters.framing_errors++;
            s->state = FSK_UART_HUNT;
            continue;
        }
        s->bit++;
    }
    return got;
}

int fsk_rx_get(fsk_rx_t *s, uint8_t *buf, int max)
{
    if (s == NULL || max < 0 || (max > 0 && buf == NULL))
        return FSK_EINVAL;
    int n = 0;
    while (n < max && s->count > 0) {
        buf[n++] = s->queue[s->head];
        s->head = (s->head + 1) % FSK_RX_QUEUE;
        s->count--;
    }
    return n;
}

int fsk_rx_available(const fsk_rx_t *s)
{
    if (s == NULL)
        return FSK_EINVAL;
    return s->count;
}

int fsk_rx_carrier(const fsk_rx_t *s)
{
    if (s == NULL)
        return FSK_EINVAL;
    return s->carrier;
}

void fsk_rx_counters(const fsk_rx_t *s, fsk_rx_counters_t *c)
{
    if (s == NULL || c == NULL)
        return;
    *c = s->counters;
}

int fsk_rx_bulk(fsk_rx_t *const *s, int n, const int16_t *amp, int samples, int stride, int *got)
{
    if (n < 0 || samples < 0 || (n > 0 && (s == NULL || amp == NULL)) || (n > 1 && stride < samples))
        return FSK_EINVAL;
    int total = 0;
    for (int i = 0; i < n; i++) {
        int k = 0;
        if (s[i] != NULL) {
            k = fsk_rx(s[i], amp + (size_t) i * (size_t) stride, samples);
            if (k < 0)
                k = 0;
            total += k;
        }
        if (got != NULL)
            got[i] = k;
    }
    return total;
}
