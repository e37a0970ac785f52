/* Numeric jobs: dense float32 matrix product C = A B, on the host (a
 * cache-blocked loop) or with cl/matmul.cl. The inputs are two loaded
 * matrices, or, when the batch gives none, two random n x n matrices from
 * --seed. Device results match the host to a relative error of 1e-4 of the
 * largest |C| (at least 1): the summation order differs. */
#include <string.h>

#include "job_hooks.h"
#include "jobs.h"

#define MAX_N 16384u

/* Cache blocks of the host loop: a BK x BJ panel of B (128 KiB) stays in
 * L2 while a BI-row band of A and C sweeps over it. */
#define BI 64u
#define BK 128u
#define BJ 256u

/* Work-group side of matmul_tiled (TS in the kernel). */
#define TILE 16u

/* The device tests and the unit tests reach these directly. */

/* splitmix64 (Steele, Lea and Flood 2014): the state advances by a fixed
 * odd constant and each output is a bijective mix of it. Portable and
 * the same on every platform. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A rows x cols matrix of values uniform in [-1, 1), drawn in row-major
 * order from the splitmix64 stream at *state (which advances): the top 24
 * bits of each output, v, give (v - 2^23) / 2^23, exact in float. The
 * caller frees m with cld_matrix_free. */
enum cld_status cld__matmul_random(struct cld_matrix *m, uint32_t rows,
                                   uint32_t cols, uint64_t *state)
{
    enum cld_status st = cld_matrix_alloc(m, rows, cols);
    size_t count = (size_t)rows * cols;

    if (st != CLD_OK)
        return st;
    for (size_t i = 0; i < count; i++) {
        int32_t v = (int32_t)(splitmix64(state) >> 40) - (1 << 23);

        m->data[i] = (float)v * 0x1p-23f;
    }
    return CLD_OK;
}

static enum cld_status check_shapes(const struct cld_matrix *a,
                                    const struct cld_matrix *b)
{
    if (a->cols != b->rows)
        return cld_error_set(CLD_ERR_INVALID,
                             "matmul: A is %ux%u and B is %ux%u; A's "
                             "columns must equal B's rows", a->rows,
                             a->cols, b->rows, b->cols);
    return CLD_OK;
}

/* c[0..n) += a * b[0..n). Written in chunks of 8 with size_t indices so
 * that GCC vectorises it at -O2 too (its -O2 cost model refuses loops that
 * need a scalar epilogue, and unsigned 32-bit indices may wrap): 4 to 5
 * times faster than the plain loop there. */
static void axpy(float *restrict c, const float *restrict b, float a,
                 size_t n)
{
    size_t j = 0;

    for (; j + 8 <= n; j += 8) {
        for (size_t u = 0; u < 8; u++)
            c[j + u] += a * b[j + u];
    }
    for (; j < n; j++)
        c[j] += a * b[j];
}

/* C = A B with a blocked i-k-j loop: the innermost loop runs along rows of
 * B and C, contiguous and vectorisable. The caller frees c. */
enum cld_status cld__matmul_ref(const struct cld_matrix *a,
                                const struct cld_matrix *b,
                                struct cld_matrix *c)
{
    uint32_t m = a->rows, k = a->cols, n = b->cols;
    enum cld_status st;

    if ((st = check_shapes(a, b)) != CLD_OK)
        return st;
    if ((st = cld_matrix_alloc(c, m, n)) != CLD_OK)
        return st;
    memset(c->data, 0, (size_t)m * n * sizeof(float));
    for (uint32_t i0 = 0; i0 < m; i0 += BI) {
        uint32_t i1 = m - i0 < BI ? m : i0 + BI;

        for (uint32_t k0 = 0; k0 < k; k0 += BK) {
            uint32_t k1 = k - k0 < BK ? k : k0 + BK;

            for (uint32_t j0 = 0; j0 < n; j0 += BJ) {
                uint32_t j1 = n - j0 < BJ ? n : j0 + BJ;

                for (uint32_t i = i0; i < i1; i++) {
                    float *crow = c->data + (size_t)i * n + j0;
                    const float *arow = a->data + (size_t)i * k;

                    for (uint32_t t = k0; t < k1; t++)
                        axpy(crow, b->data + (size_t)t * n + j0, arow[t],
                             j1 - j0);
                }
            }
        }
    }
    return CLD_OK;
}

