/*
 * HAL backend for Linux DAHDI cards (Digium, Sangoma, OpenVox, ...).
 *
 * The kernel does the framing; this backend maps the HAL table onto the
 * DAHDI character devices, the way FreeTDM's ftmod_zt and libpri users do:
 *
 *   - one /dev/dahdi/channel fd per timeslot and per analog port, bound to
 *     its channel number with DAHDI_SPECIFY, non-blocking, block size one
 *     tick; audio is read and written a tick at a time in the span's law;
 *   - /dev/dahdi/ctl for DAHDI_SPANSTAT (alarms and counters) and DAHDI_MAINT
 *     (loopbacks, counter reset);
 *   - the PRI D-channel (TS16, configured "dchan"/"hardhdlc" in
 *     /etc/dahdi/system.conf) in HDLC-with-FCS mode: each read is one frame
 *     followed by its two FCS octets, each write one frame followed by two
 *     octets of room for the FCS the kernel or card computes;
 *   - CAS with DAHDI_SETTXBITS / DAHDI_GETRXBITS (abcd in the low four bits,
 *     a = 8, as HAL has them);
 *   - signalling events with DAHDI_GETEVENT, mapped to HAL_EV_*.
 *
 * The tick is paced by the card: the first open channel's read blocks (in
 * poll) until the card has a block, which on every DAHDI card is the
 * interrupt that moves one block of every channel.
 *
 * Span and channel numbering: our span s (1-based) is DAHDI span
 * first_span + s - 1; its timeslot t is DAHDI channel basechan + t - 1 where
 * basechan follows the channel counts DAHDI_SPANSTAT reports for the spans
 * before it. Analog ports are channels first_port, first_port + 1, ...
 * The device string may set both: "span=1,port=63" (defaults: span 1, ports
 * after the last E1 channel).
 *
 * Without the DAHDI headers (HAL_HAVE_DAHDI undefined) the backend is a stub
 * whose open() says HAL_ENODEV, so hal.c can name it on every machine.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hal.h"

#if defined(HAL_HAVE_DAHDI)

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <dahdi/user.h>

#include "dsp/g711.h"
#include "line/prbs.h"

#define DAHDI_CHANNEL_DEV   "/dev/dahdi/channel"
#define DAHDI_CTL_DEV       "/dev/dahdi/ctl"
#define DAHDI_E1_CHANS      31     /* G.704: TS1..TS31 as DAHDI chanpos 1..31 */
#define DAHDI_DCHAN_TS      16     /* Q.931 / G.704 5.1: the PRI D-channel */
#define DAHDI_PLAY_MAX      (8000 * 30)   /* 30 s of queued audio per channel */
#define DAHDI_FRAME_MAX     (512 + 2)     /* LAPD frame and FCS room */
#define DAHDI_TICK_WAIT_MS  100

typedef struct {
    int fd;                 /* -1 when not open */
    int channo;
    int tap;
    int law;                /* HAL_LAW_* the channel reads and writes */
    int rx_abcd;            /* last received CAS bits, -1 before the first */
    uint8_t *play;          /* queued audio, in the channel's law */
    int play_len, play_pos;
    int tone_left;          /* samples of tone still to send */
    double ph1, ph2, dph1, dph2, amp1, amp2;
} dahdi_chan_t;

typedef struct {
    int spanno;             /* DAHDI span number */
    int basechan;
    int configured;
    hal_span_config_t cfg;
    int alarms;             /* HAL_ALARM_* */
    int loopback;
    struct dahdi_spaninfo info;
    uint32_t lof_events, los_events;
    uint32_t hdlc_rx, hdlc_tx, hdlc_fcs, hdlc_abort, hdlc_bad, hdlc_overrun;
    uint64_t frames_rx;
    int bert;
    prbs_tx_t ptx;
    prbs_rx_t prx;
    uint64_t bert_frames;
    dahdi_chan_t chan[HAL_TIMESLOTS];   /* by timeslot; [0] unused */
} dahdi_span_t;

typedef struct {
    int kind;               /* HAL_PORT_* */
    int hook, ringing, polarity, battery;
    dahdi_chan_t c;
} dahdi_port_t;

typedef struct {
    int ctl;
    int nspans, nports, frames;
    dahdi_span_t *spans;
    dahdi_port_t *ports;
    uint8_t *buf;           /* one tick of one channel */
    uint8_t *bert_buf;      /* one tick of a span's bearer timeslots, in line order: received */
    uint8_t *bert_tx;       /* the same, to send */
} dahdi_board_t;

static void dahdi_chan_clear(dahdi_chan_t *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->rx_abcd = -1;
}

static int dahdi_hal_law(int law)
{
    return (law == HAL_LAW_ULAW) ? DAHDI_LAW_MULAW : DAHDI_LAW_ALAW;
}

/* Open a DAHDI channel by number, non-blocking, blocks of one tick. */
static int dahdi_chan_open(dahdi_chan_t *c, int channo, int frames, int law)
{
    int fd;
    int x;

    fd = open(DAHDI_CHANNEL_DEV, O_RDWR | O_NONBLOCK);
    if (fd < 0)
        return HAL_ENODEV;
    x = channo;
    if (ioctl(fd, DAHDI_SPECIFY, &x) < 0)
        goto fail;
    x = frames;
    if (ioctl(fd, DAHDI_SET_BLOCKSIZE, &x) < 0)
        goto fail;
    x = dahdi_hal_law(law);
    /* Channels in HDLC or CAS-only mode refuse a law: not an error. */
    (void) ioctl(fd, DAHDI_SETLAW, &x);
    c->fd = fd;
    c->channo = channo;
    c->law = law;
    return HAL_OK;
fail:
    close(fd);
    return HAL_ENOCHAN;
}

