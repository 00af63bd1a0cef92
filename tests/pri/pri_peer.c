/*
 * pri_peer: a scriptable libpri peer for boardcti's ISDN PRI interop tests.
 *
 * One libpri D-channel controller (E1 PRI, switch type EuroISDN E1, 30
 * B-channels: timeslots 1..15 and 17..31) speaking LAPD over an inherited
 * SOCK_SEQPACKET socket, one whole LAPD frame per datagram.
 *
 * Framing on the socket is exactly libpri's own: every frame libpri writes
 * is the Q.921 frame followed by 2 placeholder bytes where an HDLC FCS would
 * be, and libpri drops the last 2 bytes of every frame it reads (unchecked;
 * a frame without them is rejected as too short).  This harness passes
 * frames through untouched: adding/stripping those 2 bytes is the job of the
 * other end of the socket (tests/pri/peer.py does it).
 *
 *   pri_peer --role network|cpe --fd N [--auto-answer] [--auto-reject CAUSE]
 *            [--auto-hangup-ack] [--timer NAME=VALUE]... [--debug]
 *
 * Commands on stdin, one per line; events on stdout, one per line, flushed:
 * `KIND key=value key=value ...` with no spaces inside values.  Every command
 * is answered by `OK cmd=NAME ...` or `ERROR cmd=NAME text=...`.  The full
 * vocabulary is in tests/pri/README.md.
 *
 * Written for boardcti against libpri's public API (libpri.h) only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <libpri.h>

#define MAX_CALLS 8192          /* call ids are never reused within a run */
#define MAX_CHAN 31             /* E1: timeslots 1..31, 16 is the D-channel */
#define DCHAN_TS 16

struct call_rec {
    q931_call *call;
    int live;                   /* libpri still owns the call */
    int chan;                   /* B-channel (timeslot) in use, 0 = none yet */
    int incoming;
    int answered;               /* CONNECT sent or received */
    int cleared;                /* RELEASE/RELEASE COMPLETE seen, awaiting pri_hangup */
    int local_clear;            /* we started the clearing (pri_hangup) */
    int responded;              /* incoming: SETUP ACK/CALL PROCEEDING/ALERTING/CONNECT sent */
};

static struct pri *g_pri;
static int g_fd = -1;
static int g_dropped;           /* `drop`: frames in both directions are discarded */
static int g_read_got;          /* set by the read callback when a datagram was consumed */
static int g_link_up;
static int g_auto_answer;
static int g_auto_reject;       /* cause, 0 = off */
static int g_auto_hangup_ack;
static int g_debug;
static const char *g_role = "?";
static unsigned long g_tx, g_rx, g_tx_dropped, g_rx_dropped;
static int g_last_tx_msg = -1;  /* Q.931 message type of the last I-frame written */

#define Q931_PD 0x08                    /* Q.931 4.2: protocol discriminator */
#define Q931_MT_RELEASE_COMPLETE 0x5a   /* Q.931 4.4 table 4-2 */

static struct call_rec g_calls[MAX_CALLS];
static int g_next_id = 1;
static int g_chan_owner[MAX_CHAN + 1]; /* call id holding the channel, 0 = idle */

/* `restart 0`: libpri 1.6 cannot send a whole-interface RESTART (class 7);
 * pri_restart() is a no-op and pri_reset() always uses class "indicated
 * channel".  So the harness restarts the 30 B-channels one after the other,
 * each one after the previous RESTART ACKNOWLEDGE. */
static int g_restart_all_next;  /* index into bchans[] of the next channel, -1 = idle */
static int g_restart_all_pending_chan;

static const int bchans[30] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
};

/* ------------------------------------------------------------------ output */

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void emit(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

/* Copy s into a value token: whitespace becomes '_', '=' becomes ':', empty stays empty. */
static const char *tok(const char *s, char *buf, size_t len)
{
    size_t i = 0;

    if (!s)
        s = "";
    for (; *s && i + 1 < len; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= ' ' || ch >= 0x7f)
            ch = '_';
        else if (ch == '=')
            ch = ':';
        buf[i++] = (char)ch;
    }
    buf[i] = '\0';
    while (i > 0 && buf[i - 1] == '_')  /* trailing newline of libpri messages */
        buf[--i] = '\0';
    return buf;
}

static void on_pri_message(struct pri *pri, char *s)
{
    (void)pri;
    if (g_debug)
        fputs(s, stderr);
}

