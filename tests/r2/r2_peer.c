/*
 * r2_peer: a scriptable openr2 (MFC/R2) peer for boardcti's R2 interop tests.
 *
 * One openr2 context with one channel.  Debian's libopenr2 1.3.3 has no
 * custom I/O interface: it drives a DAHDI channel through ioctl(), read() and
 * write() on the channel's file descriptor.  This program defines its own
 * ioctl(), read() and write(); the executable's definitions interpose on
 * libopenr2's references to the libc ones, so every call libopenr2 makes on
 * the channel fd lands in a fake DAHDI channel here, and all other fds go to
 * the kernel unchanged.  The fake channel talks to the test over an
 * inherited SOCK_SEQPACKET socket, one message per datagram:
 *
 *   'C' abcd          line signalling: one byte, DAHDI bit order
 *                     (a = 8, b = 4, c = 2, d = 1)
 *   'A' bytes...      audio, A-law (ITU-T G.711), 8000 samples/s
 *
 * Harness -> test: 'C' on every DAHDI_SETTXBITS, 'A' with whatever openr2
 * writes.  Test -> harness: 'C' sets what DAHDI_GETRXBITS returns and makes
 * DAHDI_GETEVENT report DAHDI_EVENT_BITSCHANGED once; 'A' is queued for
 * openr2's read().  openr2 writes as many samples as it reads (the DAHDI
 * model), so the test's audio frames are the clock of the MF tones.
 *
 *   r2_peer --fd N [--variant ITU|CN|BR|MX|AR|...] [--auto-accept]
 *           [--auto-answer] [--auto-clear] [--max-ani N] [--max-dnis N]
 *           [--category NAME] [--debug]
 *
 * Commands on stdin, events on stdout: see tests/r2/README.md.
 *
 * DAHDI ioctl numbers and structures come from dahdi/user.h (the
 * dahdi-source/dahdi-dkms package, /usr/src/dahdi-<version>/include).
 * Written for boardcti against openr2's public headers only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <unistd.h>

#include <dahdi/user.h>
#include <openr2.h>

#define AUDIO_MAX 16000         /* queued rx audio bytes (2 s) */
#define ALAW_SILENCE 0xD5

static int g_sock = -1;         /* to the test */
static int g_chanfd = -1;       /* the fd openr2 believes is a DAHDI channel */
static openr2_context_t *g_ctx;
static openr2_chan_t *g_chan;
static int g_debug;
static int g_auto_accept, g_auto_answer, g_auto_clear;
static openr2_calling_party_category_t g_category = OR2_CALLING_PARTY_CATEGORY_NATIONAL_SUBSCRIBER;

/* fake DAHDI channel */
static int g_rxbits = DAHDI_ABIT | DAHDI_BBIT | DAHDI_DBIT;    /* until the test says */
static int g_txbits = -1;
static int g_bits_event;
static unsigned char g_audio[AUDIO_MAX];
static int g_audio_len;
static unsigned long g_tx_audio, g_rx_audio, g_tx_cas, g_rx_cas;
/* Room in the fake transmit buffer.  openr2 writes tone audio for as long
 * as DAHDI_IOMUX reports the channel writable, so the channel is writable
 * only for as many samples as openr2 has read: audio out is clocked by
 * audio in, like a real DAHDI channel clocked by the E1 line. */
static long g_tx_room = 160;

/* work deferred out of openr2 callbacks */
static int g_pending_accept, g_pending_answer, g_pending_clear;

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

static const char *tok(const char *s, char *buf, size_t len)
{
    size_t i = 0;

    if (!s || !*s)
        s = "-";
    for (; *s && i + 1 < len; s++) {
        unsigned char ch = (unsigned char)*s;
        buf[i++] = (ch <= ' ' || ch >= 0x7f) ? '_' : (ch == '=' ? ':' : (char)ch);
    }
    buf[i] = '\0';
    while (i > 1 && buf[i - 1] == '_')
        buf[--i] = '\0';
    return buf;
}