static void dahdi_chan_close(dahdi_chan_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->play);
    dahdi_chan_clear(c);
}

/* DAHDI alarm bits to HAL_ALARM_* (red = loss of frame, blue = AIS, yellow = RAI). */
static int dahdi_alarms(int a)
{
    int h = 0;

    if (a & DAHDI_ALARM_LOS)
        h |= HAL_ALARM_LOS;
    if (a & (DAHDI_ALARM_RED | DAHDI_ALARM_LFA))
        h |= HAL_ALARM_LOF;
    if (a & DAHDI_ALARM_BLUE)
        h |= HAL_ALARM_AIS;
    if (a & DAHDI_ALARM_YELLOW)
        h |= HAL_ALARM_RAI;
    if (a & DAHDI_ALARM_LMFA)
        h |= HAL_ALARM_LOMF;
    return h;
}

static dahdi_board_t *dahdi_priv(hal_board_t *b)
{
    return (dahdi_board_t *) b->priv;
}

static dahdi_span_t *dahdi_span(hal_board_t *b, int span)
{
    dahdi_board_t *d = dahdi_priv(b);

    if (span < 1 || span > d->nspans)
        return NULL;
    return &d->spans[span - 1];
}

static dahdi_chan_t *dahdi_span_chan(hal_board_t *b, int span, int chan)
{
    dahdi_span_t *sp = dahdi_span(b, span);

    if (sp == NULL || chan < 1 || chan > DAHDI_E1_CHANS || sp->chan[chan].fd < 0)
        return NULL;
    return &sp->chan[chan];
}

/* Refresh a span's status from the kernel; queue an event when the alarms change. */
static int dahdi_span_refresh(hal_board_t *b, int span)
{
    dahdi_board_t *d = dahdi_priv(b);
    dahdi_span_t *sp = &d->spans[span - 1];
    int alarms;

    memset(&sp->info, 0, sizeof(sp->info));
    sp->info.spanno = sp->spanno;
    if (ioctl(d->ctl, DAHDI_SPANSTAT, &sp->info) < 0)
        return HAL_ENOSPAN;
    alarms = dahdi_alarms(sp->info.alarms);
    if (alarms != sp->alarms)
    {
        if ((alarms & HAL_ALARM_LOF) && !(sp->alarms & HAL_ALARM_LOF))
            sp->lof_events++;
        if ((alarms & HAL_ALARM_LOS) && !(sp->alarms & HAL_ALARM_LOS))
            sp->los_events++;
        hal_board_push_event(b, HAL_EV_ALARM, span, 0, alarms, sp->alarms, NULL, 0);
        sp->alarms = alarms;
    }
    return HAL_OK;
}

/* "span=N,port=M" */
static void dahdi_parse_device(const char *device, int *first_span, int *first_port)
{
    const char *p;

    if (device == NULL)
        return;
    if ((p = strstr(device, "span=")) != NULL)
        *first_span = atoi(p + 5);
    if ((p = strstr(device, "port=")) != NULL)
        *first_port = atoi(p + 5);
}

static void dahdi_close(hal_board_t *b);

/* The board's memory (its channels closed before). */
static void dahdi_board_free(dahdi_board_t *d)
{
    free(d->spans);
    free(d->ports);
    free(d->buf);
    free(d->bert_buf);
    free(d->bert_tx);
    free(d);
}

static int dahdi_open(hal_board_t *b, const char *device)
{
    const int *kinds = (const int *) b->priv;
    dahdi_board_t *d;
    struct dahdi_spaninfo si;
    int first_span = 1;
    int first_port = 0;
    int basechan = 1;
    int i, s, t, rc;

    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return HAL_ENOMEM;
    d->ctl = -1;
    d->nspans = b->nspans;
    d->nports = b->nports;
    d->frames = b->tick_frames;
    d->spans = calloc((size_t) (b->nspans ? b->nspans : 1), sizeof(dahdi_span_t));
    d->ports = calloc((size_t) (b->nports ? b->nports : 1), sizeof(dahdi_port_t));
    d->buf = malloc((size_t) b->tick_frames);
    d->bert_buf = malloc((size_t) b->tick_frames * DAHDI_E1_CHANS);
    d->bert_tx = malloc((size_t) b->tick_frames * DAHDI_E1_CHANS);
    if (d->spans == NULL || d->ports == NULL || d->buf == NULL || d->bert_buf == NULL
        || d->bert_tx == NULL)
    {
        dahdi_board_free(d);
        return HAL_ENOMEM;
    }
    for (s = 0; s < b->nspans; s++)
        for (t = 0; t < HAL_TIMESLOTS; t++)
            dahdi_chan_clear(&d->spans[s].chan[t]);
    for (i = 0; i < b->nports; i++)
    {
        dahdi_chan_clear(&d->ports[i].c);
        d->ports[i].kind = kinds[i];
    }
    b->priv = d;

    d->ctl = open(DAHDI_CTL_DEV, O_RDWR);
    if (d->ctl < 0)
    {
        rc = HAL_ENODEV;
        goto fail;
    }
    dahdi_parse_device(device, &first_span, &first_port);
    if (first_span < 1)
    {
        rc = HAL_ECONFIG;
        goto fail;
    }
    /* Channel numbers of the spans before ours. */
    for (s = 1; s < first_span; s++)
    {
        memset(&si, 0, sizeof(si));
        si.spanno = s;
        if (ioctl(d->ctl, DAHDI_SPANSTAT, &si) < 0)
        {
            rc = HAL_ENOSPAN;
            goto fail;
        }
        basechan += si.totalchans;
    }
    for (s = 0; s < b->nspans; s++)
    {
        dahdi_span_t *sp = &d->spans[s];

        sp->spanno = first_span + s;
        sp->basechan = basechan;
        sp->cfg.signalling = HAL_SIG_CCS;
        sp->cfg.crc4 = 1;
        sp->cfg.law = HAL_LAW_ALAW;
        if (dahdi_span_refresh(b, s + 1) < 0 || sp->info.totalchans < DAHDI_E1_CHANS)
        {
            rc = HAL_ENOSPAN;
            goto fail;
        }
        basechan += sp->info.totalchans;
    }
    if (first_port <= 0)
        first_port = basechan;
    for (i = 0; i < b->nports; i++)
    {
        rc = dahdi_chan_open(&d->ports[i].c, first_port + i, d->frames, HAL_LAW_ALAW);
        if (rc < 0)
            goto fail;
        d->ports[i].battery = 1;
    }
    return HAL_OK;
fail:
    dahdi_close(b);
    b->priv = NULL;
    return rc;
}