static void on_pri_error(struct pri *pri, char *s)
{
    char buf[512];

    (void)pri;
    if (g_debug)
        fputs(s, stderr);
    tok(s, buf, sizeof(buf));
    if (buf[0])
        emit("LIBPRI_ERROR text=%s", buf);
}

/* ---------------------------------------------------------------- link I/O */

static int io_read(struct pri *pri, void *buf, int buflen)
{
    ssize_t n;

    (void)pri;
    n = recv(g_fd, buf, (size_t)buflen, MSG_DONTWAIT);
    if (n <= 0)
        return 0;
    g_read_got = 1;
    if (g_dropped) {
        g_rx_dropped++;
        return 0;
    }
    g_rx++;
    return (int)n;
}

static int io_write(struct pri *pri, void *buf, int buflen)
{
    ssize_t n;

    (void)pri;
    {
        /* Q.921 3.2: I-frame when bit 1 of the first control octet is 0; the
         * Q.931 message follows the 2 address + 2 control octets. */
        const unsigned char *f = buf;
        if (buflen >= 8 && !(f[2] & 1) && f[4] == Q931_PD && 6 + (f[5] & 0x0f) < buflen)
            g_last_tx_msg = f[6 + (f[5] & 0x0f)];
    }
    if (g_dropped || g_fd < 0) {
        g_tx_dropped++;
        return buflen;          /* pretend it went out: the line ate it */
    }
    n = send(g_fd, buf, (size_t)buflen, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
        emit("ERROR text=write_failed_errno_%d", errno);
        return 0;
    }
    g_tx++;
    return (int)n;
}

/* ------------------------------------------------------------- call table */

/* libpri's encoded channel: timeslot in bits 0..7 (0xff or negative = any/none). */
static int decode_chan(int encoded)
{
    int ch;

    if (encoded < 0)
        return 0;
    ch = encoded & 0xff;
    return (ch == 0xff || ch > MAX_CHAN) ? 0 : ch;
}

static int is_bchan(int ch)
{
    return ch >= 1 && ch <= MAX_CHAN && ch != DCHAN_TS;
}

static int call_find(q931_call *c)
{
    int id;

    if (!c)
        return 0;
    for (id = g_next_id - 1; id >= 1; id--)
        if (g_calls[id].live && g_calls[id].call == c)
            return id;
    return 0;
}

static void chan_release(int id)
{
    int ch = g_calls[id].chan;

    if (is_bchan(ch) && g_chan_owner[ch] == id)
        g_chan_owner[ch] = 0;
}

static void chan_take(int id, int ch)
{
    if (!is_bchan(ch))
        return;
    if (g_calls[id].chan != ch)
        chan_release(id);
    g_calls[id].chan = ch;
    g_chan_owner[ch] = id;
}

static void call_forget(int id)
{
    if (id <= 0)
        return;
    chan_release(id);
    g_calls[id].live = 0;
    g_calls[id].call = NULL;
}

static int call_new(q931_call *c, int incoming)
{
    int id, old;

    while ((old = call_find(c)) != 0)   /* libpri reused the memory of a freed call */
        call_forget(old);
    if (g_next_id >= MAX_CALLS)
        return 0;
    id = g_next_id++;
    memset(&g_calls[id], 0, sizeof(g_calls[id]));
    g_calls[id].call = c;
    g_calls[id].live = 1;
    g_calls[id].incoming = incoming;
    return id;
}

/* The call's B-channel, choosing the lowest idle one if the peer left it to us. */
static int call_chan(int id)
{
    size_t i;

    if (g_calls[id].chan)
        return g_calls[id].chan;
    for (i = 0; i < sizeof(bchans) / sizeof(bchans[0]); i++)
        if (!g_chan_owner[bchans[i]]) {
            chan_take(id, bchans[i]);
            return bchans[i];
        }
    return 0;
}

static int live_calls(void)
{
    int id, n = 0;

    for (id = 1; id < g_next_id; id++)
        n += g_calls[id].live;
    return n;
}

/* ------------------------------------------------------------ auto actions */

static void auto_answer(int id)
{
    q931_call *c = g_calls[id].call;
    int ch = call_chan(id);

    if (g_calls[id].answered)
        return;
    g_calls[id].answered = 1;
    g_calls[id].responded = 1;
    pri_proceeding(g_pri, c, ch, 0);
    pri_acknowledge(g_pri, c, ch, 0);
    pri_answer(g_pri, c, ch, 0);
}

