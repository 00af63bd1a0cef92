/*
 * Hardware abstraction layer: boards, E1 spans, analog ports.
 *
 * One backend table per card family (FreeTDM's ftdm_io_interface is the
 * model): the software card (hal_sim.c) and Linux DAHDI cards
 * (hal_dahdi.c). Everything above, signalling and CTI, sees the same calls
 * and the same events whichever card is underneath.
 *
 * One call per tick, hal_board_tick(), moves every timeslot of every span
 * and every analog port, then events are drained in bulk with
 * hal_board_events().
 */
#ifndef HAL_H
#define HAL_H

#include <stdint.h>

/* Return codes: 0 or a count is success, negative is one of these. */
#define HAL_OK          0
#define HAL_EINVAL     -1   /* a bad argument */
#define HAL_ENOSPAN    -2   /* no such span */
#define HAL_ENOCHAN    -3   /* no such channel or port */
#define HAL_ENOMEM     -4
#define HAL_EBUSY      -5   /* queue full, or the resource is in use */
#define HAL_ENOTSUP    -6   /* the backend or this span's mode cannot do that */
#define HAL_ENODEV     -7   /* the backend or its device is absent */
#define HAL_ESTATE     -8   /* not in a state that allows it */
#define HAL_ECONFIG    -9   /* a bad configuration value */

#define HAL_MAX_SPANS   64
#define HAL_MAX_PORTS   1024   /* a chassis of analog modules seen as one board */
#define HAL_TIMESLOTS   32

/* Span signalling: what TS16 carries. */
#define HAL_SIG_CCS     0   /* TS16 is a 64 kbit/s HDLC D-channel (ISDN PRI) */
#define HAL_SIG_CAS     1   /* TS16 carries the CAS multiframe (China No.1 / R2) */
#define HAL_SIG_CLEAR   2   /* TS16 is a clear channel */

#define HAL_LAW_ALAW    0
#define HAL_LAW_ULAW    1

/* Analog port kinds */
#define HAL_PORT_FXS    1   /* we feed battery and ring a phone */
#define HAL_PORT_FXO    2   /* we are the phone end of a line from an exchange */

/* Loopback modes (span) */
#define HAL_LOOP_NONE    0
#define HAL_LOOP_LOCAL   1  /* our transmitted frames come back to our receiver */
#define HAL_LOOP_LINE    2  /* the received line signal goes straight back out */
#define HAL_LOOP_PAYLOAD 3  /* received timeslots are sent back, reframed by us */

/* Alarm bits: the same values as E1_ALARM_* in line/e1_framer.h */
#define HAL_ALARM_LOS    0x01
#define HAL_ALARM_LOF    0x02
#define HAL_ALARM_AIS    0x04
#define HAL_ALARM_RAI    0x08
#define HAL_ALARM_LOMF   0x10
#define HAL_ALARM_CASMF  0x20
#define HAL_ALARM_RMAI   0x40

/* Event types */
#define HAL_EV_ALARM     1  /* span alarms changed; value = new alarm bits, aux = old */
#define HAL_EV_CAS       2  /* received abcd changed; chan = timeslot, value = abcd */
#define HAL_EV_DFRAME    3  /* HDLC frame on the D-channel; data at offset, value = length */
#define HAL_EV_AUDIO     4  /* tapped audio; value = bytes at offset (G.711 of the span/port);
                               aux 0 what was received, 1 what was sent */
#define HAL_EV_HOOK      5  /* FXS: value 1 off hook, 0 on hook */
#define HAL_EV_FLASH     6  /* FXS: hook flash */
#define HAL_EV_RING      7  /* FXO: ringing voltage value 1 on, 0 off */
#define HAL_EV_POLARITY  8  /* FXO: line polarity now value (0 normal, 1 reversed) */
#define HAL_EV_BATTERY   9  /* FXO: loop current value 1 present, 0 dropped */
#define HAL_EV_TONE_DONE 10 /* a generated tone or played buffer ran out; chan */
#define HAL_EV_OVERFLOW  11 /* value events were lost because the queue was full */
#define HAL_EV_DFRAME_TX 12 /* HDLC frame sent (copy, for traces); data at offset, value = length */
#define HAL_EV_DIGIT     13 /* DTMF digit received: value = the ASCII digit, aux = duration in ms */
#define HAL_EV_MFC       14 /* MFC R2 signal: value = 1..15 recognised, 0 ceased; aux = 1 backward */
#define HAL_EV_TONE      15 /* call progress: value = what is heard now (CPT_* of dsp/cpt.h) */
#define HAL_EV_FSK       16 /* FSK characters received (caller ID); data at offset, value = length */
#define HAL_EV_VOICE     17 /* voice activity: value 1 voice, 0 silence; aux = level in dBm0 * 10 */

