/* NumPy .npy reading and writing for float32 matrices. The header is a
 * Python dict literal; we parse the small subset NumPy writes rather than
 * evaluating anything, and check every field before allocating. */
#include "npy.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* Version 1.0 prefix: magic, two version bytes, 16-bit header length. */
#define NPY_PREFIX_V1 10
#define NPY_ALIGN 64
/* NumPy itself refuses headers over 10000 bytes by default. */
#define NPY_HEADER_MAX 65536u
#define NPY_MAX_DIMS 32
#define CHUNK_ITEMS 2048

struct npy_header {
    int descr_size; /* 4 or 8, 0 while unseen */
    int fortran;    /* 0/1, -1 while unseen */
    int ndim;       /* -1 while unseen */
    uint64_t shape[NPY_MAX_DIMS];
};

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;

    return *(const uint8_t *)&one == 1;
}

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)load_le32(p) | (uint64_t)load_le32(p + 4) << 32;
}

static void store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ---- header dict parser --------------------------------------------------
 * Grammar: '{' (key ':' value ',')* [key ':' value] '}' followed only by
 * spaces and a newline; keys and strings are '...' or "..." without
 * escapes; values are strings, True/False or tuples of integers. */

struct parser {
    const char *p;
    const char *path;
};

static void skip_ws(struct parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
           *ps->p == '\r')
        ps->p++;
}

static enum cld_status bad_header(struct parser *ps, const char *what)
{
    return cld__path_error(CLD_ERR_FORMAT, ps->path,
                           "bad npy header: %s", what);
}

static enum cld_status parse_string(struct parser *ps, char *buf, size_t cap)
{
    char quote = *ps->p;
    size_t n = 0;

    if (quote != '\'' && quote != '"')
        return bad_header(ps, "expected a quoted string");
    ps->p++;
    while (*ps->p && *ps->p != quote) {
        if (*ps->p == '\\' || n + 1 >= cap)
            return bad_header(ps, "unsupported or overlong string");
        buf[n++] = *ps->p++;
    }
    if (*ps->p != quote)
        return bad_header(ps, "unterminated string");
    ps->p++;
    buf[n] = '\0';
    return CLD_OK;
}

static enum cld_status parse_bool(struct parser *ps, int *out)
{
    if (strncmp(ps->p, "True", 4) == 0) {
        ps->p += 4;
        *out = 1;
    } else if (strncmp(ps->p, "False", 5) == 0) {
        ps->p += 5;
        *out = 0;
    } else {
        return bad_header(ps, "fortran_order is not True or False");
    }
    return CLD_OK;
}

static enum cld_status parse_shape(struct parser *ps, struct npy_header *h)
{
    int n = 0;

    if (*ps->p != '(')
        return bad_header(ps, "shape is not a tuple");
    ps->p++;
    for (;;) {
        uint64_t v = 0;

        skip_ws(ps);
        if (*ps->p == ')')
            break;
        if (*ps->p < '0' || *ps->p > '9')
            return bad_header(ps, "shape holds something other than "
                                  "non-negative integers");
        while (*ps->p >= '0' && *ps->p <= '9') {
            if (v > (UINT64_MAX - 9) / 10)
                return bad_header(ps, "shape dimension overflows");
            v = v * 10 + (uint64_t)(*ps->p++ - '0');
        }
        if (*ps->p == 'L') /* Python 2 long suffix */
            ps->p++;
        if (n == NPY_MAX_DIMS)
            return bad_header(ps, "too many dimensions");
        h->shape[n++] = v;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p != ')')
            return bad_header(ps, "shape tuple is malformed");
        break;
    }
    ps->p++;
    h->ndim = n;
    return CLD_OK;
}

static enum cld_status parse_header(const char *path, const char *text,
                                    struct npy_header *h)
{
    struct parser ps = {text, path};
    enum cld_status st;
    char key[32], descr[32];

