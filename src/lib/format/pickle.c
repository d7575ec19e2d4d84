/*
 * pickle.c: what a torch.save pickle says of its tensor storages, read
 * by a stack machine that executes nothing (see pickle.h).
 *
 * It follows the opcodes Python's pickler writes (protocols 2 to 5) and
 * keeps only what naming storages needs: strings, ints, tuples, globals,
 * storages (persistent ids ('storage', torch.FloatStorage, KEY, location,
 * numel)), tensors (torch._utils._rebuild_tensor_v2(storage, offset,
 * shape, ...), _rebuild_parameter of one is that tensor), and dicts and
 * lists, each tensor and dict remembering the first dict it went into and
 * under which key (an object's BUILD state counts as its dict); anything
 * else is an opaque value. Names are built from those links once the
 * pickle is read: the keys from the outermost dict down, joined by '.'.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/common.h"
#include "util/bytes.h"
#include "pickle.h"

int mvm_keyref_cmp(const void *a, const void *b)
{
	const mvm_keyref *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);

	if (c || x->len != y->len)
		return c ? c : x->len < y->len ? -1 : 1;
	return 0;
}

int mvm_keyref_cmp_index(const void *a, const void *b)
{
	int c = mvm_keyref_cmp(a, b);

	return c ? c : ((const mvm_keyref *)a)->idx < ((const mvm_keyref *)b)->idx ? -1 : 1;
}

#define VALUES_MAX (1u << 22)   /* ~170 MB of values: a pickle of ~200k tensors */
#define MEMO_MAX (1u << 22)
#define NAME_MAX_LEN 1024

enum { V_OTHER, V_MARK, V_INT, V_STR, V_GLOBAL, V_TUPLE, V_STORAGE, V_TENSOR, V_DICT };

typedef struct {
	unsigned char kind;
	int64_t num;            /* INT: value; STORAGE, TENSOR: index in their arrays; a list's next index */
	uint32_t off, len;      /* STR, GLOBAL's module: bytes of the pickle; TUPLE: items[off, off + len) */
	uint32_t off2, len2;    /* GLOBAL: its name */
	int32_t parent, key;    /* DICT: the dict it was first put in, under `key` (-1: an object's state) */
} pval;

typedef struct {
	const char *dtype;
	uint32_t key_off, key_len;
	uint64_t numel;
	int32_t named_by;       /* the first named tensor using it, or -1 */
} pstorage;

typedef struct {
	uint32_t storage;
	uint64_t offset;
	uint32_t ndim;
	uint64_t shape[MVM_TENSOR_MAXDIM];
	int32_t holder, key;    /* the dict it was first put in, and under which key; -1: none */
	char *name;             /* built from holder and key once the pickle is read */
} ptensor;

typedef struct {
	const unsigned char *p;
	size_t n, pos;
	pval *vals;
	size_t nvals, vals_cap;
	uint32_t *stack;
	size_t depth, stack_cap;
	uint32_t *items;
	size_t nitems, items_cap;
	uint32_t *memo;
	size_t memo_cap, memo_len;
	pstorage *storages;
	size_t nstorages, storages_cap;
	ptensor *tensors;
	size_t ntensors, tensors_cap;
} vm;

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	if (need > SIZE_MAX / 2 / size)
		return -1;
	while (n < need)
		n *= 2;
	if (!(q = realloc(*p, n * size)))
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

/* A new value of `kind`, pushed; its index, or -1. */
static long push_new(vm *v, unsigned char kind)
{
	pval *x;

	if (v->nvals >= VALUES_MAX || grow((void **)&v->vals, &v->vals_cap, v->nvals + 1, sizeof(*v->vals)) < 0 ||
	    grow((void **)&v->stack, &v->stack_cap, v->depth + 1, sizeof(*v->stack)) < 0)
		return -1;
	x = &v->vals[v->nvals];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->parent = x->key = -1;
	v->stack[v->depth++] = (uint32_t)v->nvals;
	return (long)v->nvals++;
}

static int pop(vm *v, uint32_t *out)
{
	if (!v->depth || v->vals[v->stack[v->depth - 1]].kind == V_MARK)
		return -1;
	*out = v->stack[--v->depth];
	return 0;
}