static void dahdi_close(hal_board_t *b)
{
    dahdi_board_t *d = dahdi_priv(b);
    int i, s, t;

    if (d == NULL)
        return;
    for (s = 0; s < d->nspans; s++)
        for (t = 0; t < HAL_TIMESLOTS; t++)
            dahdi_chan_close(&d->spans[s].chan[t]);
    for (i = 0; i < d->nports; i++)
        dahdi_chan_close(&d->ports[i].c);
    if (d->ctl >= 0)
        close(d->ctl);
    dahdi_board_free(d);
    b->priv = NULL;
}

static int dahdi_configure_span(hal_board_t *b, int span, const hal_span_config_t *cfg)
{
    dahdi_board_t *d = dahdi_priv(b);
    dahdi_span_t *sp = dahdi_span(b, span);
    int lc;
    int t, rc, x;

    if (sp == NULL)
        return HAL_ENOSPAN;
    if (cfg->signalling < HAL_SIG_CCS || cfg->signalling > HAL_SIG_CLEAR
        || (cfg->law != HAL_LAW_ALAW && cfg->law != HAL_LAW_ULAW))
        return HAL_ECONFIG;
    /* Framing is dahdi_cfg's (system.conf): refuse a config the span does not run. */
    lc = sp->info.lineconfig;
    if (lc != 0)
    {
        if (((lc & DAHDI_CONFIG_CRC4) != 0) != (cfg->crc4 != 0))
            return HAL_ECONFIG;
        if (((lc & DAHDI_CONFIG_CCS) != 0) != (cfg->signalling != HAL_SIG_CAS))
            return HAL_ECONFIG;
    }
    for (t = 1; t <= DAHDI_E1_CHANS; t++)
        dahdi_chan_close(&sp->chan[t]);
    for (t = 1; t <= DAHDI_E1_CHANS; t++)
    {
        if (t == DAHDI_DCHAN_TS && cfg->signalling == HAL_SIG_CAS)
            continue;       /* TS16 carries the CAS multiframe, not a channel */
        rc = dahdi_chan_open(&sp->chan[t], sp->basechan + t - 1, d->frames, cfg->law);
        if (rc < 0)
            return rc;
    }
    if (cfg->signalling == HAL_SIG_CCS)
    {
        /* Q.921 frames with the FCS done below us. */
        x = 1;
        if (ioctl(sp->chan[DAHDI_DCHAN_TS].fd, DAHDI_HDLCFCSMODE, &x) < 0)
            return HAL_ECONFIG;
        x = DAHDI_FRAME_MAX;
        (void) ioctl(sp->chan[DAHDI_DCHAN_TS].fd, DAHDI_SET_BLOCKSIZE, &x);
    }
    sp->cfg = *cfg;
    sp->configured = 1;
    return HAL_OK;
}

/* ---- audio --------------------------------------------------------------- */

static void dahdi_chan_fill(hal_board_t *b, int span, int chan, dahdi_chan_t *c, uint8_t *out,
                            int n)
{
    uint8_t silence = (c->law == HAL_LAW_ULAW) ? G711_ULAW_SILENCE : G711_ALAW_SILENCE;
    int16_t x;
    int i = 0;
    int k;

    if (c->play != NULL && c->play_pos < c->play_len)
    {
        k = c->play_len - c->play_pos;
        if (k > n)
            k = n;
        memcpy(out, c->play + c->play_pos, (size_t) k);
        c->play_pos += k;
        i = k;
        if (c->play_pos >= c->play_len)
        {
            c->play_pos = c->play_len = 0;
            hal_board_push_event(b, HAL_EV_TONE_DONE, span, chan, 0, 0, NULL, 0);
        }
    }
    for (; i < n && c->tone_left > 0; i++, c->tone_left--)
    {
        x = (int16_t) (c->amp1 * sin(c->ph1) + c->amp2 * sin(c->ph2));
        c->ph1 = fmod(c->ph1 + c->dph1, 2.0 * M_PI);
        c->ph2 = fmod(c->ph2 + c->dph2, 2.0 * M_PI);
        out[i] = (c->law == HAL_LAW_ULAW) ? g711_linear_to_ulaw(x) : g711_linear_to_alaw(x);
        if (c->tone_left == 1)
            hal_board_push_event(b, HAL_EV_TONE_DONE, span, chan, 0, 0, NULL, 0);
    }
    if (i < n)
        memset(out + i, silence, (size_t) (n - i));
}