/*
 * Clear a call with `cause`.  libpri quirk: pri_hangup() on an incoming call
 * that nothing has answered yet (state Call Present) sends nothing at all
 * unless the cause is one libpri clears with RELEASE COMPLETE (1, 34, 44,
 * 81, 82, 88): for other causes (16, 17, 21, ...) its DISCONNECT/RELEASE
 * need a call it has answered.  So for those the harness sends CALL
 * PROCEEDING first, then pri_hangup() sends DISCONNECT with the cause.
 */
static int rel_comp_cause(int cause)
{
    return cause == 1 || cause == 34 || cause == 44 || cause == 81 || cause == 82
        || cause == 88;
}

static void clear_call(int id, int cause)
{
    struct call_rec *r = &g_calls[id];

    r->local_clear = 1;
    if (r->incoming && !r->responded && !rel_comp_cause(cause))
        pri_proceeding(g_pri, r->call, call_chan(id), 0);
    r->responded = 1;
    g_last_tx_msg = -1;
    pri_hangup(g_pri, r->call, cause);
    /* libpri frees a call as soon as it has sent RELEASE COMPLETE for it
     * (and a cleared call when pri_hangup() finishes it). */
    if (g_last_tx_msg == Q931_MT_RELEASE_COMPLETE || r->cleared)
        call_forget(id);
}

static void free_calls_on(int ch, const char *why)
{
    int id;

    for (id = 1; id < g_next_id; id++) {
        if (!g_calls[id].live)
            continue;
        if (ch == 0 || g_calls[id].chan == ch) {
            pri_destroycall(g_pri, g_calls[id].call);
            emit("CALL_FREED callid=%d chan=%d reason=%s", id, g_calls[id].chan, why);
            call_forget(id);
        }
    }
}

static void restart_all_step(void)
{
    if (g_restart_all_next < 0)
        return;
    if (g_restart_all_next >= (int)(sizeof(bchans) / sizeof(bchans[0]))) {
        g_restart_all_next = -1;
        g_restart_all_pending_chan = 0;
        emit("RESTART_ACK chan=0 channels=30");
        return;
    }
    g_restart_all_pending_chan = bchans[g_restart_all_next++];
    if (pri_reset(g_pri, g_restart_all_pending_chan)) {
        emit("ERROR cmd=restart text=pri_reset_failed chan=%d", g_restart_all_pending_chan);
        g_restart_all_next = -1;
        g_restart_all_pending_chan = 0;
    }
}

/* ------------------------------------------------------------------ events */