enum { P_N, P_SEED };

static const struct cld_param matmul_params[] = {
    {.name = "n", .type = CLD_PARAM_INT, .metavar = "N", .imin = 1,
     .imax = MAX_N, .idef = 512,
     .help = "side of the random matrices (no inputs)"},
    {.name = "seed", .type = CLD_PARAM_INT, .metavar = "N", .imin = 0,
     .imax = UINT64_MAX, .idef = 1,
     .help = "seed of the random matrices"},
};

/* The operands: the two inputs, or two random n x n matrices (A first,
 * then B, one splitmix64 stream seeded with --seed) kept in tmp. */
static enum cld_status operands(const struct cld_params *p,
                                const struct cld_data *in,
                                struct cld_matrix tmp[2],
                                const struct cld_matrix **a,
                                const struct cld_matrix **b)
{
    uint64_t state = cld_param_int(p, P_SEED);
    uint32_t n = (uint32_t)cld_param_int(p, P_N);
    enum cld_status st;

    if (in && in->nmat == 2) {
        *a = &in->mat[0];
        *b = &in->mat[1];
        return check_shapes(*a, *b);
    }
    if (in && in->nmat != 0)
        return cld_error_set(CLD_ERR_INVALID,
                             "matmul: needs two matrices or none, not %d",
                             in->nmat);
    if (n < 1 || n > MAX_N)
        return cld_error_set(CLD_ERR_INVALID,
                             "matmul: --n %u is not in 1..%u", n, MAX_N);
    if ((st = cld__matmul_random(&tmp[0], n, n, &state)) != CLD_OK ||
        (st = cld__matmul_random(&tmp[1], n, n, &state)) != CLD_OK)
        return st;
    *a = &tmp[0];
    *b = &tmp[1];
    return CLD_OK;
}

static enum cld_status matmul_validate(const struct cld_params *p)
{
    return cld_params_check(p);
}

static enum cld_status matmul_host(const struct cld_params *p,
                                   const struct cld_data *in,
                                   struct cld_data *out)
{
    struct cld_matrix tmp[2] = {{0}, {0}};
    const struct cld_matrix *a = NULL, *b = NULL;
    enum cld_status st;

    st = operands(p, in, tmp, &a, &b);
    if (st == CLD_OK)
        st = cld__matmul_ref(a, b, &out->mat[0]);
    if (st == CLD_OK) {
        out->kind = CLD_DATA_MATRIX;
        out->nmat = 1;
    }
    cld_matrix_free(&tmp[0]);
    cld_matrix_free(&tmp[1]);
    return st;
}

/* Variants: matmul_rows (CPUs) and matmul_tiled (local-memory tiles,
 * GPUs). */
enum { MATMUL_ROWS, MATMUL_TILED };

/* Work-groups of matmul_rows: 4 x 1 work-items (64 columns by 8 rows of
 * C). With a NULL local size PoCL made the whole range one work-group for
 * many sizes (n = 256 and 554 among them), so its pthread device ran them
 * on one thread: n = 554 took 4.8 ms on two threads against 2.4 ms now. */
#define ROWS_LOCAL 4u

/* C = A B. Local-memory tiles only cost copies on a CPU (measured 2.6
 * against 120 GFLOP/s on PoCL); elsewhere tiles, falling back to rows when
 * the kernel cannot run 16 x 16 work-groups. */
static enum cld_status matmul_plan(const struct cld_params *p,
                                   const struct cld_data *in,
                                   const struct cld_dev_facts *dev,
                                   int variant, struct cld_data *out,
                                   struct cld_work *w)
{
    struct cld_matrix tmp[2] = {{0}, {0}}, ma, mb;
    const struct cld_matrix *a = NULL, *b = NULL;
    struct cld_work_launch *l;
    uint32_t m, k, n;
    unsigned ba, bb, bc;
    bool tiled;
    enum cld_status st;

