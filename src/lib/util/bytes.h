/*
 * bytes.h: little-endian load/store helpers for on-disk formats.
 */
#ifndef MVM_UTIL_BYTES_H
#define MVM_UTIL_BYTES_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

static inline uint16_t mvm_le16(const void *p)
{
	const unsigned char *b = p;
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t mvm_le32(const void *p)
{
	const unsigned char *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t mvm_le64(const void *p)
{
	const unsigned char *b = p;
	return (uint64_t)mvm_le32(b) | (uint64_t)mvm_le32(b + 4) << 32;
}

static inline void mvm_put_le16(void *p, uint16_t v)
{
	unsigned char *b = p;
	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
}

static inline void mvm_put_le32(void *p, uint32_t v)
{
	unsigned char *b = p;
	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
	b[2] = (unsigned char)(v >> 16);
	b[3] = (unsigned char)(v >> 24);
}

static inline void mvm_put_le64(void *p, uint64_t v)
{
	mvm_put_le32(p, (uint32_t)v);
	mvm_put_le32((unsigned char *)p + 4, (uint32_t)(v >> 32));
}

/*
 * A bounds-checked reader over untrusted bytes: every take fails (and sets
 * `bad`) instead of reading past the end, so decoders check once at the end.
 */
typedef struct {
	const unsigned char *p;
	size_t n, pos;
	int bad;
} mvm_cursor;

static inline const unsigned char *mvm_cursor_take(mvm_cursor *c, size_t n)
{
	const unsigned char *r;

	if (c->bad || n > c->n - c->pos) {
		c->bad = 1;
		return NULL;
	}
	r = c->p + c->pos;
	c->pos += n;
	return r;
}

static inline uint64_t mvm_cursor_u64(mvm_cursor *c)
{
	const unsigned char *p = mvm_cursor_take(c, 8);
	return p ? mvm_le64(p) : 0;
}

static inline uint32_t mvm_cursor_u32(mvm_cursor *c)
{
	const unsigned char *p = mvm_cursor_take(c, 4);
	return p ? mvm_le32(p) : 0;
}

static inline uint16_t mvm_cursor_u16(mvm_cursor *c)
{
	const unsigned char *p = mvm_cursor_take(c, 2);
	return p ? mvm_le16(p) : 0;
}

/*
 * An unsigned LEB128 varint (7 bits a byte, low first) in its one shortest
 * form: no trailing zero byte, at most 10 bytes, nothing past 64 bits.
 */
static inline uint64_t mvm_cursor_varint(mvm_cursor *c)
{
	uint64_t v = 0;
	unsigned int shift;

	for (shift = 0; shift < 70; shift += 7) {
		const unsigned char *p = mvm_cursor_take(c, 1);
		if (!p || (shift == 63 && *p > 1) || (shift && !*p))
			break;
		v |= (uint64_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80))
			return v;
	}
	c->bad = 1;
	return 0;
}

/* Bytes left; decoders compare counts against this before allocating. */
static inline size_t mvm_cursor_left(const mvm_cursor *c)
{
	return c->bad ? 0 : c->n - c->pos;
}

#endif