static void handle_event(pri_event *e)
{
    char a[300], b[300];
    int id, ch;

    switch (e->e) {
    case PRI_EVENT_DCHAN_UP:
        g_link_up = 1;
        emit("UP");
        break;
    case PRI_EVENT_DCHAN_DOWN:
        g_link_up = 0;
        emit("DOWN");
        break;
    case PRI_EVENT_RING:
        id = call_new(e->ring.call, 1);
        ch = decode_chan(e->ring.channel);
        if (id && is_bchan(ch))
            chan_take(id, ch);
        emit("RING callid=%d chan=%d called=%s calling=%s complete=%d cref=%d exclusive=%d",
             id, ch, tok(e->ring.callednum, a, sizeof(a)),
             tok(e->ring.callingnum, b, sizeof(b)), e->ring.complete ? 1 : 0,
             e->ring.cref, e->ring.flexible ? 0 : 1);
        if (!id)
            break;
        if (g_auto_reject) {
            clear_call(id, g_auto_reject);
        } else if (g_auto_answer) {
            if (e->ring.complete)
                auto_answer(id);
            else {
                g_calls[id].responded = 1;
                pri_need_more_info(g_pri, e->ring.call, call_chan(id), 0);
            }
        }
        break;
    case PRI_EVENT_INFO_RECEIVED:
        id = call_find(e->ring.call);
        emit("INFO callid=%d digits=%s complete=%d", id,
             tok(e->ring.callednum, a, sizeof(a)), e->ring.complete ? 1 : 0);
        if (id && g_auto_answer && e->ring.complete)
            auto_answer(id);
        break;
    case PRI_EVENT_KEYPAD_DIGIT:
        emit("KEYPAD callid=%d digits=%s", call_find(e->digit.call),
             tok(e->digit.digits, a, sizeof(a)));
        break;
    case PRI_EVENT_SETUP_ACK:
        id = call_find(e->setup_ack.call);
        ch = decode_chan(e->setup_ack.channel);
        if (id && is_bchan(ch))
            chan_take(id, ch);
        emit("SETUP_ACK callid=%d chan=%d", id, ch);
        break;
    case PRI_EVENT_PROCEEDING:
    case PRI_EVENT_PROGRESS:
        id = call_find(e->proceeding.call);
        ch = decode_chan(e->proceeding.channel);
        if (id && is_bchan(ch))
            chan_take(id, ch);
        emit("%s callid=%d chan=%d", e->e == PRI_EVENT_PROCEEDING ? "PROCEEDING" : "PROGRESS",
             id, ch);
        break;
    case PRI_EVENT_RINGING:
        id = call_find(e->ringing.call);
        ch = decode_chan(e->ringing.channel);
        if (id && is_bchan(ch))
            chan_take(id, ch);
        emit("RINGING callid=%d chan=%d", id, ch);
        break;
    case PRI_EVENT_ANSWER:
        id = call_find(e->answer.call);
        ch = decode_chan(e->answer.channel);
        if (id) {
            if (is_bchan(ch))
                chan_take(id, ch);
            g_calls[id].answered = 1;
        }
        emit("ANSWER callid=%d chan=%d", id, ch);
        break;
    case PRI_EVENT_CONNECT_ACK:
        emit("CONNECT_ACK callid=%d", call_find(e->connect_ack.call));
        break;
    case PRI_EVENT_HANGUP_REQ:
        id = call_find(e->hangup.call);
        emit("HANGUP_REQ callid=%d cause=%d chan=%d", id, e->hangup.cause,
             id ? g_calls[id].chan : decode_chan(e->hangup.channel));
        if (id && g_auto_hangup_ack)
            pri_hangup(g_pri, e->hangup.call, e->hangup.cause);
        break;
    case PRI_EVENT_HANGUP:
        id = call_find(e->hangup.call);
        emit("HANGUP callid=%d cause=%d chan=%d", id, e->hangup.cause,
             id ? g_calls[id].chan : decode_chan(e->hangup.channel));
        if (!id)
            break;
        /* libpri reports the RELEASE answering our own DISCONNECT as HANGUP too;
         * finishing that clearing is no test's decision, so it is always done. */
        if (g_auto_hangup_ack || g_calls[id].local_clear) {
            pri_hangup(g_pri, e->hangup.call, e->hangup.cause);
            call_forget(id);
        } else {
            g_calls[id].cleared = 1;    /* the `hangup` command frees it */
        }
        break;
    case PRI_EVENT_HANGUP_ACK:
        id = call_find(e->hangup.call);
        emit("HANGUP_ACK callid=%d cause=%d chan=%d", id, e->hangup.cause,
             id ? g_calls[id].chan : decode_chan(e->hangup.channel));
        call_forget(id);        /* libpri has destroyed it */
        break;
    case PRI_EVENT_RESTART:
        ch = decode_chan(e->restart.channel);
        emit("RESTART chan=%d", ch);
        free_calls_on(ch, "restart");
        break;
    case PRI_EVENT_RESTART_ACK:
        ch = decode_chan(e->restartack.channel);
        emit("RESTART_ACK chan=%d", ch);
        free_calls_on(ch, "restart");
        if (g_restart_all_next >= 0 && ch == g_restart_all_pending_chan)
            restart_all_step();
        break;
    case PRI_EVENT_CONFIG_ERR:
        emit("ERROR text=%s", tok(e->err.err, a, sizeof(a)));
        break;
    case PRI_EVENT_NOTIFY:
        emit("NOTIFY callid=%d info=%d", call_find(e->notify.call), e->notify.info);
        break;
    default:
        emit("OTHER event=%d name=%s", e->e, tok(pri_event2str(e->e), a, sizeof(a)));
        break;
    }
}

static void run_input(void)
{
    pri_event *e;

    for (;;) {
        g_read_got = 0;
        e = pri_check_event(g_pri);
        if (e)
            handle_event(e);
        if (!g_read_got)
            break;
    }
}

static void run_timers(void)
{
    pri_event *e;

    while ((e = pri_schedule_run(g_pri)) != NULL)
        handle_event(e);
}

/* ---------------------------------------------------------------- commands */

#define MAX_ARGS 8

static int parse_int(const char *s, int *out)
{
    char *end;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (int)v;
    return 0;
}

