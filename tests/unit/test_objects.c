/*
 * test_objects.c: manifest, tree and version encodings round-trip, and
 * every truncation of an encoding is rejected as corrupt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <unistd.h>

#include "object/encode.h"
#include "object/object.h"
#include "util/bytes.h"

static int count_trees(mvm_db *db)
{
	sqlite3_stmt *st = NULL;
	int n = -1;

	if (mvm_db_prepare(&st, db, "SELECT count(*) FROM objects WHERE type = 2") == 0 && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static mvm_manifest *sample_manifest(void)
{
	mvm_manifest *m = calloc(1, sizeof(*m));

	m->size = 300;
	m->format = 1;
	memset(m->sha.id, 7, 32);
	m->nchunks = 2;
	m->chunks = calloc(2, sizeof(*m->chunks));
	m->chunks[0].len = 100;
	m->chunks[1].len = 200;
	memset(m->chunks[1].id.id, 9, 32);
	m->ntensors = 1;
	m->tensors = calloc(1, sizeof(*m->tensors));
	m->tensors[0].name = strdup("w");
	strcpy(m->tensors[0].dtype, "BF16");
	m->tensors[0].ndim = 2;
	m->tensors[0].shape[0] = 10;
	m->tensors[0].shape[1] = 5;
	m->tensors[0].offset = 200;
	m->tensors[0].length = 100;
	return m;
}

static void test_objects__manifest_round_trip_and_truncation(void **state)
{
	mvm_manifest *m = sample_manifest(), *back = NULL;
	mvm_buf enc = MVM_BUF_INIT, again = MVM_BUF_INIT;
	size_t cut;

	(void)state;
	assert_int_equal(mvm_manifest_encode(&enc, m), 0);
	assert_int_equal(mvm_manifest_decode(&back, (unsigned char *)enc.ptr, enc.size), 0);
	assert_int_equal(back->chunk_offsets[1], 100);
	assert_string_equal(back->tensors[0].name, "w");
	assert_int_equal(mvm_manifest_encode(&again, back), 0);
	assert_int_equal(again.size, enc.size);
	assert_memory_equal(again.ptr, enc.ptr, enc.size);
	for (cut = 0; cut < enc.size; cut++) {
		mvm_manifest *bad = NULL;
		assert_int_equal(mvm_manifest_decode(&bad, (unsigned char *)enc.ptr, cut), MVM_ECORRUPT);
	}
	mvm_manifest_free(m);
	mvm_manifest_free(back);
	mvm_buf_dispose(&enc);
	mvm_buf_dispose(&again);
}

static void test_objects__manifest_rejects_lying_lengths(void **state)
{
	mvm_manifest *m = sample_manifest(), *bad = NULL;
	mvm_buf enc = MVM_BUF_INIT;

	(void)state;
	m->chunks[1].len = 201; /* chunks no longer add up to the size */
	assert_int_equal(mvm_manifest_encode(&enc, m), 0);
	assert_int_equal(mvm_manifest_decode(&bad, (unsigned char *)enc.ptr, enc.size), MVM_ECORRUPT);
	m->chunks[1].len = 200;
	m->tensors[0].length = 101; /* tensor runs past the end of the file */
	assert_int_equal(mvm_manifest_encode(&enc, m), 0);
	assert_int_equal(mvm_manifest_decode(&bad, (unsigned char *)enc.ptr, enc.size), MVM_ECORRUPT);
	mvm_manifest_free(m);
	mvm_buf_dispose(&enc);
}

/* A hand-made version-2 entry, so the decoder meets what the encoder refuses to write. */
static void raw_entry(mvm_buf *b, const char *prev, const char *name, unsigned int flags, uint64_t size)
{
	size_t n = strlen(name), shared = 0;
	unsigned char id[32];

	while (prev[shared] && prev[shared] == name[shared])
		shared++;
	memset(id, 5, sizeof(id));
	mvm_put_bufvarint(b, shared);
	mvm_put_bufvarint(b, n - shared);
	mvm_buf_put(b, name + shared, n - shared);
	mvm_buf_putc(b, (char)flags);
	mvm_buf_put(b, id, sizeof(id));
	mvm_put_bufvarint(b, size);
}