/* The values above the topmost mark: *first is the stack index of the first. */
static int to_mark(vm *v, size_t *first)
{
	size_t i = v->depth;

	while (i > 0 && v->vals[v->stack[i - 1]].kind != V_MARK)
		i--;
	if (!i)
		return -1;
	*first = i;
	return 0;
}

/* Replace the stack from index `from` (a mark, or the first of n items) by a tuple of stack[first, depth). */
static int make_tuple(vm *v, size_t from, size_t first)
{
	size_t n = v->depth - first;
	long t;

	if (grow((void **)&v->items, &v->items_cap, v->nitems + n, sizeof(*v->items)) < 0)
		return -1;
	if (n)
		memcpy(v->items + v->nitems, v->stack + first, n * sizeof(*v->items));
	v->depth = from;
	if ((t = push_new(v, V_TUPLE)) < 0)
		return -1;
	v->vals[t].off = (uint32_t)v->nitems;
	v->vals[t].len = (uint32_t)n;
	v->nitems += n;
	return 0;
}

static int take(vm *v, const unsigned char **out, size_t n)
{
	if (n > v->n - v->pos)
		return -1;
	*out = v->p + v->pos;
	v->pos += n;
	return 0;
}

static int opaque(vm *v)
{
	return push_new(v, V_OTHER) < 0 ? -1 : 0;
}

static int push_str(vm *v, size_t lenbytes)
{
	const unsigned char *l, *s;
	uint64_t n;
	long x;

	if (take(v, &l, lenbytes) < 0)
		return -1;
	n = lenbytes == 1 ? l[0] : lenbytes == 4 ? mvm_le32(l) : mvm_le64(l);
	if (n > v->n - v->pos || take(v, &s, (size_t)n) < 0 || (x = push_new(v, V_STR)) < 0)
		return -1;
	v->vals[x].off = (uint32_t)(s - v->p);
	v->vals[x].len = (uint32_t)n;
	return 0;
}

static int push_int(vm *v, int64_t num)
{
	long x = push_new(v, V_INT);

	if (x < 0)
		return -1;
	v->vals[x].num = num;
	return 0;
}

/* LONG1/LONG4: little-endian two's complement; longer than 8 bytes is opaque. */
static int push_long(vm *v, size_t lenbytes)
{
	const unsigned char *l, *s;
	uint64_t n, u = 0;
	size_t i;

	if (take(v, &l, lenbytes) < 0)
		return -1;
	n = lenbytes == 1 ? l[0] : mvm_le32(l);
	if (n > v->n - v->pos || take(v, &s, (size_t)n) < 0)
		return -1;
	if (n > 8)
		return push_new(v, V_OTHER) < 0 ? -1 : 0;
	for (i = 0; i < n; i++)
		u |= (uint64_t)s[i] << (8 * i);
	if (n && n < 8 && (s[n - 1] & 0x80))
		u |= ~(uint64_t)0 << (8 * n);
	return push_int(v, (int64_t)u);
}

static int text_is(const vm *v, uint32_t off, uint32_t len, const char *s)
{
	return strlen(s) == len && memcmp(v->p + off, s, len) == 0;
}

static int global_is(const vm *v, const pval *g, const char *module, const char *name)
{
	return g->kind == V_GLOBAL && text_is(v, g->off, g->len, module) && text_is(v, g->off2, g->len2, name);
}

/* GLOBAL: "module\nname\n". */
static int push_global(vm *v)
{
	const unsigned char *a = v->p + v->pos, *nl1, *nl2;
	long x;

	if (!(nl1 = memchr(a, '\n', v->n - v->pos)) || !(nl2 = memchr(nl1 + 1, '\n', (size_t)(v->p + v->n - nl1 - 1))))
		return -1;
	v->pos = (size_t)(nl2 + 1 - v->p);
	if ((x = push_new(v, V_GLOBAL)) < 0)
		return -1;
	v->vals[x].off = (uint32_t)(a - v->p);
	v->vals[x].len = (uint32_t)(nl1 - a);
	v->vals[x].off2 = (uint32_t)(nl1 + 1 - v->p);
	v->vals[x].len2 = (uint32_t)(nl2 - nl1 - 1);
	return 0;
}