/* A live call id from argv, or 0 after reporting an error. */
static int arg_call(const char *cmd, const char *s)
{
    int id;

    if (parse_int(s, &id) || id <= 0 || id >= g_next_id || !g_calls[id].live) {
        emit("ERROR cmd=%s text=no_such_call callid=%s", cmd, s ? s : "");
        return 0;
    }
    return id;
}

static void cmd_call(int argc, char **argv)
{
    struct pri_sr *sr;
    q931_call *c;
    int ch, id, overlap = 0;
    char *called, *calling;

    if (argc < 4 || parse_int(argv[1], &ch) || (ch != 0 && !is_bchan(ch))) {
        emit("ERROR cmd=call text=usage:call_CHAN_CALLED_CALLING_[overlap]");
        return;
    }
    if (argc >= 5 && strcmp(argv[4], "overlap") == 0)
        overlap = 1;
    if (ch && g_chan_owner[ch]) {
        emit("ERROR cmd=call text=channel_busy chan=%d callid=%d", ch, g_chan_owner[ch]);
        return;
    }
    called = strcmp(argv[2], "-") == 0 ? "" : argv[2];
    calling = strcmp(argv[3], "-") == 0 ? NULL : argv[3];
    c = pri_new_call(g_pri);
    sr = c ? pri_sr_new() : NULL;
    if (!sr) {
        emit("ERROR cmd=call text=pri_new_call_failed");
        return;
    }
    /* A named channel is requested as exclusive; 0 asks for any channel (preferred). */
    pri_sr_set_channel(sr, ch ? ch : 0xff, ch ? 1 : 0, 0);
    pri_sr_set_bearer(sr, PRI_TRANS_CAP_SPEECH, PRI_LAYER_1_ALAW);
    pri_sr_set_called(sr, called, PRI_UNKNOWN | PRI_NPI_E163_E164, overlap ? 0 : 1);
    if (calling)
        pri_sr_set_caller(sr, calling, NULL, PRI_UNKNOWN | PRI_NPI_E163_E164,
                          PRES_ALLOWED_USER_NUMBER_NOT_SCREENED);
    id = call_new(c, 0);
    if (!id) {
        pri_sr_free(sr);
        emit("ERROR cmd=call text=too_many_calls");
        return;
    }
    if (ch)
        chan_take(id, ch);
    if (pri_setup(g_pri, c, sr)) {
        pri_sr_free(sr);
        call_forget(id);
        emit("ERROR cmd=call text=pri_setup_failed");
        return;
    }
    pri_sr_free(sr);
    emit("OK cmd=call callid=%d chan=%d", id, ch);
}

static void cmd_info(int argc, char **argv)
{
    int id;
    const char *d;

    if (argc < 3) {
        emit("ERROR cmd=info text=usage:info_CALLID_DIGITS");
        return;
    }
    if (!(id = arg_call("info", argv[1])))
        return;
    for (d = argv[2]; *d; d++)
        if (pri_information(g_pri, g_calls[id].call, *d)) {
            emit("ERROR cmd=info text=pri_information_failed callid=%d", id);
            return;
        }
    emit("OK cmd=info callid=%d", id);
}

static void cmd_progress_like(const char *name, int argc, char **argv)
{
    int id, ch, res;
    q931_call *c;

    if (argc < 2) {
        emit("ERROR cmd=%s text=usage:%s_CALLID", name, name);
        return;
    }
    if (!(id = arg_call(name, argv[1])))
        return;
    c = g_calls[id].call;
    ch = call_chan(id);
    g_calls[id].responded = 1;
    if (strcmp(name, "proceeding") == 0)
        res = pri_proceeding(g_pri, c, ch, 0);
    else if (strcmp(name, "alerting") == 0)
        res = pri_acknowledge(g_pri, c, ch, 0);
    else if (strcmp(name, "setup_ack") == 0)
        res = pri_need_more_info(g_pri, c, ch, 0);
    else if (strcmp(name, "progress") == 0)
        res = pri_progress(g_pri, c, ch, 1);
    else {
        res = pri_answer(g_pri, c, ch, 0);
        g_calls[id].answered = 1;
    }
    if (res)
        emit("ERROR cmd=%s text=libpri_refused callid=%d", name, id);
    else
        emit("OK cmd=%s callid=%d chan=%d", name, id, ch);
}

