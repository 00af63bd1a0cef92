/*
 * Conference mixer. Per chunk of CONF_CHUNK samples: the talkers' sum in
 * 32 bits; each hearing member gets that sum less its own voice, plus any
 * whisper aimed at it, clipped to the 16-bit range (the sum of 64 members
 * cannot overflow 32 bits). No allocation after init.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/conf.h"

#define CONF_CHUNK  160

struct conf_s
{
    int max_members;
    int flags[CONF_MAX_MEMBERS];    /* -1: not in */
    int target[CONF_MAX_MEMBERS];
    int allocated;
};

int conf_size(void)
{
    return (int) sizeof(conf_t);
}

conf_t *conf_init(conf_t *s, int max_members)
{
    int allocated = 0, m;

    if (max_members < 1 || max_members > CONF_MAX_MEMBERS)
        return NULL;
    if (s == NULL)
    {
        if ((s = malloc(sizeof(*s))) == NULL)
            return NULL;
        allocated = 1;
    }
    memset(s, 0, sizeof(*s));
    s->allocated = allocated;
    s->max_members = max_members;
    for (m = 0; m < CONF_MAX_MEMBERS; m++)
    {
        s->flags[m] = -1;
        s->target[m] = -1;
    }
    return s;
}

void conf_release(conf_t *s)
{
    (void) s;
}

void conf_free(conf_t *s)
{
    if (s && s->allocated)
        free(s);
}

int conf_join(conf_t *s, int member, int flags)
{
    if (member < 0 || member >= s->max_members)
        return -1;
    if (flags & ~(CONF_TALK | CONF_HEAR | CONF_WHISPER))
        return -1;
    s->flags[member] = flags;
    if (!(flags & CONF_WHISPER))
        s->target[member] = -1;
    return 0;
}

int conf_set_target(conf_t *s, int member, int target)
{
    if (member < 0 || member >= s->max_members || s->flags[member] < 0)
        return -1;
    if (target < -1 || target >= s->max_members || target == member)
        return -1;
    s->target[member] = target;
    return 0;
}

int conf_leave(conf_t *s, int member)
{
    int m;

    if (member < 0 || member >= s->max_members || s->flags[member] < 0)
        return -1;
    s->flags[member] = -1;
    s->target[member] = -1;
    /* whispers aimed at it go nowhere */
    for (m = 0; m < s->max_members; m++)
        if (s->target[m] == member)
            s->target[m] = -1;
    return 0;
}

int conf_flags(const conf_t *s, int member)
{
    if (member < 0 || member >= s->max_members)
        return -1;
    return s->flags[member];
}

int conf_members(const conf_t *s)
{
    int m, n = 0;

    for (m = 0; m < s->max_members; m++)
        n += s->flags[m] >= 0;
    return n;
}

static inline int16_t conf_sat(int32_t v)
{
    v = v > 32767 ? 32767 : v;
    v = v < -32768 ? -32768 : v;
    return (int16_t) v;
}

/* The common case, the two legs of a call: two members who talk and hear, nobody else.
 * Each hears exactly the other (the mix less its own voice), so copy instead of mixing. */
static int conf_cross_connect(const conf_t *s, const int16_t *const *in, int16_t *const *out,
                              int samples)
{
    int m, n = 0, a = -1, b = -1;

    for (m = 0; m < s->max_members; m++)
    {
        if (s->flags[m] < 0)
            continue;
        if (s->flags[m] != CONF_MEMBER || ++n > 2)
            return 0;
        if (a < 0)
            a = m;
        else
            b = m;
    }
    if (n != 2 || in[a] == NULL || in[b] == NULL)
        return 0;
    if (out[a])
        memcpy(out[a], in[b], sizeof(int16_t) * (size_t) samples);
    if (out[b])
        memcpy(out[b], in[a], sizeof(int16_t) * (size_t) samples);
    return 1;
}

int conf_mix(conf_t *s, const int16_t *const *in, int16_t *const *out, int samples)
{
    int32_t sum[CONF_CHUNK], acc[CONF_CHUNK];
    int done, m, w, i;

    if (samples < 0 || in == NULL || out == NULL)
        return -1;
    if (conf_cross_connect(s, in, out, samples))
        return samples;
    for (done = 0; done < samples; done += CONF_CHUNK)
    {
        int n = samples - done < CONF_CHUNK ? samples - done : CONF_CHUNK;

        memset(sum, 0, sizeof(sum));
        for (m = 0; m < s->max_members; m++)
        {
            const int16_t *x = in[m];

            if (s->flags[m] < 0 || !(s->flags[m] & CONF_TALK) || (s->flags[m] & CONF_WHISPER) || x == NULL)
                continue;
            x += done;
            for (i = 0; i < n; i++)
                sum[i] += x[i];
        }
        for (m = 0; m < s->max_members; m++)
        {
            int16_t *y = out[m];
            int f = s->flags[m];

            if (f < 0 || y == NULL)
                continue;
            y += done;
            if (!(f & CONF_HEAR))
            {
                memset(y, 0, sizeof(y[0]) * (size_t) n);
                continue;
            }
            memcpy(acc, sum, sizeof(acc[0]) * (size_t) n);
            if ((f & CONF_TALK) && !(f & CONF_WHISPER) && in[m])
            {
                const int16_t *x = in[m] + done;

                for (i = 0; i < n; i++)
                    acc[i] -= x[i];
            }
            /* whispers aimed at m (rare: a supervisor coaching an agent) */
            for (w = 0; w < s->max_members; w++)
            {
                const int16_t *x = in[w];

                if (s->target[w] != m || s->flags[w] < 0 || !(s->flags[w] & CONF_WHISPER) || x == NULL)
                    continue;
                x += done;
                for (i = 0; i < n; i++)
                    acc[i] += x[i];
            }
            for (i = 0; i < n; i++)
                y[i] = conf_sat(acc[i]);
        }
    }
    return samples;
}

int conf_mix_block(conf_t *s, const int16_t *in, int16_t *out, int stride, int samples)
{
    const int16_t *ins[CONF_MAX_MEMBERS];
    int16_t *outs[CONF_MAX_MEMBERS];
    int m;

    if (in == NULL || out == NULL || stride < samples)
        return -1;
    for (m = 0; m < s->max_members; m++)
    {
        ins[m] = in + (ptrdiff_t) m * stride;
        outs[m] = out + (ptrdiff_t) m * stride;
    }
    return conf_mix(s, ins, outs, samples);
}