static void abcd_str(int bits, char out[5])
{
    out[0] = (bits & DAHDI_ABIT) ? '1' : '0';
    out[1] = (bits & DAHDI_BBIT) ? '1' : '0';
    out[2] = (bits & DAHDI_CBIT) ? '1' : '0';
    out[3] = (bits & DAHDI_DBIT) ? '1' : '0';
    out[4] = '\0';
}

/* ------------------------------------------------ the fake DAHDI channel */

static ssize_t sock_send(const void *buf, size_t len)
{
    return send(g_sock, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, request);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (fd != g_chanfd || g_chanfd < 0)
        return (int)syscall(SYS_ioctl, fd, request, arg);

    switch (request) {
    case DAHDI_SETTXBITS: {
        unsigned char msg[2] = {'C', (unsigned char)(*(int *)arg & 0x0f)};
        char s[5];
        g_txbits = msg[1];
        g_tx_cas++;
        abcd_str(g_txbits, s);
        if (g_debug)
            fprintf(stderr, "r2_peer: tx abcd=%s\n", s);
        emit("CAS_TX abcd=%s", s);
        if (sock_send(msg, 2) < 0)
            emit("ERROR text=cas_send_failed_errno_%d", errno);
        return 0;
    }
    case DAHDI_GETRXBITS:
        *(int *)arg = g_rxbits;
        return 0;
    case DAHDI_GETEVENT:
        *(int *)arg = g_bits_event ? DAHDI_EVENT_BITSCHANGED : DAHDI_EVENT_NONE;
        g_bits_event = 0;
        return 0;
    case DAHDI_IOMUX: {
        int want = *(int *)arg, got = 0;
        if ((want & DAHDI_IOMUX_READ) && g_audio_len > 0)
            got |= DAHDI_IOMUX_READ;
        if ((want & DAHDI_IOMUX_SIGEVENT) && g_bits_event)
            got |= DAHDI_IOMUX_SIGEVENT;
        if ((want & (DAHDI_IOMUX_WRITE | DAHDI_IOMUX_WRITEEMPTY)) && g_tx_room > 0)
            got |= want & (DAHDI_IOMUX_WRITE | DAHDI_IOMUX_WRITEEMPTY);
        *(int *)arg = got;      /* never blocks: the main loop does the waiting */
        return 0;
    }
    case DAHDI_GET_PARAMS:
    case DAHDI_GET_PARAMS_V1: {
        struct dahdi_params *p = arg;
        memset(p, 0, sizeof(*p));
        p->channo = 1;
        p->spanno = 1;
        p->chanpos = 1;
        p->sigtype = DAHDI_SIG_CAS;
        p->sigcap = DAHDI_SIG_CAS;
        p->rxbits = g_rxbits;
        p->txbits = g_txbits < 0 ? 0 : g_txbits;
        p->curlaw = DAHDI_LAW_ALAW;
        snprintf(p->name, sizeof(p->name), "R2PEER/1/1");
        return 0;
    }
    case DAHDI_CHANNO:
        *(int *)arg = 1;
        return 0;
    case DAHDI_GET_BUFINFO: {
        struct dahdi_bufferinfo *b = arg;
        memset(b, 0, sizeof(*b));
        b->txbufpolicy = DAHDI_POLICY_IMMEDIATE;
        b->rxbufpolicy = DAHDI_POLICY_IMMEDIATE;
        b->numbufs = 4;
        b->bufsize = 160;
        return 0;
    }
    case DAHDI_GET_BLOCKSIZE:
        *(int *)arg = 160;
        return 0;
    case DAHDI_GETGAINS: {
        struct dahdi_gains *g = arg;
        int i;
        for (i = 0; i < 256; i++)
            g->rxgain[i] = g->txgain[i] = (unsigned char)i;
        return 0;
    }
    case DAHDI_FLUSH:
        if (*(int *)arg & DAHDI_FLUSH_READ)
            g_audio_len = 0;
        return 0;
    default:
        /* SET_BUFINFO, SETGAINS, SETLAW, ECHOCANCEL, SET_BLOCKSIZE,
         * SETLINEAR, AUDIOMODE...: accepted and ignored */
        if (g_debug)
            fprintf(stderr, "r2_peer: ioctl 0x%lx accepted\n", request);
        return 0;
    }
}