static void cmd_hangup(int argc, char **argv)
{
    int id, cause;

    if (argc < 3 || parse_int(argv[2], &cause)) {
        emit("ERROR cmd=hangup text=usage:hangup_CALLID_CAUSE");
        return;
    }
    if (!(id = arg_call("hangup", argv[1])))
        return;
    clear_call(id, cause);
    emit("OK cmd=hangup callid=%d cause=%d", id, cause);
}

static void cmd_restart(int argc, char **argv)
{
    int ch;

    if (argc < 2 || parse_int(argv[1], &ch) || (ch != 0 && !is_bchan(ch))) {
        emit("ERROR cmd=restart text=usage:restart_CHAN(0=all)");
        return;
    }
    if (ch == 0) {
        g_restart_all_next = 0;
        emit("OK cmd=restart chan=0");
        restart_all_step();
        return;
    }
    if (pri_reset(g_pri, ch)) {
        emit("ERROR cmd=restart text=pri_reset_failed chan=%d", ch);
        return;
    }
    emit("OK cmd=restart chan=%d", ch);
}

static void cmd_status(void)
{
    char ids[1024];
    size_t used = 0;
    int id;

    ids[0] = '\0';
    for (id = 1; id < g_next_id && used + 16 < sizeof(ids); id++)
        if (g_calls[id].live)
            used += (size_t)snprintf(ids + used, sizeof(ids) - used, "%s%d", used ? "," : "", id);
    emit("STATUS role=%s link=%s dropped=%d calls=%d callids=%s tx=%lu rx=%lu "
         "tx_dropped=%lu rx_dropped=%lu", g_role, g_link_up ? "up" : "down", g_dropped,
         live_calls(), ids, g_tx, g_rx, g_tx_dropped, g_rx_dropped);
    emit("OK cmd=status");
}

/* Returns 0 to keep running, 1 on `quit`. */
static int run_command(char *line)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    char *save = NULL, *t;

    for (t = strtok_r(line, " \t\r", &save); t && argc < MAX_ARGS;
         t = strtok_r(NULL, " \t\r", &save))
        argv[argc++] = t;
    argv[argc] = NULL;
    if (argc == 0 || argv[0][0] == '#')
        return 0;
    if (strcmp(argv[0], "call") == 0)
        cmd_call(argc, argv);
    else if (strcmp(argv[0], "info") == 0)
        cmd_info(argc, argv);
    else if (strcmp(argv[0], "proceeding") == 0 || strcmp(argv[0], "alerting") == 0
             || strcmp(argv[0], "answer") == 0 || strcmp(argv[0], "setup_ack") == 0
             || strcmp(argv[0], "progress") == 0)
        cmd_progress_like(argv[0], argc, argv);
    else if (strcmp(argv[0], "hangup") == 0)
        cmd_hangup(argc, argv);
    else if (strcmp(argv[0], "restart") == 0)
        cmd_restart(argc, argv);
    else if (strcmp(argv[0], "drop") == 0) {
        g_dropped = 1;
        emit("OK cmd=drop");
    } else if (strcmp(argv[0], "undrop") == 0) {
        g_dropped = 0;
        emit("OK cmd=undrop");
    } else if (strcmp(argv[0], "status") == 0)
        cmd_status();
    else if (strcmp(argv[0], "quit") == 0) {
        emit("OK cmd=quit");
        return 1;
    } else {
        char buf[64];
        emit("ERROR cmd=%s text=unknown_command", tok(argv[0], buf, sizeof(buf)));
    }
    return 0;
}

/* ------------------------------------------------------------------- main */

