/*
 * encode.h: little-endian integers appended to an mvm_buf, for the object
 * encoders. They return 0 or MVM_ERROR so encoders can OR results together.
 */
#ifndef MVM_OBJECT_ENCODE_H
#define MVM_OBJECT_ENCODE_H

#include "mvm/buf.h"
#include "util/bytes.h"

static inline int mvm_put_buf16(mvm_buf *b, uint16_t v)
{
	unsigned char x[2] = { (unsigned char)v, (unsigned char)(v >> 8) };
	return mvm_buf_put(b, x, 2) ? -1 : 0;
}

static inline int mvm_put_buf32(mvm_buf *b, uint32_t v)
{
	unsigned char x[4];
	mvm_put_le32(x, v);
	return mvm_buf_put(b, x, 4) ? -1 : 0;
}

static inline int mvm_put_buf64(mvm_buf *b, uint64_t v)
{
	unsigned char x[8];
	mvm_put_le64(x, v);
	return mvm_buf_put(b, x, 8) ? -1 : 0;
}

static inline int mvm_put_bufvarint(mvm_buf *b, uint64_t v)
{
	unsigned char x[10];
	size_t n = 0;

	do {
		x[n++] = (unsigned char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return mvm_buf_put(b, x, n) ? -1 : 0;
}

#endif
