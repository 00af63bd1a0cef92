/*
 * Conference mixer: N members, each hearing the sum of the others and not
 * itself, in linear with saturation at the 16-bit limits. What a member
 * does is a set of flags, so that the CTI's three-way call, supervisor
 * monitor, whisper and barge are only memberships:
 *   CONF_MEMBER  (TALK | HEAR)     an ordinary party; barge-in joins so
 *   CONF_MONITOR (HEAR)            listen-only: hears everyone, heard by none
 *   CONF_WHISPER (with HEAR)       heard only by its target member
 *                                  (conf_set_target), hears everyone
 *   TALK without HEAR              a source only (a prompt, music on hold)
 * Members are slots 0..max_members-1; the caller maps channels to slots.
 */
#ifndef CONF_H
#define CONF_H

#include <stdint.h>

#define CONF_MAX_MEMBERS    64
#define CONF_TALK           0x01    /* heard by the others */
#define CONF_HEAR           0x02    /* hears the mix */
#define CONF_WHISPER        0x04    /* heard by its target only (overrides TALK) */
#define CONF_MEMBER         (CONF_TALK | CONF_HEAR)
#define CONF_MONITOR        CONF_HEAR

typedef struct conf_s conf_t;

/* max_members: 1..CONF_MAX_MEMBERS; NULL on a bad argument. */
conf_t *conf_init(conf_t *s, int max_members);
void conf_release(conf_t *s);
void conf_free(conf_t *s);
int conf_size(void);
/* Join, or change the flags of, slot member. Returns 0, or -1 (bad slot or flags). */
int conf_join(conf_t *s, int member, int flags);
/* Whom a CONF_WHISPER member is heard by (a slot, -1 none). Returns 0 or -1. */
int conf_set_target(conf_t *s, int member, int target);
/* Returns 0, or -1 if member was not in. */
int conf_leave(conf_t *s, int member);
/* Flags of a member, or -1 if not in. */
int conf_flags(const conf_t *s, int member);
int conf_members(const conf_t *s);
/* Mix samples for every member: in[m] is what slot m says (NULL or not a member:
 * silence), out[m] gets what it hears (NULL: not wanted; a member without HEAR
 * gets silence; slots not in are left alone). Outputs must not overlap inputs.
 * Returns samples, or -1 on a bad argument. */
int conf_mix(conf_t *s, const int16_t *const *in, int16_t *const *out, int samples);
/* The same over contiguous blocks: slot m at in + m*stride and out + m*stride. */
int conf_mix_block(conf_t *s, const int16_t *in, int16_t *out, int stride, int samples);

#endif
