/* NumPy .npy files for float32 matrices: read 2-D '<f4' and '<f8' arrays in
 * C order (format versions 1.0 and 2.0), write version 1.0 '<f4' atomically.
 * The header dict is parsed strictly (exactly the keys descr, fortran_order
 * and shape) and the data size is checked against the file size before
 * anything is allocated.
 *
 * Errors use the I/O layer's convention (see fsutil.h): the detail line is
 * "PATH: cause", e.g. "w.npy: fortran_order arrays not supported (save with
 * np.ascontiguousarray)". Status: CLD_ERR_FORMAT for anything wrong with
 * the file, CLD_ERR_NOT_FOUND, CLD_ERR_EXISTS, CLD_ERR_IO, CLD_ERR_NOMEM,
 * CLD_ERR_INVALID for bad arguments. */
#ifndef CLD_NPY_H
#define CLD_NPY_H

#include <stdbool.h>

#include "error.h"
#include "image.h"

/* Load a 2-D array (rows, cols) into out; '<f8' values are converted to the
 * nearest float (out of range gives +-inf). Shapes other than 2-D, empty
 * arrays, other dtypes, big-endian data and Fortran order are refused. On
 * failure out is left empty. The caller frees out with cld_matrix_free. */
enum cld_status cld_npy_load(const char *path, struct cld_matrix *out);

/* Write m as a version 1.0 '<f4' C-order .npy file, header padded with
 * spaces so that the data starts at a multiple of 64 bytes. Atomic; without
 * overwrite an existing file gives CLD_ERR_EXISTS and is left untouched. */
enum cld_status cld_npy_save(const char *path, const struct cld_matrix *m,
                             bool overwrite);

#endif