    if ((st = operands(p, in, tmp, &a, &b)) != CLD_OK)
        goto out;
    ma = *a;
    mb = *b;
    a = &ma;
    b = &mb;
    /* The random operands live as long as the work. */
    for (int i = 0; i < 2; i++) {
        if (tmp[i].data && (st = cld_work_own(w, tmp[i].data)) != CLD_OK)
            goto out;
        tmp[i].data = NULL;
    }
    m = a->rows;
    k = a->cols;
    n = b->cols;
    if ((st = cld_matrix_alloc(&out->mat[0], m, n)) != CLD_OK)
        goto out;
    out->kind = CLD_DATA_MATRIX;
    out->nmat = 1;
    if (variant == CLD_VARIANT_AUTO) {
        tiled = !dev->cpu && dev->max_group >= TILE * TILE;
        w->fallback = tiled ? MATMUL_ROWS : -1;
    } else {
        tiled = variant == MATMUL_TILED;
    }
    ba = cld_work_buffer(w, a->data, (size_t)m * k * sizeof(float),
                         CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    bb = cld_work_buffer(w, b->data, (size_t)k * n * sizeof(float),
                         CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    bc = cld_work_buffer(w, out->mat[0].data, (size_t)m * n * sizeof(float),
                         CLD_WBUF_WRITE | CLD_WBUF_FETCH);
    if (tiled) {
        l = cld_work_launch(w, "matmul_tiled", 0, 2, n, m, TILE, TILE);
        l->flags |= CLD_LAUNCH_EXACT_LOCAL;
    } else {
        l = cld_work_launch(w, "matmul_rows", 0, 2, (n + 15u) / 16u,
                            (m + 7u) / 8u, ROWS_LOCAL, 1);
    }
    cld_arg_buf(l, ba);
    cld_arg_buf(l, bb);
    cld_arg_buf(l, bc);
    cld_arg_u32(l, m);
    cld_arg_u32(l, n);
    cld_arg_u32(l, k);
out:
    cld_matrix_free(&tmp[0]);
    cld_matrix_free(&tmp[1]);
    return st;
}

/* C = A B on a device with matmul_tiled (tiled) or matmul_rows, for the
 * device tests. The caller frees c. */
enum cld_status cld__matmul_cl(struct cld_clctx *ctx,
                               const struct cld_matrix *a,
                               const struct cld_matrix *b, bool tiled,
                               struct cld_matrix *c)
{
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_MATRIX, .nmat = 2}, out;
    enum cld_status st;

    memset(c, 0, sizeof *c);
    /* Borrowed, not owned: in is never freed. */
    in.mat[0] = *a;
    in.mat[1] = *b;
    cld_params_default(&p, &cld_job_matmul);
    st = cld_job_run_variant(&cld_job_matmul, ctx, &p, &in,
                             tiled ? MATMUL_TILED : MATMUL_ROWS, &out);
    if (st == CLD_OK)
        *c = out.mat[0];
    return st;
}

static void matmul_traits(const struct cld_params *p,
                          const struct cld_data *in, struct cld_workload *w)
{
    uint64_t m = cld_param_int(p, P_N), k = m, n = m;
    uint64_t sa, sb, sc;

    if (in && in->nmat == 2) {
        m = in->mat[0].rows;
        k = in->mat[0].cols;
        n = in->mat[1].cols;
    }
    sa = m * k * sizeof(float);
    sb = k * n * sizeof(float);
    sc = m * n * sizeof(float);
    w->elements = m * n;
    w->ops_per_element = 2.0 * (double)k; /* a multiply and an add per k */
    w->bytes_in = sa + sb;
    w->bytes_out = sc;
    w->max_buffer = sa > sb ? (sa > sc ? sa : sc) : (sb > sc ? sb : sc);
    w->kernel_launches = 1;
}

const struct cld_job cld_job_matmul = {
    .name = "matmul",
    .summary = "float32 matrix product of two .npy files, or of random n x n",
    .cls = CLD_CLASS_NUMERIC,
    .flags = CLD_WL_DATA_PARALLEL,
    .input = CLD_DATA_MATRIX,
    .output = CLD_DATA_MATRIX,
    .family = "matmul",
    CLD_JOB_PARAMS(matmul_params),
    .validate = matmul_validate,
    .traits = matmul_traits,
    .run_host = matmul_host,
    .plan = matmul_plan,
};