static void usage(void)
{
    fprintf(stderr, "usage: pri_peer --role network|cpe --fd N [--auto-answer] "
            "[--auto-reject CAUSE] [--auto-hangup-ack] [--timer NAME=VALUE]... [--debug]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *timers[32];
    int ntimers = 0, node = 0, i, flags;
    char inbuf[4096];
    size_t inlen = 0;

    g_restart_all_next = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--role") == 0 && v) {
            if (strcmp(v, "network") == 0)
                node = PRI_NETWORK;
            else if (strcmp(v, "cpe") == 0)
                node = PRI_CPE;
            else
                usage();
            g_role = v;
            i++;
        } else if (strcmp(a, "--fd") == 0 && v) {
            if (parse_int(v, &g_fd) || g_fd < 0)
                usage();
            i++;
        } else if (strcmp(a, "--auto-answer") == 0) {
            g_auto_answer = 1;
        } else if (strcmp(a, "--auto-reject") == 0 && v) {
            if (parse_int(v, &g_auto_reject) || g_auto_reject <= 0 || g_auto_reject > 127)
                usage();
            i++;
        } else if (strcmp(a, "--auto-hangup-ack") == 0) {
            g_auto_hangup_ack = 1;
        } else if (strcmp(a, "--timer") == 0 && v && ntimers < 32) {
            timers[ntimers++] = v;
            i++;
        } else if (strcmp(a, "--debug") == 0) {
            g_debug = 1;
        } else {
            usage();
        }
    }
    if (!node || g_fd < 0)
        usage();
    if (fcntl(g_fd, F_GETFD) < 0) {
        fprintf(stderr, "pri_peer: fd %d is not open\n", g_fd);
        return 2;
    }
    flags = fcntl(g_fd, F_GETFL);
    fcntl(g_fd, F_SETFL, flags | O_NONBLOCK);
    flags = fcntl(0, F_GETFL);
    fcntl(0, F_SETFL, flags | O_NONBLOCK);

    pri_set_message(on_pri_message);
    pri_set_error(on_pri_error);
    /* The constructor already sends the first SABME through io_write (which
     * only needs g_fd, not the returned context). */
    g_pri = pri_new_cb(g_fd, node, PRI_SWITCH_EUROISDN_E1, io_read, io_write, NULL);
    if (!g_pri) {
        emit("ERROR text=pri_new_cb_failed");
        return 1;
    }
    pri_set_debug(g_pri, g_debug ? (PRI_DEBUG_Q921_STATE | PRI_DEBUG_Q931_DUMP
                                    | PRI_DEBUG_Q931_STATE | PRI_DEBUG_Q931_ANOMALY) : 0);
    /* Without this, libpri's EuroISDN puts Sending Complete into every SETUP. */
    pri_set_overlapdial(g_pri, 1);
    for (i = 0; i < ntimers; i++) {
        char name[32];
        const char *eq = strchr(timers[i], '=');
        int idx, val;
        size_t n = eq ? (size_t)(eq - timers[i]) : 0;
        if (!eq || n >= sizeof(name))
            usage();
        memcpy(name, timers[i], n);
        name[n] = '\0';
        idx = pri_timer2idx(name);
        if (idx < 0 || parse_int(eq + 1, &val) || pri_set_timer(g_pri, idx, val)) {
            fprintf(stderr, "pri_peer: bad timer %s\n", timers[i]);
            return 2;
        }
    }
    emit("READY role=%s fd=%d pid=%d", g_role, g_fd, (int)getpid());

    for (;;) {
        struct pollfd pfd[2];
        struct timeval *next, now;
        int timeout = 1000;

        run_timers();
        next = pri_schedule_next(g_pri);
        if (next) {
            long ms;
            gettimeofday(&now, NULL);
            ms = (next->tv_sec - now.tv_sec) * 1000L + (next->tv_usec - now.tv_usec + 999) / 1000;
            if (ms < 0)
                ms = 0;
            if (ms < timeout)
                timeout = (int)ms;
        }
        pfd[0].fd = 0;
        pfd[0].events = POLLIN;
        pfd[1].fd = g_fd;
        pfd[1].events = POLLIN;
        if (poll(pfd, 2, timeout) < 0) {
            if (errno == EINTR)
                continue;
            perror("pri_peer: poll");
            return 1;
        }
        if (pfd[1].revents & POLLIN)
            run_input();
        if (pfd[1].revents & (POLLHUP | POLLERR)) {
            emit("ERROR text=link_socket_closed");
            return 0;
        }
        if (pfd[0].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read(0, inbuf + inlen, sizeof(inbuf) - 1 - inlen);
            if (n == 0)
                return 0;       /* stdin closed: the driver is gone */
            if (n > 0) {
                char *nl;
                inlen += (size_t)n;
                inbuf[inlen] = '\0';
                while ((nl = memchr(inbuf, '\n', inlen)) != NULL) {
                    *nl = '\0';
                    if (run_command(inbuf))
                        return 0;
                    inlen -= (size_t)(nl + 1 - inbuf);
                    memmove(inbuf, nl + 1, inlen);
                    inbuf[inlen] = '\0';
                }
                if (inlen >= sizeof(inbuf) - 1) {
                    emit("ERROR text=command_line_too_long");
                    inlen = 0;
                }
            }
        }
    }
}
