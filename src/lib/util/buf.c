/*
 * buf.c: the growable byte buffer (include/mvm/buf.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/buf.h"
#include "mvm/common.h"

int mvm_buf_grow(mvm_buf *b, size_t target)
{
	size_t want;
	char *p;

	if (target < SIZE_MAX)
		target++; /* room for the NUL */
	if (b->max && target > b->max + 1)
		return mvm_error_set(MVM_ETOOLARGE, "buffer limit of %zu bytes exceeded", b->max);
	if (target <= b->asize)
		return 0;
	want = b->asize < 64 ? 64 : b->asize;
	while (want < target) {
		if (want > SIZE_MAX / 3 * 2)
			return mvm_error_set(MVM_ETOOLARGE, "buffer size overflow");
		want += want / 2;
	}
	if (b->max && want > b->max + 1)
		want = b->max + 1;
	if (!(p = realloc(b->ptr, want)))
		return mvm_error_set(MVM_ERROR, "out of memory (%zu bytes)", want);
	b->ptr = p;
	b->asize = want;
	return 0;
}

int mvm_buf_put(mvm_buf *b, const void *p, size_t n)
{
	int error;

	if (n > SIZE_MAX - b->size - 1)
		return mvm_error_set(MVM_ETOOLARGE, "buffer size overflow");
	if ((error = mvm_buf_grow(b, b->size + n)) < 0)
		return error;
	if (n)
		memcpy(b->ptr + b->size, p, n);
	b->size += n;
	b->ptr[b->size] = '\0';
	return 0;
}

int mvm_buf_puts(mvm_buf *b, const char *s)
{
	return mvm_buf_put(b, s, strlen(s));
}

int mvm_buf_putc(mvm_buf *b, char c)
{
	return mvm_buf_put(b, &c, 1);
}

int mvm_buf_vprintf(mvm_buf *b, const char *fmt, va_list ap)
{
	va_list copy;
	int n, error;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return mvm_error_set(MVM_ERROR, "bad format string");
	if ((error = mvm_buf_grow(b, b->size + (size_t)n)) < 0)
		return error;
	vsnprintf(b->ptr + b->size, (size_t)n + 1, fmt, ap);
	b->size += (size_t)n;
	return 0;
}

int mvm_buf_printf(mvm_buf *b, const char *fmt, ...)
{
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = mvm_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return error;
}

void mvm_buf_clear(mvm_buf *b)
{
	mvm_buf_truncate(b, 0);
}

void mvm_buf_truncate(mvm_buf *b, size_t size)
{
	if (size < b->size)
		b->size = size;
	if (b->ptr)
		b->ptr[b->size] = '\0';
}

char *mvm_buf_detach(mvm_buf *b)
{
	char *p = b->ptr;

	if (!p)
		p = calloc(1, 1);
	b->ptr = NULL;
	b->size = b->asize = 0;
	return p;
}

void mvm_buf_dispose(mvm_buf *b)
{
	if (!b)
		return;
	free(b->ptr);
	b->ptr = NULL;
	b->size = b->asize = 0;
}

const char *mvm_buf_cstr(const mvm_buf *b)
{
	return b->ptr ? b->ptr : "";
}