/* hal_chan_tap: what to copy out as HAL_EV_AUDIO */
#define HAL_TAP_RX       1
#define HAL_TAP_TX       2

/* Detectors a channel runs on what it receives (hal_chan_detect) */
#define HAL_DET_DTMF     0x01
#define HAL_DET_MFC_FWD  0x02   /* MFC R2 forward signals (group I/II) */
#define HAL_DET_MFC_BWD  0x04   /* MFC R2 backward signals (group A/B) */
#define HAL_DET_CPT      0x08   /* call-progress tones, with cadence, and answer by voice */
#define HAL_DET_FSK      0x10   /* Bell 202 FSK (caller ID) */
#define HAL_DET_FSK_V23  0x20   /* ITU-T V.23 FSK (caller ID, ETSI) */
#define HAL_DET_VAD      0x40   /* voice activity */
#define HAL_DET_ALL      0x7F

/* What a HAL_EV_TONE_DONE reports in value */
#define HAL_DONE_TONE    0
#define HAL_DONE_PLAY    1
#define HAL_DONE_DTMF    2
#define HAL_DONE_FSK     3

typedef struct {
    int32_t type;
    int32_t span;    /* 1-based span; 0 for an analog port */
    int32_t chan;    /* timeslot of the span, or 1-based analog port */
    int32_t value;
    int32_t aux;
    int32_t offset;  /* into the data buffer given to hal_board_events() */
    uint64_t tick;   /* board tick the event happened in */
} hal_event_t;

typedef struct {
    int32_t signalling;   /* HAL_SIG_* */
    int32_t crc4;         /* 1: CRC-4 multiframe */
    int32_t law;          /* HAL_LAW_* */
} hal_span_config_t;

typedef struct {
    int32_t alarms;
    int32_t loopback;
    int32_t signalling;
    int32_t crc4;
    int32_t law;
    int32_t tx_ais;
    uint64_t frames_rx;
    uint64_t bits_rx;
    uint32_t fas_errors;
    uint32_t crc4_errors;
    uint32_t ebit_errors;
    uint32_t bpv;
    uint32_t slips;
    uint32_t lof_events;
    uint32_t los_events;
    uint32_t hdlc_rx_frames;
    uint32_t hdlc_tx_frames;
    uint32_t hdlc_fcs_errors;
    uint32_t hdlc_aborts;
    uint32_t hdlc_bad_frames;  /* short, long, not whole octets */
    uint32_t hdlc_overruns;
    uint32_t events_lost;
} hal_span_status_t;

typedef struct {
    int32_t running;
    int32_t sync;         /* locked to the pattern */
    uint64_t bits;
    uint64_t errors;
    uint32_t sync_losses;
    uint64_t seconds_x1000; /* line time the test has run, in ms */
} hal_bert_status_t;

typedef struct {
    int32_t kind;         /* HAL_PORT_* */
    int32_t hook;         /* FXS: seen off hook; FXO: we are off hook */
    int32_t ringing;      /* FXS: we ring; FXO: ring voltage seen */
    int32_t polarity;     /* 0 normal, 1 reversed (FXS: what we send, FXO: what we see) */
    int32_t battery;      /* loop current / battery feed present */
    int32_t connected;    /* a line (sim) or a device is there */
} hal_port_status_t;

typedef struct hal_board_s hal_board_t;

