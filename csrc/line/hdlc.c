/*
 * HDLC framing on a 64 kbit/s timeslot (ISO/IEC 13239, as Q.921 2.2 uses it
 * for LAPD on the PRI D-channel).
 *
 * On the line, bits go least significant first. A frame is
 *     flag 0x7E | address, control, information | FCS (2 octets) | flag
 * with a zero inserted after every five consecutive ones between the flags
 * (Q.921 2.6: transparency), so that only flags show six ones and only an
 * abort shows seven (Q.921 2.10: seven or more contiguous ones).
 *
 * The transmitter works an octet at a time: an octet whose bits, together
 * with the ones already sent, cannot make five ones in a row goes out in
 * one shift; only the rest are stuffed bit by bit. The receiver takes such
 * an octet inside a frame in one shift too, and works bit by bit only where
 * a flag, an abort or an inserted zero may be. It also remembers the last
 * octet it processed: an octet equal to the previous one, when that left the
 * receiver exactly as it found it (idle flags at any bit phase, all-ones
 * idle, a dead line), is skipped. An idle D-channel therefore costs a
 * compare per octet both ways.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "line/hdlc.h"

/* Q.921 2.2, ISO/IEC 13239 4.2: the flag sequence 01111110 */
#define HDLC_FLAG           0x7E
/* Q.921 2.7 (ISO/IEC 13239 4.2.4): FCS-16 residue of a good frame, before the complement */
#define HDLC_FCS_GOOD       0xF0B8
#define HDLC_FCS_INIT       0xFFFF
/* A frame as stored: the largest information field plus the two FCS octets */
#define HDLC_FRAME_BUF      (HDLC_MAX_FRAME + 2)
/* ISO/IEC 13239 4.5: seven to fourteen ones are an abort, fifteen or more an idle line */
#define HDLC_ABORT_ONES     7
#define HDLC_IDLE_ONES      15
/* Q.921 2.2: address, control and the FCS at least */
#define HDLC_MIN_FRAME      4

typedef struct {
    int len;                    /* octets, FCS included */
    uint8_t data[HDLC_FRAME_BUF];
} hdlc_tx_slot_t;

struct hdlc_tx_s {
    uint32_t acc;               /* line bits not yet given out, next bit in bit 0 */
    int nacc;                   /* how many */
    int ones;                   /* ones in a row at the end of acc (0..4 in a frame) */
    int pos;                    /* next octet of the current frame; -1 when idle */
    int after_flag;             /* the last thing put in acc was a flag */
    int head, count;            /* the queue; head is the frame being sent */
    uint32_t frames_sent;
    int allocated;
    hdlc_tx_slot_t queue[HDLC_TX_QUEUE];
};

typedef struct {
    int len;                    /* octets, FCS excluded */
    uint8_t data[HDLC_MAX_FRAME];
} hdlc_rx_slot_t;

/* Receiver's bit-level state: all of it that decides what the next bits do */
typedef struct {
    uint32_t acc;               /* destuffed bits not yet made into octets, newest in bit nbits-1 */
    int nbits;                  /* how many: 0..13 (the last six may turn out to be a flag) */
    int ones;                   /* ones in a row on the line, saturating at HDLC_IDLE_ONES */
    int hunting;                /* after an abort or at start: discard until a flag */
    int abort_data;             /* the ones that made this abort cut a frame short */
    int len;                    /* octets of the frame so far */
    int too_long;               /* the frame went over HDLC_FRAME_BUF */
    uint16_t crc;               /* running FCS over the octets so far */
} hdlc_rx_bits_t;

struct hdlc_rx_s {
    hdlc_rx_bits_t b;
    uint8_t frame[HDLC_FRAME_BUF];
    int memo_valid;             /* the last octet left the state unchanged and did nothing */
    uint8_t memo_octet;
    hdlc_rx_counters_t counters;
    int head, count;
    int allocated;
    hdlc_rx_slot_t queue[HDLC_RX_QUEUE];
};

/*
 * FCS-16 (Q.921 2.7, ISO/IEC 13239 4.2.4, generator x^16 + x^12 + x^5 + 1,
 * bits processed least significant first as they are sent). One octet of
 * the reflected CRC without a table: with x = the low octet of crc ^ octet,
 * folded once by x ^= x << 4, the generator's three terms are x << 8, x << 3
 * and x >> 4.
 */
static inline uint16_t hdlc_crc_octet(uint16_t crc, uint8_t octet)
{
    unsigned int x;

    x = (crc ^ octet) & 0xFF;
    x = (x ^ (x << 4)) & 0xFF;
    return (uint16_t) ((crc >> 8) ^ (x << 8) ^ (x << 3) ^ (x >> 4));
}

