/*
 * mvm/buf.h: growable byte buffer with an optional size cap.
 *
 * The buffer is always NUL-terminated after size bytes, so text can be used
 * as a C string. A non-zero `max` makes growth past it fail with
 * MVM_ETOOLARGE (for anything whose size comes from untrusted input).
 */
#ifndef MVM_BUF_H
#define MVM_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
	char *ptr;
	size_t size, asize, max;
} mvm_buf;

#define MVM_BUF_INIT { NULL, 0, 0, 0 }

int mvm_buf_grow(mvm_buf *b, size_t target);
int mvm_buf_put(mvm_buf *b, const void *p, size_t n);
int mvm_buf_puts(mvm_buf *b, const char *s);
int mvm_buf_putc(mvm_buf *b, char c);
int mvm_buf_printf(mvm_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int mvm_buf_vprintf(mvm_buf *b, const char *fmt, va_list ap);
void mvm_buf_clear(mvm_buf *b);
/** Keep the first `size` bytes (no-op when it holds fewer). */
void mvm_buf_truncate(mvm_buf *b, size_t size);
/** Hand the bytes to the caller (who frees them); the buffer is reset. */
char *mvm_buf_detach(mvm_buf *b);
void mvm_buf_dispose(mvm_buf *b);

/** C string view of the buffer; "" when empty. Borrowed. */
const char *mvm_buf_cstr(const mvm_buf *b);

#endif