/* Decode a hand-made object of the given entries ("name:flags" or "name:flags:size"). */
static int decode_raw(const char *const *names, size_t n)
{
	char prev[64] = "", name[64];
	mvm_buf b = MVM_BUF_INIT;
	mvm_tree *t = NULL;
	size_t i;
	int error;

	mvm_buf_put(&b, "MVMT\2\0\0\0\0\0\0\0", 12);
	mvm_put_le32(b.ptr + 8, (uint32_t)n);
	for (i = 0; i < n; i++) {
		const char *colon = strchr(names[i], ':'), *size = strchr(colon + 1, ':');
		memcpy(name, names[i], (size_t)(colon - names[i]));
		name[colon - names[i]] = '\0';
		raw_entry(&b, prev, name, (unsigned int)atoi(colon + 1), size ? strtoull(size + 1, NULL, 10) : 7);
		strcpy(prev, name);
	}
	error = mvm_tree_decode(&t, (const unsigned char *)b.ptr, b.size);
	mvm_tree_free(t);
	mvm_buf_dispose(&b);
	return error;
}

static void test_objects__tree_names(void **state)
{
	static const char *ok[] = { "a.txt:0", "a:4", "a0:1", "b:2" };
	static const char *bad_name[] = { "a/b:0" }, *dotdot[] = { "..:4" }, *dot[] = { ".:0" };
	static const char *dup[] = { "a:0", "a:0" }, *clash[] = { "a:0", "a.b:0", "a:4" };
	static const char *order[] = { "a:4", "a.txt:0" }, *folder_flags[] = { "a:5" }, *unknown[] = { "a:8" };
	mvm_tree_entry e[3] = { { "a.bin", 0644, { { 0 } }, 1, 0 }, { "b", MVM_TREE_FOLDER, { { 1 } }, 2, 0 },
				{ "c", 0755, { { 2 } }, 3, 0 } };
	mvm_tree t = { e, 3 }, *back = NULL;
	mvm_buf enc = MVM_BUF_INIT;

	(void)state;
	assert_int_equal(decode_raw(ok, 4), 0);
	assert_int_equal(decode_raw(bad_name, 1), MVM_ECORRUPT);
	assert_int_equal(decode_raw(dotdot, 1), MVM_ECORRUPT);
	assert_int_equal(decode_raw(dot, 1), MVM_ECORRUPT);
	assert_int_equal(decode_raw(dup, 2), MVM_ECORRUPT);
	assert_int_equal(decode_raw(clash, 3), MVM_ECORRUPT);
	assert_int_equal(decode_raw(order, 2), MVM_ECORRUPT);
	assert_int_equal(decode_raw(folder_flags, 1), MVM_ECORRUPT);
	assert_int_equal(decode_raw(unknown, 1), MVM_ECORRUPT);

	assert_int_equal(mvm_tree_encode(&enc, &t), 0);
	assert_int_equal(mvm_tree_decode(&back, (unsigned char *)enc.ptr, enc.size), 0);
	assert_int_equal(back->count, 3);
	assert_int_equal(back->entries[1].mode, MVM_TREE_FOLDER);
	mvm_tree_free(back);
	/* the encoder refuses what could not be read back */
	e[1].path = "a.bin";
	assert_int_equal(mvm_tree_encode(&enc, &t), MVM_ERROR); /* "a.bin" file and folder */
	e[1].path = "b/c";
	assert_int_equal(mvm_tree_encode(&enc, &t), MVM_ERROR);
	e[1].path = "..";
	assert_int_equal(mvm_tree_encode(&enc, &t), MVM_ERROR);
	e[1].path = "b";
	e[2].path = "a";
	assert_int_equal(mvm_tree_encode(&enc, &t), MVM_ERROR); /* out of order */
	e[2].path = "c";
	e[2].mode = 0777;
	assert_int_equal(mvm_tree_encode(&enc, &t), MVM_ERROR);
	mvm_buf_dispose(&enc);
}