/* The backend table a card family implements. */
typedef struct hal_backend_s {
    const char *name;
    int (*open)(hal_board_t *b, const char *device);
    void (*close)(hal_board_t *b);
    int (*configure_span)(hal_board_t *b, int span, const hal_span_config_t *cfg);
    int (*tick)(hal_board_t *b, int frames);
    int (*set_cas)(hal_board_t *b, int span, int ts, int abcd);
    int (*get_cas)(hal_board_t *b, int span, int ts);
    int (*span_status)(hal_board_t *b, int span, hal_span_status_t *st);
    int (*reset_counters)(hal_board_t *b, int span);
    int (*loopback)(hal_board_t *b, int span, int mode);
    int (*bert)(hal_board_t *b, int span, int on);
    int (*bert_status)(hal_board_t *b, int span, hal_bert_status_t *st);
    int (*send_ais)(hal_board_t *b, int span, int on);
    int (*dframe_send)(hal_board_t *b, int span, const uint8_t *data, int len);
    int (*play)(hal_board_t *b, int span, int chan, const uint8_t *data, int len);
    int (*tone)(hal_board_t *b, int span, int chan, int f1, int f2, int level_dbm0, int ms);
    int (*tap)(hal_board_t *b, int span, int chan, int on);
    int (*detect)(hal_board_t *b, int span, int chan, int mask);
    int (*dtmf)(hal_board_t *b, int span, int chan, const char *digits, int len);
    int (*mfc)(hal_board_t *b, int span, int chan, int backward, int digit);
    int (*cpt)(hal_board_t *b, int span, int chan, int tone);
    int (*fsk)(hal_board_t *b, int span, int chan, int mode, const uint8_t *bits, int nbits);
    int (*tone_set)(hal_board_t *b, int set);
    int (*conf_create)(hal_board_t *b);
    int (*conf_destroy)(hal_board_t *b, int conf);
    /* channel-first, as the other channel calls (the last argument of the two
     * below is unused) */
    int (*conf_join_chan)(hal_board_t *b, int span, int chan, int conf, int flags, int wspan,
                          int wchan);
    int (*conf_leave_chan)(hal_board_t *b, int span, int chan, int unused);
    int (*chan_conf_chan)(hal_board_t *b, int span, int chan, int unused);
    int (*port_command)(hal_board_t *b, int port, int command, int value);
    int (*port_status)(hal_board_t *b, int port, hal_port_status_t *st);
} hal_backend_t;

/* Port commands (hal_port_command) */
#define HAL_PORT_RING      1  /* FXS: value 1 ring on, 0 off */
#define HAL_PORT_POLARITY  2  /* FXS: value 0 normal, 1 reversed */
#define HAL_PORT_BATTERY   3  /* FXS: value 1 feed, 0 drop (disconnect supervision) */
#define HAL_PORT_HOOK      4  /* FXO: value 1 off hook (seize/answer), 0 on hook */

struct hal_board_s {
    const hal_backend_t *backend;
    void *priv;                   /* the backend's state */
    int nspans;
    int nports;
    int tick_frames;              /* frames per tick: 160 for 20 ms */
    uint64_t tick;
    /* event queue, filled by the backend in tick(), drained by hal_board_events() */
    hal_event_t *events;
    int ev_head, ev_count, ev_cap;
    uint8_t *data;                /* payloads of queued events */
    int data_len, data_cap;
    uint32_t events_lost;
    /* spans whose sent D-channel frames are not reported (HAL_EV_DFRAME_TX is a
     * copy for traces: a host tracing no span needs none of them) */
    uint8_t dframe_tx_muted[HAL_MAX_SPANS + 1];
};

/* Board life cycle. backend: "sim" or "dahdi". Returns NULL and sets *err. */
hal_board_t *hal_board_open(const char *backend, const char *device, int nspans,
                            int nports, const int *port_kinds, int tick_frames, int *err);
void hal_board_close(hal_board_t *b);
int hal_backend_available(const char *backend);

int hal_span_configure(hal_board_t *b, int span, const hal_span_config_t *cfg);

/* One tick: every span and port moves tick_frames frames of line time. */
int hal_board_tick(hal_board_t *b);
/* Drain queued events. Data of DFRAME/AUDIO events is copied into data
 * (at most data_cap bytes); returns the number of events copied, and the
 * bytes of data used in *data_used. Events stay queued when either buffer
 * is full: call again. */