uint16_t hdlc_fcs16(const uint8_t *data, int len)
{
    uint16_t crc = HDLC_FCS_INIT;
    int i;

    for (i = 0; i < len; i++)
        crc = hdlc_crc_octet(crc, data[i]);
    return (uint16_t) ~crc;
}

/* ---- transmitter ------------------------------------------------------ */

int hdlc_tx_size(void)
{
    return (int) sizeof(hdlc_tx_t);
}

hdlc_tx_t *hdlc_tx_init(hdlc_tx_t *s)
{
    int allocated = 0;

    if (s == NULL)
    {
        if ((s = (hdlc_tx_t *) malloc(sizeof(*s))) == NULL)
            return NULL;
        allocated = 1;
    }
    s->acc = 0;
    s->nacc = 0;
    s->ones = 0;
    s->pos = -1;
    s->after_flag = 0;
    s->head = 0;
    s->count = 0;
    s->frames_sent = 0;
    s->allocated = allocated;
    return s;
}

void hdlc_tx_release(hdlc_tx_t *s)
{
    (void) s;
}

void hdlc_tx_free(hdlc_tx_t *s)
{
    if (s == NULL)
        return;
    hdlc_tx_release(s);
    if (s->allocated)
        free(s);
}

int hdlc_tx_frame(hdlc_tx_t *s, const uint8_t *data, int len)
{
    hdlc_tx_slot_t *slot;
    uint16_t fcs;

    /* The FCS is added here, so the shortest frame worth sending is address + control. */
    if (len < 1 || len > HDLC_MAX_FRAME || data == NULL)
        return -2;
    if (s->count >= HDLC_TX_QUEUE)
        return -1;
    slot = &s->queue[(s->head + s->count) % HDLC_TX_QUEUE];
    memcpy(slot->data, data, (size_t) len);
    /* Q.921 2.7: FCS sent low-order octet first (its bit 0 is the x^15 term). */
    fcs = hdlc_fcs16(data, len);
    slot->data[len] = (uint8_t) (fcs & 0xFF);
    slot->data[len + 1] = (uint8_t) (fcs >> 8);
    slot->len = len + 2;
    s->count++;
    return 0;
}

int hdlc_tx_queued(const hdlc_tx_t *s)
{
    return s->count;
}

uint32_t hdlc_tx_frames_sent(const hdlc_tx_t *s)
{
    return s->frames_sent;
}

/* Does (ones already sent or seen, 0..6, then the octet's 8 bits) hold five ones in a row? */
static inline int hdlc_needs_stuffing(int ones, unsigned int octet)
{
    unsigned int x;

    /* ones (0..4) set bits below the octet, as if they had just been sent */
    x = (octet << ones) | ((1u << ones) - 1u);
    return (x & (x >> 1) & (x >> 2) & (x >> 3) & (x >> 4)) != 0;
}

/* Ones at the end of the octet as sent (its most significant bits), 0..7 */
static inline int hdlc_trailing_ones(unsigned int octet)
{
    /* octet != 0xFF here: that always needs stuffing */
    return __builtin_clz(~(octet << 24));
}

static inline void hdlc_tx_put_octet(hdlc_tx_t *s, unsigned int octet)
{
    int i;

    if (!hdlc_needs_stuffing(s->ones, octet))
    {
        s->acc |= octet << s->nacc;
        s->nacc += 8;
        s->ones = (octet & 0x80) ? hdlc_trailing_ones(octet) : 0;
        return;
    }
    for (i = 0; i < 8; i++)
    {
        if ((octet >> i) & 1)
        {
            s->acc |= 1u << s->nacc++;
            if (++s->ones == 5)
            {
                /* Q.921 2.6: a 0 after five contiguous 1s */
                s->nacc++;
                s->ones = 0;
            }
        }
        else
        {
            s->nacc++;
            s->ones = 0;
        }
    }
}

static inline void hdlc_tx_put_flag(hdlc_tx_t *s)
{
    s->acc |= (uint32_t) HDLC_FLAG << s->nacc;
    s->nacc += 8;
    s->ones = 0;
    s->after_flag = 1;
}

/* Bring acc up to at least 8 bits. */
static void hdlc_tx_refill(hdlc_tx_t *s)
{
    hdlc_tx_slot_t *slot;

    while (s->nacc < 8)
    {
        if (s->pos < 0)
        {
            if (s->count > 0 && s->after_flag)
            {
                /* The flag just sent opens the frame (Q.921 2.2: one flag may close one frame and open the next). */
                s->pos = 0;
                s->after_flag = 0;
            }
            else
            {
                hdlc_tx_put_flag(s);
            }
            continue;
        }
        slot = &s->queue[s->head];
        hdlc_tx_put_octet(s, slot->data[s->pos++]);
        if (s->pos >= slot->len)
        {
            hdlc_tx_put_flag(s);
            s->pos = -1;
            s->head = (s->head + 1) % HDLC_TX_QUEUE;
            s->count--;
            s->frames_sent++;
        }
    }
}