static int stack_global(vm *v)
{
	uint32_t m, n;
	long x;

	if (pop(v, &n) < 0 || pop(v, &m) < 0 || v->vals[m].kind != V_STR || v->vals[n].kind != V_STR ||
	    (x = push_new(v, V_GLOBAL)) < 0)
		return -1;
	v->vals[x].off = v->vals[m].off;
	v->vals[x].len = v->vals[m].len;
	v->vals[x].off2 = v->vals[n].off;
	v->vals[x].len2 = v->vals[n].len;
	return 0;
}

static int memo_put(vm *v, uint64_t key)
{
	size_t old = v->memo_cap;

	if (!v->depth || v->vals[v->stack[v->depth - 1]].kind == V_MARK || key >= MEMO_MAX ||
	    grow((void **)&v->memo, &v->memo_cap, (size_t)key + 1, sizeof(*v->memo)) < 0)
		return -1;
	if (v->memo_cap > old)
		memset(v->memo + old, 0xff, (v->memo_cap - old) * sizeof(*v->memo));
	v->memo_len += v->memo[key] == UINT32_MAX;
	v->memo[key] = v->stack[v->depth - 1];
	return 0;
}

static int memo_get(vm *v, uint64_t key)
{
	if (key >= v->memo_cap || v->memo[key] == UINT32_MAX ||
	    grow((void **)&v->stack, &v->stack_cap, v->depth + 1, sizeof(*v->stack)) < 0)
		return -1;
	v->stack[v->depth++] = v->memo[key];
	return 0;
}

static const struct {
	const char *type, *dtype;
} storage_types[] = {
	{ "FloatStorage", "F32" },  { "HalfStorage", "F16" },  { "BFloat16Storage", "BF16" },
	{ "DoubleStorage", "F64" }, { "LongStorage", "I64" },  { "IntStorage", "I32" },
	{ "ShortStorage", "I16" },  { "CharStorage", "I8" },   { "ByteStorage", "U8" },
	{ "BoolStorage", "BOOL" },  { "Float8_e4m3fnStorage", "F8_E4M3" }, { "Float8_e5m2Storage", "F8_E5M2" },
};

/* BINPERSID of ('storage', torch.XStorage, key, location, numel): a storage; any other id is opaque. */
static int persistent_load(vm *v)
{
	uint32_t id, *it;
	const pval *t, *ty;
	size_t i;
	long x;

	if (pop(v, &id) < 0)
		return -1;
	t = &v->vals[id];
	if (t->kind != V_TUPLE || t->len != 5)
		return opaque(v);
	it = v->items + t->off;
	if (v->vals[it[0]].kind != V_STR ||
	    !text_is(v, v->vals[it[0]].off, v->vals[it[0]].len, "storage") || v->vals[it[2]].kind != V_STR ||
	    v->vals[it[4]].kind != V_INT || v->vals[it[4]].num < 0)
		return opaque(v);
	ty = &v->vals[it[1]];
	for (i = 0; i < sizeof(storage_types) / sizeof(storage_types[0]); i++)
		if (global_is(v, ty, "torch", storage_types[i].type))
			break;
	if (i == sizeof(storage_types) / sizeof(storage_types[0]))
		return opaque(v); /* a storage of a type we cannot size: its bytes stay plain */
	if (grow((void **)&v->storages, &v->storages_cap, v->nstorages + 1, sizeof(*v->storages)) < 0 ||
	    (x = push_new(v, V_STORAGE)) < 0)
		return -1;
	v->storages[v->nstorages].dtype = storage_types[i].dtype;
	v->storages[v->nstorages].key_off = v->vals[it[2]].off;
	v->storages[v->nstorages].key_len = v->vals[it[2]].len;
	v->storages[v->nstorages].numel = (uint64_t)v->vals[it[4]].num;
	v->storages[v->nstorages].named_by = -1;
	v->vals[x].num = (int64_t)v->nstorages++;
	return 0;
}

