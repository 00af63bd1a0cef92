/*
 * Board-level dispatch to the backend of a card family, and the board's
 * event queue. Backends fill the queue during a tick; the driver drains
 * it in bulk once per tick.
 */
#include <stdlib.h>
#include <string.h>

#include "hal.h"

extern const hal_backend_t hal_sim_backend;
extern const hal_backend_t hal_dahdi_backend;

#define HAL_EVENT_QUEUE   8192
#define HAL_EVENT_DATA    (1 << 20)

static const hal_backend_t *hal_backend_find(const char *name)
{
    if (name == NULL)
        return NULL;
    if (strcmp(name, hal_sim_backend.name) == 0)
        return &hal_sim_backend;
    if (strcmp(name, hal_dahdi_backend.name) == 0)
        return &hal_dahdi_backend;
    return NULL;
}

int hal_backend_available(const char *backend)
{
    const hal_backend_t *be = hal_backend_find(backend);
    if (be == NULL)
        return 0;
    /* The DAHDI backend is compiled as a stub where the headers were absent. */
#ifdef HAL_HAVE_DAHDI
    return 1;
#else
    return be == &hal_sim_backend;
#endif
}

hal_board_t *hal_board_open(const char *backend, const char *device, int nspans,
                            int nports, const int *port_kinds, int tick_frames, int *err)
{
    const hal_backend_t *be = hal_backend_find(backend);
    hal_board_t *b;
    int i, rc;

    if (err)
        *err = HAL_OK;
    if (be == NULL) {
        if (err)
            *err = HAL_ENODEV;
        return NULL;
    }
    if (nspans < 0 || nspans > HAL_MAX_SPANS || nports < 0 || nports > HAL_MAX_PORTS
        || tick_frames < 8 || tick_frames > 8000 || (nports > 0 && port_kinds == NULL)) {
        if (err)
            *err = HAL_EINVAL;
        return NULL;
    }
    for (i = 0; i < nports; i++) {
        if (port_kinds[i] != HAL_PORT_FXS && port_kinds[i] != HAL_PORT_FXO) {
            if (err)
                *err = HAL_ECONFIG;
            return NULL;
        }
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        goto nomem;
    b->backend = be;
    b->nspans = nspans;
    b->nports = nports;
    b->tick_frames = tick_frames;
    b->ev_cap = HAL_EVENT_QUEUE;
    b->events = calloc(b->ev_cap, sizeof(hal_event_t));
    b->data_cap = HAL_EVENT_DATA;
    b->data = malloc(b->data_cap);
    if (b->events == NULL || b->data == NULL)
        goto nomem;
    /* The backend reads the port kinds through priv during open. */
    b->priv = (void *) port_kinds;
    rc = be->open(b, device);
    if (rc < 0) {
        b->priv = NULL;
        free(b->events);
        free(b->data);
        free(b);
        if (err)
            *err = rc;
        return NULL;
    }
    return b;
nomem:
    if (b) {
        free(b->events);
        free(b->data);
        free(b);
    }
    if (err)
        *err = HAL_ENOMEM;
    return NULL;
}

void hal_board_close(hal_board_t *b)
{
    if (b == NULL)
        return;
    b->backend->close(b);
    free(b->events);
    free(b->data);
    free(b);
}

int hal_span_dframe_tx_report(hal_board_t *b, int span, int on)
{
    if (b == NULL || span < 1 || span > b->nspans)
        return HAL_ENOSPAN;
    b->dframe_tx_muted[span] = !on;
    return HAL_OK;
}

int hal_board_push_event(hal_board_t *b, int type, int span, int chan, int value, int aux,
                         const uint8_t *data, int len)
{
    hal_event_t *e;

    if (type == HAL_EV_DFRAME_TX && span >= 1 && span <= b->nspans && b->dframe_tx_muted[span])
        return HAL_OK;

    if (b->ev_count >= b->ev_cap || (len > 0 && b->data_len + len > b->data_cap)) {
        b->events_lost++;
        return HAL_EBUSY;
    }
    e = &b->events[(b->ev_head + b->ev_count) % b->ev_cap];
    e->type = type;
    e->span = span;
    e->chan = chan;
    e->value = value;
    e->aux = aux;
    e->tick = b->tick;
    e->offset = -1;
    if (len > 0) {
        memcpy(b->data + b->data_len, data, len);
        e->offset = b->data_len;
        b->data_len += len;
    }
    b->ev_count++;
    return HAL_OK;
}

int hal_board_tick(hal_board_t *b)
{
    int rc;

    if (b == NULL)
        return HAL_EINVAL;
    if (b->events_lost) {
        /* Say how many were lost before anything newer is queued. */
        uint32_t lost = b->events_lost;
        b->events_lost = 0;
        if (hal_board_push_event(b, HAL_EV_OVERFLOW, 0, 0, (int) lost, 0, NULL, 0) < 0)
            b->events_lost = lost;
    }
    rc = b->backend->tick(b, b->tick_frames);
    b->tick++;
    return rc;
}

int hal_board_events(hal_board_t *b, hal_event_t *out, int max, uint8_t *data, int data_cap,
                     int *data_used)
{
    int n = 0, used = 0;

    if (b == NULL || out == NULL || max < 0 || data_cap < 0)
        return HAL_EINVAL;
    while (n < max && b->ev_count > 0) {
        hal_event_t *e = &b->events[b->ev_head];
        int len = (e->offset >= 0) ? e->value : 0;
        if (len > 0) {
            if (used + len > data_cap || data == NULL)
                break;
            memcpy(data + used, b->data + e->offset, len);
        }
        out[n] = *e;
        out[n].offset = (len > 0) ? used : -1;
        used += len;
        n++;
        b->ev_head = (b->ev_head + 1) % b->ev_cap;
        b->ev_count--;
    }
    if (b->ev_count == 0) {
        b->ev_head = 0;
        b->data_len = 0;
    }
    if (data_used)
        *data_used = used;
    return n;
}

int hal_board_tick_events(hal_board_t *b, hal_event_t *out, int max, uint8_t *data, int data_cap,
                          int *data_used, int *more)
{
    int rc = hal_board_tick(b);

    if (rc < 0)
        return rc;
    rc = hal_board_events(b, out, max, data, data_cap, data_used);
    if (more)
        *more = b->ev_count > 0;
    return rc;
}

#define SPAN_OK(b, s) ((b) != NULL && (s) >= 1 && (s) <= (b)->nspans)
#define BACKEND_CALL(b, fn, ...) \
    ((b)->backend->fn ? (b)->backend->fn((b), __VA_ARGS__) : HAL_ENOTSUP)

int hal_span_configure(hal_board_t *b, int span, const hal_span_config_t *cfg)
{
    if (!SPAN_OK(b, span))
        return b ? HAL_ENOSPAN : HAL_EINVAL;
    if (cfg == NULL || cfg->signalling < HAL_SIG_CCS || cfg->signalling > HAL_SIG_CLEAR
        || (cfg->crc4 != 0 && cfg->crc4 != 1) || (cfg->law != HAL_LAW_ALAW && cfg->law != HAL_LAW_ULAW))
        return HAL_ECONFIG;
    return BACKEND_CALL(b, configure_span, span, cfg);
}

#define SPAN_DISPATCH(fn, ...)                        \
    do {                                              \
        if (b == NULL)                                \
            return HAL_EINVAL;                        \
        if (!SPAN_OK(b, span))                        \
            return HAL_ENOSPAN;                       \
        return BACKEND_CALL(b, fn, span, __VA_ARGS__); \
    } while (0)

int hal_span_set_cas(hal_board_t *b, int span, int ts, int abcd) { SPAN_DISPATCH(set_cas, ts, abcd); }
int hal_span_get_cas(hal_board_t *b, int span, int ts) { SPAN_DISPATCH(get_cas, ts); }
int hal_span_status(hal_board_t *b, int span, hal_span_status_t *st) { SPAN_DISPATCH(span_status, st); }
int hal_span_loopback(hal_board_t *b, int span, int mode) { SPAN_DISPATCH(loopback, mode); }
int hal_span_bert(hal_board_t *b, int span, int on) { SPAN_DISPATCH(bert, on); }
int hal_span_bert_status(hal_board_t *b, int span, hal_bert_status_t *st) { SPAN_DISPATCH(bert_status, st); }
int hal_span_send_ais(hal_board_t *b, int span, int on) { SPAN_DISPATCH(send_ais, on); }
int hal_span_dframe_send(hal_board_t *b, int span, const uint8_t *data, int len)
{
    SPAN_DISPATCH(dframe_send, data, len);
}
/* Channel calls take span 0 with chan = port for an analog port. */
#define CHAN_DISPATCH(fn, ...)                                      \
    do {                                                            \
        if (b == NULL)                                              \
            return HAL_EINVAL;                                      \
        if (span == 0) {                                            \
            if (chan < 1 || chan > b->nports)                       \
                return HAL_ENOCHAN;                                 \
        } else if (!SPAN_OK(b, span)) {                             \
            return HAL_ENOSPAN;                                     \
        } else if (chan < 1 || chan >= HAL_TIMESLOTS) {             \
            return HAL_ENOCHAN;                                     \
        }                                                           \
        return BACKEND_CALL(b, fn, span, chan, __VA_ARGS__);        \
    } while (0)

int hal_chan_play(hal_board_t *b, int span, int chan, const uint8_t *data, int len)
{
    CHAN_DISPATCH(play, data, len);
}
int hal_chan_tone(hal_board_t *b, int span, int chan, int f1, int f2, int level_dbm0, int ms)
{
    CHAN_DISPATCH(tone, f1, f2, level_dbm0, ms);
}
int hal_chan_tap(hal_board_t *b, int span, int chan, int on) { CHAN_DISPATCH(tap, on); }
int hal_chan_detect(hal_board_t *b, int span, int chan, int mask) { CHAN_DISPATCH(detect, mask); }
int hal_chan_dtmf(hal_board_t *b, int span, int chan, const char *digits, int len)
{
    CHAN_DISPATCH(dtmf, digits, len);
}
int hal_chan_mfc(hal_board_t *b, int span, int chan, int backward, int digit)
{
    CHAN_DISPATCH(mfc, backward, digit);
}
int hal_chan_cpt(hal_board_t *b, int span, int chan, int tone) { CHAN_DISPATCH(cpt, tone); }
int hal_chan_fsk(hal_board_t *b, int span, int chan, int mode, const uint8_t *bits, int nbits)
{
    CHAN_DISPATCH(fsk, mode, bits, nbits);
}

int hal_conf_create(hal_board_t *b)
{
    if (b == NULL)
        return HAL_EINVAL;
    return b->backend->conf_create ? b->backend->conf_create(b) : HAL_ENOTSUP;
}

int hal_conf_destroy(hal_board_t *b, int conf)
{
    if (b == NULL)
        return HAL_EINVAL;
    return b->backend->conf_destroy ? b->backend->conf_destroy(b, conf) : HAL_ENOTSUP;
}

int hal_conf_join(hal_board_t *b, int conf, int span, int chan, int flags, int whisper_to_span,
                  int whisper_to_chan)
{
    CHAN_DISPATCH(conf_join_chan, conf, flags, whisper_to_span, whisper_to_chan);
}

int hal_conf_leave(hal_board_t *b, int span, int chan) { CHAN_DISPATCH(conf_leave_chan, 0); }
int hal_chan_conf(hal_board_t *b, int span, int chan) { CHAN_DISPATCH(chan_conf_chan, 0); }

int hal_board_tone_set(hal_board_t *b, int set)
{
    if (b == NULL)
        return HAL_EINVAL;
    return b->backend->tone_set ? b->backend->tone_set(b, set) : HAL_ENOTSUP;
}

int hal_span_reset_counters(hal_board_t *b, int span)
{
    if (b == NULL)
        return HAL_EINVAL;
    if (!SPAN_OK(b, span))
        return HAL_ENOSPAN;
    return b->backend->reset_counters ? b->backend->reset_counters(b, span) : HAL_ENOTSUP;
}

int hal_port_command(hal_board_t *b, int port, int command, int value)
{
    if (b == NULL)
        return HAL_EINVAL;
    if (port < 1 || port > b->nports)
        return HAL_ENOCHAN;
    return BACKEND_CALL(b, port_command, port, command, value);
}

int hal_port_status(hal_board_t *b, int port, hal_port_status_t *st)
{
    if (b == NULL || st == NULL)
        return HAL_EINVAL;
    if (port < 1 || port > b->nports)
        return HAL_ENOCHAN;
    return BACKEND_CALL(b, port_status, port, st);
}