    h->descr_size = 0;
    h->fortran = -1;
    h->ndim = -1;
    skip_ws(&ps);
    if (*ps.p != '{')
        return bad_header(&ps, "not a dict");
    ps.p++;
    for (;;) {
        skip_ws(&ps);
        if (*ps.p == '}')
            break;
        if ((st = parse_string(&ps, key, sizeof key)) != CLD_OK)
            return st;
        skip_ws(&ps);
        if (*ps.p != ':')
            return bad_header(&ps, "expected ':' after a key");
        ps.p++;
        skip_ws(&ps);
        if (strcmp(key, "descr") == 0 && h->descr_size == 0) {
            if ((st = parse_string(&ps, descr, sizeof descr)) != CLD_OK)
                return st;
            if (strcmp(descr, "<f4") == 0)
                h->descr_size = 4;
            else if (strcmp(descr, "<f8") == 0)
                h->descr_size = 8;
            else if (descr[0] == '>')
                return cld__path_error(CLD_ERR_FORMAT, path,
                                       "big-endian npy data ('%s') not "
                                       "supported", descr);
            else
                return cld__path_error(CLD_ERR_FORMAT, path,
                                       "npy dtype '%s' not supported (need "
                                       "'<f4' or '<f8')", descr);
        } else if (strcmp(key, "fortran_order") == 0 && h->fortran < 0) {
            if ((st = parse_bool(&ps, &h->fortran)) != CLD_OK)
                return st;
        } else if (strcmp(key, "shape") == 0 && h->ndim < 0) {
            if ((st = parse_shape(&ps, h)) != CLD_OK)
                return st;
        } else {
            return cld__path_error(CLD_ERR_FORMAT, path,
                                   "bad npy header: unexpected or repeated "
                                   "key '%s'", key);
        }
        skip_ws(&ps);
        if (*ps.p == ',') {
            ps.p++;
            continue;
        }
        if (*ps.p != '}')
            return bad_header(&ps, "expected ',' or '}'");
        break;
    }
    ps.p++;
    skip_ws(&ps);
    if (*ps.p != '\0')
        return bad_header(&ps, "trailing characters after the dict");
    if (h->descr_size == 0 || h->fortran < 0 || h->ndim < 0)
        return bad_header(&ps, "missing descr, fortran_order or shape");
    return CLD_OK;
}

/* ---- load --------------------------------------------------------------- */

static float to_float(double d)
{
    /* Converting an out-of-range double to float is undefined in C;
     * NumPy gives infinity, so do the same explicitly. */
    if (d > FLT_MAX)
        return INFINITY;
    if (d < -FLT_MAX)
        return -INFINITY;
    return (float)d;
}

static enum cld_status read_data(const char *path, FILE *fp, int itemsize,
                                 struct cld_matrix *m)
{
    size_t count = (size_t)m->rows * m->cols;
    uint8_t buf[CHUNK_ITEMS * 8];
    size_t done = 0;

    if (itemsize == 4 && host_is_little_endian()) {
        if (fread(m->data, 4, count, fp) == count)
            return CLD_OK;
        goto short_read;
    }
    while (done < count) {
        size_t n = count - done < CHUNK_ITEMS ? count - done : CHUNK_ITEMS;

        if (fread(buf, (size_t)itemsize, n, fp) != n)
            goto short_read;
        for (size_t i = 0; i < n; i++) {
            if (itemsize == 4) {
                uint32_t u = load_le32(buf + 4 * i);

                memcpy(&m->data[done + i], &u, 4);
            } else {
                uint64_t u = load_le64(buf + 8 * i);
                double d;

                memcpy(&d, &u, 8);
                m->data[done + i] = to_float(d);
            }
        }
        done += n;
    }
    return CLD_OK;
short_read:
    if (ferror(fp))
        return cld__path_error(CLD_ERR_IO, path, "read error: %s",
                               strerror(errno));
    return cld__path_error(CLD_ERR_FORMAT, path,
                           "truncated npy data (file shrank while reading)");
}