/* _rebuild_tensor_v2(storage, offset, shape, ...): a tensor of the storage; anything else is opaque. */
static int rebuild_tensor(vm *v, const pval *args)
{
	const uint32_t *a;
	const pval *st, *shape;
	ptensor *t;
	uint32_t k;
	long x;

	if (args->len < 3)
		return opaque(v);
	a = v->items + args->off;
	st = &v->vals[a[0]];
	shape = &v->vals[a[2]];
	if (st->kind != V_STORAGE || v->vals[a[1]].kind != V_INT || v->vals[a[1]].num < 0 || shape->kind != V_TUPLE ||
	    shape->len > MVM_TENSOR_MAXDIM)
		return opaque(v);
	if (grow((void **)&v->tensors, &v->tensors_cap, v->ntensors + 1, sizeof(*v->tensors)) < 0)
		return -1;
	t = &v->tensors[v->ntensors];
	memset(t, 0, sizeof(*t));
	t->storage = (uint32_t)st->num;
	t->offset = (uint64_t)v->vals[a[1]].num;
	t->ndim = shape->len;
	t->holder = t->key = -1;
	for (k = 0; k < shape->len; k++) {
		const pval *d = &v->vals[v->items[shape->off + k]];
		if (d->kind != V_INT || d->num < 0)
			return opaque(v);
		t->shape[k] = (uint64_t)d->num;
	}
	if ((x = push_new(v, V_TENSOR)) < 0)
		return -1;
	v->vals[x].num = (int64_t)v->ntensors++;
	return 0;
}

static int reduce(vm *v)
{
	uint32_t fn, args;
	const pval *f, *a;

	if (pop(v, &args) < 0 || pop(v, &fn) < 0)
		return -1;
	f = &v->vals[fn];
	a = &v->vals[args];
	if (a->kind == V_TUPLE && (global_is(v, f, "torch._utils", "_rebuild_tensor_v2") ||
				   global_is(v, f, "torch._utils", "_rebuild_tensor")))
		return rebuild_tensor(v, a);
	if (a->kind == V_TUPLE && a->len >= 1 && global_is(v, f, "torch._utils", "_rebuild_parameter") &&
	    v->vals[v->items[a->off]].kind == V_TENSOR) {
		if (grow((void **)&v->stack, &v->stack_cap, v->depth + 1, sizeof(*v->stack)) < 0)
			return -1;
		v->stack[v->depth++] = v->items[a->off]; /* a Parameter is its tensor */
		return 0;
	}
	if (global_is(v, f, "collections", "OrderedDict"))
		return push_new(v, V_DICT) < 0 ? -1 : 0;
	return opaque(v);
}

/*
 * container[key] = value: a tensor or dict remembers the first dict it is
 * put in and the key, from which its name is built at the end (building
 * names as dicts nest would copy them once per level).
 */
static int insert(vm *v, uint32_t c, uint32_t key, uint32_t value)
{
	pval *x = &v->vals[value], *k = &v->vals[key];

	if (v->vals[c].kind != V_DICT || (k->kind != V_STR && k->kind != V_INT))
		return 0; /* an object's items, or another kind of key, name nothing */
	if (x->kind == V_TENSOR && v->tensors[x->num].holder < 0) {
		v->tensors[x->num].holder = (int32_t)c;
		v->tensors[x->num].key = (int32_t)key;
	} else if (x->kind == V_DICT && x->parent < 0 && value != c) {
		x->parent = (int32_t)c;
		x->key = (int32_t)key;
	}
	return 0;
}

/* list.append(value): keyed by the list's next index, which its num keeps. */
static int append(vm *v, uint32_t list, uint32_t value)
{
	long key;

	if (v->vals[list].kind != V_DICT)
		return 0;
	if ((key = push_new(v, V_INT)) < 0)
		return -1;
	v->depth--; /* a key, not a stack value */
	v->vals[key].num = v->vals[list].num++;
	return insert(v, list, (uint32_t)key, value);
}

/* SETITEMS (key, value pairs) or APPENDS (values) of everything above the mark, into the value below it. */
static int insert_many(vm *v, int pairs)
{
	size_t first, i;
	uint32_t c;

	if (to_mark(v, &first) < 0 || first < 2 || (pairs && (v->depth - first) % 2))
		return -1;
	c = v->stack[first - 2];
	for (i = first; i < v->depth; i += pairs ? 2 : 1)
		if ((pairs ? insert(v, c, v->stack[i], v->stack[i + 1]) : append(v, c, v->stack[i])) < 0)
			return -1;
	v->depth = first - 1;
	return 0;
}