/* Read what the card has for a channel; -1 and errno ELAST mean an event is waiting. */
static int dahdi_chan_read(dahdi_chan_t *c, uint8_t *buf, int n)
{
    ssize_t r = read(c->fd, buf, (size_t) n);

    return (r < 0) ? -1 : (int) r;
}

/* ---- events -------------------------------------------------------------- */

static void dahdi_span_event(hal_board_t *b, int span, int chan, int ev)
{
    dahdi_span_t *sp = &dahdi_priv(b)->spans[span - 1];

    switch (ev)
    {
    case DAHDI_EVENT_ALARM:
    case DAHDI_EVENT_NOALARM:
        dahdi_span_refresh(b, span);
        break;
    case DAHDI_EVENT_BADFCS:
        sp->hdlc_fcs++;
        break;
    case DAHDI_EVENT_ABORT:
        sp->hdlc_abort++;
        break;
    case DAHDI_EVENT_OVERRUN:
        sp->hdlc_overrun++;
        break;
    case DAHDI_EVENT_BITSCHANGED:
        /* picked up by the GETRXBITS poll in the tick */
        break;
    default:
        break;
    }
    (void) chan;
}

static void dahdi_port_event(hal_board_t *b, int port, dahdi_port_t *p, int ev)
{
    if (p->kind == HAL_PORT_FXS)
    {
        /* A phone on our FXS port (DAHDI runs it with FXO signalling). */
        switch (ev)
        {
        case DAHDI_EVENT_RINGOFFHOOK:
            p->hook = 1;
            p->ringing = 0;
            hal_board_push_event(b, HAL_EV_HOOK, 0, port, 1, 0, NULL, 0);
            break;
        case DAHDI_EVENT_ONHOOK:
            p->hook = 0;
            hal_board_push_event(b, HAL_EV_HOOK, 0, port, 0, 0, NULL, 0);
            break;
        case DAHDI_EVENT_WINKFLASH:
            hal_board_push_event(b, HAL_EV_FLASH, 0, port, 1, 0, NULL, 0);
            break;
        default:
            break;
        }
        return;
    }
    /* A line from an exchange on our FXO port (FXS signalling in DAHDI terms). */
    switch (ev)
    {
    case DAHDI_EVENT_RINGBEGIN:
    case DAHDI_EVENT_RINGOFFHOOK:
        if (!p->ringing)
        {
            p->ringing = 1;
            hal_board_push_event(b, HAL_EV_RING, 0, port, 1, 0, NULL, 0);
        }
        break;
    case DAHDI_EVENT_RINGEROFF:
        if (p->ringing)
        {
            p->ringing = 0;
            hal_board_push_event(b, HAL_EV_RING, 0, port, 0, 0, NULL, 0);
        }
        break;
    case DAHDI_EVENT_POLARITY:
        p->polarity = !p->polarity;
        hal_board_push_event(b, HAL_EV_POLARITY, 0, port, p->polarity, 0, NULL, 0);
        break;
    case DAHDI_EVENT_ONHOOK:
        /* loop current gone: the far end cleared (disconnect supervision) */
        p->battery = 0;
        hal_board_push_event(b, HAL_EV_BATTERY, 0, port, 0, 0, NULL, 0);
        break;
    case DAHDI_EVENT_NOALARM:
        p->battery = 1;
        hal_board_push_event(b, HAL_EV_BATTERY, 0, port, 1, 0, NULL, 0);
        break;
    case DAHDI_EVENT_ALARM:
        p->battery = 0;
        hal_board_push_event(b, HAL_EV_BATTERY, 0, port, 0, 0, NULL, 0);
        break;
    default:
        break;
    }
}

static int dahdi_get_event(int fd)
{
    int ev = DAHDI_EVENT_NONE;

    if (ioctl(fd, DAHDI_GETEVENT, &ev) < 0)
        return DAHDI_EVENT_NONE;
    return ev;
}

/* ---- the tick ------------------------------------------------------------ */

static void dahdi_dchan_tick(hal_board_t *b, int span, dahdi_span_t *sp)
{
    uint8_t frame[DAHDI_FRAME_MAX];
    dahdi_chan_t *c = &sp->chan[DAHDI_DCHAN_TS];
    ssize_t r;
    int ev;

    for (;;)
    {
        r = read(c->fd, frame, sizeof(frame));
        if (r < 0)
        {
            if (errno == ELAST)
            {
                while ((ev = dahdi_get_event(c->fd)) != DAHDI_EVENT_NONE)
                    dahdi_span_event(b, span, DAHDI_DCHAN_TS, ev);
                continue;
            }
            break;
        }
        /* Each read is one good frame with its two FCS octets at the end. */
        if (r < 2 + 2)
        {
            sp->hdlc_bad++;
            continue;
        }
        sp->hdlc_rx++;
        hal_board_push_event(b, HAL_EV_DFRAME, span, DAHDI_DCHAN_TS, (int) r - 2, 0, frame,
                             (int) r - 2);
    }
}