enum cld_status cld_npy_load(const char *path, struct cld_matrix *out)
{
    enum cld_status st;
    uint8_t prefix[12];
    struct npy_header h;
    uint64_t size = 0, header_len, data_off, count;
    char *text = NULL;
    FILE *fp = NULL;
    size_t n, len_bytes;

    if (!out)
        return cld_error_set(CLD_ERR_INVALID, "cld_npy_load: out is NULL");
    memset(out, 0, sizeof *out);
    st = cld_open_read(path, &fp, &size);
    if (st != CLD_OK)
        return st;
    n = fread(prefix, 1, sizeof prefix, fp);
    if (n < sizeof prefix && ferror(fp)) {
        st = cld__path_error(CLD_ERR_IO, path, "read error: %s",
                             strerror(errno));
        goto out;
    }
    if (n == 0) {
        st = cld__path_error(CLD_ERR_FORMAT, path, "empty file");
        goto out;
    }
    if (n < NPY_MAGIC_LEN || memcmp(prefix, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "not an npy file (bad magic)");
        goto out;
    }
    if (n < NPY_MAGIC_LEN + 2) {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "truncated npy header");
        goto out;
    }
    if (prefix[7] != 0 || prefix[6] < 1 || prefix[6] > 3) {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "npy format version %u.%u not supported",
                             prefix[6], prefix[7]);
        goto out;
    }
    if (n < (prefix[6] == 1 ? NPY_PREFIX_V1 : NPY_PREFIX_V1 + 2)) {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "truncated npy header");
        goto out;
    }
    if (prefix[6] == 1) {
        len_bytes = 2;
        header_len = (uint64_t)prefix[8] | (uint64_t)prefix[9] << 8;
    } else {
        len_bytes = 4;
        header_len = load_le32(prefix + 8);
    }
    data_off = NPY_MAGIC_LEN + 2 + len_bytes + header_len;
    if (header_len == 0 || header_len > NPY_HEADER_MAX) {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "bad npy header length %llu",
                             (unsigned long long)header_len);
        goto out;
    }
    if (data_off > size) {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "truncated npy header (%llu bytes claimed, "
                             "file has %llu)",
                             (unsigned long long)header_len,
                             (unsigned long long)size);
        goto out;
    }
    text = malloc((size_t)header_len + 1);
    if (!text) {
        st = cld__path_error(CLD_ERR_NOMEM, path, "out of memory");
        goto out;
    }
    if (fseek(fp, (long)(NPY_MAGIC_LEN + 2 + len_bytes), SEEK_SET) != 0 ||
        fread(text, 1, (size_t)header_len, fp) != header_len) {
        st = cld__path_error(CLD_ERR_IO, path, "cannot read the header");
        goto out;
    }
    text[header_len] = '\0';
    if (strlen(text) != header_len) {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "bad npy header: contains a NUL byte");
        goto out;
    }
    st = parse_header(path, text, &h);
    if (st != CLD_OK)
        goto out;
    if (h.fortran) {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "fortran_order arrays not supported (save "
                             "with np.ascontiguousarray)");
        goto out;
    }
    if (h.ndim != 2) {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "need a 2-D array, got %d dimension%s", h.ndim,
                             h.ndim == 1 ? "" : "s");
        goto out;
    }
    if (h.shape[0] == 0 || h.shape[1] == 0) {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "empty array (shape (%llu, %llu))",
                             (unsigned long long)h.shape[0],
                             (unsigned long long)h.shape[1]);
        goto out;
    }
    if (h.shape[0] > UINT32_MAX || h.shape[1] > UINT32_MAX) {
        st = cld__path_error(CLD_ERR_TOO_LARGE, path,
                             "shape (%llu, %llu) too large",
                             (unsigned long long)h.shape[0],
                             (unsigned long long)h.shape[1]);
        goto out;
    }
    count = h.shape[0] * h.shape[1]; /* both < 2^32: no overflow */
    if (count > (size - data_off) / (uint64_t)h.descr_size) {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "truncated npy data: shape (%llu, %llu) needs "
                             "%llu values of %d bytes, file has %llu bytes "
                             "after the header",
                             (unsigned long long)h.shape[0],
                             (unsigned long long)h.shape[1],
                             (unsigned long long)count, h.descr_size,
                             (unsigned long long)(size - data_off));
        goto out;
    }
    st = cld_matrix_alloc(out, (uint32_t)h.shape[0], (uint32_t)h.shape[1]);
    if (st != CLD_OK) {
        cld_error_prefix("%s", path);
        goto out;
    }
    if (fseek(fp, (long)data_off, SEEK_SET) != 0) {
        st = cld__path_error(CLD_ERR_IO, path, "cannot seek: %s",
                             strerror(errno));
        goto out;
    }
    st = read_data(path, fp, h.descr_size, out);