/* TUPLE1-3: the top n values (no mark among them) as a tuple. */
static int small_tuple(vm *v, size_t n)
{
	size_t i;

	if (v->depth < n)
		return -1;
	for (i = v->depth - n; i < v->depth; i++)
		if (v->vals[v->stack[i]].kind == V_MARK)
			return -1;
	return make_tuple(v, v->depth - n, v->depth - n);
}

static int dup_top(vm *v)
{
	if (!v->depth || v->vals[v->stack[v->depth - 1]].kind == V_MARK ||
	    grow((void **)&v->stack, &v->stack_cap, v->depth + 1, sizeof(*v->stack)) < 0)
		return -1;
	v->stack[v->depth] = v->stack[v->depth - 1];
	v->depth++;
	return 0;
}

/* Drop everything from the topmost mark on; `opaque` pushes an opaque value in its place. */
static int drop_to_mark(vm *v, int opaque)
{
	size_t first;

	if (to_mark(v, &first) < 0)
		return -1;
	v->depth = first - 1;
	return opaque && push_new(v, V_OTHER) < 0 ? -1 : 0;
}

static int pop_n(vm *v, int n)
{
	uint32_t x;

	while (n-- > 0)
		if (pop(v, &x) < 0)
			return -1;
	return 0;
}

static int set_item(vm *v)
{
	uint32_t key, value;

	if (pop(v, &value) < 0 || pop(v, &key) < 0 || !v->depth)
		return -1;
	return insert(v, v->stack[v->depth - 1], key, value);
}

static int append_top(vm *v)
{
	uint32_t value;

	if (pop(v, &value) < 0 || !v->depth)
		return -1;
	return append(v, v->stack[v->depth - 1], value);
}

static int skip(vm *v, size_t n)
{
	const unsigned char *a;

	return take(v, &a, n);
}

static int int_arg(vm *v, size_t n)
{
	const unsigned char *a;

	if (take(v, &a, n) < 0)
		return -1;
	return push_int(v, n == 1 ? a[0] : n == 2 ? mvm_le16(a) : (int32_t)mvm_le32(a));
}

static int memo_arg(vm *v, size_t n, int put)
{
	const unsigned char *a;
	uint64_t key;

	if (take(v, &a, n) < 0)
		return -1;
	key = n == 1 ? a[0] : mvm_le32(a);
	return put ? memo_put(v, key) : memo_get(v, key);
}

/*
 * BUILD: the state (an object's attributes) goes into the object, and with
 * it the tensors named inside it, so a whole pickled module names its
 * weights "_modules.fc._parameters.weight" once inserted somewhere.
 */
static int build(vm *v)
{
	uint32_t state, obj;
	pval *st;

	if (pop(v, &state) < 0 || !v->depth)
		return -1;
	obj = v->stack[v->depth - 1];
	st = &v->vals[state];
	if (st->kind != V_DICT || st->parent >= 0 || obj == state ||
	    (v->vals[obj].kind != V_OTHER && v->vals[obj].kind != V_DICT))
		return 0;
	v->vals[obj].kind = V_DICT; /* an object with attributes names like a dict */
	st->parent = (int32_t)obj;
	st->key = -1;               /* attributes add no key of their own */
	return 0;
}