/* Names sharing prefixes, modes, one-chunk flags, a folder and sizes of every varint length come back. */
static void test_objects__tree_round_trip(void **state)
{
	static const char *names[] = { "a", "a.bin", "ab", "abc", "abd", "b", "b0", "c" };
	static const uint64_t sizes[] = { 0, 127, 128, 16383, 16384, UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX };
	mvm_tree_entry e[8];
	mvm_tree t = { e, 8 }, *back = NULL;
	mvm_buf enc = MVM_BUF_INIT, again = MVM_BUF_INIT;
	size_t i;

	(void)state;
	memset(e, 0, sizeof(e));
	for (i = 0; i < 8; i++) {
		e[i].path = (char *)names[i];
		e[i].mode = i == 4 ? MVM_TREE_FOLDER : i % 3 ? 0644 : 0755;
		e[i].size = sizes[i];
		memset(e[i].manifest.id, (int)(i + 1), MVM_OID_RAWSZ);
		e[i].one_chunk = i >= 1 && i <= 5 && i != 4; /* sizes up to 4 GiB */
	}
	assert_int_equal(mvm_tree_encode(&enc, &t), 0);
	assert_int_equal(mvm_tree_decode(&back, (unsigned char *)enc.ptr, enc.size), 0);
	assert_int_equal(back->count, 8);
	for (i = 0; i < 8; i++) {
		assert_string_equal(back->entries[i].path, names[i]);
		assert_int_equal(back->entries[i].mode, e[i].mode);
		assert_true(back->entries[i].size == sizes[i]);
		assert_int_equal(back->entries[i].one_chunk, e[i].one_chunk);
		assert_memory_equal(back->entries[i].manifest.id, e[i].manifest.id, MVM_OID_RAWSZ);
	}
	assert_int_equal(mvm_tree_encode(&again, back), 0);
	assert_int_equal(again.size, enc.size);
	assert_memory_equal(again.ptr, enc.ptr, enc.size);
	mvm_tree_free(back);
	/* every cut of the encoding is refused */
	for (i = 0; i < enc.size; i++)
		if (mvm_tree_decode(&back, (unsigned char *)enc.ptr, i) != MVM_ECORRUPT)
			fail_msg("a tree cut to %zu of %zu bytes was accepted", i, enc.size);
	/* a one-chunk file cannot be over 4 GiB, nor empty with another id than sha256(""): not written, not read */
	e[6].one_chunk = 1;
	assert_int_equal(mvm_tree_encode(&enc, &t), MVM_ERROR);
	e[6].one_chunk = 0;
	e[0].one_chunk = 1;
	assert_int_equal(mvm_tree_encode(&enc, &t), MVM_ERROR);
	{
		static const char *big[] = { "a:2:4294967296" }, *empty[] = { "a:2:0" }, *max[] = { "a:2:4294967295" };
		assert_int_equal(decode_raw(big, 1), MVM_ECORRUPT);
		assert_int_equal(decode_raw(empty, 1), MVM_ECORRUPT); /* its id is not sha256("") */
		assert_int_equal(decode_raw(max, 1), 0);
	}
	mvm_buf_dispose(&enc);
	mvm_buf_dispose(&again);
}