ssize_t read(int fd, void *buf, size_t count)
{
    size_t n;

    if (fd != g_chanfd || g_chanfd < 0)
        return syscall(SYS_read, fd, buf, count);
    if (g_audio_len == 0) {
        errno = EAGAIN;
        return -1;
    }
    n = count < (size_t)g_audio_len ? count : (size_t)g_audio_len;
    memcpy(buf, g_audio, n);
    memmove(g_audio, g_audio + n, (size_t)g_audio_len - n);
    g_audio_len -= (int)n;
    g_tx_room += (long)n;
    if (g_tx_room > 2 * 160)
        g_tx_room = 2 * 160;
    return (ssize_t)n;
}

ssize_t write(int fd, const void *buf, size_t count)
{
    unsigned char msg[1 + 4096];
    size_t done = 0;

    if (fd != g_chanfd || g_chanfd < 0)
        return syscall(SYS_write, fd, buf, count);
    while (done < count) {
        size_t n = count - done > 4096 ? 4096 : count - done;
        msg[0] = 'A';
        memcpy(msg + 1, (const unsigned char *)buf + done, n);
        if (sock_send(msg, n + 1) < 0) {
            if (g_debug)
                fprintf(stderr, "r2_peer: audio send failed errno=%d\n", errno);
            break;              /* the line ate it */
        }
        done += n;
    }
    g_tx_audio += count;
    g_tx_room -= (long)count;
    if (g_tx_room < 0)
        g_tx_room = 0;
    return (ssize_t)count;
}

static void take_socket_input(void)
{
    unsigned char msg[1 + 8192];
    ssize_t n;

    for (;;) {
        n = recv(g_sock, msg, sizeof(msg), MSG_DONTWAIT);
        if (n <= 0)
            return;
        if (msg[0] == 'C' && n >= 2) {
            int bits = msg[1] & 0x0f;
            g_rx_cas++;
            if (bits != g_rxbits) {
                g_rxbits = bits;
                g_bits_event = 1;
            }
        } else if (msg[0] == 'A') {
            int len = (int)n - 1;
            if (len > AUDIO_MAX - g_audio_len) {     /* keep the newest audio */
                int drop = len - (AUDIO_MAX - g_audio_len);
                if (drop > g_audio_len)
                    drop = g_audio_len;
                memmove(g_audio, g_audio + drop, (size_t)(g_audio_len - drop));
                g_audio_len -= drop;
                if (len > AUDIO_MAX)
                    len = AUDIO_MAX;
            }
            memcpy(g_audio + g_audio_len, msg + 1, (size_t)len);
            g_audio_len += len;
            g_rx_audio += (unsigned long)len;
        }
    }
}

/* ------------------------------------------------------- openr2 events */

static void on_call_init(openr2_chan_t *chan)
{
    (void)chan;
    emit("CALL_INIT");
}

static void on_call_offered(openr2_chan_t *chan, const char *ani, const char *dnis,
                            openr2_calling_party_category_t category)
{
    char a[64], d[64], c[64];

    (void)chan;
    emit("OFFERED ani=%s dnis=%s category=%s", tok(ani, a, sizeof(a)), tok(dnis, d, sizeof(d)),
         tok(openr2_proto_get_category_string(category), c, sizeof(c)));
    if (g_auto_accept || g_auto_answer)
        g_pending_accept = 1;
}

static const char *mode_str(openr2_call_mode_t mode)
{
    switch (mode) {
    case OR2_CALL_WITH_CHARGE: return "with_charge";
    case OR2_CALL_NO_CHARGE: return "no_charge";
    case OR2_CALL_SPECIAL: return "special";
    default: return "unknown";
    }
}

static void on_call_accepted(openr2_chan_t *chan, openr2_call_mode_t mode)
{
    int backward = openr2_chan_get_direction(chan) == OR2_DIR_BACKWARD;

    emit("ACCEPTED mode=%s dir=%s", mode_str(mode), backward ? "backward" : "forward");
    if (backward && g_auto_answer)
        g_pending_answer = 1;
}

static void on_call_answered(openr2_chan_t *chan)
{
    (void)chan;
    emit("ANSWERED");
}