int hal_board_events(hal_board_t *b, hal_event_t *out, int max, uint8_t *data, int data_cap,
                     int *data_used);
/* The one call a driver makes per tick: hal_board_tick() then
 * hal_board_events() into the given buffers. Returns the number of events
 * copied; *more is set when events are still queued (drain them with
 * hal_board_events()). */
int hal_board_tick_events(hal_board_t *b, hal_event_t *out, int max, uint8_t *data, int data_cap,
                          int *data_used, int *more);

/* Whether the span reports the D-channel frames it sends (HAL_EV_DFRAME_TX), on
 * from open: off spares the copy and the event when nobody traces the span. */
int hal_span_dframe_tx_report(hal_board_t *b, int span, int on);

int hal_span_set_cas(hal_board_t *b, int span, int ts, int abcd);
int hal_span_get_cas(hal_board_t *b, int span, int ts);
int hal_span_status(hal_board_t *b, int span, hal_span_status_t *st);
int hal_span_reset_counters(hal_board_t *b, int span);
int hal_span_loopback(hal_board_t *b, int span, int mode);
int hal_span_bert(hal_board_t *b, int span, int on);
int hal_span_bert_status(hal_board_t *b, int span, hal_bert_status_t *st);
int hal_span_send_ais(hal_board_t *b, int span, int on);
int hal_span_dframe_send(hal_board_t *b, int span, const uint8_t *data, int len);

int hal_chan_play(hal_board_t *b, int span, int chan, const uint8_t *data, int len);
int hal_chan_tone(hal_board_t *b, int span, int chan, int f1, int f2, int level_dbm0, int ms);
int hal_chan_tap(hal_board_t *b, int span, int chan, int on);
/* Detectors on what the channel receives (HAL_DET_* mask; 0 stops them all). */
int hal_chan_detect(hal_board_t *b, int span, int chan, int mask);
/* Send DTMF digits (Q.23; 80 ms on, 80 ms off), queued after any being sent. */
int hal_chan_dtmf(hal_board_t *b, int span, int chan, const char *digits, int len);
/* Send MFC R2 signal 1..15 steadily (forward, or backward), -1 to stop (Q.441 compelled). */
int hal_chan_mfc(hal_board_t *b, int span, int chan, int backward, int digit);
/* Play call-progress tone 1..4 (dial, ringback, busy, congestion) of the board's set, 0 stops. */
int hal_chan_cpt(hal_board_t *b, int span, int chan, int tone);
/* Send FSK bits (each byte 0 or 1: seizure, mark and framed characters as the caller-ID
 * layer builds them); mode 0 Bell 202, 1 V.23. */
int hal_chan_fsk(hal_board_t *b, int span, int chan, int mode, const uint8_t *bits, int nbits);
/* Conferences: the board's switching. Two channels in one conference are a
 * cross-connect (a call's two legs); three or more a conference call; the
 * flags make monitor, whisper and barge (dsp/conf.h: CONF_TALK, CONF_HEAR,
 * CONF_WHISPER). A channel (a timeslot, or span 0 and a port) is in at most
 * one conference. */
#define HAL_MAX_CONFS     1024
#define HAL_CONF_MEMBERS  16
int hal_conf_create(hal_board_t *b);                 /* a conference id, or an error */
int hal_conf_destroy(hal_board_t *b, int conf);      /* every member leaves */
int hal_conf_join(hal_board_t *b, int conf, int span, int chan, int flags, int whisper_to_span,
                  int whisper_to_chan);
int hal_conf_leave(hal_board_t *b, int span, int chan);
/* The conference a channel is in, or -1. */
int hal_chan_conf(hal_board_t *b, int span, int chan);
/* The call-progress tone set of the board (dsp/cpt.h: cpt_set_find("cn"), ...). */
int hal_board_tone_set(hal_board_t *b, int set);

int hal_port_command(hal_board_t *b, int port, int command, int value);
int hal_port_status(hal_board_t *b, int port, hal_port_status_t *st);

/* For backends: queue an event (data copied). Returns HAL_OK or HAL_EBUSY when lost. */
int hal_board_push_event(hal_board_t *b, int type, int span, int chan, int value, int aux,
                         const uint8_t *data, int len);

#endif