out:
    free(text);
    fclose(fp);
    if (st != CLD_OK)
        cld_matrix_free(out);
    return st;
}

/* ---- save --------------------------------------------------------------- */

static enum cld_status write_all(const char *path, FILE *fp, const void *p,
                                 size_t n)
{
    if (fwrite(p, 1, n, fp) != n)
        return cld__path_error(CLD_ERR_IO, path, "write error: %s",
                               strerror(errno));
    return CLD_OK;
}

static enum cld_status write_npy(const char *path, FILE *fp,
                                 const struct cld_matrix *m)
{
    char header[256];
    uint8_t prefix[NPY_PREFIX_V1];
    size_t count = (size_t)m->rows * m->cols;
    enum cld_status st;
    int len;
    size_t hlen, pad;

    len = snprintf(header, sizeof header,
                   "{'descr': '<f4', 'fortran_order': False, "
                   "'shape': (%u, %u), }", m->rows, m->cols);
    /* As NumPy does: pad with spaces and end with '\n' so that the data
     * starts on a 64-byte boundary; at least one space is added. */
    hlen = (size_t)len + 1;
    pad = NPY_ALIGN - (NPY_PREFIX_V1 + hlen) % NPY_ALIGN;
    if ((size_t)len + pad + 1 >= sizeof header)
        return cld__path_error(CLD_ERR_INTERNAL, path, "npy header overflow");
    memset(header + len, ' ', pad);
    header[len + pad] = '\n';
    hlen += pad;
    memcpy(prefix, NPY_MAGIC, NPY_MAGIC_LEN);
    prefix[6] = 1;
    prefix[7] = 0;
    prefix[8] = (uint8_t)hlen;
    prefix[9] = (uint8_t)(hlen >> 8);
    if ((st = write_all(path, fp, prefix, sizeof prefix)) != CLD_OK ||
        (st = write_all(path, fp, header, hlen)) != CLD_OK)
        return st;
    if (host_is_little_endian())
        return write_all(path, fp, m->data, count * sizeof(float));
    for (size_t done = 0; done < count;) {
        uint8_t buf[CHUNK_ITEMS * 4];
        size_t n = count - done < CHUNK_ITEMS ? count - done : CHUNK_ITEMS;

        for (size_t i = 0; i < n; i++) {
            uint32_t u;

            memcpy(&u, &m->data[done + i], 4);
            store_le32(buf + 4 * i, u);
        }
        if ((st = write_all(path, fp, buf, n * 4)) != CLD_OK)
            return st;
        done += n;
    }
    return CLD_OK;
}

enum cld_status cld_npy_save(const char *path, const struct cld_matrix *m,
                             bool overwrite)
{
    struct cld_atomic_file af;
    enum cld_status st;

    if (!path || !*path)
        return cld_error_set(CLD_ERR_INVALID, "empty output path");
    if (!m || !m->data || m->rows == 0 || m->cols == 0)
        return cld__path_error(CLD_ERR_INVALID, path,
                               "nothing to save (empty matrix)");
    st = cld_atomic_open(path, overwrite, &af);
    if (st != CLD_OK)
        return st;
    st = write_npy(path, af.fp, m);
    if (st == CLD_OK)
        st = cld_atomic_commit(&af);
    else
        cld_atomic_abort(&af);
    return st;
}