void hdlc_tx_get_strided(hdlc_tx_t *s, uint8_t *octets, int n, int stride)
{
    int i;

    for (i = 0; i < n; i++)
    {
        if (s->count == 0 && s->pos < 0 && s->nacc < 8
            && s->acc == ((uint32_t) HDLC_FLAG >> (8 - s->nacc)))
        {
            /* Idle, flags back to back: what is left of the last flag and the next one
             * make the same octet each time (a flag turned by nacc bits), and leave
             * acc and nacc as they were; a flag was sent (hdlc_tx_put_flag). */
            uint8_t octet = (uint8_t) (s->acc | ((uint32_t) HDLC_FLAG << s->nacc));
            for (; i < n; i++)
                octets[(long) i * stride] = octet;
            s->ones = 0;
            s->after_flag = 1;
            return;
        }
        if (s->nacc < 8)
            hdlc_tx_refill(s);
        octets[(long) i * stride] = (uint8_t) s->acc;
        s->acc >>= 8;
        s->nacc -= 8;
    }
}

void hdlc_tx_get(hdlc_tx_t *s, uint8_t *octets, int n)
{
    hdlc_tx_get_strided(s, octets, n, 1);
}

/* ---- receiver --------------------------------------------------------- */

int hdlc_rx_size(void)
{
    return (int) sizeof(hdlc_rx_t);
}

static void hdlc_rx_restart(hdlc_rx_bits_t *b)
{
    b->acc = 0;
    b->nbits = 0;
    b->len = 0;
    b->too_long = 0;
    b->crc = HDLC_FCS_INIT;
}

hdlc_rx_t *hdlc_rx_init(hdlc_rx_t *s)
{
    int allocated = 0;

    if (s == NULL)
    {
        if ((s = (hdlc_rx_t *) malloc(sizeof(*s))) == NULL)
            return NULL;
        allocated = 1;
    }
    hdlc_rx_restart(&s->b);
    s->b.ones = 0;
    s->b.hunting = 1;
    s->b.abort_data = 0;
    s->memo_valid = 0;
    s->memo_octet = 0;
    memset(&s->counters, 0, sizeof(s->counters));
    s->head = 0;
    s->count = 0;
    s->allocated = allocated;
    return s;
}

void hdlc_rx_release(hdlc_rx_t *s)
{
    (void) s;
}

void hdlc_rx_free(hdlc_rx_t *s)
{
    if (s == NULL)
        return;
    hdlc_rx_release(s);
    if (s->allocated)
        free(s);
}

/* A flag closed whatever was between it and the one before. */
static void hdlc_rx_close(hdlc_rx_t *s)
{
    hdlc_rx_bits_t *b = &s->b;
    int extra = b->nbits - 6;   /* data bits left over once the flag's 0111111 is taken off */
    hdlc_rx_slot_t *slot;

    if (b->hunting)
    {
        b->hunting = 0;
    }
    else if (b->len == 0 && extra <= 0)
    {
        /* Flags back to back, or sharing a zero: inter-frame fill. */
    }
    else if (extra != 0)
    {
        s->counters.bad_bits++;
    }
    else if (b->too_long)
    {
        s->counters.long_frames++;
    }
    else if (b->len < HDLC_MIN_FRAME)
    {
        s->counters.short_frames++;
    }
    else if (b->crc != HDLC_FCS_GOOD)
    {
        s->counters.fcs_errors++;
    }
    else if (s->count >= HDLC_RX_QUEUE)
    {
        s->counters.overruns++;
    }
    else
    {
        slot = &s->queue[(s->head + s->count) % HDLC_RX_QUEUE];
        slot->len = b->len - 2;
        memcpy(slot->data, s->frame, (size_t) slot->len);
        s->count++;
        s->counters.frames++;
    }
    hdlc_rx_restart(b);
}

/* Move the oldest eight destuffed bits into the frame, keeping six back. */
static inline void hdlc_rx_commit(hdlc_rx_t *s)
{
    hdlc_rx_bits_t *b = &s->b;
    uint8_t octet;

    octet = (uint8_t) b->acc;
    b->acc >>= 8;
    b->nbits -= 8;
    if (b->len < HDLC_FRAME_BUF)
    {
        s->frame[b->len++] = octet;
        b->crc = hdlc_crc_octet(b->crc, octet);
    }
    else
    {
        b->too_long = 1;
    }
}