static void dahdi_span_tick(hal_board_t *b, int span, dahdi_span_t *sp, int frames)
{
    dahdi_board_t *d = dahdi_priv(b);
    dahdi_chan_t *c;
    int t, n, k, ev, bits;
    int nts = 0;
    int bearers = 0;

    for (t = 1; t <= DAHDI_E1_CHANS; t++)
        if (sp->chan[t].fd >= 0 && !(t == DAHDI_DCHAN_TS && sp->cfg.signalling == HAL_SIG_CCS))
            bearers++;
    /* BERT: O.151 pattern across the bearer timeslots in line order (G.704 frame by frame). */
    if (sp->bert && bearers > 0)
        prbs_tx_get(&sp->ptx, d->bert_tx, frames * bearers);
    for (t = 1; t <= DAHDI_E1_CHANS; t++)
    {
        c = &sp->chan[t];
        if (c->fd < 0)
            continue;
        if (t == DAHDI_DCHAN_TS && sp->cfg.signalling == HAL_SIG_CCS)
            continue;
        /* Receive */
        n = dahdi_chan_read(c, d->buf, frames);
        if (n < 0 && errno == ELAST)
        {
            while ((ev = dahdi_get_event(c->fd)) != DAHDI_EVENT_NONE)
                dahdi_span_event(b, span, t, ev);
            n = dahdi_chan_read(c, d->buf, frames);
        }
        if (n > 0)
        {
            if (sp->bert)
                for (k = 0; k < n; k++)
                    d->bert_buf[(long) k * bearers + nts] = d->buf[k];
            else if (c->tap)
                hal_board_push_event(b, HAL_EV_AUDIO, span, t, n, 0, d->buf, n);
        }
        /* Transmit */
        if (sp->bert)
        {
            for (k = 0; k < frames; k++)
                d->buf[k] = d->bert_tx[(long) k * bearers + nts];
        }
        else
        {
            dahdi_chan_fill(b, span, t, c, d->buf, frames);
        }
        if (write(c->fd, d->buf, (size_t) frames) < 0 && errno == ELAST)
        {
            while ((ev = dahdi_get_event(c->fd)) != DAHDI_EVENT_NONE)
                dahdi_span_event(b, span, t, ev);
        }
        /* CAS: the kernel debounces the bits; poll the ones it has. */
        if (sp->cfg.signalling == HAL_SIG_CAS && ioctl(c->fd, DAHDI_GETRXBITS, &bits) == 0)
        {
            bits &= 0x0F;
            if (bits != c->rx_abcd)
            {
                c->rx_abcd = bits;
                hal_board_push_event(b, HAL_EV_CAS, span, t, bits, 0, NULL, 0);
            }
        }
        nts++;
    }
    if (sp->bert && nts > 0)
    {
        /* A timeslot-interleaved block as the line carried it, checked in order. */
        prbs_rx_put(&sp->prx, d->bert_buf, frames * nts);
        sp->bert_frames += (uint64_t) frames;
    }
    if (sp->cfg.signalling == HAL_SIG_CCS && sp->chan[DAHDI_DCHAN_TS].fd >= 0)
        dahdi_dchan_tick(b, span, sp);
    sp->frames_rx += (uint64_t) frames;
    dahdi_span_refresh(b, span);
}

static void dahdi_port_tick(hal_board_t *b, int port, dahdi_port_t *p, int frames)
{
    dahdi_board_t *d = dahdi_priv(b);
    int n, ev;

    while ((ev = dahdi_get_event(p->c.fd)) != DAHDI_EVENT_NONE)
        dahdi_port_event(b, port, p, ev);
    n = dahdi_chan_read(&p->c, d->buf, frames);
    if (n > 0 && p->c.tap)
        hal_board_push_event(b, HAL_EV_AUDIO, 0, port, n, 0, d->buf, n);
    dahdi_chan_fill(b, 0, port, &p->c, d->buf, frames);
    (void) write(p->c.fd, d->buf, (size_t) frames);
}

/* Wait for the card's next block on the first open channel: the card is the clock. */
static void dahdi_wait_block(dahdi_board_t *d)
{
    struct pollfd pfd;
    int s, t;

    pfd.fd = -1;
    for (s = 0; s < d->nspans && pfd.fd < 0; s++)
        for (t = 1; t <= DAHDI_E1_CHANS && pfd.fd < 0; t++)
            if (d->spans[s].chan[t].fd >= 0 && t != DAHDI_DCHAN_TS)
                pfd.fd = d->spans[s].chan[t].fd;
    if (pfd.fd < 0 && d->nports > 0)
        pfd.fd = d->ports[0].c.fd;
    if (pfd.fd < 0)
        return;
    pfd.events = POLLIN | POLLPRI;
    pfd.revents = 0;
    (void) poll(&pfd, 1, DAHDI_TICK_WAIT_MS);
}

static int dahdi_tick(hal_board_t *b, int frames)
{
    dahdi_board_t *d = dahdi_priv(b);
    int s, i;

    if (frames != d->frames)
        return HAL_EINVAL;
    dahdi_wait_block(d);
    for (s = 0; s < d->nspans; s++)
        if (d->spans[s].configured)
            dahdi_span_tick(b, s + 1, &d->spans[s], frames);
    for (i = 0; i < d->nports; i++)
        dahdi_port_tick(b, i + 1, &d->ports[i], frames);
    return HAL_OK;
}

/* ---- span operations ------------------------------------------------------ */

/* The channel of timeslot ts on a CAS span, or NULL and the HAL error in *rc. */
static dahdi_chan_t *dahdi_cas_chan(hal_board_t *b, int span, int ts, int *rc)
{
    dahdi_span_t *sp = dahdi_span(b, span);
    dahdi_chan_t *c = dahdi_span_chan(b, span, ts);

    if (sp == NULL)
        *rc = HAL_ENOSPAN;
    else if (sp->cfg.signalling != HAL_SIG_CAS)
        *rc = HAL_ENOTSUP;
    else if (c == NULL || ts == DAHDI_DCHAN_TS)
        *rc = HAL_ENOCHAN;
    else
        return c;
    return NULL;
}