/* Hand-made encodings: version 1 still reads; bad prefixes do not. */
static void test_objects__tree_old_and_bad(void **state)
{
	static const unsigned char v1[] = "MVMT\1\0\0\0\1\0\0\0" "\3\0a/b" "\xed\1\0\0"
		"\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7\7" "\5\0\0\0\0\0\0\0";
	unsigned char v2[16 + 2 * 37];
	mvm_tree *t = NULL;

	(void)state;
	assert_int_equal(mvm_tree_decode(&t, v1, sizeof(v1) - 1), 0);
	assert_int_equal(t->count, 1);
	assert_string_equal(t->entries[0].path, "a/b");
	assert_int_equal(t->entries[0].mode, 0755);
	assert_int_equal(t->entries[0].size, 5);
	assert_int_equal(t->entries[0].one_chunk, 0);
	mvm_tree_free(t);
	/* version 2: "ab" then shared=1 suffix "c" -> "ac" */
	memset(v2, 9, sizeof(v2));
	memcpy(v2, "MVMT\2\0\0\0\2\0\0\0" "\0\2ab\0", 17);
	memcpy(v2 + 17 + 32, "\3" "\1\1c\0", 5);
	v2[17 + 32 + 5 + 32] = 4;
	assert_int_equal(mvm_tree_decode(&t, v2, 17 + 32 + 5 + 32 + 1), 0);
	assert_string_equal(t->entries[1].path, "ac");
	assert_int_equal(t->entries[1].size, 4);
	mvm_tree_free(t);
	v2[17 + 32 + 1] = 3; /* shares more than the name before it has */
	assert_int_equal(mvm_tree_decode(&t, v2, 17 + 32 + 5 + 32 + 1), MVM_ECORRUPT);
	/* one tree, one encoding: a shorter shared prefix than there is, or an overlong varint, is refused */
	memcpy(v2 + 17 + 32, "\3" "\0\2ac\0", 6);
	memset(v2 + 17 + 32 + 6, 9, 32);
	v2[17 + 32 + 6 + 32] = 4;
	assert_int_equal(mvm_tree_decode(&t, v2, 17 + 32 + 6 + 32 + 1), MVM_ECORRUPT);
	memcpy(v2 + 17 + 32, "\3" "\1\1c\0", 5);
	memset(v2 + 17 + 32 + 5, 9, 32);
	memcpy(v2 + 17 + 32 + 5 + 32, "\x84\0", 2); /* 4 in two bytes */
	assert_int_equal(mvm_tree_decode(&t, v2, 17 + 32 + 5 + 32 + 2), MVM_ECORRUPT);
	v2[17 + 32 + 5 + 32] = 4;
	assert_int_equal(mvm_tree_decode(&t, v2, 17 + 32 + 5 + 32 + 1), 0);
	mvm_tree_free(t);
}

