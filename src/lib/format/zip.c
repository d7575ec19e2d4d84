/*
 * zip.c: a zip archive's entries from its central directory (see zip.h).
 *
 * The end record is looked for in the last 64 KiB + 22 bytes (its comment
 * may be up to 65535 bytes); a zip64 end record, when its locator sits
 * right before, gives the 64-bit count, size and offset of the directory,
 * and an entry's zip64 extra field its 64-bit sizes and offset. Every
 * count, length and offset is checked against the file before use.
 */
#include <stdlib.h>
#include <string.h>

#include "mvm/common.h"
#include "util/bytes.h"
#include "zip.h"

#define EOCD_SIZE 22
#define EOCD64_SIZE 56
#define LOCATOR_SIZE 20
#define CDH_SIZE 46
#define LOCAL_SIZE 30
#define COMMENT_MAX 65535u
#define DIRECTORY_MAX (64u << 20)

typedef struct {
	uint64_t count, size, offset; /* of the central directory */
} directory;

static int bad(const char *name, const char *what)
{
	return mvm_error_set(MVM_EFORMAT, "%s: zip archive %s", name, what);
}

/* The zip64 end record the locator before `eocd_at` points to, if there is one. */
static int read_zip64(directory *d, const char *name, uint64_t eocd_at, mvm_read_fn read, void *ctx)
{
	unsigned char loc[LOCATOR_SIZE], rec[EOCD64_SIZE];
	uint64_t at;
	int error;

	if (eocd_at < LOCATOR_SIZE)
		return bad(name, "has no zip64 locator");
	if ((error = read(ctx, loc, sizeof(loc), eocd_at - LOCATOR_SIZE)) < 0)
		return error;
	if (mvm_le32(loc) != 0x07064b50)
		return d->size != 0xffffffffu && d->offset != 0xffffffffu ? 0 : bad(name, "has no zip64 locator");
	at = mvm_le64(loc + 8);
	if (at > eocd_at - LOCATOR_SIZE || eocd_at - LOCATOR_SIZE - at < EOCD64_SIZE)
		return bad(name, "has a bad zip64 end record");
	if ((error = read(ctx, rec, sizeof(rec), at)) < 0)
		return error;
	if (mvm_le32(rec) != 0x06064b50)
		return bad(name, "has a bad zip64 end record");
	d->count = mvm_le64(rec + 32);
	d->size = mvm_le64(rec + 40);
	d->offset = mvm_le64(rec + 48);
	return 0;
}