static const char *cause_str(openr2_call_disconnect_cause_t cause, char *buf, size_t len)
{
    return tok(openr2_proto_get_disconnect_string(cause), buf, len);
}

static void on_call_disconnect(openr2_chan_t *chan, openr2_call_disconnect_cause_t cause)
{
    char c[64];

    (void)chan;
    emit("DISCONNECT cause=%s code=%d", cause_str(cause, c, sizeof(c)), (int)cause);
    if (g_auto_clear)
        g_pending_clear = 1;
}

static void on_call_end(openr2_chan_t *chan)
{
    (void)chan;
    emit("CALL_END");
}

static void on_call_read(openr2_chan_t *chan, const unsigned char *buf, int buflen)
{
    (void)chan;
    (void)buf;
    (void)buflen;
}

static void on_hardware_alarm(openr2_chan_t *chan, int alarm)
{
    (void)chan;
    emit("ALARM alarm=%d", alarm);
}

static void on_os_error(openr2_chan_t *chan, int err)
{
    (void)chan;
    emit("OS_ERROR errno=%d", err);
}

static void on_protocol_error(openr2_chan_t *chan, openr2_protocol_error_t error)
{
    char e[96], r[96], m[96];

    emit("PROTOCOL_ERROR error=%s code=%d r2state=%s mfstate=%s",
         tok(openr2_proto_get_error(error), e, sizeof(e)), (int)error,
         tok(openr2_chan_get_r2_state_string(chan), r, sizeof(r)),
         tok(openr2_chan_get_mf_state_string(chan), m, sizeof(m)));
}

static void on_line_blocked(openr2_chan_t *chan)
{
    (void)chan;
    emit("BLOCKED");
}

static void on_line_idle(openr2_chan_t *chan)
{
    (void)chan;
    emit("IDLE");
}

static void vlog(const char *who, openr2_log_level_t level, const char *fmt, va_list ap)
{
    if (!g_debug)
        return;
    fprintf(stderr, "openr2 %s [%d] ", who, (int)level);
    vfprintf(stderr, fmt, ap);
    if (!*fmt || fmt[strlen(fmt) - 1] != '\n')
        fputc('\n', stderr);
}

static void on_context_log(openr2_context_t *ctx, openr2_log_level_t level, const char *fmt, va_list ap)
{
    (void)ctx;
    vlog("ctx", level, fmt, ap);
}

static void on_chan_log(openr2_chan_t *chan, openr2_log_level_t level, const char *fmt, va_list ap)
{
    (void)chan;
    vlog("chan", level, fmt, ap);
}

static int on_dnis_digit(openr2_chan_t *chan, char digit)
{
    (void)chan;
    emit("DNIS_DIGIT digit=%c", digit);
    return 1;                   /* ask for more until max DNIS */
}

static void on_ani_digit(openr2_chan_t *chan, char digit)
{
    (void)chan;
    emit("ANI_DIGIT digit=%c", digit);
}

static void on_billing_pulse(openr2_chan_t *chan)
{
    (void)chan;
    emit("BILLING_PULSE");
}

static openr2_event_interface_t g_events = {
    .on_call_init = on_call_init,
    .on_call_offered = on_call_offered,
    .on_call_accepted = on_call_accepted,
    .on_call_answered = on_call_answered,
    .on_call_disconnect = on_call_disconnect,
    .on_call_end = on_call_end,
    .on_call_read = on_call_read,
    .on_hardware_alarm = on_hardware_alarm,
    .on_os_error = on_os_error,
    .on_protocol_error = on_protocol_error,
    .on_line_blocked = on_line_blocked,
    .on_line_idle = on_line_idle,
    .on_context_log = on_context_log,
    .on_dnis_digit_received = on_dnis_digit,
    .on_ani_digit_received = on_ani_digit,
    .on_billing_pulse_received = on_billing_pulse,
};

/* ------------------------------------------------------------- commands */