/* One opcode; *stop at STOP. Anything unknown or out of place is -1. */
static int step(vm *v, unsigned char op, int *stop)
{
	switch (op) {
	case 0x80: return skip(v, 1);                      /* PROTO */
	case 0x95: return skip(v, 8);                      /* FRAME */
	case '}': case ']': return push_new(v, V_DICT) < 0 ? -1 : 0; /* EMPTY_DICT, EMPTY_LIST */
	case ')': return push_new(v, V_TUPLE) < 0 ? -1 : 0;
	case 'N': case 0x88: case 0x89: case 0x8f: return opaque(v); /* None, True, False, EMPTY_SET */
	case 'G': return skip(v, 8) < 0 ? -1 : opaque(v); /* BINFLOAT */
	case '(': return push_new(v, V_MARK) < 0 ? -1 : 0;
	case 't': {
		size_t first;
		return to_mark(v, &first) < 0 ? -1 : make_tuple(v, first - 1, first);
	}
	case 0x85: case 0x86: case 0x87: return small_tuple(v, (size_t)(op - 0x84));
	case 'X': case 'T': case 'B': return push_str(v, 4);
	case 0x8c: case 'U': case 'C': return push_str(v, 1);
	case 0x8d: case 0x8e: case 0x96: return push_str(v, 8);
	case 'K': return int_arg(v, 1);
	case 'M': return int_arg(v, 2);
	case 'J': return int_arg(v, 4);
	case 0x8a: return push_long(v, 1);
	case 0x8b: return push_long(v, 4);
	case 'c': return push_global(v);
	case 0x93: return stack_global(v);
	case 'q': return memo_arg(v, 1, 1);
	case 'r': return memo_arg(v, 4, 1);
	case 0x94: return memo_put(v, v->memo_len); /* MEMOIZE: the next key */
	case 'h': return memo_arg(v, 1, 0);
	case 'j': return memo_arg(v, 4, 0);
	case 'Q': return persistent_load(v);
	case 'R': return reduce(v);
	case 0x81: return pop_n(v, 2) < 0 ? -1 : opaque(v); /* NEWOBJ */
	case 0x92: return pop_n(v, 3) < 0 ? -1 : opaque(v); /* NEWOBJ_EX */
	case 'b': return build(v);
	case 's': return set_item(v);
	case 'u': return insert_many(v, 1);
	case 'a': return append_top(v);
	case 'e': return insert_many(v, 0);
	case 0x90: return drop_to_mark(v, 0);              /* ADDITEMS */
	case 0x91: return drop_to_mark(v, 1);              /* FROZENSET */
	case '0': return pop_n(v, 1);
	case '1': return drop_to_mark(v, 0);               /* POP_MARK */
	case '2': return dup_top(v);
	case '.': *stop = 1; return 0;
	default: return -1;
	}
}

static void vm_dispose(vm *v)
{
	size_t i;

	for (i = 0; i < v->ntensors; i++)
		free(v->tensors[i].name);
	free(v->tensors);
	free(v->storages);
	free(v->vals);
	free(v->stack);
	free(v->items);
	free(v->memo);
}

static int run(vm *v)
{
	int stop = 0;

	while (!stop) {
		if (v->pos >= v->n || step(v, v->p[v->pos++], &stop) < 0)
			return -1;
	}
	return 0;
}

/*
 * A storage is loaded once per tensor using it: keep the first of each
 * key (the others are marked with dtype NULL) and point every tensor at it.
 */
static int dedupe_storages(vm *v)
{
	mvm_keyref *order;
	uint32_t *to;
	size_t i;

	if (!v->nstorages)
		return 0;
	if (!(order = malloc(v->nstorages * sizeof(*order))) || !(to = malloc(v->nstorages * sizeof(*to)))) {
		free(order);
		return -1;
	}
	for (i = 0; i < v->nstorages; i++) {
		order[i].p = v->p + v->storages[i].key_off;
		order[i].len = v->storages[i].key_len;
		order[i].idx = i;
	}
	qsort(order, v->nstorages, sizeof(*order), mvm_keyref_cmp_index);
	for (i = 0; i < v->nstorages; i++) {
		pstorage *a = &v->storages[order[i].idx];
		const pstorage *first;

		to[order[i].idx] = (uint32_t)order[i].idx;
		if (!i || mvm_keyref_cmp(&order[i - 1], &order[i]))
			continue;
		to[order[i].idx] = to[order[i - 1].idx];
		first = &v->storages[to[order[i].idx]];
		if (strcmp(first->dtype, a->dtype) || first->numel != a->numel)
			break; /* one storage, two types */
		a->dtype = NULL;
	}
	for (size_t k = 0; i == v->nstorages && k < v->ntensors; k++)
		v->tensors[k].storage = to[v->tensors[k].storage];
	free(order);
	free(to);
	return i == v->nstorages ? 0 : -1;
}

#define NAME_DEPTH 64