static inline void hdlc_rx_data_bit(hdlc_rx_t *s, unsigned int bit)
{
    hdlc_rx_bits_t *b = &s->b;

    if (b->hunting)
        return;
    b->acc |= bit << b->nbits;
    /* Keep the last six bits back: they may be the start of a flag. */
    if (++b->nbits >= 14)
        hdlc_rx_commit(s);
}

/*
 * Aborts (Q.921 2.10, ISO/IEC 13239 4.5). Seven ones end any frame in
 * progress; what they were shows when the run ends. A run of 7..14 ones
 * ended by a zero is an abort (counted, whether or not the frame had any
 * bits yet); a run reaching 15 ones is the line going idle, which is an
 * abort only if it cut a frame short.
 */
static inline void hdlc_rx_bit(hdlc_rx_t *s, unsigned int bit)
{
    hdlc_rx_bits_t *b = &s->b;

    if (bit)
    {
        if (b->ones < HDLC_IDLE_ONES)
            b->ones++;
        if (b->ones <= 5)
        {
            hdlc_rx_data_bit(s, 1);
        }
        else if (b->ones == HDLC_ABORT_ONES)
        {
            /* Five of the seven ones went in as data. */
            b->abort_data = !b->hunting && (b->len > 0 || b->nbits > 5);
            hdlc_rx_restart(b);
            b->hunting = 1;
        }
        else if (b->ones == HDLC_IDLE_ONES && b->abort_data)
        {
            s->counters.aborts++;
            b->abort_data = 0;
        }
        return;
    }
    switch (b->ones)
    {
    case 5:
        /* Q.921 2.6: the zero inserted after five ones */
        break;
    case 6:
        hdlc_rx_close(s);
        break;
    case HDLC_IDLE_ONES:
        /* the end of an idle line: still hunting for a flag */
        break;
    default:
        if (b->ones >= HDLC_ABORT_ONES)
        {
            s->counters.aborts++;
            b->abort_data = 0;
        }
        else
        {
            hdlc_rx_data_bit(s, 0);
        }
        break;
    }
    b->ones = 0;
}

static inline int hdlc_rx_same(const hdlc_rx_bits_t *x, const hdlc_rx_bits_t *y)
{
    uint32_t mask = (1u << x->nbits) - 1u;

    return x->nbits == y->nbits && x->ones == y->ones && x->hunting == y->hunting
        && x->abort_data == y->abort_data && x->len == y->len && x->too_long == y->too_long && x->crc == y->crc
        && (x->acc & mask) == (y->acc & mask);
}

void hdlc_rx_put_strided(hdlc_rx_t *s, const uint8_t *octets, int n, int stride)
{
    hdlc_rx_bits_t before;
    uint32_t events;
    unsigned int octet;
    int i;
    int k;

    for (i = 0; i < n; i++)
    {
        octet = octets[(long) i * stride];
        if (s->memo_valid && octet == s->memo_octet)
            continue;
        if (!s->b.hunting && !hdlc_needs_stuffing(s->b.ones, octet))
        {
            /* Inside a frame, no five ones in a row: eight data bits as they are. */
            s->b.acc |= octet << s->b.nbits;
            s->b.nbits += 8;
            if (s->b.nbits >= 14)
                hdlc_rx_commit(s);
            s->b.ones = (octet & 0x80) ? hdlc_trailing_ones(octet) : 0;
            s->memo_valid = 0;
            continue;
        }
        before = s->b;
        events = s->counters.frames + s->counters.fcs_errors + s->counters.aborts
               + s->counters.short_frames + s->counters.long_frames + s->counters.bad_bits
               + s->counters.overruns;
        for (k = 0; k < 8; k++)
            hdlc_rx_bit(s, (octet >> k) & 1);
        /* The octet took the receiver round a loop: the same octet will do the same again. */
        s->memo_valid = hdlc_rx_same(&before, &s->b)
            && events == s->counters.frames + s->counters.fcs_errors + s->counters.aborts
                       + s->counters.short_frames + s->counters.long_frames
                       + s->counters.bad_bits + s->counters.overruns;
        s->memo_octet = (uint8_t) octet;
    }
}

void hdlc_rx_put(hdlc_rx_t *s, const uint8_t *octets, int n)
{
    hdlc_rx_put_strided(s, octets, n, 1);
}

int hdlc_rx_get_frame(hdlc_rx_t *s, uint8_t *buf, int maxlen)
{
    hdlc_rx_slot_t *slot;
    int len;

    if (s->count == 0)
        return 0;
    slot = &s->queue[s->head];
    if (slot->len > maxlen)
        return -1;
    len = slot->len;
    memcpy(buf, slot->data, (size_t) len);
    s->head = (s->head + 1) % HDLC_RX_QUEUE;
    s->count--;
    return len;
}

void hdlc_rx_counters(const hdlc_rx_t *s, hdlc_rx_counters_t *c)
{
    *c = s->counters;
}