static const struct { const char *name; openr2_variant_t v; } variants[] = {
    {"AR", OR2_VAR_ARGENTINA}, {"BR", OR2_VAR_BRAZIL}, {"CN", OR2_VAR_CHINA},
    {"CZ", OR2_VAR_CZECH}, {"CO", OR2_VAR_COLOMBIA}, {"EC", OR2_VAR_ECUADOR},
    {"ID", OR2_VAR_INDONESIA}, {"ITU", OR2_VAR_ITU}, {"MX", OR2_VAR_MEXICO},
    {"PH", OR2_VAR_PHILIPPINES}, {"VE", OR2_VAR_VENEZUELA},
};

static const struct { const char *name; openr2_call_disconnect_cause_t c; } causes[] = {
    {"busy", OR2_CAUSE_BUSY_NUMBER}, {"congestion", OR2_CAUSE_NETWORK_CONGESTION},
    {"unallocated", OR2_CAUSE_UNALLOCATED_NUMBER}, {"out_of_order", OR2_CAUSE_OUT_OF_ORDER},
    {"unspecified", OR2_CAUSE_UNSPECIFIED}, {"no_answer", OR2_CAUSE_NO_ANSWER},
    {"normal", OR2_CAUSE_NORMAL_CLEARING}, {"collect_rejected", OR2_CAUSE_COLLECT_CALL_REJECTED},
    {"forced", OR2_CAUSE_FORCED_RELEASE}, {"number_changed", OR2_CAUSE_NUMBER_CHANGED},
};