/* Find the end record and, through it, where the central directory is. */
static int find_directory(directory *d, const char *name, uint64_t file_size, mvm_read_fn read, void *ctx)
{
	size_t tail = file_size < EOCD_SIZE + COMMENT_MAX ? (size_t)file_size : EOCD_SIZE + COMMENT_MAX, i;
	unsigned char *buf;
	uint64_t base = file_size - tail;
	int error;

	if (tail < EOCD_SIZE)
		return bad(name, "is too short");
	if (!(buf = malloc(tail)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	if ((error = read(ctx, buf, tail, base)) < 0)
		goto done;
	error = bad(name, "has no end record");
	for (i = tail - EOCD_SIZE + 1; i-- > 0;) {
		const unsigned char *e = buf + i;

		if (mvm_le32(e) != 0x06054b50 || i + EOCD_SIZE + mvm_le16(e + 20) != tail)
			continue;
		mvm_error_clear();
		d->count = mvm_le16(e + 10);
		d->size = mvm_le32(e + 12);
		d->offset = mvm_le32(e + 16);
		error = 0;
		if (d->count == 0xffff || d->size == 0xffffffffu || d->offset == 0xffffffffu)
			error = read_zip64(d, name, base + i, read, ctx); /* none: 65535 entries, as they are */
		if (!error && (d->offset > base + i || d->size > base + i - d->offset))
			error = bad(name, "directory lies outside the file");
		break;
	}
done:
	free(buf);
	if (!error && (d->size > DIRECTORY_MAX || d->count > d->size / CDH_SIZE))
		error = bad(name, "directory is too large or miscounted");
	return error;
}

/* 64-bit sizes and offset from the zip64 extra field, for those the header left at their maximum. */
static int zip64_extra(uint64_t *usize, uint64_t *csize, uint64_t *local, const unsigned char *x, size_t n)
{
	while (n >= 4) {
		size_t id = mvm_le16(x), len = mvm_le16(x + 2), k = 4;

		if (len > n - 4)
			return -1;
		if (id == 1) {
			uint64_t *v[3] = { usize, csize, local };
			size_t j;

			for (j = 0; j < 3; j++) {
				if (*v[j] != 0xffffffffu)
					continue;
				if (k + 8 > 4 + len)
					return -1;
				*v[j] = mvm_le64(x + k);
				k += 8;
			}
			return 0;
		}
		x += 4 + len;
		n -= 4 + len;
	}
	return 0;
}

/* Where an entry's bytes start: after its local header, whose name and extra lengths may differ. */
static int entry_offset(mvm_zip_entry *z, uint64_t local, const char *name, uint64_t file_size, mvm_read_fn read,
			void *ctx)
{
	unsigned char h[LOCAL_SIZE];
	uint64_t at;
	int error;

	if (local > file_size || file_size - local < LOCAL_SIZE)
		return bad(name, "entry has no local header");
	if ((error = read(ctx, h, sizeof(h), local)) < 0)
		return error;
	if (mvm_le32(h) != 0x04034b50)
		return bad(name, "entry has no local header");
	at = local + LOCAL_SIZE + mvm_le16(h + 26) + mvm_le16(h + 28);
	if (at > file_size || z->size > file_size - at)
		return bad(name, "entry lies outside the file");
	z->offset = at;
	return 0;
}

/* Parse central directory record i at p (n bytes left); *used is its length. */
static int parse_record(mvm_zip_entry *z, size_t *used, const unsigned char *p, size_t n, uint64_t *local)
{
	size_t nlen, xlen, clen;
	uint64_t usize, csize;

	if (n < CDH_SIZE || mvm_le32(p) != 0x02014b50)
		return -1;
	nlen = mvm_le16(p + 28);
	xlen = mvm_le16(p + 30);
	clen = mvm_le16(p + 32);
	if (CDH_SIZE + nlen + xlen + clen > n)
		return -1;
	csize = mvm_le32(p + 20);
	usize = mvm_le32(p + 24);
	*local = mvm_le32(p + 42);
	if (zip64_extra(&usize, &csize, local, p + CDH_SIZE + nlen, xlen) < 0 || !(z->name = malloc(nlen + 1)))
		return -1;
	memcpy(z->name, p + CDH_SIZE, nlen);
	z->name[nlen] = '\0';
	z->size = csize;
	z->stored = mvm_le16(p + 10) == 0 && csize == usize && !(mvm_le16(p + 8) & 1) && !memchr(z->name, 0, nlen);
	*used = CDH_SIZE + nlen + xlen + clen;
	return 0;
}

int mvm_zip_entries(mvm_zip_entry **out, size_t *count, const char *name, uint64_t file_size,
		    mvm_read_fn read, void *ctx, int (*want)(const char *entry))
{
	directory d = { 0, 0, 0 };
	unsigned char *cd = NULL;
	mvm_zip_entry *e = NULL;
	size_t i, at = 0, used;
	uint64_t local;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = find_directory(&d, name, file_size, read, ctx)) < 0)
		return error;
	if (!(cd = malloc(d.size ? (size_t)d.size : 1)) || !(e = calloc(d.count ? (size_t)d.count : 1, sizeof(*e)))) {
		error = mvm_error_set(MVM_ERROR, "out of memory");
		goto done;
	}
	if ((error = read(ctx, cd, (size_t)d.size, d.offset)) < 0)
		goto done;
	for (i = 0; i < d.count; i++, at += used) {
		if (parse_record(&e[i], &used, cd + at, (size_t)d.size - at, &local) < 0) {
			error = bad(name, "has a damaged directory record");
			goto done;
		}
		if ((!want || want(e[i].name)) &&
		    (error = entry_offset(&e[i], local, name, file_size, read, ctx)) < 0)
			goto done;
	}
	*out = e;
	*count = (size_t)d.count;
	e = NULL;
done:
	if (e)
		mvm_zip_entries_free(e, (size_t)d.count);
	free(cd);
	return error;
}

void mvm_zip_entries_free(mvm_zip_entry *e, size_t count)
{
	size_t i;

	for (i = 0; e && i < count; i++)
		free(e[i].name);
	free(e);
}