static int dahdi_set_cas(hal_board_t *b, int span, int ts, int abcd)
{
    int bits = abcd & DAHDI_BITS_ABCD;
    int rc;
    dahdi_chan_t *c = dahdi_cas_chan(b, span, ts, &rc);

    if (c == NULL)
        return rc;
    if (abcd < 0 || abcd > 15)
        return HAL_EINVAL;
    return (ioctl(c->fd, DAHDI_SETTXBITS, &bits) < 0) ? HAL_ENOTSUP : HAL_OK;
}

static int dahdi_get_cas(hal_board_t *b, int span, int ts)
{
    int bits = 0;
    int rc;
    dahdi_chan_t *c = dahdi_cas_chan(b, span, ts, &rc);

    if (c == NULL)
        return rc;
    if (ioctl(c->fd, DAHDI_GETRXBITS, &bits) < 0)
        return HAL_ENOTSUP;
    return bits & 0x0F;
}

static int dahdi_span_status(hal_board_t *b, int span, hal_span_status_t *st)
{
    dahdi_span_t *sp = dahdi_span(b, span);

    if (sp == NULL)
        return HAL_ENOSPAN;
    memset(st, 0, sizeof(*st));
    st->alarms = sp->alarms;
    st->loopback = sp->loopback;
    st->signalling = sp->cfg.signalling;
    st->crc4 = sp->cfg.crc4;
    st->law = sp->cfg.law;
    st->frames_rx = sp->frames_rx;
    st->bits_rx = sp->frames_rx * 256;
    /* What DAHDI_SPANSTAT carries; the kernel keeps no slip count there. */
    st->fas_errors = (uint32_t) sp->info.fascount;
    st->crc4_errors = (uint32_t) sp->info.crc4count;
    st->ebit_errors = (uint32_t) sp->info.ebitcount;
    st->bpv = (uint32_t) sp->info.bpvcount;
    st->slips = 0;
    st->lof_events = sp->lof_events;
    st->los_events = sp->los_events;
    st->hdlc_rx_frames = sp->hdlc_rx;
    st->hdlc_tx_frames = sp->hdlc_tx;
    st->hdlc_fcs_errors = sp->hdlc_fcs;
    st->hdlc_aborts = sp->hdlc_abort;
    st->hdlc_bad_frames = sp->hdlc_bad;
    st->hdlc_overruns = sp->hdlc_overrun;
    st->events_lost = b->events_lost;
    return HAL_OK;
}

static int dahdi_maint(hal_board_t *b, int span, int command)
{
    dahdi_board_t *d = dahdi_priv(b);
    struct dahdi_maintinfo m;

    m.spanno = d->spans[span - 1].spanno;
    m.command = command;
    return (ioctl(d->ctl, DAHDI_MAINT, &m) < 0) ? HAL_ENOTSUP : HAL_OK;
}

static int dahdi_reset_counters(hal_board_t *b, int span)
{
    dahdi_span_t *sp = dahdi_span(b, span);
    int rc;

    if (sp == NULL)
        return HAL_ENOSPAN;
    rc = dahdi_maint(b, span, DAHDI_RESET_COUNTERS);
    sp->lof_events = sp->los_events = 0;
    sp->hdlc_rx = sp->hdlc_tx = sp->hdlc_fcs = sp->hdlc_abort = sp->hdlc_bad = 0;
    sp->hdlc_overrun = 0;
    sp->frames_rx = 0;
    if (rc == HAL_OK)
        dahdi_span_refresh(b, span);
    return rc;
}

static int dahdi_loopback(hal_board_t *b, int span, int mode)
{
    dahdi_span_t *sp = dahdi_span(b, span);
    int cmd;
    int rc;

    if (sp == NULL)
        return HAL_ENOSPAN;
    switch (mode)
    {
    case HAL_LOOP_NONE:    cmd = DAHDI_MAINT_NONE; break;
    case HAL_LOOP_LOCAL:   cmd = DAHDI_MAINT_LOCALLOOP; break;
    case HAL_LOOP_LINE:    cmd = DAHDI_MAINT_NETWORKLINELOOP; break;
    case HAL_LOOP_PAYLOAD: cmd = DAHDI_MAINT_NETWORKPAYLOADLOOP; break;
    default:               return HAL_EINVAL;
    }
    rc = dahdi_maint(b, span, cmd);
    if (rc == HAL_OK)
        sp->loopback = mode;
    return rc;
}

static int dahdi_bert(hal_board_t *b, int span, int on)
{
    dahdi_span_t *sp = dahdi_span(b, span);

    if (sp == NULL)
        return HAL_ENOSPAN;
    if (!sp->configured)
        return HAL_ESTATE;
    if (on)
    {
        prbs_tx_init(&sp->ptx);
        prbs_rx_init(&sp->prx);
        sp->bert_frames = 0;
    }
    sp->bert = on ? 1 : 0;
    return HAL_OK;
}

static int dahdi_bert_status(hal_board_t *b, int span, hal_bert_status_t *st)
{
    dahdi_span_t *sp = dahdi_span(b, span);

    if (sp == NULL)
        return HAL_ENOSPAN;
    st->running = sp->bert;
    st->sync = sp->prx.sync;
    st->bits = sp->prx.bits;
    st->errors = sp->prx.errors;
    st->sync_losses = sp->prx.sync_losses;
    st->seconds_x1000 = sp->bert_frames / 8;   /* 8 frames per ms */
    return HAL_OK;
}

static int dahdi_send_ais(hal_board_t *b, int span, int on)
{
    (void) on;
    /* DAHDI has no maintenance command that sends AIS on a span. */
    return dahdi_span(b, span) ? HAL_ENOTSUP : HAL_ENOSPAN;
}