static void test_objects__tree_folders(void **state)
{
	static const char *paths[] = { "a.txt", "a/b/c", "a/b/d", "a/x", "a0", "z/deep/er/file" };
	char dir[] = "/tmp/mvm-folders-XXXXXX", path[64];
	mvm_tree_entry e[6];
	mvm_tree t = { e, 6 }, *back = NULL;
	mvm_oid root, root2;
	mvm_db *db = NULL;
	mvm_buf deep = MVM_BUF_INIT;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/mvm.db", dir);
	assert_int_equal(mvm_db_open(&db, path, 1), 0);
	memset(e, 0, sizeof(e));
	for (i = 0; i < 6; i++) {
		e[i].path = (char *)paths[i];
		e[i].mode = i == 2 ? 0755 : 0644;
		e[i].size = 10 * (i + 1);
		e[i].one_chunk = i % 2;
		memset(e[i].manifest.id, (int)(i + 1), MVM_OID_RAWSZ);
	}
	assert_int_equal(mvm_tree_write(&root, db, &t), 0);
	assert_int_equal(mvm_tree_read(&back, db, &root), 0);
	assert_int_equal(back->count, 6);
	for (i = 0; i < 6; i++) {
		assert_string_equal(back->entries[i].path, paths[i]);
		assert_int_equal(back->entries[i].mode, e[i].mode);
		assert_int_equal(back->entries[i].size, e[i].size);
		assert_int_equal(back->entries[i].one_chunk, e[i].one_chunk);
		assert_memory_equal(back->entries[i].manifest.id, e[i].manifest.id, MVM_OID_RAWSZ);
	}
	mvm_tree_free(back);
	/* a root, "a", "a/b", "z", "z/deep", "z/deep/er"; changing z/deep/er/file writes 4 new ones */
	assert_int_equal(count_trees(db), 6);
	e[5].manifest.id[0] ^= 1;
	assert_int_equal(mvm_tree_write(&root2, db, &t), 0);
	assert_int_equal(count_trees(db), 10);
	/* a file and a folder of one name, a bad mode, and deeper than 2048 folders, are refused */
	e[0].path = "a";
	assert_int_equal(mvm_tree_write(&root2, db, &t), MVM_ERROR);
	e[0].path = "a.txt";
	e[0].mode = MVM_TREE_FOLDER; /* a file may not pass for a folder */
	assert_int_equal(mvm_tree_write(&root2, db, &t), MVM_ERROR);
	for (i = 0; i < 2100; i++)
		mvm_buf_puts(&deep, "d/");
	mvm_buf_puts(&deep, "f");
	t.count = 1;
	e[0].path = deep.ptr;
	assert_int_equal(mvm_tree_write(&root2, db, &t), MVM_ETOOLARGE);
	/* a missing folder object fails the read */
	assert_int_equal(mvm_db_exec(db, "DELETE FROM objects WHERE type = 2 AND length(data) < 60"), 0);
	assert_int_not_equal(mvm_tree_read(&back, db, &root), 0);
	mvm_buf_dispose(&deep);
	mvm_db_free(db);
	unlink(path);
	snprintf(path, sizeof(path), "%s/mvm.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/mvm.db-shm", dir);
	unlink(path);
	rmdir(dir);
}

static void test_objects__version_is_canonical(void **state)
{
	mvm_param params[2] = { { "a", "1" }, { "b", "x y" } };
	mvm_metric metrics[1] = { { "loss", 1.25 } };
	mvm_oid parent;
	mvm_version v, *back = NULL;
	mvm_buf enc = MVM_BUF_INIT, again = MVM_BUF_INIT;

	(void)state;
	memset(&v, 0, sizeof(v));
	memset(parent.id, 3, 32);
	v.parents = &parent;
	v.nparents = 1;
	v.author = "A <a@b>";
	v.time = 1700000000;
	v.message = "msg \"quoted\" \xc3\xa9";
	v.params = params;
	v.nparams = 2;
	v.metrics = metrics;
	v.nmetrics = 1;
	assert_int_equal(mvm_version_encode(&enc, &v), 0);
	assert_int_equal(mvm_version_decode(&back, (unsigned char *)enc.ptr, enc.size), 0);
	assert_string_equal(back->message, v.message);
	assert_int_equal(back->nparams, 2);
	assert_true(back->metrics[0].value == 1.25);
	assert_int_equal(mvm_version_encode(&again, back), 0);
	assert_string_equal(again.ptr, enc.ptr);
	mvm_version_free(back);
	assert_int_equal(mvm_version_decode(&back, (unsigned char *)"{\"format\":1}", 12), MVM_ECORRUPT);
	assert_int_equal(mvm_version_decode(&back, (unsigned char *)"not json", 8), MVM_ECORRUPT);
	mvm_buf_dispose(&enc);
	mvm_buf_dispose(&again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objects__manifest_round_trip_and_truncation),
		cmocka_unit_test(test_objects__manifest_rejects_lying_lengths),
		cmocka_unit_test(test_objects__tree_names),
		cmocka_unit_test(test_objects__tree_folders),
		cmocka_unit_test(test_objects__tree_round_trip),
		cmocka_unit_test(test_objects__tree_old_and_bad),
		cmocka_unit_test(test_objects__version_is_canonical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