static int parse_cause(const char *s, openr2_call_disconnect_cause_t *out)
{
    size_t i;

    if (!s) {
        *out = OR2_CAUSE_NORMAL_CLEARING;
        return 0;
    }
    for (i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
        if (!strcasecmp(s, causes[i].name)) {
            *out = causes[i].c;
            return 0;
        }
    return -1;
}

static int parse_category(const char *s, openr2_calling_party_category_t *out)
{
    static const struct { const char *name; openr2_calling_party_category_t c; } cats[] = {
        {"national", OR2_CALLING_PARTY_CATEGORY_NATIONAL_SUBSCRIBER},
        {"national_priority", OR2_CALLING_PARTY_CATEGORY_NATIONAL_PRIORITY_SUBSCRIBER},
        {"international", OR2_CALLING_PARTY_CATEGORY_INTERNATIONAL_SUBSCRIBER},
        {"international_priority", OR2_CALLING_PARTY_CATEGORY_INTERNATIONAL_PRIORITY_SUBSCRIBER},
        {"collect", OR2_CALLING_PARTY_CATEGORY_COLLECT_CALL},
        {"test", OR2_CALLING_PARTY_CATEGORY_TEST_EQUIPMENT},
    };
    size_t i;

    for (i = 0; i < sizeof(cats) / sizeof(cats[0]); i++)
        if (!strcasecmp(s, cats[i].name)) {
            *out = cats[i].c;
            return 0;
        }
    return -1;
}

static void status(void)
{
    char tx[5], rx[5], c[96], r[96], m[96], a[64], d[64];

    abcd_str(g_txbits < 0 ? 0 : g_txbits, tx);
    abcd_str(g_rxbits, rx);
    emit("STATUS dir=%s call=%s r2=%s mf=%s tx_abcd=%s rx_abcd=%s ani=%s dnis=%s "
         "tx_audio=%lu rx_audio=%lu tx_cas=%lu rx_cas=%lu",
         openr2_chan_get_direction(g_chan) == OR2_DIR_FORWARD ? "forward" :
         openr2_chan_get_direction(g_chan) == OR2_DIR_BACKWARD ? "backward" : "stopped",
         tok(openr2_chan_get_call_state_string(g_chan), c, sizeof(c)),
         tok(openr2_chan_get_r2_state_string(g_chan), r, sizeof(r)),
         tok(openr2_chan_get_mf_state_string(g_chan), m, sizeof(m)), tx, rx,
         tok(openr2_chan_get_ani(g_chan), a, sizeof(a)),
         tok(openr2_chan_get_dnis(g_chan), d, sizeof(d)),
         g_tx_audio, g_rx_audio, g_tx_cas, g_rx_cas);
}

static int run_command(char *line)
{
    char *argv[8];
    int argc = 0, rc;
    char *save = NULL, *t;
    openr2_call_disconnect_cause_t cause;

    for (t = strtok_r(line, " \t\r\n", &save); t && argc < 8; t = strtok_r(NULL, " \t\r\n", &save))
        argv[argc++] = t;
    if (argc == 0)
        return 0;
    if (!strcmp(argv[0], "quit"))
        return 1;
    if (!strcmp(argv[0], "call")) {
        openr2_calling_party_category_t cat = g_category;
        const char *dnis = argc > 1 ? argv[1] : "";
        const char *ani = argc > 2 ? argv[2] : "";
        if (argc < 2 || (argc > 3 && parse_category(argv[3], &cat))) {
            emit("ERROR cmd=call text=usage:_call_DNIS_[ANI|-]_[CATEGORY]");
            return 0;
        }
        if (!strcmp(ani, "-"))
            ani = "";
        if (!strcmp(dnis, "-"))
            dnis = "";
        rc = openr2_chan_make_call(g_chan, ani, dnis, cat);
        emit(rc ? "ERROR cmd=call text=openr2_chan_make_call_failed" : "OK cmd=call");
    } else if (!strcmp(argv[0], "accept")) {
        openr2_call_mode_t mode = OR2_CALL_NO_CHARGE;
        if (argc > 1 && !strcmp(argv[1], "charge"))
            mode = OR2_CALL_WITH_CHARGE;
        rc = openr2_chan_accept_call(g_chan, mode);
        emit(rc ? "ERROR cmd=accept text=openr2_chan_accept_call_failed" : "OK cmd=accept");
    } else if (!strcmp(argv[0], "answer")) {
        rc = openr2_chan_answer_call(g_chan);
        emit(rc ? "ERROR cmd=answer text=openr2_chan_answer_call_failed" : "OK cmd=answer");
    } else if (!strcmp(argv[0], "hangup")) {
        if (parse_cause(argc > 1 ? argv[1] : NULL, &cause)) {
            emit("ERROR cmd=hangup text=unknown_cause");
            return 0;
        }
        rc = openr2_chan_disconnect_call(g_chan, cause);
        emit(rc ? "ERROR cmd=hangup text=openr2_chan_disconnect_call_failed" : "OK cmd=hangup");
    } else if (!strcmp(argv[0], "block")) {
        rc = openr2_chan_set_blocked(g_chan);
        emit(rc ? "ERROR cmd=block text=failed" : "OK cmd=block");
    } else if (!strcmp(argv[0], "idle")) {
        rc = openr2_chan_set_idle(g_chan);
        emit(rc ? "ERROR cmd=idle text=failed" : "OK cmd=idle");
    } else if (!strcmp(argv[0], "status")) {
        status();
        emit("OK cmd=status");
    } else {
        char b[64];
        emit("ERROR cmd=%s text=unknown_command", tok(argv[0], b, sizeof(b)));
    }
    return 0;
}

static void run_deferred(void)
{
    if (g_pending_accept) {
        g_pending_accept = 0;
        if (openr2_chan_accept_call(g_chan, OR2_CALL_NO_CHARGE))
            emit("ERROR text=auto_accept_failed");
    }
    if (g_pending_answer) {
        g_pending_answer = 0;
        if (openr2_chan_answer_call(g_chan))
            emit("ERROR text=auto_answer_failed");
    }
    if (g_pending_clear) {
        g_pending_clear = 0;
        if (openr2_chan_disconnect_call(g_chan, OR2_CAUSE_NORMAL_CLEARING))
            emit("ERROR text=auto_clear_failed");
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: r2_peer --fd N [--variant ITU|CN|BR|MX|...] [--auto-accept] "
            "[--auto-answer] [--auto-clear] [--max-ani N] [--max-dnis N] "
            "[--category NAME] [--debug]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    openr2_variant_t variant = OR2_VAR_ITU;
    const char *variant_name = "ITU";
    int max_ani = 10, max_dnis = 4, i;
    char line[512];
    size_t line_len = 0;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--fd") && i + 1 < argc) {
            g_sock = atoi(argv[++i]);
        } else if (!strcmp(a, "--variant") && i + 1 < argc) {
            size_t k;
            variant_name = argv[++i];
            variant = OR2_VAR_UNKNOWN;
            for (k = 0; k < sizeof(variants) / sizeof(variants[0]); k++)
                if (!strcasecmp(variant_name, variants[k].name))
                    variant = variants[k].v;
            if (variant == OR2_VAR_UNKNOWN) {
                fprintf(stderr, "r2_peer: unknown variant %s\n", variant_name);
                return 2;
            }
        } else if (!strcmp(a, "--auto-accept")) {
            g_auto_accept = 1;
        } else if (!strcmp(a, "--auto-answer")) {
            g_auto_answer = 1;
        } else if (!strcmp(a, "--auto-clear")) {
            g_auto_clear = 1;
        } else if (!strcmp(a, "--max-ani") && i + 1 < argc) {
            max_ani = atoi(argv[++i]);
        } else if (!strcmp(a, "--max-dnis") && i + 1 < argc) {
            max_dnis = atoi(argv[++i]);
        } else if (!strcmp(a, "--category") && i + 1 < argc) {
            if (parse_category(argv[++i], &g_category))
                usage();
        } else if (!strcmp(a, "--debug")) {
            g_debug = 1;
        } else {
            usage();
        }
    }
    if (g_sock < 0)
        usage();

    /* The channel fd: any real descriptor will do, nothing reaches the kernel. */
    g_chanfd = open("/dev/null", O_RDWR);
    if (g_chanfd < 0) {
        perror("open /dev/null");
        return 1;
    }
    g_ctx = openr2_context_new(NULL, &g_events, NULL, variant, max_ani, max_dnis);
    if (!g_ctx) {
        emit("ERROR text=openr2_context_new_failed");
        return 1;
    }
    openr2_context_set_log_level(g_ctx, g_debug ? OR2_LOG_ALL : OR2_LOG_NOTHING);
    g_chan = openr2_chan_new_from_fd(g_ctx, g_chanfd, NULL, NULL);
    if (!g_chan) {
        emit("ERROR text=openr2_chan_new_from_fd_failed:%s",
             openr2_context_error_string(openr2_context_get_last_error(g_ctx)));
        return 1;
    }
    openr2_chan_set_logging_func(g_chan, on_chan_log);
    openr2_chan_set_log_level(g_chan, g_debug ? OR2_LOG_ALL : OR2_LOG_NOTHING);
    openr2_chan_disable_call_files(g_chan);
    openr2_chan_enable_read(g_chan);
    emit("READY variant=%s fd=%d pid=%d max_ani=%d max_dnis=%d", variant_name, g_sock,
         (int)getpid(), max_ani, max_dnis);
    openr2_chan_set_idle(g_chan);

    for (;;) {
        struct pollfd pfd[2] = {{0, POLLIN, 0}, {g_sock, POLLIN, 0}};
        int timeout = openr2_chan_get_time_to_next_event(g_chan), guard;

        if (timeout < 0 || timeout > 100)
            timeout = 100;
        if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents & (POLLHUP | POLLERR))
            break;              /* the test closed its end */
        take_socket_input();
        /* Let openr2 consume everything queued: one read or event per call. */
        for (guard = 0; guard < 64; guard++) {
            int had = g_audio_len > 0 || g_bits_event;
            openr2_chan_process_event(g_chan);
            run_deferred();
            if (!had)
                break;
        }
        if (pfd[0].revents & (POLLIN | POLLHUP)) {
            ssize_t n = syscall(SYS_read, 0, line + line_len, sizeof(line) - 1 - line_len);
            char *nl;
            if (n <= 0)
                break;
            line_len += (size_t)n;
            line[line_len] = '\0';
            while ((nl = strchr(line, '\n')) != NULL) {
                int quit;
                *nl = '\0';
                quit = run_command(line);
                memmove(line, nl + 1, line_len - (size_t)(nl + 1 - line) + 1);
                line_len -= (size_t)(nl + 1 - line);
                if (quit)
                    goto out;
                run_deferred();
            }
            if (line_len >= sizeof(line) - 1)
                line_len = 0;   /* overlong line: drop it */
        }
    }
out:
    openr2_chan_delete(g_chan);
    openr2_context_delete(g_ctx);
    return 0;
}