static int dahdi_dframe_send(hal_board_t *b, int span, const uint8_t *data, int len)
{
    dahdi_span_t *sp = dahdi_span(b, span);
    uint8_t frame[DAHDI_FRAME_MAX];
    dahdi_chan_t *c;

    if (sp == NULL)
        return HAL_ENOSPAN;
    if (sp->cfg.signalling != HAL_SIG_CCS || !sp->configured)
        return HAL_ENOTSUP;
    if (len < 2 || len > DAHDI_FRAME_MAX - 2)
        return HAL_EINVAL;
    c = &sp->chan[DAHDI_DCHAN_TS];
    /* Two octets of room for the FCS the kernel computes (HDLCFCS mode). */
    memcpy(frame, data, (size_t) len);
    frame[len] = frame[len + 1] = 0;
    if (write(c->fd, frame, (size_t) len + 2) < 0)
        return (errno == EAGAIN) ? HAL_EBUSY : HAL_ENOTSUP;
    sp->hdlc_tx++;
    hal_board_push_event(b, HAL_EV_DFRAME_TX, span, DAHDI_DCHAN_TS, len, 0, data, len);
    return HAL_OK;
}

static dahdi_chan_t *dahdi_any_chan(hal_board_t *b, int span, int chan)
{
    dahdi_board_t *d = dahdi_priv(b);

    if (span == 0)
    {
        if (chan < 1 || chan > d->nports)
            return NULL;
        return &d->ports[chan - 1].c;
    }
    return dahdi_span_chan(b, span, chan);
}

static int dahdi_play(hal_board_t *b, int span, int chan, const uint8_t *data, int len)
{
    dahdi_chan_t *c;

    if (span != 0 && dahdi_span(b, span) == NULL)
        return HAL_ENOSPAN;
    if ((c = dahdi_any_chan(b, span, chan)) == NULL)
        return HAL_ENOCHAN;
    if (len < 0)
        return HAL_EINVAL;
    if (c->play == NULL && (c->play = malloc(DAHDI_PLAY_MAX)) == NULL)
        return HAL_ENOMEM;
    if (c->play_pos > 0)
    {
        memmove(c->play, c->play + c->play_pos, (size_t) (c->play_len - c->play_pos));
        c->play_len -= c->play_pos;
        c->play_pos = 0;
    }
    if (len > DAHDI_PLAY_MAX - c->play_len)
        return HAL_EBUSY;
    memcpy(c->play + c->play_len, data, (size_t) len);
    c->play_len += len;
    return HAL_OK;
}

static int dahdi_tone(hal_board_t *b, int span, int chan, int f1, int f2, int level_dbm0, int ms)
{
    dahdi_chan_t *c;
    double amp;

    if (span != 0 && dahdi_span(b, span) == NULL)
        return HAL_ENOSPAN;
    if ((c = dahdi_any_chan(b, span, chan)) == NULL)
        return HAL_ENOCHAN;
    if (f1 < 0 || f1 > 4000 || f2 < 0 || f2 > 4000 || ms < 0 || level_dbm0 > 3)
        return HAL_EINVAL;
    /* G.711: a sine of 0 dBm0 has a peak 3.14 dB (A-law) below full scale. */
    amp = 32767.0 * pow(10.0, (level_dbm0 - 3.14) / 20.0);
    c->amp1 = f1 ? amp : 0.0;
    c->amp2 = f2 ? amp : 0.0;
    c->dph1 = 2.0 * M_PI * f1 / 8000.0;
    c->dph2 = 2.0 * M_PI * f2 / 8000.0;
    c->ph1 = c->ph2 = 0.0;
    c->tone_left = ms * 8;
    return HAL_OK;
}

static int dahdi_tap(hal_board_t *b, int span, int chan, int on)
{
    dahdi_chan_t *c;

    if (span != 0 && dahdi_span(b, span) == NULL)
        return HAL_ENOSPAN;
    if ((c = dahdi_any_chan(b, span, chan)) == NULL)
        return HAL_ENOCHAN;
    c->tap = on ? 1 : 0;
    return HAL_OK;
}

static int dahdi_port_command(hal_board_t *b, int port, int command, int value)
{
    dahdi_board_t *d = dahdi_priv(b);
    dahdi_port_t *p;
    int x;

    if (port < 1 || port > d->nports)
        return HAL_ENOCHAN;
    p = &d->ports[port - 1];
    switch (command)
    {
    case HAL_PORT_RING:
        if (p->kind != HAL_PORT_FXS)
            return HAL_ENOTSUP;
        x = value ? DAHDI_RING : DAHDI_RINGOFF;
        if (ioctl(p->c.fd, DAHDI_HOOK, &x) < 0)
            return HAL_ESTATE;
        p->ringing = value ? 1 : 0;
        return HAL_OK;
    case HAL_PORT_POLARITY:
        if (p->kind != HAL_PORT_FXS)
            return HAL_ENOTSUP;
        x = value ? 1 : 0;
        if (ioctl(p->c.fd, DAHDI_SETPOLARITY, &x) < 0)
            return HAL_ENOTSUP;
        p->polarity = x;
        return HAL_OK;
    case HAL_PORT_BATTERY:
        if (p->kind != HAL_PORT_FXS)
            return HAL_ENOTSUP;
        /* Kewlstart FXS: on hook opens the loop feed (disconnect), off hook restores it. */
        x = value ? DAHDI_OFFHOOK : DAHDI_ONHOOK;
        if (ioctl(p->c.fd, DAHDI_HOOK, &x) < 0)
            return HAL_ENOTSUP;
        p->battery = value ? 1 : 0;
        return HAL_OK;
    case HAL_PORT_HOOK:
        if (p->kind != HAL_PORT_FXO)
            return HAL_ENOTSUP;
        x = value ? DAHDI_OFFHOOK : DAHDI_ONHOOK;
        if (ioctl(p->c.fd, DAHDI_HOOK, &x) < 0)
            return HAL_ESTATE;
        p->hook = value ? 1 : 0;
        return HAL_OK;
    default:
        return HAL_EINVAL;
    }
}

