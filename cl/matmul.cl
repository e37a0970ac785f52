/* Dense float32 matrix product C = A B, row-major; A is m x k, B is k x n.
 *
 * matmul_tiled(a, b, c, m, n, k)    for GPUs: 16 x 16 tiles of A and B in
 *     local memory, one output a work-item; local (16, 16), global (n, m)
 *     rounded up to 16; out-of-range elements load as 0 and are not stored
 * matmul_rows(a, b, c, m, n, k)     for CPUs: a work-item computes 8 rows by
 *     16 columns of C in float16 registers, streaming rows of B; global
 *     (ceil(n / 16) rounded up to the work-group width, ceil(m / 8)); the
 *     last n % 16 columns go one at a time, items past them store nothing
 */
#define TS 16
#define RB 8u

__kernel __attribute__((reqd_work_group_size(TS, TS, 1)))
void matmul_tiled(__global const float *a, __global const float *b,
                  __global float *c, uint m, uint n, uint k)
{
    __local float ta[TS][TS], tb[TS][TS];
    uint lx = (uint)get_local_id(0), ly = (uint)get_local_id(1);
    uint col = (uint)get_global_id(0), row = (uint)get_global_id(1);
    float acc = 0.0f;

    for (uint t = 0; t < k; t += TS) {
        ta[ly][lx] = row < m && t + lx < k ? a[(size_t)row * k + t + lx]
                                           : 0.0f;
        tb[ly][lx] = t + ly < k && col < n ? b[(size_t)(t + ly) * n + col]
                                           : 0.0f;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (uint i = 0; i < TS; i++)
            acc = mad(ta[ly][i], tb[i][lx], acc);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (row < m && col < n)
        c[(size_t)row * n + col] = acc;
}

__kernel void matmul_rows(__global const float *a, __global const float *b,
                          __global float *c, uint m, uint n, uint k)
{
    uint j = (uint)get_global_id(0) * 16u, i = (uint)get_global_id(1) * RB;
    __global const float *ar[RB];
    float16 acc[RB];

    /* Rows past the end repeat the last row and are not stored. */
#pragma unroll
    for (uint r = 0; r < RB; r++) {
        ar[r] = a + (size_t)min(i + r, m - 1u) * k;
        acc[r] = 0.0f;
    }
    if (j + 16u <= n) {
        for (uint t = 0; t < k; t++) {
            float16 bv = vload16(0, b + (size_t)t * n + j);
#pragma unroll
            for (uint r = 0; r < RB; r++)
                acc[r] = mad(ar[r][t], bv, acc[r]);
        }
#pragma unroll
        for (uint r = 0; r < RB; r++) {
            if (i + r < m)
                vstore16(acc[r], 0, c + (size_t)(i + r) * n + j);
        }
        return;
    }
    for (uint r = 0; r < RB && i + r < m; r++) {
        for (uint jj = j; jj < n; jj++) {
            float s = 0.0f;
            for (uint t = 0; t < k; t++)
                s = mad(ar[r][t], b[(size_t)t * n + jj], s);
            c[(size_t)(i + r) * n + jj] = s;
        }
    }
}