/* Append key value k's text to the name being built (a string or an int). */
static int put_key(char *name, size_t *len, const vm *v, uint32_t k)
{
	const pval *x = &v->vals[k];
	char num[24];
	const char *s = num;
	size_t n;

	if (x->kind == V_STR) {
		s = (const char *)v->p + x->off;
		n = x->len;
		if (memchr(s, '\0', n))
			return -1;
	} else {
		n = (size_t)snprintf(num, sizeof(num), "%" PRId64, x->num);
	}
	if (*len + n + 1 > NAME_MAX_LEN)
		return -1;
	memcpy(name + *len, s, n);
	*len += n;
	return 0;
}

/*
 * Tensor t's name: the keys from the outermost dict down, joined by '.';
 * NULL when it was put in no dict, the name would be empty or too long,
 * or the dicts nest too deep (or in a loop).
 */
static char *tensor_name(const vm *v, const ptensor *t)
{
	uint32_t keys[NAME_DEPTH];
	size_t depth = 0, len = 0, steps = 0;
	char name[NAME_MAX_LEN];
	int32_t c;

	if (t->holder < 0)
		return NULL;
	keys[depth++] = (uint32_t)t->key;
	for (c = t->holder; v->vals[c].parent >= 0; c = v->vals[c].parent) {
		if (++steps > 2 * NAME_DEPTH)
			return NULL; /* too deep, or a loop */
		if (v->vals[c].key < 0)
			continue; /* an object's attributes */
		if (depth == NAME_DEPTH)
			return NULL;
		keys[depth++] = (uint32_t)v->vals[c].key;
	}
	while (depth-- > 0)
		if (put_key(name, &len, v, keys[depth]) < 0 || (depth && (len + 1 >= NAME_MAX_LEN || !(name[len++] = '.'))))
			return NULL;
	name[len] = '\0';
	return len ? strdup(name) : NULL;
}

/* Each storage's name: that of the first tensor using it that has one, in the order tensors were built. */
static int name_storages(vm *v)
{
	size_t i;

	for (i = 0; i < v->ntensors; i++) {
		pstorage *st = &v->storages[v->tensors[i].storage];
		if (st->named_by >= 0 || v->tensors[i].holder < 0)
			continue;
		if ((v->tensors[i].name = tensor_name(v, &v->tensors[i])))
			st->named_by = (int32_t)i;
	}
	return 0;
}

/* The storages, each key once, in the order they were loaded, with their names and shapes. */
static int export_storages(mvm_torch_storage **out, size_t *count, vm *v)
{
	mvm_torch_storage *s = calloc(v->nstorages ? v->nstorages : 1, sizeof(*s));
	size_t k;

	if (!s)
		return -1;
	*out = s;
	*count = 0;
	for (k = 0; k < v->nstorages; k++) {
		pstorage *st = &v->storages[k];
		ptensor *pt = st->named_by >= 0 ? &v->tensors[st->named_by] : NULL;
		mvm_torch_storage *o;
		uint64_t numel;

		if (!st->dtype) /* another load of a storage kept before */
			continue;
		o = &s[(*count)++];
		o->dtype = st->dtype;
		o->key = v->p + st->key_off;
		o->key_len = st->key_len;
		o->numel = st->numel;
		if (!pt)
			continue;
		o->name = pt->name; /* moves */
		pt->name = NULL;
		if (pt->offset == 0 && mvm_shape_elements(&numel, pt->shape, pt->ndim) == 0 && numel == st->numel) {
			o->ndim = pt->ndim;
			memcpy(o->shape, pt->shape, sizeof(o->shape));
		}
	}
	return 0;
}

int mvm_pickle_storages(mvm_torch_storage **out, size_t *count, const unsigned char *p, size_t n)
{
	vm v;
	int error;

	*out = NULL;
	*count = 0;
	memset(&v, 0, sizeof(v));
	v.p = p;
	v.n = n;
	error = run(&v) < 0 || dedupe_storages(&v) < 0 || name_storages(&v) < 0 || export_storages(out, count, &v) < 0
		? -1 : 0;
	vm_dispose(&v);
	if (error) {
		mvm_pickle_storages_free(*out, *count);
		*out = NULL;
		*count = 0;
	}
	return error;
}

void mvm_pickle_storages_free(mvm_torch_storage *s, size_t count)
{
	size_t k;

	for (k = 0; s && k < count; k++)
		free(s[k].name);
	free(s);
}