static int dahdi_port_status(hal_board_t *b, int port, hal_port_status_t *st)
{
    dahdi_board_t *d = dahdi_priv(b);
    dahdi_port_t *p;
    struct dahdi_params par;

    if (port < 1 || port > d->nports)
        return HAL_ENOCHAN;
    p = &d->ports[port - 1];
    st->kind = p->kind;
    st->hook = p->hook;
    st->ringing = p->ringing;
    st->polarity = p->polarity;
    st->battery = p->battery;
    memset(&par, 0, sizeof(par));
    st->connected = ioctl(p->c.fd, DAHDI_GET_PARAMS, &par) == 0 && par.chan_alarms == 0;
    if (p->kind == HAL_PORT_FXS && st->connected)
        st->hook = par.rxisoffhook ? 1 : 0;
    return HAL_OK;
}

/* The DSP entries (detect, dtmf, mfc, cpt, fsk, tone_set) are not wired to
 * DAHDI yet: the HAL answers HAL_ENOTSUP for them on these cards. */
const hal_backend_t hal_dahdi_backend =
{
    .name = "dahdi",
    .open = dahdi_open,
    .close = dahdi_close,
    .configure_span = dahdi_configure_span,
    .tick = dahdi_tick,
    .set_cas = dahdi_set_cas,
    .get_cas = dahdi_get_cas,
    .span_status = dahdi_span_status,
    .reset_counters = dahdi_reset_counters,
    .loopback = dahdi_loopback,
    .bert = dahdi_bert,
    .bert_status = dahdi_bert_status,
    .send_ais = dahdi_send_ais,
    .dframe_send = dahdi_dframe_send,
    .play = dahdi_play,
    .tone = dahdi_tone,
    .tap = dahdi_tap,
    .port_command = dahdi_port_command,
    .port_status = dahdi_port_status,
};

#else /* !HAL_HAVE_DAHDI */

/* Built without the DAHDI headers: the backend exists and says there is no such device. */

static int dahdi_stub_open(hal_board_t *b, const char *device)
{
    (void) b;
    (void) device;
    return HAL_ENODEV;
}

static void dahdi_stub_close(hal_board_t *b)
{
    (void) b;
}

static int dahdi_stub_configure_span(hal_board_t *b, int span, const hal_span_config_t *cfg)
{
    (void) b; (void) span; (void) cfg;
    return HAL_ENODEV;
}

static int dahdi_stub_int(hal_board_t *b, int span)
{
    (void) b; (void) span;
    return HAL_ENODEV;
}

static int dahdi_stub_int2(hal_board_t *b, int span, int x)
{
    (void) b; (void) span; (void) x;
    return HAL_ENODEV;
}

static int dahdi_stub_int3(hal_board_t *b, int span, int x, int y)
{
    (void) b; (void) span; (void) x; (void) y;
    return HAL_ENODEV;
}

static int dahdi_stub_span_status(hal_board_t *b, int span, hal_span_status_t *st)
{
    (void) b; (void) span; (void) st;
    return HAL_ENODEV;
}

static int dahdi_stub_bert_status(hal_board_t *b, int span, hal_bert_status_t *st)
{
    (void) b; (void) span; (void) st;
    return HAL_ENODEV;
}

static int dahdi_stub_dframe_send(hal_board_t *b, int span, const uint8_t *data, int len)
{
    (void) b; (void) span; (void) data; (void) len;
    return HAL_ENODEV;
}

static int dahdi_stub_play(hal_board_t *b, int span, int chan, const uint8_t *data, int len)
{
    (void) b; (void) span; (void) chan; (void) data; (void) len;
    return HAL_ENODEV;
}

static int dahdi_stub_tone(hal_board_t *b, int span, int chan, int f1, int f2, int level, int ms)
{
    (void) b; (void) span; (void) chan; (void) f1; (void) f2; (void) level; (void) ms;
    return HAL_ENODEV;
}

static int dahdi_stub_port_status(hal_board_t *b, int port, hal_port_status_t *st)
{
    (void) b; (void) port; (void) st;
    return HAL_ENODEV;
}

const hal_backend_t hal_dahdi_backend =
{
    .name = "dahdi",
    .open = dahdi_stub_open,
    .close = dahdi_stub_close,
    .configure_span = dahdi_stub_configure_span,
    .tick = dahdi_stub_int,
    .set_cas = dahdi_stub_int3,
    .get_cas = dahdi_stub_int2,
    .span_status = dahdi_stub_span_status,
    .reset_counters = dahdi_stub_int,
    .loopback = dahdi_stub_int2,
    .bert = dahdi_stub_int2,
    .bert_status = dahdi_stub_bert_status,
    .send_ais = dahdi_stub_int2,
    .dframe_send = dahdi_stub_dframe_send,
    .play = dahdi_stub_play,
    .tone = dahdi_stub_tone,
    .tap = dahdi_stub_int3,
    .port_command = dahdi_stub_int3,
    .port_status = dahdi_stub_port_status,
};

#endif /* HAL_HAVE_DAHDI */
